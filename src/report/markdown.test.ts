import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inline, renderAssessmentMarkdown, renderChecklistMarkdown, renderReportMarkdown, renderRunMarkdown, reportInputOf } from './markdown.js';
import type { ReportInput } from './markdown.js';
import type { ItemConfig } from '../config/schema.js';
import { decide, NO_AUTHORITY, SEED_RULES } from '../engine/decide.js';
import type { Binding } from '../engine/standing.js';
import type { DecisionRules } from '../engine/decide.js';
import type { GateOutcome, StageReport } from '../engine/gate.js';
import type { Attestation, ItemResult, Status } from '../model.js';

const NOW = Date.parse('2026-11-26T12:00:00Z');
const STARTED = '2026-11-26T11:58:00.000Z';
const FINISHED = '2026-11-26T12:00:00.000Z';

const ITEMS: ItemConfig[] = [
  { id: 'SEC-001', title: 'SSRF protection', tier: 'critical', category: 'security', owner: 'dana', phase: 'staging-validation', risk: 'high', estimate: { optimistic: 1, likely: 2, pessimistic: 4 } },
  { id: 'SEC-005', title: 'CSRF protection', tier: 'critical', category: 'security', phase: 'staging-validation' },
  { id: 'OPS-001', title: 'Rollback runbook reviewed', tier: 'critical', category: 'operations', manual: true, phase: 'infrastructure', estimate: { optimistic: 0.5, likely: 1, pessimistic: 2 } },
  ...Array.from({ length: 10 }, (_, i): ItemConfig => ({ id: `MON-${String(i + 1).padStart(2, '0')}`, title: `Monitoring ${i + 1}`, tier: 'high', category: 'monitoring', owner: 'sre', phase: 'infrastructure' })),
  { id: 'DOC-001', title: 'Release notes | changelog', tier: 'recommended', category: 'docs', risk: 'medium' },
];

const signRunbook: Attestation = { id: 'att-1', release: 'r1', kind: 'signoff', gate: 'recipes', target: { type: 'item', id: 'OPS-001' }, by: 'erin', role: 'sre', at: '2026-11-26T10:00:00Z' };
const waive = (itemId: string): Attestation => ({ id: `att-waive-${itemId}`, release: 'r1', kind: 'waiver', gate: 'recipes', itemId, mitigation: 'alert routed to on-call', owner: 'sre', expires: '2026-12-31T00:00:00Z', by: 'erin', role: 'sre', at: '2026-11-25T00:00:00Z' });
const BINDING: Binding = { release: 'r1', env: 'staging', configHash: 'h', stageRuns: {}, signoffTtlMs: 7 * 86_400_000 };
const ROLES: DecisionRules = { ...SEED_RULES, authority: { ...NO_AUTHORITY, roles: { sre: ['item', 'decision', 'waive'] }, items: Object.fromEntries(ITEMS.map((i) => [i.id, { manual: Boolean(i.manual) }])) } };

function state(statuses: Record<string, Status>, attestations: Attestation[], rules: DecisionRules = ROLES, messages: Record<string, string> = {}): ReportInput {
  const automated: ItemResult[] = ITEMS.filter((i) => !i.manual).map((i) => ({ id: i.id, tier: i.tier, status: statuses[i.id] ?? 'pass', message: messages[i.id] ?? (statuses[i.id] ? `${statuses[i.id]}ed check` : 'ok'), durationMs: 120, attempts: [] }));
  const { decision, results } = decide({ items: ITEMS, results: automated, attestations, rules, binding: BINDING, now: NOW });
  return { gate: 'recipes', generatedAt: FINISHED, items: ITEMS, results, decision, lastRun: { id: 'run-7', startedAt: STARTED, finishedAt: FINISHED, env: 'staging', command: 'check' } };
}

const GO = (): ReportInput => state({}, [signRunbook]);
const CONDITIONS = (): ReportInput => state({ 'MON-03': 'fail', 'MON-07': 'error' }, [signRunbook, waive('MON-03'), waive('MON-07')]);
const NO_GO = (): ReportInput => state({ 'SEC-001': 'error', 'MON-01': 'fail' }, [], { ...ROLES, requiredSignoffs: ['decision'] }, { 'SEC-001': 'connect ECONNREFUSED 127.0.0.1:3000 | retried\nsecond line' });

/** Cells of a Markdown table row: split on `|` not escaped by a backslash. */
function cells(row: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < row.length; i++) {
    if (row[i] === '\\') {
      cur += row[i] + (row[i + 1] ?? '');
      i++;
    } else if (row[i] === '|') {
      out.push(cur);
      cur = '';
    } else cur += row[i];
  }
  out.push(cur);
  return out.slice(1, -1).map((c) => c.trim());
}

/** Every table in the document has rows as wide as its header, and no cell spans lines. */
function assertTablesWellFormed(md: string): void {
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('|') || (i > 0 && lines[i - 1].startsWith('|'))) continue;
    const width = cells(lines[i]).length;
    for (let j = i; j < lines.length && lines[j].startsWith('|'); j++) {
      assert.ok(lines[j].endsWith('|'), `row ${j} does not end its last cell: ${lines[j]}`);
      assert.equal(cells(lines[j]).length, width, `row ${j} has ${cells(lines[j]).length} cells, header ${width}: ${lines[j]}`);
    }
  }
}

const inlineCases: { name: string; text: string; md: string }[] = [
  { name: 'plain text is untouched', text: 'status 200 in 12 ms', md: 'status 200 in 12 ms' },
  { name: 'a pipe cannot end a table cell', text: 'a | b', md: 'a \\| b' },
  { name: 'line breaks stay inside the cell', text: 'one\ntwo\r\nthree', md: 'one<br>two<br>three' },
  { name: 'a tag is shown, not interpreted', text: '<script>alert(1)</script>', md: '\\<script\\>alert(1)\\</script\\>' },
  { name: 'emphasis and code marks are literal', text: '*not* _em_ `code`', md: '\\*not\\* \\_em\\_ \\`code\\`' },
  { name: 'a backslash is literal and cannot escape the next pipe', text: 'C:\\|', md: 'C:\\\\\\|' },
  { name: 'links and entities are literal', text: '[x](y) &amp;', md: '\\[x\\](y) \\&amp;' },
];

for (const c of inlineCases) {
  test(`markdown inline: ${c.name}`, () => {
    assert.equal(inline(c.text), c.md);
    assert.equal(cells(`| ${inline(c.text)} |`).length, 1);
  });
}

const verdictCases: { name: string; input: () => ReportInput; heading: string; readiness: string; expect: RegExp[] }[] = [
  { name: 'GO', input: GO, heading: '✅ GO', readiness: '3/3 critical (100%)', expect: [/_None: every required sign-off is present._/] },
  {
    name: 'GO WITH CONDITIONS with waivers',
    input: CONDITIONS,
    heading: '⚠️ GO WITH CONDITIONS',
    readiness: '3/3 critical (100%)',
    expect: [/### Conditions\n\n- MON-03: failed check — waived until 2026-12-31T00:00:00Z: alert routed to on-call \(owner sre\)/, /- increased monitoring/, /\| 📝 waived \| MON-07 \|/],
  },
  {
    name: 'NO-GO with errors and a missing sign-off',
    input: NO_GO,
    heading: '🛑 NO-GO',
    readiness: '1/3 critical (33%)',
    expect: [/\| ❗ error \| SEC-001 \| SSRF protection \| security \| dana \| connect ECONNREFUSED 127\.0\.0\.1:3000 \\\| retried<br>second line \|/, /\| ⏳ pending \| OPS-001 \|/, /### Missing sign-offs\n\n- decision/],
  },
];

for (const c of verdictCases) {
  test(`markdown checklist: ${c.name}`, () => {
    const md = renderChecklistMarkdown(c.input());
    assertTablesWellFormed(md);
    assert.match(md, /^# Go\/No-Go Checklist — recipes\n/);
    assert.ok(md.includes(`- **Decision:** **${c.heading}**\n`), md);
    assert.ok(md.includes(`- **Readiness:** ${c.readiness}\n`), md);
    assert.ok(md.includes(`## Decision: ${c.heading}`));
    assert.match(md, /\n- \*\*Environment:\*\* staging\n- \*\*Last run:\*\* run-7 \(check\), 2026-11-26T11:58:00\.000Z → 2026-11-26T12:00:00\.000Z\n/);
    for (const re of c.expect) assert.match(md, re);
    // One section per tier, in order.
    const sections = [...md.matchAll(/^## (🔴|🟡|🟢) /gmu)].map((m) => m[1]);
    assert.deepEqual(sections, ['🔴', '🟡', '🟢']);
    assert.match(md, /### Reasons\n\n- /);
  });
}

test('markdown checklist: the seed headline, 10 of 25 critical, reads 40%', () => {
  const items: ItemConfig[] = [
    ...Array.from({ length: 25 }, (_, i): ItemConfig => ({ id: `C-${i + 1}`, title: `critical ${i + 1}`, tier: 'critical' })),
    ...Array.from({ length: 18 }, (_, i): ItemConfig => ({ id: `H-${i + 1}`, title: `high ${i + 1}`, tier: 'high' })),
    ...Array.from({ length: 15 }, (_, i): ItemConfig => ({ id: `R-${i + 1}`, title: `recommended ${i + 1}`, tier: 'recommended' })),
  ];
  const automated: ItemResult[] = items.map((i, n) => ({ id: i.id, tier: i.tier, status: i.tier === 'critical' && n >= 10 ? 'fail' : 'pass', message: '', durationMs: 1, attempts: [] }));
  const { decision, results } = decide({ items, results: automated, attestations: [], rules: SEED_RULES, binding: BINDING, now: NOW });
  const md = renderReportMarkdown({ gate: 'recipes', generatedAt: FINISHED, items, results, decision });
  assert.ok(md.includes('- **Readiness:** 10/25 critical (40%)\n'));
  assert.ok(md.includes('## 🔴 Critical — 10/25 passed (40%)'));
  assert.ok(md.includes('| 🔴 Critical | 10 | 25 | 40% | 15 | 0 | 0 | 0 | 0 |'));
  assert.ok(md.includes('- **Environment:** —\n- **Last run:** none yet: automated items count as not run\n'));
});

test('markdown assessment: tiers, categories, phases, blockers, risks, remaining time', () => {
  const md = renderAssessmentMarkdown(NO_GO());
  assertTablesWellFormed(md);
  assert.match(md, /^# Production Readiness Assessment — recipes\n/);
  assert.ok(md.includes('| 🟡 High priority | 9 | 10 | 90% | 1 | 0 | 0 | 0 | 0 |'), md);
  assert.ok(md.includes('| security | 1 | 2 | 50% | 0 | 1 | 0 | 0 | 0 |'));
  assert.ok(md.includes('| staging-validation | 🔄 In progress | 1/2 | 50% |'));
  assert.ok(md.includes('| infrastructure | 🔄 In progress | 9/11 | 81% |'));
  assert.match(md, /## Blockers\n\n\| Status \| ID \| Item \| Tier \| Owner \| Result \|\n\| --- .*\n\| ❗ error \| SEC-001 \| SSRF protection \| 🔴 Critical \| dana \|/);
  assert.match(md, /\| ⏳ pending \| OPS-001 \| Rollback runbook reviewed \| 🔴 Critical \|  \| awaiting sign-off \|/);
  assert.match(md, /## Risks\n\n\| Risk \| ID \| Item \| Owner \| Status \|\n\| --- .*\n\| 🔴 high \| SEC-001 \| SSRF protection \| dana \| ❗ error \|\n\n/);
  assert.match(md, /\| Optimistic \| Realistic \| Pessimistic \|\n\| --- \| --- \| --- \|\n\| 1\.5 h \| 3 h \| 6 h \|/);
  assert.ok(md.includes('3 open items; 1 of them without an estimate, not counted.'));
  assert.ok(!md.includes('## Stages'));
});

test('markdown assessment: a GO has no blockers and no open risks', () => {
  const md = renderAssessmentMarkdown(GO());
  assert.match(md, /## Blockers\n\n_None._/);
  assert.match(md, /## Risks\n\n_No open item/);
  assert.ok(md.includes('| 0 h | 0 h | 0 h |'));
  assert.ok(md.includes('0 open items.'));
  assert.ok(md.includes('| staging-validation | ✅ Done | 2/2 | 100% |'));
});

const STAGES: StageReport[] = [
  { id: 'deploy', title: 'Deploy to staging', budgetMs: 15 * 60_000, durationMs: 4 * 60_000 + 5_000, overBudget: false, status: 'passed', items: ['SEC-005'], failedCritical: [], signoffRoles: [], signedOff: false },
  { id: 'security', title: 'Security testing', budgetMs: 60 * 60_000, durationMs: 75 * 60_000, overBudget: true, status: 'failed', items: ['SEC-001', 'MON-01'], failedCritical: ['SEC-001'], signoffRoles: ['security-lead'], signedOff: false },
  { id: 'functional', title: 'Functional testing', budgetMs: 60 * 60_000, durationMs: 0, overBudget: false, status: 'not-run', items: ['MON-02'], failedCritical: [], signoffRoles: ['qa'], signedOff: true },
];

test('markdown assessment: a validate run shows each stage against its budget and its sign-off', () => {
  const md = renderAssessmentMarkdown({ ...NO_GO(), stages: STAGES });
  assertTablesWellFormed(md);
  assert.ok(md.includes('| Deploy to staging | ✅ passed | 4m 05s | 15m 00s | within | — |'), md);
  assert.ok(md.includes('| Security testing | ❌ failed (critical: SEC-001) | 1h 15m | 1h 00m | ⚠️ over budget | ⏳ awaiting (security-lead) |'));
  assert.ok(md.includes('| Functional testing | ⏭️ not run | 0 ms | 1h 00m | within | ✅ signed (qa) |'));
});

test('markdown report: the checklist then the assessment', () => {
  const input = CONDITIONS();
  const md = renderReportMarkdown(input);
  assert.equal(md, `${renderChecklistMarkdown(input)}\n---\n\n${renderAssessmentMarkdown(input)}`);
  assertTablesWellFormed(md);
});

function outcome(input: ReportInput, extra: Partial<GateOutcome> = {}): GateOutcome {
  return { runId: 'run-7', gate: 'recipes', env: 'staging', command: 'check', release: 'r1', selection: {}, status: 'completed', startedAt: STARTED, finishedAt: FINISHED, decision: input.decision, results: [...input.results], partial: false, ...extra };
}

test('markdown run summary: decision, counts per tier, failed items with their messages', () => {
  const md = renderRunMarkdown(outcome(NO_GO()), ITEMS);
  assertTablesWellFormed(md);
  assert.match(md, /^### 🛑 NO-GO — recipes \(staging\)\n\nReadiness 1\/3 critical \(33%\) · run run-7 \(check\) · 2m 00s\n/);
  assert.ok(md.includes('| 🔴 Critical | 1/3 | 0 | 1 | 1 | 0 | 0 |'));
  assert.ok(md.includes('| 🟡 High priority | 9/10 | 1 | 0 | 0 | 0 | 0 |'));
  assert.ok(md.includes('| ❗ error | SEC-001 | SSRF protection | 🔴 Critical | connect ECONNREFUSED 127.0.0.1:3000 \\| retried<br>second line |'));
  assert.ok(md.includes('| ❌ fail | MON-01 | Monitoring 1 | 🟡 High priority | failed check |'));
  assert.ok(md.includes('**Missing sign-offs:** decision'));
  assert.match(md, /<details><summary>Reasons<\/summary>\n\n- 2 of 3 critical items not passed/);
});

test('markdown run summary: waivers appear as conditions; a GO lists no failures', () => {
  const conditions = renderRunMarkdown(outcome(CONDITIONS()), ITEMS);
  assert.match(conditions, /^### ⚠️ GO WITH CONDITIONS/);
  assert.match(conditions, /\*\*Conditions\*\*\n\n- MON-03: /);
  const go = renderRunMarkdown(outcome(GO()), ITEMS);
  assert.match(go, /^### ✅ GO/);
  assert.ok(!go.includes('| Status | ID |'));
});

test('markdown run summary: an aborted run has no decision and is never GO', () => {
  const input = NO_GO();
  const md = renderRunMarkdown(outcome(input, { status: 'aborted', decision: undefined, results: input.results.slice(0, 2), partial: true, stages: STAGES }), ITEMS);
  assertTablesWellFormed(md);
  assert.match(md, /^### ⏹️ ABORTED — no decision \(never GO\) — recipes \(staging\)\n\nrun run-7 \(check\) · 2m 00s · partial run/);
  assert.ok(md.includes('| 🔴 Critical | 1/2 | 0 | 1 | 0 | 0 | 0 |'));
  assert.ok(md.includes('| Security testing |'));
  assert.ok(!md.includes('Reasons'));
});

test('markdown: reportInputOf takes a finished run, not an aborted one', () => {
  const input = GO();
  const o = outcome(input, { stages: STAGES });
  assert.deepEqual(reportInputOf(o, ITEMS), { ...input, partial: false, stages: STAGES, release: o.release });
  assert.equal(reportInputOf({ ...o, status: 'aborted', decision: undefined }, ITEMS), undefined);
});

test('markdown run summary: what each failure observed, one finding per line; items errored for one cause share a row', () => {
  const input = NO_GO();
  const csrf = { findings: [{ id: 'csrf.form', severity: 'high', message: 'a cross-site form POST was accepted', observed: { method: 'POST', path: '/api/recipes', status: 201 } }] };
  const results = input.results.map((r): ItemResult => {
    if (r.id === 'MON-01') return { ...r, status: 'fail', message: 'high == 0: high was 1', evidence: csrf };
    if (r.id === 'MON-02' || r.id === 'MON-03') return { ...r, status: 'error', message: 'environment variable STAGING_URL is not set' };
    return r;
  });
  const md = renderRunMarkdown(outcome(input, { results }), ITEMS);
  assertTablesWellFormed(md);
  assert.ok(md.includes('| ❗ error | 2 items | MON-02, MON-03 | 🟡 High priority | environment variable STAGING\\_URL is not set |'), md);
  assert.ok(md.includes('**❌ MON-01 Monitoring 1**\n\n- high csrf.form: a cross-site form POST was accepted — POST /api/recipes → 201'), md);
  const report = renderChecklistMarkdown({ ...input, results });
  assert.ok(report.includes('## Not passed: what was observed'), report);
  assert.ok(report.includes('- high csrf.form: a cross-site form POST was accepted'), report);
});
