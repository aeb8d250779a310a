// The seed's documents as Markdown, from live state: the go/no-go checklist with each item's
// status, the readiness assessment, and a short run summary for a GitHub Actions step summary.
// Plain data in, a string out: no I/O, no clock.
import type { ItemConfig } from '../config/schema.js';
import type { GateOutcome, StageReport } from '../engine/gate.js';
import type { Decision, ItemResult, RunStatus, Status, Tier, TierCount, Verdict } from '../model.js';
import { TIERS } from '../model.js';
import { countStatuses } from '../engine/decide.js';
import { formatDuration } from '../util/duration.js';
import { assess, percentPassed } from './assessment.js';
import type { GroupCount, PhaseState } from './assessment.js';
import { explainResults, listNames } from './explain.js';

/** What the documents describe: the current state (last run plus today's sign-offs), or one run's outcome. */
export interface ReportInput {
  gate: string;
  /** The moment the report describes (ISO 8601): now for `gonogo report`, a run's end otherwise. */
  generatedAt: string;
  items: readonly ItemConfig[];
  /** Every item's final status, in checklist order, as `decide` returns them. */
  results: readonly ItemResult[];
  decision: Decision;
  /** The run the automated results come from, when there is one. */
  lastRun?: { id: string; startedAt: string; finishedAt?: string; env: string; command: string };
  /** The results cover a selection (--only/--tier), not the whole checklist. */
  partial?: boolean;
  /** The release decided, and for a run the release's state after it. */
  release?: string;
  releaseState?: { verdict: Verdict; missingSignoffs: readonly string[] };
  /** Stage reports of a `validate` run. */
  stages?: readonly StageReport[];
}

/** The report of one finished run; none for an aborted run, which has no decision. */
export function reportInputOf(outcome: GateOutcome, items: readonly ItemConfig[]): ReportInput | undefined {
  if (!outcome.decision) return undefined;
  return {
    gate: outcome.gate,
    generatedAt: outcome.finishedAt,
    items,
    results: outcome.results,
    decision: outcome.decision,
    lastRun: { id: outcome.runId, startedAt: outcome.startedAt, finishedAt: outcome.finishedAt, env: outcome.env, command: outcome.command },
    partial: outcome.partial,
    stages: outcome.stages,
    release: outcome.release,
    ...(outcome.state ? { releaseState: { verdict: outcome.state.decision.verdict, missingSignoffs: outcome.state.decision.missingSignoffs } } : {}),
  };
}

/** The seed's decision headings: ✅ GO, ⚠️ GO WITH CONDITIONS, 🛑 NO-GO. */
export const VERDICT_HEADING: Record<Verdict, string> = {
  GO: '✅ GO',
  GO_WITH_CONDITIONS: '⚠️ GO WITH CONDITIONS',
  NO_GO: '🛑 NO-GO',
};

const TIER_LABEL: Record<Tier, string> = {
  critical: '🔴 Critical',
  high: '🟡 High priority',
  recommended: '🟢 Recommended',
};

const TIER_RULE: Record<Tier, string> = {
  critical: 'Must all pass.',
  high: 'Count toward the GO and GO WITH CONDITIONS thresholds; a failure needs a waiver.',
  recommended: 'Never block; reported.',
};

/** Status icons, with the word beside them so the table reads without colour. */
export const STATUS_ICON: Record<Status, string> = {
  pass: '✅',
  skipped: '⏭️',
  waived: '📝',
  pending: '⏳',
  fail: '❌',
  error: '❗',
};

const PHASE_LABEL: Record<PhaseState, string> = {
  done: '✅ Done',
  'in-progress': '🔄 In progress',
  'not-started': '⚠️ Not started',
};

const RUN_STATUS_LABEL: Record<RunStatus, string> = {
  running: '⏳ RUNNING — no decision yet',
  completed: 'no decision',
  aborted: '⏹️ ABORTED — no decision (never GO)',
};

/**
 * Text as Markdown that shows it literally, on one line: ASCII punctuation that could start
 * formatting or a tag is backslash-escaped (CommonMark allows it before any of them), `|` so it
 * cannot end a table cell, and line breaks become `<br>`.
 */
export function inline(text: string): string {
  return text.replace(/[\\`*_[\]<>|&~#]/g, '\\$&').replace(/\r\n|\r|\n/g, '<br>');
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const statusCell = (s: Status): string => `${STATUS_ICON[s]} ${s}`;
/** The seed's headline, "10/25 critical (40%)", with the decision's own figure. */
const criticalHeadline = (d: Decision): string => `${d.tiers.critical.passed}/${d.tiers.critical.total} critical (${d.readiness}%)`;
const tierLabel = (t: string): string => (t === 'critical' || t === 'high' || t === 'recommended' ? TIER_LABEL[t] : inline(t));

/** The facts under a document's title, as a list of `**Name:** value`. */
function header(state: ReportInput): string {
  const run = state.lastRun;
  const rows = [['Environment', run ? inline(run.env) : '—']];
  if (state.release) rows.push(['Release', inline(state.release)]);
  if (run) {
    const span = run.finishedAt ? `${run.startedAt} → ${run.finishedAt}` : `started ${run.startedAt}`;
    rows.push(['Last run', `${inline(run.id)} (${inline(run.command)}), ${span}`]);
  } else {
    rows.push(['Last run', 'none yet: automated items count as not run']);
  }
  rows.push(['As of', state.generatedAt]);
  rows.push(['Decision', `**${VERDICT_HEADING[state.decision.verdict]}**`]);
  rows.push(['Readiness', criticalHeadline(state.decision)]);
  if (state.partial) rows.push(['Coverage', 'partial run (--only/--tier): the decision covers the selection only']);
  if (state.releaseState) {
    const missing = state.releaseState.missingSignoffs.length > 0 ? ` (missing sign-offs: ${state.releaseState.missingSignoffs.map(inline).join(', ')})` : '';
    rows.push(['Release state after this run', `${VERDICT_HEADING[state.releaseState.verdict]}${missing}`]);
  }
  return rows.map(([name, value]) => `- **${name}:** ${value}`).join('\n');
}

function list(items: readonly string[], none: string): string {
  return items.length === 0 ? none : items.map((x) => `- ${inline(x)}`).join('\n');
}

/** The go/no-go checklist with live status: header, one table per tier, then the decision's reasons. */
export function renderChecklistMarkdown(state: ReportInput): string {
  const itemOf = new Map(state.items.map((i) => [i.id, i]));
  const d = state.decision;
  const out = [`# Go/No-Go Checklist — ${inline(state.gate)}`, header(state)];
  for (const tier of TIERS) {
    const results = state.results.filter((r) => r.tier === tier);
    if (results.length === 0) continue;
    const c = d.tiers[tier];
    out.push(`## ${TIER_LABEL[tier]} — ${c.passed}/${c.total} passed (${percentPassed(c)}%)`, TIER_RULE[tier]);
    const rows = results.map((r) => {
      const item = itemOf.get(r.id);
      return [statusCell(r.status), inline(r.id), inline(item?.title ?? ''), inline(item?.category ?? ''), inline(item?.owner ?? ''), inline(r.message)];
    });
    out.push(table(['Status', 'ID', 'Item', 'Category', 'Owner', 'Result'], rows));
  }
  const failures = failureBlocks(state.results, itemOf);
  if (failures.length > 0) out.push('## Not passed: what was observed', ...failures);
  out.push(`## Decision: ${VERDICT_HEADING[d.verdict]}`, '### Reasons', list(d.reasons, '_None._'));
  if (d.conditions.length > 0) out.push('### Conditions', list(d.conditions, ''));
  out.push('### Missing sign-offs', list(d.missingSignoffs, '_None: every required sign-off is present._'));
  return `${out.join('\n\n')}\n`;
}

const COUNT_HEADER = ['Passed', 'Total', '%', 'Failed', 'Error', 'Pending', 'Waived', 'Skipped'];
const countCells = (c: TierCount, pct: number): string[] => [c.passed, c.total, `${pct}%`, c.failed, c.error, c.pending, c.waived, c.skipped].map(String);
const groupRows = (groups: readonly GroupCount[], label: (name: string) => string): string[][] => groups.map((g) => [label(g.name), ...countCells(g.count, g.percentPassed)]);
const hours = (n: number): string => `${n} h`;

function stageTable(stages: readonly StageReport[]): string {
  const statusLabel: Record<StageReport['status'], string> = { passed: '✅ passed', failed: '❌ failed', 'not-run': '⏭️ not run' };
  const rows = stages.map((s) => {
    const signoff = s.signoffRoles.length === 0 ? '—' : `${s.signedOff ? '✅ signed' : '⏳ awaiting'} (${s.signoffRoles.map(inline).join(', ')})`;
    const failed = s.failedCritical.length > 0 ? ` (critical: ${s.failedCritical.map(inline).join(', ')})` : '';
    return [inline(s.title), `${statusLabel[s.status]}${failed}`, formatDuration(s.durationMs), formatDuration(s.budgetMs), s.overBudget ? '⚠️ over budget' : 'within', signoff];
  });
  return table(['Stage', 'Status', 'Duration', 'Budget', 'Budget check', 'Sign-off'], rows);
}

/** The readiness assessment: readiness, per tier / category / phase, blockers, risks, remaining time, stages. */
export function renderAssessmentMarkdown(state: ReportInput): string {
  const a = assess(state.items, state.results, state.decision);
  const out = [`# Production Readiness Assessment — ${inline(state.gate)}`, header(state)];

  out.push('## Readiness by tier', table(['Tier', ...COUNT_HEADER], groupRows(a.tiers, tierLabel)));
  out.push('## Readiness by category', table(['Category', ...COUNT_HEADER], groupRows(a.categories, inline)));
  if (a.phases.length > 0) {
    const rows = a.phases.map((p) => [inline(p.name), PHASE_LABEL[p.state], `${p.count.passed}/${p.count.total}`, `${p.percentPassed}%`]);
    out.push('## Critical path', table(['Phase', 'Status', 'Passed', '%'], rows));
  }

  out.push('## Blockers');
  if (a.blockers.length === 0) out.push('_None._');
  else out.push(table(['Status', 'ID', 'Item', 'Tier', 'Owner', 'Result'], a.blockers.map((b) => [statusCell(b.status), inline(b.id), inline(b.title), tierLabel(b.tier), inline(b.owner ?? ''), inline(b.message)])));

  out.push('## Risks');
  if (a.risks.length === 0) out.push('_No open item is marked a high or medium risk._');
  else out.push(table(['Risk', 'ID', 'Item', 'Owner', 'Status'], a.risks.map((r) => [r.risk === 'high' ? '🔴 high' : '🟡 medium', inline(r.id), inline(r.title), inline(r.owner ?? ''), statusCell(r.status)])));

  const t = a.remaining;
  out.push('## Estimated time remaining', table(['Optimistic', 'Realistic', 'Pessimistic'], [[hours(t.optimistic), hours(t.realistic), hours(t.pessimistic)]]));
  const unestimated = t.unestimated > 0 ? `; ${t.unestimated} of them without an estimate, not counted` : '';
  out.push(`${t.openItems} open item${t.openItems === 1 ? '' : 's'}${unestimated}.`);

  if (state.stages && state.stages.length > 0) out.push('## Stages', stageTable(state.stages));
  return `${out.join('\n\n')}\n`;
}

/** What `gonogo report --format markdown` prints: the checklist, then the assessment. */
export function renderReportMarkdown(state: ReportInput): string {
  return `${renderChecklistMarkdown(state)}\n---\n\n${renderAssessmentMarkdown(state)}`;
}

const NOT_PASSED: readonly Status[] = ['error', 'fail'];

const tierRank = (r: ItemResult): number => TIERS.indexOf(r.tier);

/**
 * The failed and errored items, worst tier first: a table with one row per item (items that
 * errored for one root cause share a row naming them), then what each item's evidence says, one
 * fact per line (a probe's findings, a command's output...).
 */
function failureBlocks(results: readonly ItemResult[], itemOf: ReadonlyMap<string, ItemConfig>): string[] {
  const failed = results.filter((r) => NOT_PASSED.includes(r.status)).sort((x, y) => tierRank(x) - tierRank(y));
  if (failed.length === 0) return [];
  const explained = explainResults(failed);
  const rows = explained.map((e) => {
    if (e.type === 'item') {
      const r = e.result;
      return [statusCell(r.status), inline(r.id), inline(itemOf.get(r.id)?.title ?? ''), TIER_LABEL[r.tier], inline(r.message)];
    }
    const worst = TIERS[Math.min(...e.results.map(tierRank))];
    return [statusCell(e.status), `${e.results.length} items`, inline(listNames(e.results.map((r) => r.id))), TIER_LABEL[worst], inline(e.cause)];
  });
  const blocks = [table(['Status', 'ID', 'Item', 'Tier', 'Result'], rows)];
  for (const e of explained) {
    if (e.type !== 'item' || e.details.length === 0) continue;
    const r = e.result;
    blocks.push(`**${STATUS_ICON[r.status]} ${inline(r.id)} ${inline(itemOf.get(r.id)?.title ?? '')}**\n\n${e.details.map((line) => `- ${inline(line)}`).join('\n')}`);
  }
  return blocks;
}

/** A short run summary for `$GITHUB_STEP_SUMMARY`: decision, counts per tier, failed items with their messages and evidence. */
export function renderRunMarkdown(outcome: GateOutcome, items: readonly ItemConfig[]): string {
  const itemOf = new Map(items.map((i) => [i.id, i]));
  const d = outcome.decision;
  const heading = d ? VERDICT_HEADING[d.verdict] : RUN_STATUS_LABEL[outcome.status];
  const out = [`### ${heading} — ${inline(outcome.gate)} (${inline(outcome.env)})`];
  const elapsed = Date.parse(outcome.finishedAt) - Date.parse(outcome.startedAt);
  const facts = [`run ${inline(outcome.runId)} (${inline(outcome.command)})`];
  if (Number.isFinite(elapsed)) facts.push(formatDuration(elapsed));
  if (d) facts.unshift(`Readiness ${criticalHeadline(d)}`);
  if (outcome.partial) facts.push('partial run: the decision covers the selection only');
  out.push(facts.join(' · '));

  const byTier = (t: Tier): ItemResult[] => outcome.results.filter((r) => r.tier === t);
  const counts = d?.tiers;
  const rows = TIERS.map((t) => {
    // Without a decision (an aborted run) the counts come from the results that did land.
    const c = counts ? counts[t] : countStatuses(byTier(t).map((r) => r.status));
    return [TIER_LABEL[t], `${c.passed}/${c.total}`, c.failed, c.error, c.pending, c.waived, c.skipped].map(String);
  });
  out.push(table(['Tier', '✅ Passed', '❌ Failed', '❗ Error', '⏳ Pending', '📝 Waived', '⏭️ Skipped'], rows));

  out.push(...failureBlocks(outcome.results, itemOf));
  if (d && d.conditions.length > 0) out.push(`**Conditions**\n\n${list(d.conditions, '')}`);
  if (d && d.missingSignoffs.length > 0) out.push(`**Missing sign-offs:** ${d.missingSignoffs.map(inline).join(', ')}`);
  if (outcome.stages && outcome.stages.length > 0) out.push(stageTable(outcome.stages));
  if (d) out.push(`<details><summary>Reasons</summary>\n\n${list(d.reasons, '')}\n\n</details>`);
  return `${out.join('\n\n')}\n`;
}
