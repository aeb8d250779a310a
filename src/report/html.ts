// `gonogo report --format html`: the seed's five documents as a static page set a team attaches to
// a change ticket: the go/no-go checklist, the staging validation record, the production validation
// record, the readiness assessment and the quick reference, with an index. Each page is one
// self-contained file (inline stylesheet, no script, a CSP allowing nothing else), printable, every
// value escaped by the `html` tag and the finished page passed through the redactor.
// Plain data in (html-data.ts gathers it), strings out: no I/O, no clock.
import type { ItemConfig } from '../config/schema.js';
import type { AttestationView } from '../engine/state.js';
import type { ItemResult, RunRecord, StageReport, Status, Tier, TierCount, Verdict } from '../model.js';
import { TIERS } from '../model.js';
import type { RunSummary, WatchEvent } from '../store/types.js';
import { formatDuration, parseDuration } from '../util/duration.js';
import { formatMetric } from '../watch/triggers.js';
import type { MetricName, MetricValues, TriggerConfig, TriggerVerdict } from '../watch/types.js';
import { percentPassed } from './assessment.js';
import type { PhaseState } from './assessment.js';
import { explainEvidence, rootCauses } from './explain.js';
import { chartSvg, errorRateChart, evaluationPoints, latencyChart } from './charts.js';
import type { ProductionRecord, ReportSet, StageSetRecord, WatchRecord } from './html-data.js';
import { bar, facts, html, page, table, when } from './html-kit.js';
import type { Interpolation, PageLink, SafeHtml } from './html-kit.js';
import { attestationSubject } from './state-text.js';
import { STATUS_MARK, VERDICT_LABEL } from './text.js';

export { escapeHtml } from './html-kit.js';

/** The pages of the set, in the order the index lists them. */
export const PAGES = {
  index: { file: 'index.html', title: 'Index' },
  checklist: { file: 'checklist.html', title: 'Go/No-Go Checklist' },
  staging: { file: 'staging-validation.html', title: 'Staging Validation Record' },
  production: { file: 'production-validation.html', title: 'Production Validation Record' },
  assessment: { file: 'readiness-assessment.html', title: 'Production Readiness Assessment' },
  quick: { file: 'quick-reference.html', title: 'Deployment Quick Reference' },
} as const satisfies Record<string, PageLink>;

const LINKS: readonly PageLink[] = Object.values(PAGES);

/** One rendered page: its file name in the set, its title, the whole document. */
export interface HtmlPage {
  file: string;
  title: string;
  html: string;
}

export interface HtmlOptions {
  /** Applied to each finished page: the CLI passes its redactor's `text` (every `${VAR}` value masked). */
  redact?: (text: string) => string;
  /** gonogo's version, for the footer. */
  version?: string;
}

/** Evaluation rows listed in the production record's table of breaches; the chart shows them all. */
const MAX_BREACH_ROWS = 200;

const TIER_LABEL: Record<Tier, string> = { critical: 'Critical', high: 'High priority', recommended: 'Recommended' };
const TIER_RULE: Record<Tier, string> = {
  critical: 'Must all pass.',
  high: 'Count toward the GO and GO WITH CONDITIONS thresholds; a failure needs a waiver.',
  recommended: 'Never block; reported.',
};

// --- small pieces ------------------------------------------------------------------------------

const verdict = (v: Verdict, big = false): SafeHtml => html`<span class="verdict ${v}${big ? ' big' : ''}">${VERDICT_LABEL[v]}</span>`;
const statusCell = (s: Status): SafeHtml => html`<span class="status st-${s}">${STATUS_MARK[s]} ${s}</span>`;
const word = (cls: string, text: string): SafeHtml => html`<span class="status st-${cls}">${text}</span>`;
const list = (items: readonly Interpolation[], none = 'None.'): SafeHtml => (items.length === 0 ? (none === '' ? html`` : html`<p class="muted">${none}</p>`) : html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>`);
const evidence = (lines: readonly string[]): SafeHtml => (lines.length === 0 ? html`` : html`<ul class="ev">${lines.map((l) => html`<li>${l}</li>`)}</ul>`);
const tierCount = (c: TierCount): SafeHtml => html`${bar(percentPassed(c), `${percentPassed(c)}% passed`)}${c.passed}/${c.total} (${percentPassed(c)}%)`;
const metric = (m: MetricName, v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'no data' : formatMetric(m, v));
const span = (ms: number): string => formatDuration(ms);

function header(set: ReportSet, title: string): SafeHtml {
  const s = set.state;
  const d = s.decision;
  const run = s.lastRun;
  const rows: [string, Interpolation][] = [
    ['Decision', verdict(d.verdict)],
    ['Readiness', html`${bar(d.readiness, `${d.readiness}% of critical items passed`)}${d.tiers.critical.passed}/${d.tiers.critical.total} critical (${d.readiness}%)`],
    ['Release', set.release],
    ['Environment', set.env],
    ['Last run', run ? `${run.id} (${run.command}), ${when(run.startedAt)} → ${when(run.finishedAt)}` : 'none yet: automated items count as not run'],
    ['Config', `${set.configFile} (sha256 ${set.configHash.slice(0, 12)})${s.configChanged ? ' — changed since the last run' : ''}`],
    ['Audit chain', s.chain.intact ? html`<span class="ok-text">intact</span>` : html`<span class="bad-text">BROKEN: ${s.chain.problem?.message ?? 'unknown problem'}</span>`],
    ['As of', when(set.generatedAt)],
  ];
  return html`<h1>${title} — ${set.gate}</h1><p class="sub">Release ${set.release} · ${set.env}</p>${facts(rows)}`;
}

function footer(set: ReportSet, version: string | undefined): SafeHtml {
  return html`Generated by gonogo${version ? ` ${version}` : ''} from its store at ${when(set.generatedAt)} for gate ${set.gate}, release ${set.release}. A record of the state at that moment: run <code>gonogo report --format html</code> again for a later one; <code>gonogo audit verify</code> checks the record it was read from.`;
}

function attestationRow(v: AttestationView): Interpolation[] {
  const a = v.attestation;
  return [html`<code>${a.id}</code>`, attestationSubject(a), a.by || '?', a.role || 'no role', when(a.at), word(v.standing, v.standing), v.why];
}
const ATTESTATION_HEADER = ['Id', 'What', 'By', 'Role', 'At', 'Standing', 'Why'];

/** The attestations that concern this release: its own, and waivers (which span releases until they expire). */
function ofRelease(views: readonly AttestationView[]): AttestationView[] {
  return views.filter((v) => v.standing !== 'other-release' || v.attestation.kind === 'waiver');
}

// --- the checklist -----------------------------------------------------------------------------

function itemSignoffs(id: string, views: readonly AttestationView[]): SafeHtml {
  const mine = views.filter((v) => {
    const a = v.attestation;
    return (a.kind === 'signoff' && a.target.type === 'item' && a.target.id === id) || (a.kind === 'waiver' && a.itemId === id);
  });
  return html`${mine.map((v) => {
    const a = v.attestation;
    const what = a.kind === 'waiver' ? `waiver until ${a.expires}: ${a.mitigation} (owner ${a.owner})` : `sign-off${a.kind === 'signoff' && a.note ? `: ${a.note}` : ''}`;
    return html`<div>${word(v.standing, v.standing)} ${what} — ${a.by} (${a.role}), ${when(a.at)}</div>`;
  })}`;
}

function itemRow(r: ItemResult, item: ItemConfig | undefined, views: readonly AttestationView[]): Interpolation[] {
  const lines = explainEvidence(r.evidence);
  const kind = item?.manual ? `manual${item.signers ? `: signed by ${item.signers.join(' or ')}` : ''}` : item?.check ? item.check.kind : '';
  return [
    statusCell(r.status),
    html`<code id="item-${r.id}">${r.id}</code>`,
    html`${item?.title ?? ''}${item?.blocker ? html` <strong class="bad-text">blocker</strong>` : ''}<div class="muted">${kind}</div>`,
    [item?.category ?? '', item?.phase ? html`<div class="muted">${item.phase}</div>` : ''],
    item?.owner ?? '',
    html`${r.message}${evidence(lines)}${r.runId ? html`<div class="muted">run ${r.runId}</div>` : ''}`,
    itemSignoffs(r.id, views),
  ];
}

function checklistPage(set: ReportSet): SafeHtml {
  const s = set.state;
  const d = s.decision;
  const itemOf = new Map(set.items.map((i) => [i.id, i]));
  const views = ofRelease(s.attestations);
  const out: SafeHtml[] = [header(set, PAGES.checklist.title)];
  for (const tier of TIERS) {
    const results = s.results.filter((r) => r.tier === tier);
    if (results.length === 0) continue;
    out.push(html`<h2>${TIER_LABEL[tier]} — ${tierCount(d.tiers[tier])}</h2><p class="sub">${TIER_RULE[tier]}</p>`);
    out.push(table(['Status', 'ID', 'Item', 'Category / phase', 'Owner', 'Result and evidence', 'Sign-offs and waivers'], results.map((r) => itemRow(r, itemOf.get(r.id), views))));
  }
  const causes = rootCauses(s.results);
  if (causes.length > 0) out.push(html`<h2>Shared causes</h2><p class="sub">Items that could not be verified for one reason.</p>${table(['Cause', 'Items'], causes.map((c) => [c.cause, c.items.join(', ')]))}`);
  out.push(html`<h2>Decision: ${verdict(d.verdict)}</h2><h3>Reasons</h3>${list(d.reasons)}`);
  if (d.conditions.length > 0) out.push(html`<h3>Conditions</h3>${list(d.conditions)}`);
  out.push(html`<h3>Missing sign-offs</h3>${list(d.missingSignoffs, 'None: every required sign-off is present.')}`);
  out.push(html`<h2>Sign-offs, waivers and revocations</h2><p class="sub">Every attestation of this release (and every waiver) with whether it counts now.</p>${table(ATTESTATION_HEADER, views.map(attestationRow), { empty: 'No attestation yet.' })}`);
  return html`${out}`;
}

// --- stage sets: the staging record, and the production record's validate runs ---------------

const STAGE_STATUS: Record<StageReport['status'], [string, string]> = { passed: ['passed', '✔ passed'], failed: ['failed', '✖ failed'], 'not-run': ['not-run', '- not run'] };

function runVerdict(r: RunSummary): SafeHtml {
  if (r.verdict) return verdict(r.verdict);
  return word(r.status === 'aborted' ? 'aborted' : 'pending', r.status === 'aborted' ? 'ABORTED — no decision' : r.status.toUpperCase());
}

function stageSignoffsNow(stageId: string, rec: StageSetRecord): SafeHtml {
  const mine = rec.signoffs.filter((v) => v.attestation.kind === 'signoff' && v.attestation.target.type === 'stage' && v.attestation.target.id === stageId);
  if (mine.length === 0) return html`<span class="muted">none</span>`;
  return html`${mine.map((v) => html`<div>${word(v.standing, v.standing)} ${v.attestation.by} (${v.attestation.role})</div>`)}`;
}

function stageTable(stages: readonly StageReport[], rec: StageSetRecord): SafeHtml {
  return table(
    ['Stage', 'Status', 'Duration', 'Budget', 'Budget check', 'Critical failures', 'Sign-off by', 'Sign-offs now'],
    stages.map((st) => [
      st.title,
      word(...STAGE_STATUS[st.status]),
      span(st.durationMs),
      span(st.budgetMs),
      st.status === 'not-run' ? '—' : st.overBudget ? word('failed', 'over budget') : word('passed', 'within'),
      st.failedCritical.join(', '),
      st.signoffRoles.length === 0 ? '—' : html`${st.signoffRoles.join(', ')}<div class="muted">${st.signedOff ? 'signed when the run ended' : 'unsigned when the run ended'}</div>`,
      st.signoffRoles.length === 0 ? '—' : stageSignoffsNow(st.id, rec),
    ]),
  );
}

function stageItems(run: RunRecord, st: StageReport, itemOf: ReadonlyMap<string, ItemConfig>): SafeHtml {
  const byId = new Map(run.results.map((r) => [r.id, r]));
  const rows = st.items.map((id): Interpolation[] => {
    const r = byId.get(id);
    const item = itemOf.get(id);
    if (!r) return [word('not-run', '- not run'), html`<code>${id}</code>`, item?.title ?? '', item?.tier ?? '', st.status === 'not-run' ? 'the stage did not run' : 'no result'];
    return [statusCell(r.status), html`<code>${id}</code>`, item?.title ?? '', r.tier, html`${r.message}${r.status === 'pass' ? '' : evidence(explainEvidence(r.evidence))}<div class="muted">${span(r.durationMs)}${r.attempts.length > 1 ? `, ${r.attempts.length} attempts` : ''}</div>`];
  });
  return table(['Status', 'ID', 'Item', 'Tier', 'Result'], rows);
}

function runHistory(rec: StageSetRecord): SafeHtml {
  const rows = rec.runs.map((r): Interpolation[] => [
    html`<code>${r.id}</code>`,
    when(r.startedAt),
    r.finishedAt ? span(Date.parse(r.finishedAt) - Date.parse(r.startedAt)) : '—',
    r.env,
    runVerdict(r),
    r.readiness !== undefined ? `${r.readiness}%` : '—',
    html`${(r.stages ?? []).map((st) => html`<div>${word(...STAGE_STATUS[st.status])} ${st.id} ${st.status === 'not-run' ? '' : `${span(st.durationMs)} / ${span(st.budgetMs)}${st.overBudget ? ' (over budget)' : ''}`}</div>`)}`,
    r.configHash.slice(0, 12),
  ]);
  const more = rec.totalRuns > rec.runs.length ? html`<p class="muted">and ${rec.totalRuns - rec.runs.length} earlier run(s), not listed.</p>` : html``;
  return html`${table(['Run', 'Started', 'Took', 'Environment', 'Verdict', 'Readiness', 'Stages (time / budget)', 'Config'], rows, { empty: `No validate ${rec.stageSet} run of this release yet.` })}${more}`;
}

function stageSignoffTable(rec: StageSetRecord): SafeHtml {
  const rows = rec.signoffs.map((v): Interpolation[] => {
    const a = v.attestation;
    if (a.kind !== 'signoff') return [];
    return [a.target.type === 'stage' ? a.target.id : '', a.by, a.role, when(a.at), a.run ? html`<code>${a.run.id}</code> (${VERDICT_LABEL[a.run.verdict]})` : '—', word(v.standing, v.standing), v.why, a.note ?? ''];
  });
  return table(['Stage', 'By', 'Role', 'At', 'Run signed', 'Standing', 'Why', 'Note'], rows, { empty: 'No stage sign-off for this release yet.' });
}

/** The plan, the newest run in detail, the sign-offs and the history of one stage set. */
function stageSetSections(set: ReportSet, rec: StageSetRecord, withPlan: boolean): SafeHtml {
  const itemOf = new Map(set.items.map((i) => [i.id, i]));
  const out: SafeHtml[] = [];
  if (withPlan) {
    out.push(html`<h2>Stages</h2>`);
    out.push(table(['#', 'Stage', 'Budget', 'Items', 'Sign-off by'], rec.stages.map((s, i) => [i + 1, html`${s.title}<div class="muted">${s.id}</div>`, span(s.budgetMs), s.items.join(', '), s.signoffRoles.join(', ') || '—'])));
  }
  const run = rec.latest;
  out.push(html`<h2>Latest run</h2>`);
  if (!run) {
    out.push(html`<p>No <code>gonogo validate ${rec.stageSet}</code> run of release ${set.release} yet.</p>`);
  } else {
    const took = run.finishedAt ? span(Date.parse(run.finishedAt) - Date.parse(run.startedAt)) : 'still running';
    const budget = rec.stages.reduce((sum, s) => sum + s.budgetMs, 0);
    out.push(
      facts([
        ['Run', html`<code>${run.id}</code> (${run.command})`],
        ['Environment', run.env],
        ['Verdict', run.decision ? verdict(run.decision.verdict) : word(run.status === 'aborted' ? 'aborted' : 'pending', run.status.toUpperCase())],
        ['Started', when(run.startedAt)],
        ['Finished', when(run.finishedAt)],
        ['Took', `${took} (stage budgets add up to ${span(budget)})`],
        ['Config', `sha256 ${run.configHash.slice(0, 12)}${run.configHash === set.configHash ? '' : ' — not the current config'}`],
      ]),
    );
    const stages = run.stages ?? [];
    out.push(stages.length > 0 ? stageTable(stages, rec) : html`<p class="muted">The run recorded no stage reports.</p>`);
    for (const st of stages) out.push(html`<h3>${st.title} — ${word(...STAGE_STATUS[st.status])}</h3>${stageItems(run, st, itemOf)}`);
    if (run.decision) out.push(html`<h3>The run's reasons</h3>${list(run.decision.reasons)}`);
  }
  out.push(html`<h2>Stage sign-offs</h2><p class="sub">Given in environment ${rec.env}; a stage sign-off counts for the stage's last run only.</p>${stageSignoffTable(rec)}`);
  out.push(html`<h3>Missing stage sign-offs</h3>${list(rec.missingSignoffs, 'None.')}`);
  out.push(html`<h2>Runs of this release</h2>${runHistory(rec)}`);
  return html`${out}`;
}

function missingSet(set: ReportSet, name: string, what: string): SafeHtml {
  return html`<p>No stage set <code>${name}</code> in ${set.configFile}: ${what}</p>`;
}

function stagingPage(set: ReportSet): SafeHtml {
  const rec = set.staging;
  const body = rec
    ? html`<p class="sub">Stage set <code>${rec.stageSet}</code>, run with <code>gonogo validate ${rec.stageSet}</code>: each stage in order, timed against its budget, stopped at a critical failure unless --keep-going.</p>${stageSetSections(set, rec, true)}`
    : missingSet(set, 'staging', 'add the stages `gonogo validate staging` runs under stages:.');
  return html`${header(set, PAGES.staging.title)}${body}`;
}

// --- the production record ---------------------------------------------------------------------

function triggerWatches(t: TriggerConfig): string {
  if (t.items) return `items not passing: ${t.items.join(', ')}`;
  if (t.metric) {
    const parts = [t.above !== undefined ? `above ${formatMetric(t.metric, t.above)}` : undefined, t.aboveBaseline !== undefined ? `above ${t.aboveBaseline} × the baseline` : undefined].filter(Boolean);
    return `${t.metric} ${parts.join(' and ')}`;
  }
  if (t.reports) return 'an issue reported by a person is open';
  return '—';
}

function criteriaText(c: ProductionRecord['stages'][number]['criteria']): string {
  return `error rate < ${formatMetric('error_rate', c.errorRate)}, p95 < ${c.p95}, items ${c.items === 'passing' ? 'all passing' : 'ignored'}, triggers: ${c.triggers === 'none' ? 'none fired' : 'no immediate fired'}`;
}

function metricsCells(m: MetricValues | undefined): Interpolation[] {
  if (!m) return ['—', '—', '—'];
  return [metric('error_rate', m.error_rate), metric('p95_ms', m.p95_ms), Number.isFinite(m.samples) ? m.samples : 'unknown'];
}

/** The last window's success criteria (the seed's 24-hour ones), as the charts draw them. */
function criteriaOf(rec: ProductionRecord): { errorRate?: number; p95Ms?: number } {
  const c = rec.stages.at(-1)?.criteria;
  return c ? { errorRate: c.errorRate, p95Ms: parseDuration(c.p95) } : {};
}

/** The watch's latency and error-rate charts, drawn as the dashboard draws them. */
function charts(rec: ProductionRecord, w: WatchRecord): SafeHtml {
  const input = { evaluations: evaluationPoints(w.evaluations), triggers: rec.triggers, baseline: rec.baseline, fired: w.state.fired, criteria: criteriaOf(rec) };
  const thinned = w.evaluationCount > w.evaluations.length ? html`<p class="muted">${w.evaluations.length} of ${w.evaluationCount} evaluations drawn (every one where a trigger fired kept).</p>` : html``;
  return html`<div class="charts">${chartSvg(latencyChart(input), 'chart-latency')}${chartSvg(errorRateChart(input), 'chart-error-rate')}</div>${thinned}`;
}

/** One evaluation event as the table of breaches reads it. */
function evaluationRow(e: WatchEvent): { at: string; window: string; metrics: MetricValues; failing: string[]; breaches: TriggerVerdict[] } {
  const items = (e.data.items ?? {}) as Record<string, string>;
  const verdicts = Array.isArray(e.data.verdicts) ? (e.data.verdicts as TriggerVerdict[]) : [];
  return {
    at: e.at,
    window: typeof e.data.window === 'string' ? e.data.window : '',
    metrics: (e.data.metrics ?? { samples: 0 }) as MetricValues,
    failing: Object.entries(items).filter(([, st]) => st === 'fail' || st === 'error').map(([id]) => id),
    breaches: verdicts.filter((v) => v.state === 'breach' || v.fired),
  };
}

function windowVerdict(x: WatchRecord['state']['windows'][number], s: WatchRecord['state']): SafeHtml {
  if (x.passed === true) return word('passed', '✔ passed');
  if (x.passed === false) return word('failed', '✖ failed');
  // A watch that ended (rolled back, failed, aborted) ends its open window without a verdict.
  if (s.outcome) return word('not-run', x.startedAt ? `stopped: the watch ended ${s.outcome}` : 'not reached');
  return x.startedAt ? word('in-progress', 'in progress') : word('not-run', 'not started');
}

function watchSections(set: ReportSet, rec: ProductionRecord, w: WatchRecord): SafeHtml {
  const s = w.state;
  const out: SafeHtml[] = [];
  const outcome = s.outcome ? word(s.outcome, s.outcome.toUpperCase()) : word('in-progress', 'IN PROGRESS (or stopped: the same gonogo watch command resumes it)');
  out.push(
    facts([
      ['Watch', html`<code>${s.watchId}</code> of stage set ${s.stageSet}`],
      ['Started', when(s.startedAt)],
      ['Previous release', s.previous || '—'],
      ['Outcome', outcome],
      ['Ended', when(s.endedAt)],
      ['Evaluations', w.evaluationCount],
    ]),
  );
  if (s.reasons.length > 0) out.push(html`<h3>Why</h3>${list(s.reasons)}`);
  out.push(html`<h3>Windows</h3>`);
  out.push(
    table(
      ['Window', 'Length / every', 'Started', 'Ended', 'Evaluations', 'Verdict', 'Reasons', 'Error rate', 'p95', 'Samples'],
      s.windows.map((x) => [html`${x.title}<div class="muted">${x.id}</div>`, `${span(x.windowMs)} / ${span(x.everyMs)}`, when(x.startedAt), when(x.endedAt), x.evaluations, windowVerdict(x, s), list(x.reasons ?? [], ''), ...metricsCells(w.windowMetrics[x.id])]),
    ),
  );
  out.push(html`<p class="muted">Error rate, p95 and samples: over the whole window, as its criteria judged them.</p>`);
  out.push(charts(rec, w));

  out.push(html`<h3>Triggers fired</h3>`);
  out.push(
    table(
      ['At', 'Window', 'Trigger', 'Severity', 'What was seen', 'Decision'],
      s.fired.map((f) => [when(f.at), f.window, f.id, word(f.severity === 'immediate' ? 'failed' : 'pending', f.severity), f.message, f.decision ? `${f.decision.decision} — ${f.decision.by} (${f.decision.role}), ${when(f.decision.at)}` : f.severity === 'immediate' ? 'rolls back at once' : 'awaiting a decision']),
      { empty: 'No trigger fired.' },
    ),
  );
  if (w.awaiting.length > 0 || s.openReports.length > 0) {
    out.push(html`<h3>Waiting for a person</h3>${list([...w.awaiting.map((f) => `${f.id}: ${f.message}`), ...s.openReports.map((r) => `issue reported by ${r.by} at ${when(r.at)}: ${r.summary}`)])}<pre>gonogo decide-rollback --watch ${s.watchId} --rollback|--continue --as NAME --role ${set.rollback.roles.join('|') || 'ROLE'} --note "..."</pre>`);
  }

  out.push(html`<h3>Rollback</h3>`);
  const r = s.rollback;
  if (!r) out.push(html`<p class="muted">No rollback of release ${s.release} in ${s.env}.</p>`);
  else {
    const result = r.ok === undefined ? word('pending', 'no recorded end (its watcher stopped before it ended)') : r.ok ? word('passed', '✔ every step passed') : word('failed', '✖ a step failed');
    out.push(facts([['Claimed', when(r.at)], ['By', r.holder], ['Why', r.reason], ['Result', result], ['Ended', when(r.endedAt)]]));
    out.push(table(['Step', 'Result', 'What it printed or saw'], r.steps.map((st) => [st.step, st.ok ? word('passed', '✔ ok') : word('failed', '✖ failed'), st.message]), { empty: 'No step recorded.' }));
  }

  const last = s.lastEvaluation;
  if (last) {
    out.push(html`<h3>Last evaluation</h3><p class="sub">${when(last.at)}, window ${last.window}: error rate ${metric('error_rate', last.metrics.error_rate)}, p50 ${metric('p50_ms', last.metrics.p50_ms)}, p95 ${metric('p95_ms', last.metrics.p95_ms)}, p99 ${metric('p99_ms', last.metrics.p99_ms)} over ${last.metrics.samples} samples.</p>`);
    out.push(table(['Trigger', 'Severity', 'Verdict', 'Streak', 'What was seen'], last.verdicts.map((v) => [v.id, v.severity, word(v.state === 'ok' ? 'passed' : v.state === 'breach' ? 'failed' : 'not-run', v.fired ? `${v.state} (fired)` : v.state), v.streak, v.message]), { empty: 'No trigger was judged.' }));
  }

  const bad = w.evaluations.map(evaluationRow).filter((e) => e.breaches.length > 0 || e.failing.length > 0);
  out.push(html`<h3>Evaluations with a breach or a failing item</h3>`);
  out.push(
    table(
      ['At', 'Window', 'Error rate', 'p95', 'Samples', 'Not passing', 'Breaches'],
      bad.slice(0, MAX_BREACH_ROWS).map((e) => [when(e.at), e.window, ...metricsCells(e.metrics), e.failing.join(', '), html`${e.breaches.map((b) => html`<div>${b.id}${b.fired ? ' (fired)' : ''}: ${b.message}</div>`)}`]),
      { empty: 'None: every evaluation was within every trigger.' },
    ),
  );
  if (bad.length > MAX_BREACH_ROWS) out.push(html`<p class="muted">and ${bad.length - MAX_BREACH_ROWS} more.</p>`);
  return html`${out}`;
}

function productionPage(set: ReportSet): SafeHtml {
  const rec = set.production;
  if (!rec) return html`${header(set, PAGES.production.title)}${missingSet(set, 'production', 'add the windows `gonogo watch production` runs under stages:.')}`;
  const out: SafeHtml[] = [header(set, PAGES.production.title)];
  out.push(html`<p class="sub">Stage set <code>${rec.stageSet}</code> in environment ${rec.env}: its windows watched after the deploy by <code>gonogo watch ${rec.stageSet}</code>, triggers judged at every evaluation.</p>`);
  out.push(html`<h2>Windows</h2>`);
  out.push(
    table(
      ['#', 'Window', 'Length', 'Every', 'Budget', 'Items', 'Success criteria', 'Sign-off by'],
      rec.stages.map((s, i) => [i + 1, html`${s.title}<div class="muted">${s.id}</div>`, span(s.windowMs), span(s.everyMs), span(s.budgetMs), s.items.join(', '), criteriaText(s.criteria), s.signoffRoles.join(', ') || '—']),
    ),
  );
  out.push(html`<h2>Rollback triggers</h2>`);
  out.push(
    table(
      ['Trigger', 'Severity', 'Fires when', 'Consecutive', 'Min samples', 'No data counts as'],
      rec.triggers.map((t) => [html`${t.id}${t.title ? html`<div class="muted">${t.title}</div>` : ''}`, word(t.severity === 'immediate' ? 'failed' : 'pending', t.severity === 'immediate' ? 'immediate: rolls back' : 'conditional: asks a person'), triggerWatches(t), t.consecutive, t.minSamples, t.noData]),
      { empty: 'No trigger.' },
    ),
  );
  const b = rec.baseline;
  out.push(html`<h2>Baseline</h2>`);
  out.push(b ? facts([['Error rate', metric('error_rate', b.error_rate)], ['p50', metric('p50_ms', b.p50_ms)], ['p95', metric('p95_ms', b.p95_ms)], ['p99', metric('p99_ms', b.p99_ms)], ['Samples', b.samples]]) : html`<p class="muted">No baseline of ${rec.env} from an earlier release: aboveBaseline triggers have nothing to compare with (gonogo baseline record).</p>`);
  out.push(html`<h2>The watch</h2>`);
  out.push(rec.watch ? watchSections(set, rec, rec.watch) : html`<p>No watch of release ${set.release} in ${rec.env} yet: <code>gonogo watch ${rec.stageSet} --release ${set.release} --previous PREVIOUS_RELEASE</code>.</p>`);
  if (rec.watchRuns > 0) out.push(html`<p class="muted">The watch's evaluations ran the windows' items ${rec.watchRuns} time(s), each a run of this release.</p>`);
  out.push(html`<h2>Window sign-offs</h2><p class="sub">Given in environment ${rec.env}; a sign-off counts for the window's last evaluation.</p>${stageSignoffTable(rec)}<h3>Missing sign-offs</h3>${list(rec.missingSignoffs, 'None.')}`);
  if (rec.totalRuns > 0) out.push(html`<h2>One-off validate ${rec.stageSet} runs</h2>${stageSetSections(set, rec, false)}`);
  return html`${out}`;
}

// --- the readiness assessment ------------------------------------------------------------------

const PHASE_LABEL: Record<PhaseState, [string, string]> = { done: ['passed', '✔ done'], 'in-progress': ['in-progress', 'in progress'], 'not-started': ['failed', 'not started'] };
const phaseWord = (state: PhaseState): SafeHtml => word(...PHASE_LABEL[state]);
const tierName = (name: string): string => {
  const tier = TIERS.find((t) => t === name);
  return tier ? TIER_LABEL[tier] : name;
};
const COUNT_HEADER = ['Passed', 'Failed', 'Error', 'Pending', 'Waived', 'Skipped'];
const countCells = (c: TierCount): Interpolation[] => [tierCount(c), c.failed, c.error, c.pending, c.waived, c.skipped];

function assessmentPage(set: ReportSet): SafeHtml {
  const a = set.assessment;
  const d = set.state.decision;
  const out: SafeHtml[] = [header(set, PAGES.assessment.title)];
  out.push(html`<h2>Executive summary</h2><p>${verdict(a.verdict, true)}</p><p><strong>${a.critical.passed}/${a.critical.total} critical (${a.readiness}%)</strong> ready for production; ${a.blockers.length} blocker(s), ${a.risks.length} open risk(s), ${a.remaining.openItems} open item(s).</p>${list(d.reasons)}`);
  out.push(html`<h2>Readiness by tier</h2>${table(['Tier', ...COUNT_HEADER], a.tiers.map((g) => [tierName(g.name), ...countCells(g.count)]))}`);
  out.push(html`<h2>Readiness by category</h2>${table(['Category', ...COUNT_HEADER], a.categories.map((g) => [g.name, ...countCells(g.count)]))}`);
  out.push(html`<h2>Critical path</h2>`);
  out.push(table(['Phase', 'Status', 'Passed'], a.phases.map((p) => [p.name, phaseWord(p.state), tierCount(p.count)]), { empty: 'No item names a phase.' }));
  out.push(html`<h2>Blockers</h2>`);
  out.push(table(['Status', 'ID', 'Item', 'Tier', 'Owner', 'Result'], a.blockers.map((b) => [statusCell(b.status), html`<code>${b.id}</code>`, b.title, b.tier, b.owner ?? '', b.message]), { empty: 'None.' }));
  out.push(html`<h2>Risks</h2>`);
  out.push(table(['Risk', 'ID', 'Item', 'Owner', 'Status'], a.risks.map((r) => [word(r.risk === 'high' ? 'failed' : 'pending', r.risk.toUpperCase()), html`<code>${r.id}</code>`, r.title, r.owner ?? '', statusCell(r.status)]), { empty: 'No open item is marked a high or medium risk.' }));
  const t = a.remaining;
  out.push(html`<h2>Estimated time remaining</h2>${table(['Optimistic', 'Realistic', 'Pessimistic'], [[`${t.optimistic} h`, `${t.realistic} h`, `${t.pessimistic} h`]])}<p>${t.openItems} open item(s)${t.unestimated > 0 ? `; ${t.unestimated} of them without an estimate, not counted` : ''}.</p>`);
  if (d.conditions.length > 0) out.push(html`<h2>Conditions</h2>${list(d.conditions)}`);
  const staging = set.staging?.latest;
  if (staging?.stages && set.staging) out.push(html`<h2>Staging validation</h2><p class="sub">Latest <code>${staging.command}</code> run, ${when(staging.startedAt)}.</p>${stageTable(staging.stages, set.staging)}`);
  return html`${out}`;
}

// --- the quick reference -----------------------------------------------------------------------

function pendingSignoffs(set: ReportSet): string[] {
  const all = [...set.state.decision.missingSignoffs.map((m) => `${m} (${set.state.env})`)];
  for (const rec of [set.staging, set.production]) {
    if (!rec || rec.env === set.state.env) continue;
    for (const m of rec.missingSignoffs) all.push(`${m} (${rec.env})`);
  }
  return [...new Set(all)];
}

/** What the metric triggers hold a metric to, in words: `error-rate-critical > 5%`, `latency-degraded > 1.5 × baseline (300 ms)`. */
function limitsOf(rec: ProductionRecord, m: MetricName): string[] {
  const base = rec.baseline?.[m];
  return rec.triggers
    .filter((t) => t.metric === m)
    .flatMap((t) => [
      ...(t.above !== undefined ? [`${t.id} > ${formatMetric(m, t.above)}`] : []),
      ...(t.aboveBaseline !== undefined ? [`${t.id} > ${t.aboveBaseline} × baseline${base !== undefined ? ` (${formatMetric(m, t.aboveBaseline * base)})` : ', none recorded'}`] : []),
    ]);
}

function keyMetrics(set: ReportSet): SafeHtml {
  const rec = set.production;
  const last = rec?.watch?.state.lastEvaluation;
  const rows: Interpolation[][] = [];
  const criteria = rec?.stages.at(-1)?.criteria;
  for (const m of ['error_rate', 'p50_ms', 'p95_ms', 'p99_ms'] as const) {
    const limits = rec ? limitsOf(rec, m) : [];
    if (criteria && m === 'error_rate') limits.push(`window criteria < ${formatMetric(m, criteria.errorRate)}`);
    if (criteria && m === 'p95_ms') limits.push(`window criteria < ${criteria.p95}`);
    rows.push([m, metric(m, last?.metrics[m]), metric(m, rec?.baseline?.[m]), limits.join('; ') || '—']);
  }
  const note = last ? `Last evaluation ${when(last.at)} (window ${last.window}, ${last.metrics.samples} samples).` : 'No watch evaluation of this release yet.';
  return html`${table(['Metric', 'Now', 'Baseline', 'Held to'], rows)}<p class="muted">${note}</p>`;
}

function quickPage(set: ReportSet): SafeHtml {
  const s = set.state;
  const d = s.decision;
  const w = set.production?.watch;
  const itemOf = new Map(set.items.map((i) => [i.id, i]));
  const out: SafeHtml[] = [html`<h1>${PAGES.quick.title} — ${set.gate}</h1><p class="sub">Release ${set.release} · ${set.env} · as of ${when(set.generatedAt)}</p>`];
  const watchCard = w
    ? html`${w.state.outcome ? word(w.state.outcome, w.state.outcome.toUpperCase()) : word('in-progress', 'IN PROGRESS')}<div class="muted">${w.state.windows.filter((x) => x.passed).length}/${w.state.windows.length} windows passed, ${w.state.fired.length} trigger(s) fired</div>`
    : html`<span class="muted">not watched yet</span>`;
  out.push(
    html`<div class="cards">
<div class="card"><h3>Decision</h3>${verdict(d.verdict, true)}</div>
<div class="card"><h3>Readiness</h3>${bar(d.readiness, `${d.readiness}%`)}<strong>${d.readiness}%</strong><div class="muted">${d.tiers.critical.passed}/${d.tiers.critical.total} critical</div></div>
<div class="card"><h3>Blockers</h3><strong>${d.blockers.length}</strong><div class="muted">${d.missingSignoffs.length} sign-off(s) missing</div></div>
<div class="card"><h3>Production watch</h3>${watchCard}</div>
</div>`,
  );
  out.push(html`<h2>Why</h2>${list(d.reasons)}`);
  if (d.conditions.length > 0) out.push(html`<h3>Conditions</h3>${list(d.conditions)}`);
  out.push(html`<h2>Status at a glance</h2>${table(['Tier', 'Passed', 'Rule'], TIERS.map((t) => [TIER_LABEL[t], tierCount(d.tiers[t]), TIER_RULE[t]]))}`);
  out.push(html`<h2>Blockers</h2>${list(d.blockers.map((id) => {
    const r = s.results.find((x) => x.id === id);
    return html`<code>${id}</code> ${itemOf.get(id)?.title ?? ''} — ${r ? statusCell(r.status) : ''} ${r?.message ?? ''}${itemOf.get(id)?.owner ? ` (owner ${itemOf.get(id)?.owner})` : ''}`;
  }))}`);
  const waiting = w ? [...w.awaiting.map((f) => `rollback decision on ${f.id} (watch ${w.state.watchId}): ${f.message}`), ...w.state.openReports.map((r) => `reported issue by ${r.by}: ${r.summary}`)] : [];
  out.push(html`<h2>Pending sign-offs and decisions</h2>${list([...pendingSignoffs(set), ...waiting], 'None.')}`);
  out.push(html`<h2>Critical path</h2>${table(['Phase', 'Status', 'Passed'], set.assessment.phases.map((p) => [p.name, phaseWord(p.state), tierCount(p.count)]), { empty: 'No item names a phase.' })}<p class="muted">Estimated time remaining: ${set.assessment.remaining.optimistic} h optimistic, ${set.assessment.remaining.realistic} h realistic, ${set.assessment.remaining.pessimistic} h pessimistic.</p>`);
  out.push(html`<h2>Rollback</h2>`);
  if (set.rollback.configured) {
    out.push(html`<pre>${set.rollback.command}</pre><p class="sub">Runs once per release and environment; needs the rollback permission (${set.rollback.roles.join(', ') || 'no role has it'}). It runs:</p>${list(set.rollback.plan)}`);
  } else {
    out.push(html`<p class="bad-text">No rollback is configured (watch.rollback in ${set.configFile}): an immediate trigger has nothing to run.</p>`);
  }
  if (w?.state.rollback) out.push(html`<p>${word(w.state.rollback.ok === false ? 'failed' : 'rolled-back', 'Rolled back')} at ${when(w.state.rollback.at)} by ${w.state.rollback.holder}: ${w.state.rollback.reason}</p>`);
  out.push(html`<h2>Key metrics</h2>${keyMetrics(set)}`);
  out.push(html`<h2>Contacts</h2>`);
  out.push(table(['Person', 'Roles', 'May'], set.contacts.map((c) => [c.name, c.roles.join(', '), c.may.join(', ')]), { empty: 'people: is not set in the config: any name may sign in a role (roles: says what each role may do).' }));
  out.push(table(['Role', 'May'], Object.entries(set.roles).map(([r, p]) => [r, p.join(', ')]), { empty: 'No role is defined (roles:).' }));
  out.push(html`<h3>Owners of open items</h3>`);
  out.push(table(['Owner', 'Open items'], set.owners.filter((o) => o.open.length > 0).map((o) => [o.owner, `${o.open.join(', ')} (${o.open.length} of ${o.total})`]), { empty: 'No open item has an owner.' }));
  const lines = [
    `gonogo status --release ${set.release}`,
    ...(set.staging ? [`gonogo validate ${set.staging.stageSet} --release ${set.release}`] : []),
    `gonogo signoff --decision --release ${set.release} --as NAME --role ROLE`,
    ...(set.production ? [`gonogo watch ${set.production.stageSet} --release ${set.release} --previous PREVIOUS_RELEASE`] : []),
    `gonogo report --format html --release ${set.release} -o DIR`,
  ];
  out.push(html`<h2>Commands</h2><pre>${lines.join('\n')}</pre>`);
  return html`${out}`;
}

// --- the index ---------------------------------------------------------------------------------

function indexPage(set: ReportSet): SafeHtml {
  const d = set.state.decision;
  const total = set.state.results.length;
  const passed = set.state.results.filter((r) => r.status === 'pass').length;
  const staging = set.staging?.latest;
  const watch = set.production?.watch?.state;
  const rows: Interpolation[][] = [
    [html`<a href="${PAGES.checklist.file}">${PAGES.checklist.title}</a>`, 'every item with its status, evidence, owner, sign-offs and waivers; the decision and its reasons', `${passed}/${total} items passed`],
    [html`<a href="${PAGES.staging.file}">${PAGES.staging.title}</a>`, 'the release\'s validate staging runs: stages, time against budget, stage sign-offs', staging ? html`${staging.decision ? verdict(staging.decision.verdict) : staging.status} ${when(staging.startedAt)}` : 'no run yet'],
    [html`<a href="${PAGES.production.file}">${PAGES.production.title}</a>`, 'the production windows, the watch\'s evaluations and triggers, the rollback and its steps', watch ? (watch.outcome ?? 'in progress') : 'not watched yet'],
    [html`<a href="${PAGES.assessment.file}">${PAGES.assessment.title}</a>`, 'readiness by tier, category and phase; blockers, risks, remaining time', `${d.readiness}% critical`],
    [html`<a href="${PAGES.quick.file}">${PAGES.quick.title}</a>`, 'one page: decision, blockers, pending sign-offs, rollback command, key metrics, contacts', VERDICT_LABEL[d.verdict]],
  ];
  return html`${header(set, 'Go/No-Go Record')}<h2>Documents</h2>${table(['Document', 'What it holds', 'Now'], rows)}<p class="muted">Each page is a self-contained file: attach the folder (or print each page) to the change ticket.</p>`;
}

/**
 * The page set: index.html and the five documents, each a whole HTML file. `redact` is applied to
 * each finished page (the values were escaped first; the redactor also knows a secret's escaped form).
 */
export function renderHtmlSet(set: ReportSet, opts: HtmlOptions = {}): HtmlPage[] {
  const redact = opts.redact ?? ((t: string) => t);
  const foot = footer(set, opts.version);
  const bodies: [PageLink, SafeHtml][] = [
    [PAGES.index, indexPage(set)],
    [PAGES.checklist, checklistPage(set)],
    [PAGES.staging, stagingPage(set)],
    [PAGES.production, productionPage(set)],
    [PAGES.assessment, assessmentPage(set)],
    [PAGES.quick, quickPage(set)],
  ];
  return bodies.map(([link, body]) => ({ file: link.file, title: link.title, html: redact(page({ title: `${link.title} — ${set.gate} ${set.release}`, file: link.file, links: LINKS, body, footer: foot })) }));
}
