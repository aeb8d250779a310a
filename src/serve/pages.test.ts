import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// parseConfig checks options against loaded kinds: the registry loads them all.
import '../checks/index.js';
import { parseConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/load.js';
import { giveSignoff, giveWaiver } from '../engine/attest.js';
import { runGate } from '../engine/gate.js';
import type { Release } from '../engine/release.js';
import { gateState } from '../engine/state.js';
import type { GateState } from '../engine/state.js';
import type { RunRecord } from '../model.js';
import { verifyChain } from '../store/audit.js';
import type { AuditEntry } from '../store/audit.js';
import { openStore } from '../store/index.js';
import type { Store, WatchEvent } from '../store/types.js';
import { fakeClock } from '../test-support/clock.js';
import { serve } from '../test-support/server.js';
import type { TestServer } from '../test-support/server.js';
import { foldWatch } from '../watch/state.js';
import type { WatchState } from '../watch/state.js';
import { errorRateChart, evaluationPoints, latencyChart, layoutChart, niceStep } from '../report/charts.js';
import { auditPage, checklistPage, escapeHtml, html, itemHistory, layout, loginPage, quickReferencePage, runPage, runsPage, SEED_ROLLBACK, watchPage } from './pages.js';
import type { PageContext } from './pages.js';

// The pages against the library's real data: a gate run against a real HTTP target into a real
// SQLite store, sign-offs and a waiver given through engine/attest, a watch's events appended and
// folded by watch/state. Hostile text sits in the config (an item title), the target's answer and
// a person's note: every page must show it as text.

const HOSTILE = '<img src=x onerror="alert(1)">';
const clock = fakeClock(Date.parse('2026-12-01T09:00:00Z'));
const RELEASE: Release = { id: 'v2.0.0', source: 'option' };
let target: TestServer;
let store: Store;
let loaded: LoadedConfig;
let state: GateState;
let runs: RunRecord[];
let watch: WatchState;
let evaluations: WatchEvent[];
let entries: AuditEntry[];

function configText(url: string): string {
  return `version: 1
name: recipes
environments: { staging: { url: ${url} }, production: { url: ${url} } }
rules: { requiredSignoffs: [decision, stage:security] }
roles: { release-manager: [decision, revoke, rollback], qa-lead: [stage, item], eng-lead: [waive] }
people: { erin: [release-manager], quinn: [qa-lead], lee: [eng-lead] }
stages:
  staging:
    - { id: deploy, title: Deploy to staging, budget: 15m, items: [HEALTH, LOGIN] }
    - { id: security, title: Security testing, budget: 1h, items: [HEADERS, DOCS, ADMIN, API, SEARCH], signoff: [qa-lead] }
  production:
    - { id: immediate, title: Immediate, budget: 15m, items: [HEALTH], criteria: { errorRate: 0.01, p95: 2s } }
watch:
  rollback: { run: [bash, scripts/rollback-production.sh], validate: [HEALTH] }
  triggers:
    - { id: error-rate-critical, severity: immediate, metric: error_rate, above: 0.05 }
    - { id: latency-degraded, severity: conditional, metric: p95_ms, aboveBaseline: 1.5 }
items:
  - { id: HEALTH, title: Health endpoint answers, tier: critical, category: infrastructure, phase: staging-validation, owner: ops, estimate: { optimistic: 1, likely: 2, pessimistic: 4 }, check: { kind: http, url: "{{env.url}}/health" } }
  - { id: LOGIN, title: Login works, tier: critical, category: functional, phase: staging-validation, owner: ana, risk: high, estimate: { optimistic: 2, likely: 3, pessimistic: 6 }, check: { kind: http, url: "{{env.url}}/broken" } }
  - { id: HEADERS, title: '${HOSTILE}', tier: high, category: security, phase: code-integration, owner: sam, check: { kind: http, url: "{{env.url}}/health" } }
  - { id: DOCS, title: Docs published, tier: high, category: docs, check: { kind: http, url: "{{env.url}}/health" } }
  - { id: ADMIN, title: Admin locked down, tier: high, category: security, owner: sam, check: { kind: http, url: "{{env.url}}/health" } }
  - { id: API, title: API answers, tier: high, check: { kind: http, url: "{{env.url}}/evil" } }
  - { id: SEARCH, title: Search answers, tier: high, owner: ana, check: { kind: http, url: "{{env.url}}/broken" } }
  - { id: BACKUP, title: Backups verified, tier: recommended, manual: true, signers: [qa-lead] }
`;
}

before(async () => {
  target = await serve((req, res) => {
    if (req.url === '/health') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    if (req.url === '/evil') return void res.writeHead(500, { 'content-type': 'text/html' }).end(`</td></tr><script>alert("evidence")</script>`);
    res.writeHead(503).end('down');
  });
  loaded = parseConfig(configText(target.url), join(mkdtempSync(join(tmpdir(), 'gonogo-pages-cfg-')), 'gonogo.yaml'));
  store = await openStore(join(mkdtempSync(join(tmpdir(), 'gonogo-pages-')), 'g.db'));
  const ctx = { loaded, store, clock, release: RELEASE, envName: 'staging', processEnv: {} };
  await runGate({ loaded, store, clock, release: RELEASE, envName: 'staging', stageSet: 'staging', keepGoing: true, processEnv: {} });
  await clock.advance(60_000);
  await runGate({ loaded, store, clock, release: RELEASE, envName: 'staging', stageSet: 'staging', keepGoing: true, processEnv: {} });
  await giveSignoff(ctx, { target: { type: 'stage', id: 'security' }, by: 'quinn', role: 'qa-lead', note: `</textarea>${HOSTILE}` });
  await giveWaiver(ctx, { itemId: 'API', by: 'lee', role: 'eng-lead', mitigation: 'feature flag off', owner: 'lee', expires: clock.now() + 86_400_000 });
  state = await gateState(ctx);
  const summaries = await store.listRuns({ gate: loaded.gate });
  runs = (await Promise.all(summaries.map((r) => store.getRun(r.id)))).filter((r): r is RunRecord => r !== undefined);

  // A watch of the release in production: three evaluations, the p95 rising past 1.5 x the baseline, a conditional trigger fired.
  const base = { gate: loaded.gate, env: 'production', release: RELEASE.id, watchId: 'w1' };
  const at = (s: number): string => new Date(Date.parse('2026-12-01T10:00:00Z') + s * 1000).toISOString();
  await store.addEvent({ ...base, kind: 'watch-begin', at: at(0), data: { stageSet: 'production', previous: 'v1.9.0', windows: [{ id: 'immediate', title: 'Immediate', windowMs: 900_000, everyMs: 60_000 }] } });
  await store.addEvent({ ...base, kind: 'window-begin', at: at(0), data: { window: 'immediate' } });
  const p95s = [100, 180, 260];
  for (const [i, p95] of p95s.entries()) {
    const breach = p95 > 150;
    await store.addEvent({
      ...base,
      kind: 'evaluation',
      at: at(60 * (i + 1)),
      data: {
        window: 'immediate',
        metrics: { error_rate: 0.01 * i, p50_ms: 40 + i, p95_ms: p95, p99_ms: p95 + 50, samples: 30 },
        verdicts: [
          { id: 'error-rate-critical', severity: 'immediate', state: 'ok', value: 0.01 * i, threshold: 0.05, streak: 0, fired: false, message: 'ok' },
          { id: 'latency-degraded', severity: 'conditional', state: breach ? 'breach' : 'ok', value: p95, threshold: 150, streak: breach ? i : 0, fired: i === 2, message: `p95 ${p95} ms against 150 ms` },
        ],
      },
    });
  }
  await store.addEvent({ ...base, kind: 'trigger', at: at(180), data: { window: 'immediate', trigger: 'latency-degraded', severity: 'conditional', message: 'p95 260 ms above 1.5 x baseline 100 ms' } });
  const events = await store.listEvents({ gate: loaded.gate, watchId: 'w1' });
  const folded = foldWatch(events);
  assert.ok(folded);
  watch = folded;
  evaluations = events.filter((e) => e.kind === 'evaluation');
  entries = await store.auditEntries(loaded.gate, 0, 10_000);
});

after(async () => {
  await store?.close();
  await target?.close();
});

const CTX: PageContext = { user: { name: 'quinn', role: 'qa-lead' }, csrf: 'tok-123', gate: 'recipes', env: 'staging' };

/** The markup a CSP without 'unsafe-inline' would refuse, or a value that escaped its text. */
function assertSafe(page: string, what: string): void {
  const scripts = [...page.matchAll(/<script\b[^>]*>/gi)].map((m) => m[0]);
  assert.deepEqual(scripts, ['<script src="/assets/app.js" defer>'], `${what}: the only script is app.js from 'self'`);
  assert.doesNotMatch(page, /<script>|<\/script><script/i, `${what}: no inline script`);
  assert.doesNotMatch(page, /<style/i, `${what}: no style element`);
  assert.doesNotMatch(page, /<img /i, `${what}: hostile markup is text`);
  // Attributes are read inside tags only: escaped text (`onerror=` as words) is no attribute.
  for (const [tag] of page.matchAll(/<[a-zA-Z][^<>]*>/g)) {
    assert.doesNotMatch(tag, /\sstyle\s*=/i, `${what}: no style attribute in ${tag}`);
    assert.doesNotMatch(tag, /\son[a-z]+\s*=/i, `${what}: no inline event handler in ${tag}`);
    assert.doesNotMatch(tag, /javascript:/i, `${what}: no javascript: URL in ${tag}`);
  }
}

/** Every POST form carries the session's CSRF token. */
function assertFormsCarryCsrf(page: string, what: string): void {
  const forms = [...page.matchAll(/<form\b[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/g)];
  assert.ok(forms.length > 0, `${what}: has forms`);
  for (const f of forms) assert.match(f[1], /<input type="hidden" name="csrf" value="tok-123">/, `${what}: ${f[0].slice(0, 120)}`);
}

test('html escapes every interpolated value by default and keeps its own markup as is', () => {
  const hostile = `"><script>alert('x')</script>&`;
  assert.equal(html`<p title="${hostile}">${hostile}</p>`.value, '<p title="&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;">&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</p>');
  assert.equal(html`<ul>${['a<', html`<b>b</b>`, 3, false, null, undefined]}</ul>`.value, '<ul>a&lt;<b>b</b>3</ul>', 'lists, nested markup, numbers; false, null, undefined render nothing');
  assert.equal(escapeHtml(`&<>"'`), '&amp;&lt;&gt;&quot;&#39;');
});

test('the layout: stylesheet and script from self, the navigation, who is signed in, a sign-out form with the CSRF token', () => {
  const page = layout(CTX, `A <title>`, html`<p>body</p>`, 'checklist');
  assertSafe(page, 'layout');
  assert.match(page, /<title>A &lt;title&gt; · recipes · gonogo<\/title>/);
  assert.match(page, /<link rel="stylesheet" href="\/assets\/app.css">/);
  for (const label of ['Quick reference', 'Checklist', 'Runs', 'Watch', 'Audit']) assert.match(page, new RegExp(`>${label}</a>`));
  assert.match(page, /<a href="\/gates\/recipes\/checklist\?env=staging" aria-current="page">Checklist<\/a>/);
  assert.match(page, /<form class="signout" method="post" action="\/logout"><input type="hidden" name="csrf" value="tok-123">/);
  assert.match(page, /quinn <span class="role">\(qa-lead\)<\/span>/);
  assert.equal(layout({ ...CTX, redact: (t) => t.replaceAll('quinn', '***') }, 't', html``).includes('quinn'), false, 'the redactor sees the whole page');
});

test('the sign-in page: name and password posted to /login, no navigation, the error as text', () => {
  const page = loginPage({ gate: 'recipes', csrf: 'tok-123' }, `wrong <b>name</b> or password`);
  assertSafe(page, 'login');
  assert.match(page, /<form class="login" method="post" action="\/login">/);
  assert.match(page, /name="name"/);
  assert.match(page, /name="password" type="password"/);
  assert.match(page, /role="alert">wrong &lt;b&gt;name&lt;\/b&gt; or password</);
  assert.doesNotMatch(page, /<nav/);
  assert.doesNotMatch(loginPage({ ...CTX }), /Sign out/, 'a signed-in context shows no sign-out on the sign-in page');
  assert.match(loginPage({ gate: 'recipes' }, undefined, '/gates/recipes/checklist?env="x"'), /<input type="hidden" name="next" value="\/gates\/recipes\/checklist\?env=&quot;x&quot;">/, 'the page asked for goes along');
});

test('the quick reference: the decision with its reasons, readiness, tiers and phases, blockers, pending sign-offs, critical path, rollback, contacts, metrics and charts', () => {
  const page = quickReferencePage(CTX, state, loaded.config, { state: watch, evaluations, baseline: { p95_ms: 100, error_rate: 0.002, samples: 50 } });
  assertSafe(page, 'quick reference');
  assert.equal(state.decision.verdict, 'NO_GO');
  assert.match(page, /<span class="verdict verdict-NO_GO">NO-GO<\/span>/);
  for (const reason of state.decision.reasons) assert.ok(page.includes(escapeHtml(reason)), `reason shown: ${reason}`);
  assert.match(page, /1\/2 critical \(50%\)/, 'the readiness headline');
  assert.match(page, /<meter min="0" max="2" value="1"/, 'a bar for the critical tier');
  assert.match(page, /<th scope="row">staging-validation<\/th>/, 'phases');
  assert.match(page, /<a href="\/gates\/recipes\/checklist\?env=staging#item-LOGIN">LOGIN<\/a>/, 'the blocker links to its item');
  assert.match(page, /#signoff-decision">decision<\/a>/, 'the pending decision sign-off');
  assert.match(page, /2 h \/ 3 h \/ 6 h/, 'hours left on the open items of the phase (LOGIN; HEALTH passed)');
  assert.match(page, /bash scripts\/rollback-production.sh/, 'the configured rollback command');
  assert.match(page, /previous <code>v1.9.0<\/code>|\(<code>v1.9.0<\/code>\)/, 'the release a rollback returns to');
  assert.match(page, /<td>erin<\/td><td>release-manager<\/td>/, 'contacts: people and roles');
  assert.match(page, /<td>sam<\/td><td>2 \(HEADERS, ADMIN\)<\/td>/, 'contacts: owners');
  assert.match(page, /<th scope="row">p95 latency<\/th><td>260 ms<\/td><td>100 ms<\/td><td>&lt; 2000 ms<\/td>/, 'key metrics: now, baseline, target');
  assert.match(page, /id="chart-latency"/);
  assert.match(page, /id="chart-error-rate"/);
  assert.match(page, /Audit chain intact/, 'the chain state of the rows read');
  assert.match(page, /quinn<\/td><td>qa-lead<\/td>/, 'who signed, as what');
  assert.ok(!page.includes(HOSTILE) && page.includes(escapeHtml(`</textarea>${HOSTILE}`)), 'a hostile note is text');
});

test('the quick reference without a watch or a rollback config: the seed\'s procedure and the seed\'s targets', () => {
  const { rollback: _, ...rest } = loaded.config.watch;
  const page = quickReferencePage(CTX, state, { ...loaded.config, watch: rest });
  assertSafe(page, 'quick reference without a watch');
  for (const line of SEED_ROLLBACK) assert.ok(page.includes(escapeHtml(line)), line);
  assert.match(page, /No watch has evaluated this release yet/);
  assert.doesNotMatch(page, /<svg/);
});

test('the checklist: every item with status, evidence, owner and history; sign-off, waiver, stage and decision forms with the CSRF token', () => {
  const page = checklistPage(CTX, state, loaded.config, itemHistory(runs));
  assertSafe(page, 'checklist');
  assertFormsCarryCsrf(page, 'checklist');
  for (const item of loaded.config.items) assert.match(page, new RegExp(`<tr id="item-${item.id}"`), item.id);
  assert.match(page, /data-item="LOGIN" data-status="fail"/);
  assert.match(page, /data-item="API" data-status="waived"/, 'the waiver applied by the library');
  assert.match(page, /GET http:\/\/127\.0\.0\.1:\d+\/broken → 503/, 'evidence from explain.ts: the request and its answer');
  assert.ok(page.includes('&lt;script&gt;alert(&quot;evidence&quot;)&lt;/script&gt;') || !page.includes('alert("evidence")'), 'the target\'s answer is text');
  assert.match(page, /<tr id="item-HEADERS"[\s\S]*?&lt;img src=x onerror=&quot;alert\(1\)&quot;&gt;/, 'a hostile title is text');
  const history = /<tr id="item-HEALTH"[\s\S]*?<ol class="history" aria-label="newest first">([\s\S]*?)<\/ol>/.exec(page);
  assert.equal(history?.[1].match(/<li>/g)?.length, 2, 'two runs in the item\'s history');
  assert.match(page, /<input type="hidden" name="target" value="item:BACKUP">/, 'a manual item\'s sign-off form');
  assert.match(page, /<input type="hidden" name="item" value="LOGIN">[\s\S]*?name="mitigation"[\s\S]*?name="owner" required value="ana"[\s\S]*?name="expires" type="date"/, 'a failed item\'s waiver form, its owner filled in');
  assert.doesNotMatch(page, /<input type="hidden" name="item" value="HEALTH">/, 'no waiver form for a passing item');
  const stageRun = state.binding.stageRuns.security;
  assert.match(page, new RegExp(`<input type="hidden" name="target" value="stage:security"><input type="hidden" name="run" value="${stageRun}">`), 'a stage sign-off names the run signed');
  assert.match(page, new RegExp(`<input type="hidden" name="target" value="decision"><input type="hidden" name="run" value="${state.binding.decisionRun}">`), 'the decision sign-off names the run signed');
  assert.match(page, /<form class="signoff" method="post" action="\/gates\/recipes\/signoff"/);
  assert.match(page, /<form method="post" action="\/gates\/recipes\/waive">/);
  assert.match(page, /<span class="signed">quinn \(qa-lead\)/, 'the stage shows who signed it');
});

test('the checklist for a visitor without a session shows no form', () => {
  const page = checklistPage({ gate: 'recipes' }, state, loaded.config, itemHistory(runs));
  assert.doesNotMatch(page, /<form[^>]*method="post"/);
});

test('runs and one run: history with verdicts; a running run carries its live URLs and refreshes itself without JS', () => {
  const list = runsPage(CTX, runs);
  assertSafe(list, 'runs');
  for (const r of runs) assert.match(list, new RegExp(`data-run="${r.id}"`));
  const done = runPage(CTX, runs[0], { eventsUrl: '/x/events', pollUrl: '/x' }, loaded.config.items);
  assertSafe(done, 'run');
  assert.doesNotMatch(done, /data-events-url|http-equiv="refresh"/, 'a finished run has nothing to follow');
  assert.match(done, /data-run-status="completed"/);
  assert.match(done, /<h3>Reasons<\/h3>/);
  const running: RunRecord = { ...runs[0], status: 'running', finishedAt: undefined, decision: undefined, results: runs[0].results.slice(0, 3) };
  const live = runPage(CTX, running, { eventsUrl: '/api/v1/gates/recipes/runs/R/events', pollUrl: '/api/v1/gates/recipes/runs/R', expected: 7 });
  assertSafe(live, 'running run');
  assert.match(live, /data-run-status="running" data-events-url="\/api\/v1\/gates\/recipes\/runs\/R\/events" data-poll-url="\/api\/v1\/gates\/recipes\/runs\/R" data-expected="7"/);
  assert.match(live, /<noscript><meta http-equiv="refresh" content="5"><\/noscript>/);
  assert.match(live, /<progress data-live="progress" max="7" value="3">/);
});

test('the watch: windows, triggers, fired triggers awaiting a decision, the decide-rollback form, charts', () => {
  const page = watchPage(CTX, watch, evaluations, { config: loaded.config, baseline: { p95_ms: 100, samples: 50 } });
  assertSafe(page, 'watch');
  assertFormsCarryCsrf(page, 'watch');
  assert.match(page, /Decision needed: roll back or continue\?/);
  assert.match(page, /<input type="hidden" name="watch" value="w1">/);
  assert.match(page, /<button type="submit" name="decision" value="rollback" class="danger">Roll back<\/button> <button type="submit" name="decision" value="continue">Continue<\/button>/);
  assert.match(page, /<tr id="window-immediate">/);
  assert.match(page, /data-trigger="latency-degraded"/);
  assert.match(page, /awaiting a decision/);
  const polylines = [...page.matchAll(/<g class="series (s-[a-z0-9]+)" data-series="[^"]+"><polyline points="([^"]+)">/g)];
  assert.deepEqual(polylines.map((m) => m[1]), ['s-p50', 's-p95', 's-p99', 's-error']);
  for (const m of polylines) assert.equal(m[2].split(' ').length, 3, `${m[1]}: one point per evaluation`);
  assert.match(page, /<g class="rule rule-conditional" data-value="150">/, 'the latency trigger\'s threshold as the evaluation judged it');
  assert.match(page, /<g class="rule rule-baseline" data-value="100">/, 'the baseline p95');
  assert.match(page, /<g class="rule rule-immediate" data-value="5">/, 'the error-rate trigger at 5%');
  assert.match(page, /<g class="marker mark-conditional" data-at="2026-12-01T10:03:00.000Z">/, 'the fired trigger marked');
  const decided = watchPage(CTX, { ...watch, fired: watch.fired.map((f) => ({ ...f, decision: { decision: 'continue', by: 'erin', role: 'release-manager', at: f.at } })) }, evaluations);
  assert.doesNotMatch(decided, /class="decide"/, 'no form once a person decided');
  assert.match(watchPage(CTX, undefined, []), /No watch of this release yet/);
});

test('the audit log: every entry with who and when, filtered by kind and person, the chain\'s state and the export link', async () => {
  const chain = await verifyChain(store, loaded.gate);
  assert.equal(chain.intact, true);
  const page = auditPage(CTX, entries, chain);
  assertSafe(page, 'audit');
  assert.equal(page.match(/<tr id="entry-\d+"/g)?.length, entries.length, 'every entry');
  assert.match(page, /Intact: \d+ entries verified, head <code>[0-9a-f]{64}<\/code>/);
  assert.match(page, /<a class="export" href="\/gates\/recipes\/audit\/export\?env=staging" download>/);
  const attestations = auditPage(CTX, entries, chain, { kind: 'attestation' });
  assert.equal(attestations.match(/<tr id="entry-\d+"/g)?.length, 2, 'the sign-off and the waiver');
  assert.match(attestations, /<td>quinn <span class="role">\(qa-lead\)<\/span><\/td>/);
  assert.match(attestations, /<option value="attestation" selected>/);
  assert.equal(auditPage(CTX, entries, chain, { by: 'lee' }).match(/<tr id="entry-\d+"/g)?.length, 1, 'filtered by who');
  assert.equal(auditPage(CTX, entries, chain, { kind: '"><script>' }).match(/<tr id="entry-\d+"/g)?.length, entries.length, 'an unknown kind filters nothing');
  const broken = auditPage(CTX, entries, { ...chain, intact: false, problem: { kind: 'row-changed', seq: 3, ref: 'run:x', message: 'run x changed <after> it was recorded' } });
  assert.match(broken, /BROKEN at <a href="#entry-3">entry 3<\/a>: run x changed &lt;after&gt; it was recorded/);
  assert.match(broken, /<tr id="entry-3" data-kind="[a-z-]+" class="broken">/);
});

test('charts: the y axis covers the data and every threshold, gaps split a line, markers land at their time', () => {
  assert.equal(niceStep(0.3, 4), 0.1);
  assert.equal(niceStep(730, 4), 200);
  const points = evaluationPoints(evaluations);
  const input = { evaluations: points, triggers: [{ id: 'fast', severity: 'immediate' as const, metric: 'p95_ms' as const, above: 1000, consecutive: 1, minSamples: 0, noData: 'unknown' as const }], fired: [{ at: '2026-12-01T10:02:00.000Z', id: 'fast', severity: 'immediate' }] };
  const l = layoutChart(latencyChart(input));
  const rule = l.rules.find((r) => r.label.startsWith('fast'));
  assert.ok(rule && rule.y >= l.plot.top && rule.y < l.plot.bottom, 'a threshold far above the data is still on the chart');
  assert.ok(Number(l.yTicks.at(-1)?.label.replace(' ms', '')) >= 1000);
  assert.equal(l.markers[0].x, l.series[0].dots[1].cx, 'the marker at the second evaluation\'s time');
  const gap = layoutChart({ ...errorRateChart({ evaluations: points, triggers: [], fired: [] }), series: [{ name: 'e', className: 's-error', points: [{ x: 0, y: 0.1 }, { x: 1, y: Number.NaN }, { x: 2, y: 0.2 }, { x: 3, y: 0.3 }] }] });
  assert.deepEqual(gap.series[0].lines.map((l) => l.split(' ').length), [1, 2], 'no value is a gap, never a 0');
  const far = layoutChart(latencyChart({ evaluations: points, triggers: [], fired: [], criteria: { p95Ms: 2000 } }));
  assert.deepEqual(far.offChart, [{ label: 'criterion p95', value: 2000 }], 'a criterion far above the data is named, not drawn');
  assert.ok(Number(far.yTicks.at(-1)?.label.replace(' ms', '')) < 1000, 'and does not flatten the lines');
  const near = layoutChart(latencyChart({ evaluations: points, triggers: [], fired: [], criteria: { p95Ms: 400 } }));
  assert.deepEqual(near.rules.map((r) => r.label), ['criterion p95'], 'a criterion near the data is drawn');
  const empty = layoutChart(latencyChart({ evaluations: [], triggers: [], fired: [] }));
  assert.deepEqual(empty.series.map((s) => s.lines.length), [0, 0, 0]);
});
