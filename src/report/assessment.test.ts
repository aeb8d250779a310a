import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assess } from './assessment.js';
import type { ItemConfig } from '../config/schema.js';
import { decide, SEED_RULES } from '../engine/decide.js';
import type { Binding } from '../engine/standing.js';
import type { Attestation, ItemResult, Status, Tier } from '../model.js';

const NOW = Date.parse('2026-11-26T12:00:00Z');
const BINDING: Binding = { release: 'r1', env: 'staging', configHash: 'h', stageRuns: {}, signoffTtlMs: 7 * 86_400_000 };

/** The seed's checklist: 25 critical, 18 high, 15 recommended, spread over its five phases. */
function seedItems(): ItemConfig[] {
  const phases = ['code-integration', 'script-creation', 'infrastructure', 'staging-validation', 'production-deployment'];
  const make = (tier: Tier, n: number, prefix: string, category: string): ItemConfig[] =>
    Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${String(i + 1).padStart(2, '0')}`, title: `${tier} item ${i + 1}`, tier, category, phase: phases[i % 5] }));
  return [...make('critical', 25, 'C', 'security'), ...make('high', 18, 'H', 'infrastructure'), ...make('recommended', 15, 'R', 'docs')];
}

function run(items: readonly ItemConfig[], statuses: Record<string, Status>, attestations: Attestation[] = []) {
  const results: ItemResult[] = items.map((i) => ({ id: i.id, tier: i.tier, status: statuses[i.id] ?? 'pass', message: statuses[i.id] ? `${statuses[i.id]} here` : '', durationMs: 5, attempts: [] }));
  const { decision, results: final } = decide({ items, results, attestations, rules: SEED_RULES, binding: BINDING, now: NOW });
  return assess(items, final, decision);
}

const ids = (prefix: string, from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `${prefix}-${String(from + i).padStart(2, '0')}`);
const statusOf = (list: string[], status: Status): Record<string, Status> => Object.fromEntries(list.map((id) => [id, status]));

test('assess: the seed headline, 10 of 25 critical passed, is 40% readiness', () => {
  const a = run(seedItems(), statusOf(ids('C', 11, 25), 'fail'));
  assert.equal(a.readiness, 40);
  assert.deepEqual(a.critical, { passed: 10, total: 25 });
  assert.equal(a.verdict, 'NO_GO');
  assert.deepEqual(
    a.tiers.map((t) => [t.name, t.count.passed, t.count.total, t.percentPassed]),
    [
      ['critical', 10, 25, 40],
      ['high', 18, 18, 100],
      ['recommended', 15, 15, 100],
    ],
  );
  assert.deepEqual(a.blockers.map((b) => b.id), ids('C', 11, 25));
});

test('assess: counts per category and per phase, in checklist order', () => {
  const a = run(seedItems(), { ...statusOf(['C-01', 'C-06'], 'fail'), 'H-02': 'error', 'R-03': 'skipped' });
  assert.deepEqual(
    a.categories.map((c) => [c.name, c.count.passed, c.count.total, c.count.failed, c.count.error, c.count.skipped, c.percentPassed]),
    [
      ['security', 23, 25, 2, 0, 0, 92],
      ['infrastructure', 17, 18, 0, 1, 0, 94],
      ['docs', 14, 14, 0, 0, 1, 100],
    ],
  );
  assert.deepEqual(a.phases.map((p) => p.name), ['code-integration', 'script-creation', 'infrastructure', 'staging-validation', 'production-deployment']);
  // C-01 and C-06 are both in the first phase (every fifth item).
  assert.equal(a.phases[0].count.failed, 2);
});

const phaseScenarios: { name: string; statuses: Status[]; state: string }[] = [
  { name: 'every item passed', statuses: ['pass', 'pass'], state: 'done' },
  { name: 'passed or not applicable', statuses: ['pass', 'skipped'], state: 'done' },
  { name: 'some passed', statuses: ['pass', 'fail', 'pending'], state: 'in-progress' },
  { name: 'a waiver is not done', statuses: ['pass', 'waived'], state: 'in-progress' },
  { name: 'nothing passed', statuses: ['pending', 'error'], state: 'not-started' },
];

for (const s of phaseScenarios) {
  test(`assess: phase state when ${s.name}`, () => {
    const items: ItemConfig[] = s.statuses.map((_, i) => ({ id: `P-${i}`, title: `t${i}`, tier: 'recommended', phase: 'build' }));
    const statuses = Object.fromEntries(s.statuses.map((st, i) => [`P-${i}`, st]));
    assert.equal(run(items, statuses).phases[0].state, s.state);
  });
}

test('assess: items without a category are uncategorized; items without a phase are off the critical path', () => {
  const items: ItemConfig[] = [
    { id: 'A', title: 'a', tier: 'high' },
    { id: 'B', title: 'b', tier: 'high', category: 'security', phase: 'one' },
  ];
  const a = run(items, { A: 'fail' });
  assert.deepEqual(a.categories.map((c) => c.name), ['uncategorized', 'security']);
  assert.deepEqual(a.phases.map((p) => [p.name, p.state]), [['one', 'done']]);
});

test('assess: blockers carry title, status, message and owner', () => {
  const items: ItemConfig[] = [
    { id: 'SEC-001', title: 'SSRF protection', tier: 'critical', owner: 'dana' },
    { id: 'OPS-004', title: 'Backups restored once', tier: 'recommended', blocker: true },
    { id: 'OPS-005', title: 'Runbook', tier: 'critical', manual: true },
  ];
  const a = run(items, { 'SEC-001': 'error', 'OPS-004': 'fail' });
  assert.deepEqual(a.blockers, [
    { id: 'SEC-001', title: 'SSRF protection', tier: 'critical', status: 'error', message: 'error here', owner: 'dana' },
    { id: 'OPS-005', title: 'Runbook', tier: 'critical', status: 'pending', message: 'awaiting sign-off', owner: undefined },
    { id: 'OPS-004', title: 'Backups restored once', tier: 'recommended', status: 'fail', message: 'fail here', owner: undefined },
  ]);
});

test('assess: risks are the open high and medium ones, high first', () => {
  const items: ItemConfig[] = [
    { id: 'M1', title: 'medium open', tier: 'high', risk: 'medium', owner: 'eve' },
    { id: 'H1', title: 'high passed', tier: 'high', risk: 'high' },
    { id: 'H2', title: 'high open', tier: 'high', risk: 'high' },
    { id: 'L1', title: 'low open', tier: 'high', risk: 'low' },
    { id: 'M2', title: 'medium skipped', tier: 'high', risk: 'medium' },
    { id: 'H3', title: 'high pending', tier: 'recommended', risk: 'high', manual: true },
  ];
  const a = run(items, { M1: 'fail', H2: 'error', L1: 'fail', M2: 'skipped' });
  assert.deepEqual(
    a.risks.map((r) => [r.risk, r.id, r.status]),
    [
      ['high', 'H2', 'error'],
      ['high', 'H3', 'pending'],
      ['medium', 'M1', 'fail'],
    ],
  );
  assert.equal(a.risks[2].owner, 'eve');
});

const est = (optimistic: number, likely: number, pessimistic: number) => ({ optimistic, likely, pessimistic });

const remainingScenarios: { name: string; statuses: Record<string, Status>; expected: { optimistic: number; realistic: number; pessimistic: number; openItems: number; unestimated: number } }[] = [
  { name: 'nothing open', statuses: {}, expected: { optimistic: 0, realistic: 0, pessimistic: 0, openItems: 0, unestimated: 0 } },
  { name: 'open items sum their estimates', statuses: { MERGE: 'fail', SCRIPTS: 'pending' }, expected: { optimistic: 8, realistic: 12, pessimistic: 14, openItems: 2, unestimated: 0 } },
  { name: 'skipped items are not open', statuses: { MERGE: 'fail', SCRIPTS: 'skipped' }, expected: { optimistic: 4, realistic: 6, pessimistic: 8, openItems: 1, unestimated: 0 } },
  { name: 'an open item without an estimate is counted apart', statuses: { MERGE: 'error', DOCS: 'fail' }, expected: { optimistic: 4, realistic: 6, pessimistic: 8, openItems: 2, unestimated: 1 } },
  { name: 'fractional hours add up exactly', statuses: { TINY1: 'fail', TINY2: 'fail' }, expected: { optimistic: 0.3, realistic: 0.3, pessimistic: 0.3, openItems: 2, unestimated: 0 } },
  { name: 'a waived item is still work left', statuses: { MERGE: 'waived' }, expected: { optimistic: 4, realistic: 6, pessimistic: 8, openItems: 1, unestimated: 0 } },
];

for (const s of remainingScenarios) {
  test(`assess: remaining time, ${s.name}`, () => {
    const items: ItemConfig[] = [
      { id: 'MERGE', title: 'Merge the 17 security branches', tier: 'recommended', estimate: est(4, 6, 8) },
      { id: 'SCRIPTS', title: 'Migration scripts', tier: 'recommended', estimate: est(4, 6, 6) },
      { id: 'DOCS', title: 'Docs', tier: 'recommended' },
      { id: 'TINY1', title: 'tiny', tier: 'recommended', estimate: est(0.1, 0.1, 0.1) },
      { id: 'TINY2', title: 'tiny', tier: 'recommended', estimate: est(0.2, 0.2, 0.2) },
    ];
    // `waived` only comes out of `decide` with a waiver, so results are given here as final statuses.
    const results: ItemResult[] = items.map((i) => ({ id: i.id, tier: i.tier, status: s.statuses[i.id] ?? 'pass', message: '', durationMs: 0, attempts: [] }));
    const { decision } = decide({ items, results, attestations: [], rules: SEED_RULES, binding: BINDING, now: NOW });
    assert.deepEqual(assess(items, results, decision).remaining, s.expected);
  });
}
