import type { ItemConfig } from '../config/schema.js';
import type { GateOutcome, StageReport } from '../engine/gate.js';
import type { Decision, ItemResult, Status, Verdict } from '../model.js';
import { TIERS } from '../model.js';
import { formatDuration } from '../util/duration.js';
import { explainResults, listNames } from './explain.js';

export const VERDICT_LABEL: Record<Verdict, string> = { GO: 'GO', GO_WITH_CONDITIONS: 'GO WITH CONDITIONS', NO_GO: 'NO-GO' };
export const STATUS_MARK: Record<Status, string> = { pass: '✔', fail: '✖', error: '!', pending: '…', skipped: '-', waived: '~' };

/** `critical 3/4 · high 16/18 · recommended 9/15`. */
export function tierLine(d: Decision): string {
  return TIERS.map((t) => `${t} ${d.tiers[t].passed}/${d.tiers[t].total}`).join(' · ');
}

const DETAIL_INDENT = '      ';

/**
 * Each item not passed with what its evidence says beneath it (a probe's findings, a command's
 * output...), and one line per root cause for items that errored for the same reason.
 */
export function explainedLines(results: readonly ItemResult[], titles: ReadonlyMap<string, string>, maxLines?: number): string[] {
  const out: string[] = [];
  for (const e of explainResults(results, { maxLines })) {
    if (e.type === 'cause') {
      out.push(`  ${STATUS_MARK[e.status]} ${e.results.length} items ${e.status}: ${e.cause}`);
      out.push(`${DETAIL_INDENT}${listNames(e.results.map((r) => r.id))}`);
      continue;
    }
    const r = e.result;
    out.push(`  ${STATUS_MARK[r.status]} ${r.id} [${r.tier}] ${titles.get(r.id) ?? ''} — ${r.status}: ${r.message}`);
    for (const line of e.details) out.push(`${DETAIL_INDENT}${line}`);
  }
  return out;
}

/** The closing summary of `check` and `validate`: decision, readiness, reasons, what failed. */
export function renderOutcomeText(outcome: GateOutcome, items: readonly ItemConfig[]): string {
  const out: string[] = [];
  const titles = new Map(items.map((i) => [i.id, i.title]));
  if (outcome.stages) out.push(renderStagesText(outcome.stages), '');
  const notPassed = outcome.results.filter((r) => r.status !== 'pass' && r.status !== 'skipped');
  if (notPassed.length > 0) out.push('Not passed:', ...explainedLines(notPassed, titles), '');
  const d = outcome.decision;
  if (!d || outcome.status === 'aborted') {
    out.push('Run aborted: no decision recorded (an interrupted run is never GO).');
    return `${out.join('\n')}\n`;
  }
  out.push(`Decision: ${VERDICT_LABEL[d.verdict]}${outcome.partial ? ' (this run\'s selection)' : ''}`);
  out.push(`Readiness: ${d.tiers.critical.passed}/${d.tiers.critical.total} critical (${d.readiness}%) · ${tierLine(d)}`);
  for (const r of d.reasons) out.push(`  - ${r}`);
  if (d.conditions.length > 0) {
    out.push('Conditions:');
    for (const c of d.conditions) out.push(`  - ${c}`);
  }
  const state = outcome.state;
  if (state) {
    // What the release stands at after this run: a partial run updated only the items it ran.
    const earlier = state.results.filter((r) => r.runId !== undefined && r.runId !== outcome.runId).length;
    out.push(`Release ${state.release} on ${state.env}: ${VERDICT_LABEL[state.decision.verdict]} · ${tierLine(state.decision)}${earlier > 0 ? ` (${earlier} item${earlier === 1 ? '' : 's'} from earlier runs)` : ''}`);
    if (state.decision.missingSignoffs.length > 0) out.push(`  - missing sign-offs: ${state.decision.missingSignoffs.join(', ')} (gonogo signoff --release ${state.release} ...)`);
  }
  return `${out.join('\n')}\n`;
}

export function renderStagesText(stages: readonly StageReport[]): string {
  const lines = ['Stages:'];
  for (const s of stages) {
    const time = s.status === 'not-run' ? 'not run' : `${formatDuration(s.durationMs)} of ${formatDuration(s.budgetMs)}${s.overBudget ? ' (OVER BUDGET)' : ''}`;
    const sign = s.signoffRoles.length === 0 ? '' : s.signedOff ? ' · signed off' : ` · sign-off missing (${s.signoffRoles.join(' or ')})`;
    const failed = s.failedCritical.length > 0 ? ` · critical failed: ${s.failedCritical.join(', ')}` : '';
    lines.push(`  ${s.status === 'passed' ? '✔' : s.status === 'failed' ? '✖' : '-'} ${s.id.padEnd(16)} ${s.title} — ${time}${failed}${sign}`);
  }
  return lines.join('\n');
}

/** One line per item, as printed when the live view is off (not a TTY, or CI). */
export function renderResultLine(r: ItemResult, title: string | undefined): string {
  return `${STATUS_MARK[r.status]} ${r.id} ${title ?? ''} (${formatDuration(r.durationMs)}) ${r.status}${r.status === 'pass' ? '' : `: ${r.message}`}`;
}

const MAX_LISTED = 30;

/**
 * The quick reference's middle: each blocker with what was observed, then the sign-offs still
 * missing and the manual items awaiting one, each list capped. Shared by every status page.
 */
export function blockerAndPendingLines(d: Decision, results: readonly ItemResult[], titles: ReadonlyMap<string, string>): string[] {
  const out: string[] = ['', `Blockers (${d.blockers.length}):`];
  const blocking = new Set(d.blockers.slice(0, MAX_LISTED));
  out.push(...explainedLines(results.filter((r) => blocking.has(r.id)), titles, 4));
  if (d.blockers.length > MAX_LISTED) out.push(`  … and ${d.blockers.length - MAX_LISTED} more`);
  const pending = results.filter((r) => r.status === 'pending');
  out.push('', `Pending sign-offs (${pending.length + d.missingSignoffs.length}):`);
  for (const k of d.missingSignoffs) out.push(`  … ${k}`);
  for (const r of pending.slice(0, MAX_LISTED)) out.push(`  … item:${r.id} ${titles.get(r.id) ?? ''}`);
  if (pending.length > MAX_LISTED) out.push(`  … and ${pending.length - MAX_LISTED} more`);
  return out;
}

/** The one-page quick reference for the terminal (`gonogo status`). */
export function renderStatusText(input: {
  gate: string;
  decision: Decision;
  results: readonly ItemResult[];
  items: readonly ItemConfig[];
  lastRun?: { id: string; startedAt: string; env: string; command: string };
  now: number;
}): string {
  const { decision: d, items } = input;
  const titles = new Map(items.map((i) => [i.id, i.title]));
  const out: string[] = [];
  out.push(`gonogo · ${input.gate}`);
  out.push('='.repeat(Math.max(20, input.gate.length + 9)));
  out.push(`Decision:   ${VERDICT_LABEL[d.verdict]}`);
  out.push(`Readiness:  ${d.tiers.critical.passed}/${d.tiers.critical.total} critical (${d.readiness}%)`);
  out.push(`Tiers:      ${tierLine(d)}`);
  if (input.lastRun) {
    const ago = formatDuration(input.now - Date.parse(input.lastRun.startedAt));
    out.push(`Last run:   ${input.lastRun.command} on ${input.lastRun.env}, ${input.lastRun.startedAt} (${ago} ago), run ${input.lastRun.id}`);
  } else {
    out.push('Last run:   none yet (run `gonogo check`)');
  }
  out.push(...blockerAndPendingLines(d, input.results, titles));
  out.push('');
  out.push('Reasons:');
  for (const r of d.reasons) out.push(`  - ${r}`);
  return `${out.join('\n')}\n`;
}
