// The dashboard's pages: pure functions from the library's data (GateState, runs, the watch's
// events, the audit chain) to HTML strings. Every value is escaped by the `html` tag unless it is
// markup made by the tag itself; no inline script or style (the server's CSP is
// `script-src 'self'; style-src 'self'`): colours live in /assets/app.css, and /assets/app.js only
// enhances pages that work without it. No rule is decided here: the verdict, the assessment, the
// standing of each attestation and the evidence lines come from engine/ and report/.
import type { Config, ItemConfig, StageConfig } from '../config/schema.js';
import { criteriaSchema, stageWatch, triggersFor } from '../config/watch-schema.js';
import type { AttestationView, GateState } from '../engine/state.js';
import type { Attestation, ItemResult, RunRecord, Status, Verdict } from '../model.js';
import { STATUS_ORDER } from '../model.js';
import { assess } from '../report/assessment.js';
import { explainEvidence } from '../report/explain.js';
import type { AuditEntry, ChainReport } from '../store/audit.js';
import type { RunSummary, WatchEvent } from '../store/types.js';
import { formatDuration, parseDuration } from '../util/duration.js';
import { awaitingDecision } from '../watch/state.js';
import type { WatchState } from '../watch/state.js';
import type { MetricValues, TriggerConfig } from '../watch/types.js';
import { chartSvg, errorRateChart, evaluationPoints, latencyChart } from '../report/charts.js';
import type { EvaluationPoint } from '../report/charts.js';
import { escapeHtml, html, raw, SafeHtml } from '../report/html-tag.js';
import type { Interpolation } from '../report/html-tag.js';

// The template tag and the charts live in report/ (the static HTML record draws the same); re-exported for the server.
export { chartSvg, escapeHtml, html, raw, SafeHtml };
export type { Interpolation };

// --- where things are --------------------------------------------------------------------------

const enc = encodeURIComponent;

/** The dashboard's URLs: the server routes these and the pages link and post to them. */
export const paths = {
  login: '/login',
  logout: '/logout',
  css: '/assets/app.css',
  js: '/assets/app.js',
  icon: '/assets/icon.svg',
  quickReference: (gate: string): string => `/gates/${enc(gate)}`,
  checklist: (gate: string): string => `/gates/${enc(gate)}/checklist`,
  runs: (gate: string): string => `/gates/${enc(gate)}/runs`,
  run: (gate: string, id: string): string => `/gates/${enc(gate)}/runs/${enc(id)}`,
  watch: (gate: string): string => `/gates/${enc(gate)}/watch`,
  audit: (gate: string): string => `/gates/${enc(gate)}/audit`,
  auditExport: (gate: string): string => `/gates/${enc(gate)}/audit/export`,
  /** POST: csrf, target (`decision`, `stage:<id>`, `item:<id>`), note, run (decision and stage: the run the signer saw), env, release. */
  signoff: (gate: string): string => `/gates/${enc(gate)}/signoff`,
  /** POST: csrf, item, mitigation, owner, expires (YYYY-MM-DD, the end of that day UTC, or an ISO date-time with offset), env, release. */
  waive: (gate: string): string => `/gates/${enc(gate)}/waive`,
  /** POST: csrf, watch (its id), decision (`rollback` or `continue`), note. */
  decideRollback: (gate: string): string => `/gates/${enc(gate)}/decide-rollback`,
};

/** Who is looking, the form token, and which gate and environment. */
export interface PageContext {
  user?: { name: string; role: string };
  /** The session's CSRF token, put in every form as the hidden field `csrf`. */
  csrf?: string;
  gate: string;
  env?: string;
  /** The release the page shows, when the request named one: kept in links and forms, so a sign-off is for the release its signer saw. */
  release?: string;
  /**
   * Applied to the whole page before it is served (configRedactor(loaded).text): the values of the
   * config's `${VAR}`s in any form, HTML-escaped included, never reach a browser.
   */
  redact?: (text: string) => string;
}

/** The parts of the config the pages read: pass `loaded.config`. */
export type GateConfig = Pick<Config, 'items' | 'stages' | 'people' | 'roles' | 'watch' | 'rules'>;

/** The page the navigation marks as current. */
export type NavKey = 'quick-reference' | 'checklist' | 'runs' | 'watch' | 'audit' | 'login';

/** A link within the gate, keeping the environment chosen. */
function href(ctx: PageContext, path: string, query: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  if (ctx.env !== undefined) q.set('env', ctx.env);
  if (ctx.release !== undefined) q.set('release', ctx.release);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, v);
  const s = q.toString();
  return s === '' ? path : `${path}?${s}`;
}

/** The hidden fields every form of the gate carries. */
function hidden(ctx: PageContext): SafeHtml {
  return html`${ctx.csrf !== undefined ? html`<input type="hidden" name="csrf" value="${ctx.csrf}">` : ''}${ctx.env !== undefined ? html`<input type="hidden" name="env" value="${ctx.env}">` : ''}${ctx.release !== undefined ? html`<input type="hidden" name="release" value="${ctx.release}">` : ''}`;
}

// --- words and badges ------------------------------------------------------------------------

export const VERDICT_TEXT: Record<Verdict, string> = { GO: 'GO', GO_WITH_CONDITIONS: 'GO WITH CONDITIONS', NO_GO: 'NO-GO' };

function verdictBadge(v: Verdict | undefined): SafeHtml {
  if (v === undefined) return html`<span class="verdict verdict-none">no decision</span>`;
  return html`<span class="verdict verdict-${v}">${VERDICT_TEXT[v]}</span>`;
}

/** A status with its word (the page reads without colour and in print). */
function statusBadge(s: Status | string): SafeHtml {
  const known = (STATUS_ORDER as readonly string[]).includes(s);
  return html`<span class="status status-${known ? s : 'other'}">${s}</span>`;
}

const when = (iso: string | undefined): SafeHtml => (iso === undefined ? html`—` : html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>`);
const shortId = (id: string): string => id.slice(-8);

function section(id: string, title: string, body: Interpolation): SafeHtml {
  return html`<section id="${id}" aria-labelledby="${id}-h"><h2 id="${id}-h">${title}</h2>${body}</section>`;
}

function list(items: readonly Interpolation[], empty: string, cls = ''): SafeHtml {
  if (items.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<ul${cls ? html` class="${cls}"` : ''}>${items.map((i) => html`<li>${i}</li>`)}</ul>`;
}

/** A bar of `value` out of `max` (a native meter: no inline style needed) with its figure in words. */
function bar(label: string, value: number, max: number, text: string): SafeHtml {
  return html`<meter min="0" max="${max > 0 ? max : 1}" value="${value}" low="${max * 0.7}" high="${max * 0.9}" optimum="${max}" aria-label="${label}">${text}</meter> <span class="figure">${text}</span>`;
}

// --- the layout ------------------------------------------------------------------------------

const NAV: readonly { key: NavKey; label: string; path: (gate: string) => string }[] = [
  { key: 'quick-reference', label: 'Quick reference', path: paths.quickReference },
  { key: 'checklist', label: 'Checklist', path: paths.checklist },
  { key: 'runs', label: 'Runs', path: paths.runs },
  { key: 'watch', label: 'Watch', path: paths.watch },
  { key: 'audit', label: 'Audit', path: paths.audit },
];

/** The page around a body: head (stylesheet and script from 'self' only), navigation, who is signed in and the sign-out form. */
export function layout(ctx: PageContext, title: string, body: Interpolation, current?: NavKey): string {
  const nav = ctx.user
    ? html`<nav aria-label="Main"><ul>${NAV.map((n) => html`<li><a href="${href(ctx, n.path(ctx.gate))}"${n.key === current ? html` aria-current="page"` : ''}>${n.label}</a></li>`)}</ul></nav>
<form class="signout" method="post" action="${paths.logout}">${ctx.csrf !== undefined ? html`<input type="hidden" name="csrf" value="${ctx.csrf}">` : ''}<span class="who">${ctx.user.name} <span class="role">(${ctx.user.role})</span></span> <button type="submit">Sign out</button></form>`
    : '';
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · ${ctx.gate} · gonogo</title>
<link rel="icon" href="${paths.icon}" type="image/svg+xml">
<link rel="stylesheet" href="${paths.css}">
<script src="${paths.js}" defer></script>
</head>
<body>
<header class="top">
<a class="brand" href="${ctx.user ? href(ctx, paths.quickReference(ctx.gate)) : paths.login}">gonogo</a>
<span class="gate">${ctx.gate}${ctx.env !== undefined ? html` <span class="env">${ctx.env}</span>` : ''}</span>
${nav}
</header>
<main id="main">
<h1>${title}</h1>
${body}
</main>
<footer><p>gonogo · times are UTC · <a href="${ctx.user ? href(ctx, paths.audit(ctx.gate)) : paths.login}">the record</a></p></footer>
</body>
</html>
`.value;
  return ctx.redact ? ctx.redact(page) : page;
}

/**
 * The sign-in form: POST /login with name and password (and the pre-session CSRF token, when the
 * server gives one); `next`, the page asked for before sign-in, goes along as a hidden field (the
 * server checks it is a path of its own).
 */
export function loginPage(ctx: PageContext, error?: string, next?: string): string {
  const body = html`${error !== undefined ? html`<p class="error" role="alert">${error}</p>` : ''}
<form class="login" method="post" action="${paths.login}">
${ctx.csrf !== undefined ? html`<input type="hidden" name="csrf" value="${ctx.csrf}">` : ''}${next !== undefined ? html`<input type="hidden" name="next" value="${next}">` : ''}
<p><label for="login-name">Name</label><input id="login-name" name="name" autocomplete="username" required autofocus></p>
<p><label for="login-password">Password</label><input id="login-password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p>
</form>`;
  return layout({ ...ctx, user: undefined }, 'Sign in', body, 'login');
}

// --- the quick reference -----------------------------------------------------------------------

/** A watch as the pages show it: its state, its evaluation events, and what the charts draw beside them. */
export interface WatchView {
  state: WatchState;
  /** The watch's `evaluation` events (other kinds are ignored), oldest first. */
  evaluations: readonly WatchEvent[];
  /** The baseline in force for the watched release (currentBaseline), drawn on the charts. */
  baseline?: MetricValues;
}

/** The seed's rollback procedure, shown when the config has no `watch.rollback`. */
export const SEED_ROLLBACK = [
  'bash scripts/rollback-production.sh [PREVIOUS_COMMIT_HASH]',
  'npx tsx scripts/post-rollback-validation.ts',
  'npx tsx scripts/restore-backup.ts [BACKUP_TIMESTAMP]',
];

/** A rollback command as the config writes it: argv joined with spaces, or the shell script. */
function commandText(c: readonly string[] | { sh: string }): string {
  return Array.isArray(c) ? c.join(' ') : (c as { sh: string }).sh;
}

/** What rolls this release back: the configured commands, or the seed's procedure with a note. */
function rollbackSection(config: GateConfig, watch: WatchView | undefined): SafeHtml {
  const r = config.watch.rollback;
  const lines = r ? [commandText(r.run), ...(r.validate.length > 0 ? [`# then post-rollback validation: ${r.validate.join(', ')}`] : []), ...(r.restore ? [commandText(r.restore)] : [])] : SEED_ROLLBACK;
  const done = watch?.state.rollback;
  return html`${r ? html`<p>From <code>watch.rollback</code> (timeout ${r.timeout}); <code>$GONOGO_PREVIOUS</code> is the release to return to${watch?.state.previous ? html` (<code>${watch.state.previous}</code>)` : ''}.</p>` : html`<p>No <code>watch.rollback</code> is configured: the seed's procedure.</p>`}
<pre class="command"><code>${lines.join('\n')}</code></pre>
${done ? html`<p class="rollback-done">Rolled back at ${when(done.at)} by ${done.holder}: ${done.reason}. ${done.ok === undefined ? 'In progress or interrupted.' : done.ok ? 'It succeeded.' : 'It FAILED.'}</p>` : ''}`;
}

/** People and owners to call: `people:` with their roles, and each owner with the items they own. */
function contactsSection(config: GateConfig): SafeHtml {
  const people = Object.entries(config.people ?? {}).map(([name, p]) => ({ name, roles: Array.isArray(p) ? p : p.roles }));
  const owners = new Map<string, string[]>();
  for (const item of config.items) if (item.owner !== undefined) owners.set(item.owner, [...(owners.get(item.owner) ?? []), item.id]);
  const roles = Object.entries(config.roles);
  return html`<div class="columns">
<div><h3>People</h3>${people.length === 0 ? html`<p class="empty">No <code>people:</code> in the config.</p>` : html`<table><thead><tr><th scope="col">Name</th><th scope="col">Roles</th></tr></thead><tbody>${people.map((p) => html`<tr><td>${p.name}</td><td>${p.roles.join(', ')}</td></tr>`)}</tbody></table>`}</div>
<div><h3>Owners</h3>${owners.size === 0 ? html`<p class="empty">No item names an owner.</p>` : html`<table><thead><tr><th scope="col">Owner</th><th scope="col">Items</th></tr></thead><tbody>${[...owners].map(([o, ids]) => html`<tr><td>${o}</td><td>${ids.length} (${ids.slice(0, 6).join(', ')}${ids.length > 6 ? ', …' : ''})</td></tr>`)}</tbody></table>`}</div>
<div><h3>Roles</h3>${roles.length === 0 ? html`<p class="empty">No <code>roles:</code> in the config.</p>` : html`<table><thead><tr><th scope="col">Role</th><th scope="col">May</th></tr></thead><tbody>${roles.map(([r, grants]) => html`<tr><td>${r}</td><td>${grants.join(', ')}</td></tr>`)}</tbody></table>`}</div>
</div>`;
}

const pct = (v: number | undefined): string => (v === undefined ? '—' : `${(Math.round(v * 10000) / 100).toString()}%`);
const ms = (v: number | undefined): string => (v === undefined ? '—' : `${Math.round(v)} ms`);

/** The success criteria of the last window of the watched set (the seed's 24-hour one), defaults applied, for the charts and key metrics. */
function criteriaOf(config: GateConfig, stageSet: string | undefined): { errorRate?: number; p95Ms?: number } {
  const last = (stageSet !== undefined ? config.stages[stageSet] : undefined)?.at(-1);
  const c = last ? stageWatch(last).criteria : criteriaSchema.parse({});
  return { errorRate: c.errorRate, p95Ms: parseDuration(c.p95) };
}

function keyMetrics(watch: WatchView | undefined, criteria: { errorRate?: number; p95Ms?: number } | undefined): SafeHtml {
  const last = watch?.state.lastEvaluation;
  const m = last?.metrics;
  const b = watch?.baseline;
  const row = (name: string, now: string, base: string, target: string): SafeHtml => html`<tr><th scope="row">${name}</th><td>${now}</td><td>${base}</td><td>${target}</td></tr>`;
  return html`${last ? html`<p>Last evaluation ${when(last.at)} in window <strong>${last.window}</strong>, over ${m?.samples ?? 0} samples.</p>` : html`<p class="empty">No watch has evaluated this release yet: the targets below are the seed's success metrics.</p>`}
<table class="metrics"><thead><tr><th scope="col">Metric</th><th scope="col">Now</th><th scope="col">Baseline</th><th scope="col">Target</th></tr></thead><tbody>
${row('Error rate', pct(m?.error_rate), pct(b?.error_rate), criteria?.errorRate !== undefined ? `< ${pct(criteria.errorRate)}` : '—')}
${row('p50 latency', ms(m?.p50_ms), ms(b?.p50_ms), '—')}
${row('p95 latency', ms(m?.p95_ms), ms(b?.p95_ms), criteria?.p95Ms !== undefined ? `< ${ms(criteria.p95Ms)}` : '—')}
${row('p99 latency', ms(m?.p99_ms), ms(b?.p99_ms), '—')}
</tbody></table>`;
}

/** The critical path: each phase with its state, bar and the hours left on its open items. */
function criticalPath(config: GateConfig, state: GateState, phases: ReturnType<typeof assess>['phases']): SafeHtml {
  const itemOf = new Map(config.items.map((i) => [i.id, i]));
  const open = state.results.filter((r) => r.status !== 'pass' && r.status !== 'skipped');
  const left = (phase: string): { o: number; l: number; p: number; n: number } => {
    const sum = { o: 0, l: 0, p: 0, n: 0 };
    for (const r of open) {
      const item = itemOf.get(r.id);
      if (item?.phase !== phase || !item.estimate) continue;
      sum.o += item.estimate.optimistic;
      sum.l += item.estimate.likely;
      sum.p += item.estimate.pessimistic;
      sum.n += 1;
    }
    return sum;
  };
  const h = (n: number): string => `${Math.round(n * 100) / 100} h`;
  if (phases.length === 0) return html`<p class="empty">No item names a <code>phase</code>: there is no critical path to show.</p>`;
  return html`<table class="phases"><thead><tr><th scope="col">#</th><th scope="col">Phase</th><th scope="col">State</th><th scope="col">Passed</th><th scope="col">Left (optimistic / likely / pessimistic)</th></tr></thead><tbody>
${phases.map((p, i) => {
  const l = left(p.name);
  return html`<tr class="phase-${p.state}"><td>${i + 1}</td><th scope="row">${p.name}</th><td>${p.state}</td><td>${bar(`${p.name} passed`, p.count.passed, p.count.total, `${p.count.passed}/${p.count.total}`)}</td><td>${l.n === 0 ? '—' : `${h(l.o)} / ${h(l.l)} / ${h(l.p)}`}</td></tr>`;
})}
</tbody></table>`;
}

/** Sign-offs given for this release, with their standing: who, as what, when. */
function signoffsGiven(views: readonly AttestationView[], release: string): SafeHtml {
  const mine = views.filter((v) => v.attestation.release === release || v.attestation.kind === 'waiver');
  if (mine.length === 0) return html`<p class="empty">No sign-off or waiver yet for this release.</p>`;
  return html`<table class="attestations"><thead><tr><th scope="col">What</th><th scope="col">Who</th><th scope="col">As</th><th scope="col">When</th><th scope="col">Counts</th></tr></thead><tbody>
${mine.map((v) => html`<tr class="standing-${v.standing}"><td>${attestationWhat(v.attestation)}</td><td>${v.attestation.by}</td><td>${v.attestation.role}</td><td>${when(v.attestation.at)}</td><td>${v.standing === 'counts' ? 'yes' : v.standing}: ${v.why}</td></tr>`)}
</tbody></table>`;
}

function attestationWhat(a: Attestation): string {
  if (a.kind === 'waiver') return `waiver of ${a.itemId} until ${a.expires} (owner ${a.owner}): ${a.mitigation}`;
  if (a.kind === 'revocation') return `revokes ${a.attestationId}: ${a.reason}`;
  const target = a.target.type === 'decision' ? 'the decision' : `${a.target.type} ${a.target.id}`;
  return `sign-off of ${target}${a.run ? ` (run ${shortId(a.run.id)}, ${VERDICT_TEXT[a.run.verdict]})` : ''}${a.note ? `: ${a.note}` : ''}`;
}

function chainLine(chain: ChainReport): SafeHtml {
  return chain.intact
    ? html`<p class="chain chain-intact">Audit chain intact (the rows this state was read from), head <code>${chain.head}</code>.</p>`
    : html`<p class="chain chain-broken" role="alert">Audit chain BROKEN${chain.problem?.seq !== undefined ? html` at entry ${chain.problem.seq}` : ''}: ${chain.problem?.message ?? 'unknown problem'}.</p>`;
}

/** The one-page quick reference a release meeting is held around. */
export function quickReferencePage(ctx: PageContext, state: GateState, config: GateConfig, watch?: WatchView): string {
  const d = state.decision;
  const a = assess(config.items, state.results, d);
  const criteria = criteriaOf(config, watch?.state.stageSet);
  const body = html`
<section id="decision" class="decision decision-${d.verdict}" aria-labelledby="decision-h">
<h2 id="decision-h">Decision: ${verdictBadge(d.verdict)}</h2>
<p class="facts">Release <code>${state.release}</code> in <strong>${state.env}</strong>${state.lastRun ? html` · last run <a href="${href(ctx, paths.run(ctx.gate, state.lastRun.id))}">${shortId(state.lastRun.id)}</a> ${when(state.lastRun.finishedAt ?? state.lastRun.startedAt)}` : html` · no completed run yet`}${state.configChanged ? html` · <strong>the config changed since the last run</strong>` : ''}</p>
<h3>Reasons</h3>${list(d.reasons, 'No reasons given.', 'reasons')}
${d.conditions.length > 0 ? html`<h3>Conditions</h3>${list(d.conditions, '', 'conditions')}` : ''}
${chainLine(state.chain)}
</section>
${section('readiness', 'Readiness', html`<p class="headline">${bar('critical items passed', d.tiers.critical.passed, d.tiers.critical.total, `${d.tiers.critical.passed}/${d.tiers.critical.total} critical (${d.readiness}%)`)}</p>
<table class="tiers"><thead><tr><th scope="col">Tier</th><th scope="col">Passed</th><th scope="col">Failed</th><th scope="col">Error</th><th scope="col">Pending</th><th scope="col">Waived</th></tr></thead><tbody>
${a.tiers.map((t) => html`<tr><th scope="row">${t.name}</th><td>${bar(`${t.name} passed`, t.count.passed, t.count.total, `${t.count.passed}/${t.count.total} (${t.percentPassed}%)`)}</td><td>${t.count.failed}</td><td>${t.count.error}</td><td>${t.count.pending}</td><td>${t.count.waived}</td></tr>`)}
</tbody></table>
<h3>Phases</h3>
${a.phases.length === 0 ? html`<p class="empty">No item names a phase.</p>` : html`<table class="phase-bars"><tbody>${a.phases.map((p) => html`<tr><th scope="row">${p.name}</th><td>${bar(`${p.name} passed`, p.count.passed, p.count.total, `${p.count.passed}/${p.count.total} (${p.percentPassed}%)`)}</td></tr>`)}</tbody></table>`}`)}
${section('blockers', `Blockers (${a.blockers.length})`, a.blockers.length === 0 ? html`<p class="empty">Nothing blocks GO.</p>` : html`<table><thead><tr><th scope="col">Item</th><th scope="col">Tier</th><th scope="col">Status</th><th scope="col">Why</th><th scope="col">Owner</th></tr></thead><tbody>${a.blockers.map((b) => html`<tr><td><a href="${href(ctx, paths.checklist(ctx.gate))}#item-${b.id}">${b.id}</a> ${b.title}</td><td>${b.tier}</td><td>${statusBadge(b.status)}</td><td>${b.message}</td><td>${b.owner ?? '—'}</td></tr>`)}</tbody></table>`)}
${section('pending-signoffs', `Pending sign-offs (${d.missingSignoffs.length})`, html`${list(d.missingSignoffs.map((s) => html`<a href="${href(ctx, paths.checklist(ctx.gate))}#signoff-${s.replace(':', '-')}">${s}</a>`), 'Every required sign-off is given.')}
<h3>Given</h3>${signoffsGiven(state.attestations, state.release)}`)}
${section('critical-path', 'Critical path', html`${criticalPath(config, state, a.phases)}
<p class="remaining">Left in all: <strong>${a.remaining.optimistic} h</strong> optimistic, <strong>${a.remaining.realistic} h</strong> realistic, <strong>${a.remaining.pessimistic} h</strong> pessimistic over ${a.remaining.openItems} open item${a.remaining.openItems === 1 ? '' : 's'}${a.remaining.unestimated > 0 ? ` (${a.remaining.unestimated} without an estimate)` : ''}.</p>`)}
${a.risks.length > 0 ? section('risks', 'Open risks', html`<ul>${a.risks.map((r) => html`<li><span class="risk risk-${r.risk}">${r.risk}</span> ${r.id} ${r.title} (${r.status}${r.owner ? `, ${r.owner}` : ''})</li>`)}</ul>`) : ''}
${section('key-metrics', 'Key metrics', html`${keyMetrics(watch, criteria)}${watch ? watchCharts(config, watch, criteria) : ''}`)}
${section('rollback', 'Rollback', rollbackSection(config, watch))}
${section('contacts', 'Contacts', contactsSection(config))}`;
  return layout(ctx, 'Quick reference', body, 'quick-reference');
}

// --- charts ------------------------------------------------------------------------------------

function triggersOf(config: GateConfig, stageSet: string): TriggerConfig[] {
  return triggersFor({ watch: config.watch, items: config.items, stages: config.stages }, stageSet);
}

function watchCharts(config: GateConfig, watch: WatchView, criteria: { errorRate?: number; p95Ms?: number } | undefined): SafeHtml {
  const evaluations: EvaluationPoint[] = evaluationPoints(watch.evaluations);
  const input = { evaluations, triggers: triggersOf(config, watch.state.stageSet), baseline: watch.baseline, fired: watch.state.fired, criteria };
  return html`<div class="charts">${chartSvg(latencyChart(input), 'chart-latency')}${chartSvg(errorRateChart(input), 'chart-error-rate')}</div>`;
}

// --- the checklist -------------------------------------------------------------------------------

/** One item's result in one run, for its history. */
export interface HistoryEntry {
  runId: string;
  at: string;
  status: Status;
  message?: string;
}

/** Per item id, its results across runs, newest first. */
export type ItemHistory = ReadonlyMap<string, readonly HistoryEntry[]>;

/** The history of every item from runs with their results (any order; aborted runs included: what they saw is history too). */
export function itemHistory(runs: readonly Pick<RunRecord, 'id' | 'startedAt' | 'results'>[]): ItemHistory {
  const out = new Map<string, HistoryEntry[]>();
  const sorted = [...runs].sort((x, y) => (x.startedAt < y.startedAt ? 1 : x.startedAt > y.startedAt ? -1 : 0));
  for (const run of sorted) {
    for (const r of run.results) out.set(r.id, [...(out.get(r.id) ?? []), { runId: run.id, at: run.startedAt, status: r.status, message: r.message }]);
  }
  return out;
}

const HISTORY_SHOWN = 10;

function historyCell(ctx: PageContext, entries: readonly HistoryEntry[] | undefined): SafeHtml {
  if (!entries || entries.length === 0) return html`<span class="empty">no runs</span>`;
  const shown = entries.slice(0, HISTORY_SHOWN);
  return html`<ol class="history" aria-label="newest first">${shown.map((e) => html`<li><a class="status status-${e.status}" href="${href(ctx, paths.run(ctx.gate, e.runId))}" title="${e.at}: ${e.status}${e.message ? ` — ${e.message}` : ''}">${e.status}</a></li>`)}</ol>${entries.length > shown.length ? html` <span class="more">and ${entries.length - shown.length} older</span>` : ''}`;
}

function evidenceCell(r: ItemResult): SafeHtml {
  const lines = r.status === 'fail' || r.status === 'error' ? explainEvidence(r.evidence) : [];
  return html`<p class="message">${r.message}</p>${lines.length > 0 ? html`<ul class="evidence">${lines.map((l) => html`<li><code>${l}</code></li>`)}</ul>` : ''}`;
}

function signoffForm(ctx: PageContext, target: string, label: string, run: string | undefined, id: string): SafeHtml {
  return html`<form class="signoff" method="post" action="${paths.signoff(ctx.gate)}" id="${id}">${hidden(ctx)}<input type="hidden" name="target" value="${target}">${run !== undefined ? html`<input type="hidden" name="run" value="${run}">` : ''}<label>Note <input name="note" maxlength="500"></label> <button type="submit">${label}</button></form>`;
}

function waiverForm(ctx: PageContext, item: ItemConfig | undefined, id: string): SafeHtml {
  return html`<details class="waive"><summary>Waive…</summary><form method="post" action="${paths.waive(ctx.gate)}">${hidden(ctx)}<input type="hidden" name="item" value="${id}">
<p><label>Mitigation <textarea name="mitigation" required maxlength="1000"></textarea></label></p>
<p><label>Owner <input name="owner" required value="${item?.owner ?? ''}"></label></p>
<p><label>Expires <input name="expires" type="date" required></label> <span class="hint">(the end of that day, UTC)</span></p>
<p><button type="submit">Waive ${id}</button></p></form></details>`;
}

function itemRow(ctx: PageContext, r: ItemResult, item: ItemConfig | undefined, history: ItemHistory): SafeHtml {
  const actions: Interpolation[] = [];
  if (item?.manual && ctx.user) actions.push(signoffForm(ctx, `item:${r.id}`, `Sign off ${r.id}`, undefined, `signoff-item-${r.id}`));
  if ((r.status === 'fail' || r.status === 'error') && ctx.user) actions.push(waiverForm(ctx, item, r.id));
  return html`<tr id="item-${r.id}" class="row-${r.status}" data-item="${r.id}" data-status="${r.status}">
<th scope="row">${r.id}</th>
<td>${item?.title ?? r.id}${item?.blocker ? html` <span class="tag">blocker</span>` : ''}${item?.manual ? html` <span class="tag">manual</span>` : ''}<div class="meta">${[item?.category, item?.phase].filter((x) => x !== undefined).join(' · ')}</div></td>
<td>${statusBadge(r.status)}</td>
<td>${evidenceCell(r)}</td>
<td>${item?.owner ?? '—'}</td>
<td>${historyCell(ctx, history.get(r.id))}</td>
<td>${actions}</td>
</tr>`;
}

/** Every stage of every set with its roles, whether a sign-off counts for it, and its sign-off form. */
function stagesSection(ctx: PageContext, state: GateState, config: GateConfig): SafeHtml {
  const sets = Object.entries(config.stages);
  if (sets.length === 0) return html`<p class="empty">No stages in the config.</p>`;
  const signedBy = (stageId: string): AttestationView[] => state.attestations.filter((v) => v.standing === 'counts' && v.attestation.kind === 'signoff' && v.attestation.target.type === 'stage' && v.attestation.target.id === stageId);
  const row = (s: StageConfig): SafeHtml => {
    const signed = signedBy(s.id);
    const run = state.binding.stageRuns[s.id];
    return html`<tr id="stage-${s.id}"><th scope="row">${s.id}</th><td>${s.title}</td><td>${s.budget}</td><td>${(s.signoff ?? []).join(', ') || 'any role with the stage permission'}</td>
<td>${run ? html`<a href="${href(ctx, paths.run(ctx.gate, run))}">${shortId(run)}</a>` : html`<span class="empty">not run</span>`}</td>
<td>${signed.length > 0 ? signed.map((v) => html`<span class="signed">${v.attestation.by} (${v.attestation.role}) ${when(v.attestation.at)}</span> `) : html`<span class="empty">not signed</span>`}</td>
<td>${ctx.user && run ? signoffForm(ctx, `stage:${s.id}`, `Sign off stage ${s.id}`, run, `signoff-stage-${s.id}`) : ''}</td></tr>`;
  };
  return html`${sets.map(([set, stages]) => html`<h3>${set}</h3><table class="stages"><thead><tr><th scope="col">Stage</th><th scope="col">Title</th><th scope="col">Budget</th><th scope="col">Signed by roles</th><th scope="col">Last run</th><th scope="col">Signed</th><th scope="col"></th></tr></thead><tbody>${stages.map(row)}</tbody></table>`)}`;
}

/** The whole checklist: each item's status, evidence, owner and history; sign-off and waiver forms; stage and decision sign-offs. */
export function checklistPage(ctx: PageContext, state: GateState, config: GateConfig, history: ItemHistory = new Map()): string {
  const itemOf = new Map(config.items.map((i) => [i.id, i]));
  const d = state.decision;
  const tiers = ['critical', 'high', 'recommended'] as const;
  const decisionSigned = state.attestations.filter((v) => v.standing === 'counts' && v.attestation.kind === 'signoff' && v.attestation.target.type === 'decision');
  const body = html`<p class="facts">${verdictBadge(d.verdict)} · release <code>${state.release}</code> in <strong>${state.env}</strong> · ${d.tiers.critical.passed}/${d.tiers.critical.total} critical (${d.readiness}%)</p>
${tiers.map((tier) => {
  const rows = state.results.filter((r) => r.tier === tier);
  if (rows.length === 0) return '';
  return section(`tier-${tier}`, `${tier[0].toUpperCase()}${tier.slice(1)} (${d.tiers[tier].passed}/${d.tiers[tier].total} passed)`, html`<table class="checklist"><thead><tr><th scope="col">Item</th><th scope="col">Title</th><th scope="col">Status</th><th scope="col">Evidence</th><th scope="col">Owner</th><th scope="col">History</th><th scope="col"></th></tr></thead><tbody>${rows.map((r) => itemRow(ctx, r, itemOf.get(r.id), history))}</tbody></table>`);
})}
${section('stages', 'Stage sign-offs', stagesSection(ctx, state, config))}
${section('signoff-decision', 'Decision sign-off', html`<p>The decision now: ${verdictBadge(d.verdict)}${state.binding.decisionRun ? html`, on run <a href="${href(ctx, paths.run(ctx.gate, state.binding.decisionRun))}">${shortId(state.binding.decisionRun)}</a>` : ''}.${d.missingSignoffs.length > 0 ? html` Missing: ${d.missingSignoffs.join(', ')}.` : ''}</p>
${decisionSigned.length > 0 ? html`<p>Signed by ${decisionSigned.map((v, i) => html`${i > 0 ? ', ' : ''}${v.attestation.by} (${v.attestation.role}) ${when(v.attestation.at)}`)}.</p>` : ''}
${ctx.user && state.binding.decisionRun ? signoffForm(ctx, 'decision', 'Sign off the decision', state.binding.decisionRun, 'signoff-decision-form') : html`<p class="empty">There is no completed run of this release to sign.</p>`}`)}
${section('attestations', 'Sign-offs and waivers', signoffsGiven(state.attestations, state.release))}`;
  return layout(ctx, 'Checklist', body, 'checklist');
}

// --- runs --------------------------------------------------------------------------------------

/** Run history, newest first. */
export function runsPage(ctx: PageContext, runs: readonly RunSummary[]): string {
  const body = runs.length === 0
    ? html`<p class="empty">No runs yet: <code>gonogo check</code> or <code>gonogo validate staging</code> makes one.</p>`
    : html`<table class="runs"><thead><tr><th scope="col">Run</th><th scope="col">Command</th><th scope="col">Release</th><th scope="col">Env</th><th scope="col">Started</th><th scope="col">Took</th><th scope="col">Status</th><th scope="col">Verdict</th><th scope="col">Readiness</th></tr></thead><tbody>
${runs.map((r) => html`<tr class="run-${r.status}" data-run="${r.id}"><td><a href="${href(ctx, paths.run(ctx.gate, r.id))}">${shortId(r.id)}</a></td><td>${r.command}${r.selection.only || r.selection.tiers ? html` <span class="tag">partial</span>` : ''}</td><td><code>${r.release}</code></td><td>${r.env}</td><td>${when(r.startedAt)}</td><td>${r.finishedAt ? formatDuration(Date.parse(r.finishedAt) - Date.parse(r.startedAt)) : '—'}</td><td><span class="run-status run-status-${r.status}">${r.status}</span></td><td>${r.status === 'completed' ? verdictBadge(r.verdict) : '—'}</td><td>${r.readiness !== undefined ? `${r.readiness}%` : '—'}</td></tr>`)}
</tbody></table>`;
  return layout(ctx, 'Runs', body, 'runs');
}

/** Where a running run's page gets its progress: app.js reads these from data- attributes. */
export interface LiveRun {
  /**
   * Server-sent events: each `message` is a JSON snapshot `{ status, results: [{ id, status, message }] }`
   * (the run's status and every result so far); the stream ends after the snapshot whose status is not `running`.
   */
  eventsUrl?: string;
  /** Polled (every 1 s, at most 600 times) when EventSource is missing or fails: the same JSON snapshot (the run API's answer). */
  pollUrl?: string;
  /** How many results the run will have (its selection's items), for the progress bar. */
  expected?: number;
}

/** One run in detail; a running run shows live progress (app.js: SSE or polling; without JS, the page refreshes itself). */
export function runPage(ctx: PageContext, run: RunRecord, live: LiveRun = {}, items: readonly ItemConfig[] = []): string {
  const itemOf = new Map(items.map((i) => [i.id, i]));
  const running = run.status === 'running';
  const expected = live.expected ?? (running ? undefined : run.results.length);
  const done = run.results.length;
  const stages = run.stages ?? [];
  const body = html`${running ? html`<noscript><meta http-equiv="refresh" content="5"></noscript>` : ''}
<section id="run-summary" class="run-summary" aria-labelledby="run-summary-h"
 data-run="${run.id}" data-run-status="${run.status}"${running && live.eventsUrl ? html` data-events-url="${live.eventsUrl}"` : ''}${running && live.pollUrl ? html` data-poll-url="${live.pollUrl}"` : ''}${expected !== undefined ? html` data-expected="${expected}"` : ''}>
<h2 id="run-summary-h">Run <code>${run.id}</code></h2>
<dl class="facts">
<dt>Command</dt><dd>${run.command}</dd>
<dt>Release</dt><dd><code>${run.release}</code></dd>
<dt>Environment</dt><dd>${run.env}</dd>
<dt>Started</dt><dd>${when(run.startedAt)}</dd>
<dt>Finished</dt><dd>${when(run.finishedAt)}</dd>
<dt>Status</dt><dd><span class="run-status run-status-${run.status}" data-live="status">${run.status}</span></dd>
<dt>Progress</dt><dd><progress data-live="progress" max="${expected ?? done}" value="${done}">${done}</progress> <span data-live="count">${done}${expected !== undefined ? ` of ${expected}` : ''}</span> results</dd>
${run.decision ? html`<dt>Verdict</dt><dd>${verdictBadge(run.decision.verdict)} (${run.decision.readiness}% critical)</dd>` : ''}
</dl>
${run.decision ? html`<h3>Reasons</h3>${list(run.decision.reasons, 'No reasons given.', 'reasons')}` : ''}
</section>
${stages.length > 0 ? section('stages', 'Stages', html`<table class="stages"><thead><tr><th scope="col">Stage</th><th scope="col">Status</th><th scope="col">Took / budget</th><th scope="col">Failed critical</th><th scope="col">Signed off</th></tr></thead><tbody>${stages.map((s) => html`<tr><th scope="row">${s.id} ${s.title}</th><td>${s.status}</td><td>${formatDuration(s.durationMs)} / ${formatDuration(s.budgetMs)}${s.overBudget ? html` <strong>over budget</strong>` : ''}</td><td>${s.failedCritical.join(', ') || '—'}</td><td>${s.signedOff ? 'yes' : 'no'}</td></tr>`)}</tbody></table>`) : ''}
${section('results', 'Results', html`<table class="results"><thead><tr><th scope="col">Item</th><th scope="col">Tier</th><th scope="col">Status</th><th scope="col">Evidence</th><th scope="col">Attempts</th><th scope="col">Took</th></tr></thead><tbody data-live="results">
${run.results.map((r) => html`<tr id="result-${r.id}" data-item="${r.id}" data-status="${r.status}"><th scope="row">${r.id} <span class="meta">${itemOf.get(r.id)?.title ?? ''}</span></th><td>${r.tier}</td><td>${statusBadge(r.status)}</td><td>${evidenceCell(r)}</td><td>${r.attempts.length}</td><td>${formatDuration(r.durationMs)}</td></tr>`)}
</tbody></table>`)}`;
  return layout(ctx, `Run ${shortId(run.id)}`, body, 'runs');
}

// --- the watch -----------------------------------------------------------------------------------

/** What the watch page draws beside the events: the config (triggers, criteria), the baseline, and whether the viewer may decide. */
export interface WatchPageOptions {
  config?: GateConfig;
  baseline?: MetricValues;
}

/** The latest watch: windows, triggers, charts, rollback, and the decide-rollback form while a conditional trigger awaits a person. */
export function watchPage(ctx: PageContext, watch: WatchState | undefined, evaluations: readonly WatchEvent[], opts: WatchPageOptions = {}): string {
  if (!watch) {
    return layout(ctx, 'Watch', html`<p class="empty">No watch of this release yet: <code>gonogo watch production</code> starts one after the deploy.</p>`, 'watch');
  }
  const criteria = opts.config ? criteriaOf(opts.config, watch.stageSet) : undefined;
  const triggers = opts.config ? triggersOf(opts.config, watch.stageSet) : [];
  const points = evaluationPoints(evaluations);
  const input = { evaluations: points, triggers, baseline: opts.baseline, fired: watch.fired, criteria };
  const waiting = awaitingDecision(watch);
  const mayDecide = !watch.outcome && (waiting.length > 0 || watch.openReports.length > 0);
  const verdicts = watch.lastEvaluation?.verdicts ?? [];
  const body = html`<section id="watch-summary" aria-labelledby="watch-summary-h" data-watch="${watch.watchId}" data-outcome="${watch.outcome ?? 'running'}">
<h2 id="watch-summary-h">Watch <code>${watch.watchId}</code></h2>
<dl class="facts">
<dt>Release</dt><dd><code>${watch.release}</code>${watch.previous ? html` (previous <code>${watch.previous}</code>)` : ''}</dd>
<dt>Environment</dt><dd>${watch.env} (stage set ${watch.stageSet})</dd>
<dt>Started</dt><dd>${when(watch.startedAt)}</dd>
<dt>Now</dt><dd>${watch.outcome ? html`<strong class="outcome outcome-${watch.outcome}">${watch.outcome}</strong> at ${when(watch.endedAt)}` : watch.current ? html`watching window <strong>${watch.current.id}</strong>` : 'between windows'}</dd>
</dl>
${watch.reasons.length > 0 ? list(watch.reasons, '', 'reasons') : ''}
</section>
${mayDecide ? section('decide', 'Decision needed: roll back or continue?', html`<p>${waiting.length > 0 ? html`Conditional trigger${waiting.length === 1 ? '' : 's'} fired: ${waiting.map((f, i) => html`${i > 0 ? ', ' : ''}<strong>${f.id}</strong> (${f.message})`)}.` : ''} ${watch.openReports.length > 0 ? html`Reported issues: ${watch.openReports.map((r, i) => html`${i > 0 ? '; ' : ''}${r.summary} (${r.by})`)}.` : ''}</p>
${ctx.user ? html`<form class="decide" method="post" action="${paths.decideRollback(ctx.gate)}">${hidden(ctx)}<input type="hidden" name="watch" value="${watch.watchId}"><p><label>Note <input name="note" maxlength="500"></label></p><p><button type="submit" name="decision" value="rollback" class="danger">Roll back</button> <button type="submit" name="decision" value="continue">Continue</button></p></form>` : ''}`) : ''}
${section('charts', 'Latency and error rate', points.length === 0 ? html`<p class="empty">No evaluation yet.</p>` : html`<div class="charts">${chartSvg(latencyChart(input), 'chart-latency')}${chartSvg(errorRateChart(input), 'chart-error-rate')}</div>`)}
${section('windows', 'Windows', html`<table class="windows"><thead><tr><th scope="col">Window</th><th scope="col">Length / every</th><th scope="col">Started</th><th scope="col">Ended</th><th scope="col">Evaluations</th><th scope="col">Verdict</th></tr></thead><tbody>${watch.windows.map((w) => html`<tr id="window-${w.id}"><th scope="row">${w.id} ${w.title}</th><td>${formatDuration(w.windowMs)} / ${formatDuration(w.everyMs)}</td><td>${when(w.startedAt)}</td><td>${when(w.endedAt)}</td><td>${w.evaluations}</td><td>${w.passed === undefined ? (w.startedAt ? 'watching' : '—') : w.passed ? 'passed' : html`<strong>failed</strong>: ${(w.reasons ?? []).join('; ')}`}</td></tr>`)}</tbody></table>`)}
${section('triggers', 'Triggers', html`${verdicts.length === 0 ? html`<p class="empty">No trigger judged yet.</p>` : html`<table class="triggers"><thead><tr><th scope="col">Trigger</th><th scope="col">Severity</th><th scope="col">State</th><th scope="col">Value / threshold</th><th scope="col">Streak</th><th scope="col">Last message</th></tr></thead><tbody>${verdicts.map((v) => html`<tr class="trigger-${v.state}" data-trigger="${v.id}"><th scope="row">${v.id}</th><td>${v.severity}</td><td>${v.state}</td><td>${v.value ?? '—'} / ${v.threshold ?? '—'}</td><td>${v.streak}</td><td>${v.message}</td></tr>`)}</tbody></table>`}
<h3>Fired</h3>${list(watch.fired.map((f) => html`${when(f.at)} <strong>${f.id}</strong> (${f.severity}, window ${f.window}): ${f.message}${f.decision ? html` — decided <strong>${f.decision.decision}</strong> by ${f.decision.by} (${f.decision.role}) ${when(f.decision.at)}` : f.severity === 'conditional' ? ' — awaiting a decision' : ''}`), 'No trigger fired.')}`)}
${watch.rollback ? section('rollback', 'Rollback', html`<p>Claimed ${when(watch.rollback.at)} by ${watch.rollback.holder}: ${watch.rollback.reason}. ${watch.rollback.ok === undefined ? 'Not ended (running, or its process died).' : watch.rollback.ok ? 'Succeeded.' : 'FAILED.'}</p>${list(watch.rollback.steps.map((s) => html`${s.ok ? 'ok' : 'FAILED'} ${s.step}: ${s.message}`), 'No step recorded.')}`) : ''}
${opts.config ? section('rollback-command', 'Rollback command', rollbackSection(opts.config, { state: watch, evaluations })) : ''}`;
  return layout(ctx, 'Watch', body, 'watch');
}

// --- the audit log ------------------------------------------------------------------------------

/** The kinds of audit entry, for the filter. */
export const AUDIT_KINDS = ['run-begin', 'result', 'run-end', 'attestation', 'event'] as const;

/** An entry's body as a page reads it; a body that does not parse is shown as text. */
function bodyOf(e: AuditEntry): { at?: string; kind?: string; data: Record<string, unknown> } {
  try {
    const b: unknown = JSON.parse(e.body);
    if (typeof b === 'object' && b !== null) {
      const rec = b as Record<string, unknown>;
      const data = typeof rec.data === 'object' && rec.data !== null ? (rec.data as Record<string, unknown>) : {};
      return { at: typeof rec.at === 'string' ? rec.at : undefined, kind: typeof rec.kind === 'string' ? rec.kind : undefined, data };
    }
  } catch {
    // shown as text below
  }
  return { data: { body: e.body } };
}

function dataText(data: Record<string, unknown>): string {
  return Object.entries(data)
    .filter(([k]) => k !== 'by' && k !== 'role')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

/** What the audit page shows: a kind and a person to filter by (from the query string), where the export is. */
export interface AuditPageOptions {
  kind?: string;
  by?: string;
  /** Entries of the gate in all (the page may be given the newest only). */
  total?: number;
}

/** Every entry given (filtered by kind and by who, as the query string asks), who and when, the chain's state, and an export link. */
export function auditPage(ctx: PageContext, entries: readonly AuditEntry[], chain: ChainReport, opts: AuditPageOptions = {}): string {
  const kind = opts.kind !== undefined && (AUDIT_KINDS as readonly string[]).includes(opts.kind) ? opts.kind : undefined;
  const by = opts.by?.trim() || undefined;
  const rows = entries.map((e) => ({ e, b: bodyOf(e) })).filter(({ b }) => (kind === undefined || b.kind === kind) && (by === undefined || b.data.by === by));
  const broken = chain.intact ? undefined : chain.problem?.seq;
  const body = html`<section id="chain" aria-labelledby="chain-h"><h2 id="chain-h">The chain</h2>
${chain.intact ? html`<p class="chain chain-intact">Intact: ${chain.entries} entries verified, head <code>${chain.head}</code>.</p>` : html`<p class="chain chain-broken" role="alert">BROKEN${broken !== undefined ? html` at <a href="#entry-${broken}">entry ${broken}</a>` : ''}: ${chain.problem?.message ?? 'unknown problem'} (${chain.entries} entries verified before it).</p>`}
<p><a class="export" href="${href(ctx, paths.auditExport(ctx.gate))}" download>Export the entries (JSON lines)</a> · <code>gonogo audit verify</code> checks the same chain.</p></section>
<form class="filter" method="get" action="${paths.audit(ctx.gate)}">${ctx.env !== undefined ? html`<input type="hidden" name="env" value="${ctx.env}">` : ''}${ctx.release !== undefined ? html`<input type="hidden" name="release" value="${ctx.release}">` : ''}
<label>Kind <select name="kind"><option value="">all</option>${AUDIT_KINDS.map((k) => html`<option value="${k}"${k === kind ? raw(' selected') : ''}>${k}</option>`)}</select></label>
<label>By <input name="by" value="${by ?? ''}"></label> <button type="submit">Filter</button></form>
<p class="count">${rows.length} of ${opts.total ?? entries.length} entries${kind || by ? ' (filtered)' : ''}.</p>
<table class="audit"><thead><tr><th scope="col">#</th><th scope="col">When</th><th scope="col">Kind</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Row</th><th scope="col">Hash</th></tr></thead><tbody>
${rows.map(({ e, b }) => html`<tr id="entry-${e.seq}" data-kind="${b.kind ?? ''}"${e.seq === broken ? html` class="broken"` : ''}><td>${e.seq}</td><td>${when(b.at)}</td><td>${b.kind ?? '?'}</td><td>${typeof b.data.by === 'string' ? html`${b.data.by}${typeof b.data.role === 'string' ? html` <span class="role">(${b.data.role})</span>` : ''}` : '—'}</td><td>${dataText(b.data)}</td><td><code>${e.ref}</code></td><td><code title="${e.hash}">${e.hash.slice(0, 12)}</code></td></tr>`)}
</tbody></table>`;
  return layout(ctx, 'Audit log', body, 'audit');
}
