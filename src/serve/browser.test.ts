import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
// parseConfig checks options against loaded kinds: the registry loads them all.
import '../checks/index.js';
import { parseConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/load.js';
import { giveSignoff } from '../engine/attest.js';
import { runGate } from '../engine/gate.js';
import type { Release } from '../engine/release.js';
import { gateState } from '../engine/state.js';
import type { RunRecord } from '../model.js';
import { verifyChain } from '../store/audit.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { fakeClock } from '../test-support/clock.js';
import { serve } from '../test-support/server.js';
import type { TestServer } from '../test-support/server.js';
import { foldWatch } from '../watch/state.js';
import { auditPage, checklistPage, itemHistory, loginPage, paths, quickReferencePage, runPage, runsPage, watchPage } from './pages.js';
import type { PageContext } from './pages.js';

// The dashboard's pages in a real browser (Debian's Chromium through playwright-core), served with
// the dashboard's CSP by a small node:http server over a real gate's record in SQLite. Each page
// must load with no CSP violation and no console error, its stylesheet and script applied; the
// pages work without JavaScript; a running run's page follows its progress live; a chart reads right.

const CHROMIUM = '/usr/bin/chromium';
const LAUNCH_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--disable-sync', '--no-first-run'];
/** The dashboard's policy (src/serve/security.ts): scripts and styles from 'self' only, nothing inline. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const ASSETS = join(dirname(fileURLToPath(import.meta.url)), 'assets');
export const SCREENSHOTS = join(tmpdir(), 'gonogo-screenshots');

/** Whether Chromium is here; skips with what to install, or fails under GONOGO_REQUIRE_ALL=1. */
function requireChromium(t: TestContext): boolean {
  if (existsSync(CHROMIUM)) return true;
  const message = `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) to run the dashboard's browser tests`;
  if (process.env.GONOGO_REQUIRE_ALL === '1') throw new Error(`${message}; GONOGO_REQUIRE_ALL=1 makes this a failure`);
  t.skip(message);
  return false;
}

const clock = fakeClock(Date.parse('2026-12-01T09:00:00Z'));
const RELEASE: Release = { id: 'v2.0.0', source: 'option' };
let target: TestServer;
let dashboard: TestServer;
let store: Store;
let loaded: LoadedConfig;
let browser: Browser | undefined;
/** What the test's dashboard received by POST: the forms' fields. */
const posted: { path: string; fields: Record<string, string> }[] = [];
/** Open server-sent event streams of the live run page, to push snapshots to. */
const streams = new Set<ServerResponse>();
let liveRunId = '';

function configText(url: string): string {
  return `version: 1
name: recipes
environments: { staging: { url: ${url} }, production: { url: ${url} } }
rules: { requiredSignoffs: [stage:security] }
roles: { release-manager: [decision, revoke, rollback], qa-lead: [stage, item], eng-lead: [waive] }
people: { erin: [release-manager], quinn: [qa-lead], lee: [eng-lead] }
stages:
  staging:
    - { id: deploy, title: Deploy to staging, budget: 15m, items: [HEALTH, LOGIN] }
    - { id: security, title: Security testing, budget: 1h, items: [HEADERS, DOCS, ADMIN, API, SEARCH], signoff: [qa-lead] }
  production:
    - { id: immediate, title: Immediate, budget: 15m, items: [HEALTH] }
watch:
  rollback: { run: [bash, scripts/rollback-production.sh], validate: [HEALTH] }
  triggers:
    - { id: error-rate-critical, severity: immediate, metric: error_rate, above: 0.05 }
    - { id: latency-degraded, severity: conditional, metric: p95_ms, aboveBaseline: 1.5 }
items:
  - { id: HEALTH, title: Health endpoint answers, tier: critical, category: infrastructure, phase: staging-validation, owner: ops, estimate: { optimistic: 1, likely: 2, pessimistic: 4 }, check: { kind: http, url: "{{env.url}}/health" } }
  - { id: LOGIN, title: Login works, tier: critical, category: functional, phase: staging-validation, owner: ana, check: { kind: http, url: "{{env.url}}/health" } }
  - { id: HEADERS, title: 'Security <headers> & "quotes"', tier: high, category: security, phase: code-integration, owner: sam, check: { kind: http, url: "{{env.url}}/health" } }
  - { id: DOCS, title: Docs published, tier: high, category: docs, check: { kind: http, url: "{{env.url}}/health" } }
  - { id: ADMIN, title: Admin locked down, tier: high, category: security, owner: sam, check: { kind: http, url: "{{env.url}}/health" } }
  - { id: API, title: API answers, tier: high, check: { kind: http, url: "{{env.url}}/broken" } }
  - { id: SEARCH, title: Search answers, tier: high, owner: ana, check: { kind: http, url: "{{env.url}}/broken" } }
  - { id: BACKUP, title: Backups verified, tier: recommended, manual: true, signers: [qa-lead] }
`;
}

const CTX: PageContext = { user: { name: 'quinn', role: 'qa-lead' }, csrf: 'tok-browser', gate: 'recipes', env: 'staging' };
const WATCH_START = Date.parse('2026-12-01T10:00:00Z');

async function seedWatch(): Promise<void> {
  const base = { gate: loaded.gate, env: 'production', release: RELEASE.id, watchId: 'w1' };
  const at = (s: number): string => new Date(WATCH_START + s * 1000).toISOString();
  await store.addEvent({ ...base, kind: 'watch-begin', at: at(0), data: { stageSet: 'production', previous: 'v1.9.0', windows: [{ id: 'immediate', title: 'Immediate', windowMs: 900_000, everyMs: 60_000 }] } });
  await store.addEvent({ ...base, kind: 'window-begin', at: at(0), data: { window: 'immediate' } });
  const p95s = [100, 110, 180, 240, 260];
  for (const [i, p95] of p95s.entries()) {
    const breach = p95 > 150;
    await store.addEvent({
      ...base,
      kind: 'evaluation',
      at: at(60 * (i + 1)),
      data: {
        window: 'immediate',
        metrics: { error_rate: 0.004 * i, p50_ms: 40 + i, p95_ms: p95, p99_ms: p95 + 50, samples: 30 },
        verdicts: [
          { id: 'error-rate-critical', severity: 'immediate', state: 'ok', value: 0.004 * i, threshold: 0.05, streak: 0, fired: false, message: 'ok' },
          { id: 'latency-degraded', severity: 'conditional', state: breach ? 'breach' : 'ok', value: p95, threshold: 150, streak: breach ? i - 1 : 0, fired: i === 3, message: `p95 ${p95} ms against 150 ms` },
        ],
      },
    });
  }
  await store.addEvent({ ...base, kind: 'trigger', at: at(240), data: { window: 'immediate', trigger: 'latency-degraded', severity: 'conditional', message: 'p95 240 ms above 1.5 x baseline 100 ms' } });
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-security-policy': CSP, 'x-content-type-options': 'nosniff' }).end(body);
}

async function snapshotOf(id: string): Promise<string> {
  const run = await store.getRun(id);
  return JSON.stringify({ status: run?.status ?? 'aborted', results: (run?.results ?? []).map((r) => ({ id: r.id, tier: r.tier, status: r.status, message: r.message, attempts: r.attempts, durationMs: r.durationMs })) });
}

/** Sends every open stream the live run's snapshot, as the server's /events does when the run changes. */
async function pushSnapshot(): Promise<void> {
  const data = await snapshotOf(liveRunId);
  for (const res of streams) res.write(`data: ${data}\n\n`);
}

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const p = url.pathname;
  if (p.startsWith('/assets/')) {
    const name = p.slice('/assets/'.length);
    const type = { css: 'text/css', js: 'text/javascript', svg: 'image/svg+xml' }[name.split('.').pop() ?? ''];
    if (!/^[a-z]+\.[a-z]+$/.test(name) || type === undefined || !existsSync(join(ASSETS, name))) return send(res, 404, 'text/plain', 'not found');
    return send(res, 200, type, readFileSync(join(ASSETS, name), 'utf8'));
  }
  if (req.method === 'POST') {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    posted.push({ path: p, fields: Object.fromEntries(new URLSearchParams(body)) });
    res.writeHead(303, { location: paths.checklist('recipes'), 'content-security-policy': CSP }).end();
    return;
  }
  const ctx = { loaded, store, clock, release: RELEASE, envName: 'staging', processEnv: {} };
  const gate = paths.quickReference('recipes');
  if (p === paths.login) return send(res, 200, 'text/html', loginPage({ gate: 'recipes', csrf: 'pre-session' }));
  if (p === gate) {
    const events = await store.listEvents({ gate: loaded.gate, watchId: 'w1' });
    const state = foldWatch(events);
    return send(res, 200, 'text/html', quickReferencePage(CTX, await gateState(ctx), loaded.config, state ? { state, evaluations: events, baseline: { p95_ms: 100, error_rate: 0.002, samples: 50 } } : undefined));
  }
  if (p === paths.checklist('recipes')) {
    const runs = await store.listRuns({ gate: loaded.gate });
    const records = (await Promise.all(runs.map((r) => store.getRun(r.id)))).filter((r): r is RunRecord => r !== undefined);
    return send(res, 200, 'text/html', checklistPage(CTX, await gateState(ctx), loaded.config, itemHistory(records)));
  }
  if (p === paths.runs('recipes')) return send(res, 200, 'text/html', runsPage(CTX, await store.listRuns({ gate: loaded.gate })));
  if (p.startsWith(`${paths.runs('recipes')}/`)) {
    const id = decodeURIComponent(p.slice(paths.runs('recipes').length + 1));
    if (id.endsWith('/events')) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'content-security-policy': CSP });
      res.write(`data: ${await snapshotOf(id.slice(0, -'/events'.length))}\n\n`);
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    if (id.endsWith('/progress')) return send(res, 200, 'application/json', await snapshotOf(id.slice(0, -'/progress'.length)));
    const run = await store.getRun(id);
    if (!run) return send(res, 404, 'text/plain', 'no such run');
    const live = url.searchParams.get('live');
    const base = paths.run('recipes', id);
    return send(res, 200, 'text/html', runPage(CTX, run, { ...(live !== 'poll' ? { eventsUrl: `${base}/events` } : {}), pollUrl: `${base}/progress`, expected: loaded.config.items.filter((i) => !i.manual).length }, loaded.config.items));
  }
  if (p === paths.watch('recipes')) {
    const events = await store.listEvents({ gate: loaded.gate, watchId: 'w1' });
    return send(res, 200, 'text/html', watchPage(CTX, foldWatch(events), events.filter((e) => e.kind === 'evaluation'), { config: loaded.config, baseline: { p95_ms: 100, samples: 50 } }));
  }
  if (p === paths.audit('recipes')) {
    const entries = await store.auditEntries(loaded.gate, 0, 10_000);
    return send(res, 200, 'text/html', auditPage(CTX, entries, await verifyChain(store, loaded.gate), { kind: url.searchParams.get('kind') ?? undefined }));
  }
  send(res, 404, 'text/plain', 'not found');
}

before(async () => {
  if (!existsSync(CHROMIUM)) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  target = await serve((req, res) => void res.writeHead(req.url === '/health' ? 200 : 503).end(req.url === '/health' ? 'ok' : 'down'));
  loaded = parseConfig(configText(target.url), join(mkdtempSync(join(tmpdir(), 'gonogo-browser-cfg-')), 'gonogo.yaml'));
  store = await openStore(join(mkdtempSync(join(tmpdir(), 'gonogo-browser-')), 'g.db'), { clock });
  await runGate({ loaded, store, clock, release: RELEASE, envName: 'staging', stageSet: 'staging', keepGoing: true, processEnv: {} });
  await giveSignoff({ loaded, store, clock, release: RELEASE, envName: 'staging', processEnv: {} }, { target: { type: 'stage', id: 'security' }, by: 'quinn', role: 'qa-lead', note: 'security stage looked at' });
  await seedWatch();
  dashboard = await serve((req, res) => {
    route(req, res).catch((err: unknown) => send(res, 500, 'text/plain', String(err)));
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
});

after(async () => {
  for (const res of streams) res.end();
  await browser?.close();
  await dashboard?.close();
  await store?.close();
  await target?.close();
});

/** A page that records CSP violations and console errors; the violations are caught in the page itself, before any of its scripts run. */
async function openPage(js = true): Promise<{ page: Page; problems: string[] }> {
  assert.ok(browser);
  const context = await browser.newContext({ javaScriptEnabled: js, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.exposeFunction('__cspViolation', (text: string) => problems.push(`CSP: ${text}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as unknown as { __cspViolation(t: string): void }).__cspViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  return { page, problems };
}

async function screenshot(page: Page, name: string, t: TestContext): Promise<void> {
  const file = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  t.diagnostic(`screenshot: ${file}`);
}

const PAGES: readonly { name: string; path: () => string; heading: string }[] = [
  { name: 'login', path: () => paths.login, heading: 'Sign in' },
  { name: 'quick-reference', path: () => paths.quickReference('recipes'), heading: 'Quick reference' },
  { name: 'checklist', path: () => paths.checklist('recipes'), heading: 'Checklist' },
  { name: 'runs', path: () => paths.runs('recipes'), heading: 'Runs' },
  { name: 'watch', path: () => paths.watch('recipes'), heading: 'Watch' },
  { name: 'audit', path: () => paths.audit('recipes'), heading: 'Audit log' },
];

test('every page loads under the strict CSP with no violation and no console error; app.css and app.js apply', async (t) => {
  if (!requireChromium(t)) return;
  for (const p of PAGES) {
    const { page, problems } = await openPage();
    const answer = await page.goto(`${dashboard.url}${p.path()}`, { waitUntil: 'load' });
    assert.equal(answer?.status(), 200, p.name);
    assert.equal(answer?.headers()['content-security-policy'], CSP);
    assert.equal(await page.locator('h1').textContent(), p.heading, p.name);
    await page.waitForFunction(() => document.documentElement.dataset.enhanced === 'true');
    const font = await page.evaluate(() => getComputedStyle(document.body).fontFamily);
    assert.match(font, /system-ui/, `${p.name}: app.css applied`);
    await screenshot(page, p.name, t);
    assert.deepEqual(problems, [], `${p.name}: no CSP violation, no console error`);
    await page.context().close();
  }
});

test('the CSP check catches what it guards: an inline script is reported as a violation', async (t) => {
  if (!requireChromium(t)) return;
  const { page, problems } = await openPage();
  await page.goto(`${dashboard.url}${paths.login}`, { waitUntil: 'load' });
  await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'document.title = "inline ran"';
    document.body.append(s);
    const d = document.createElement('div');
    d.setAttribute('style', 'color: red');
    document.body.append(d);
  });
  await page.waitForFunction(() => document.title !== '', undefined, { timeout: 5000 });
  await expectEventually(() => problems.some((p) => p.startsWith('CSP: script-src')), 'the inline script was blocked and reported');
  assert.notEqual(await page.title(), 'inline ran');
  await page.context().close();
});

/** Waits (bounded: 100 rounds of the event loop through the browser) until `check` holds. */
async function expectEventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(check(), what);
}

test('the quick reference reads as a release meeting needs it: the verdict, readiness, blockers, the chart', async (t) => {
  if (!requireChromium(t)) return;
  const { page, problems } = await openPage();
  await page.goto(`${dashboard.url}${paths.quickReference('recipes')}`, { waitUntil: 'load' });
  assert.equal(await page.locator('#decision .verdict').textContent(), 'NO-GO');
  assert.match((await page.locator('#decision').textContent()) ?? '', /0 of 2 waived|high items passed/);
  assert.match((await page.locator('#readiness .headline').textContent()) ?? '', /2\/2 critical \(100%\)/);
  const color = await page.locator('#decision .verdict').evaluate((el) => getComputedStyle(el).color);
  assert.equal(color, 'rgb(207, 34, 46)', 'NO-GO in red, from app.css');
  assert.equal(await page.locator('#chart-latency svg').isVisible(), true);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('a chart reads right: one point per evaluation, the p95 crosses the trigger threshold where it fired, the baseline below it', async (t) => {
  if (!requireChromium(t)) return;
  const { page, problems } = await openPage();
  await page.goto(`${dashboard.url}${paths.watch('recipes')}`, { waitUntil: 'load' });
  const chart = page.locator('#chart-latency svg');
  // No named helpers inside: tsx wraps them in a __name() the page does not have.
  const read = await chart.evaluate((svg) => ({
    p95: [...svg.querySelectorAll('[data-series="p95"] circle')].map((c) => ({ cy: Number(c.getAttribute('cy')), cx: Number(c.getAttribute('cx')), title: c.querySelector('title')?.textContent ?? '' })),
    threshold: Number(svg.querySelector('.rule-conditional line')?.getAttribute('y1')),
    baseline: Number(svg.querySelector('.rule-baseline line')?.getAttribute('y1')),
    marker: Number(svg.querySelector('.marker line')?.getAttribute('x1')),
    stroke: getComputedStyle(svg.querySelector('[data-series="p95"] polyline') as Element).stroke,
  }));
  assert.equal(read.p95.length, 5, 'one point per evaluation');
  assert.deepEqual(read.p95.map((p) => /^p95 (\d+) ms/.exec(p.title)?.[1]), ['100', '110', '180', '240', '260'], 'each point says its value');
  // SVG y grows downwards: a value above the threshold is drawn above (smaller y) its line.
  assert.deepEqual(read.p95.map((p) => p.cy < read.threshold), [false, false, true, true, true], 'above the 150 ms threshold from the third evaluation on');
  assert.ok(read.baseline > read.threshold, 'the baseline (100 ms) below the threshold (150 ms)');
  assert.equal(read.marker, read.p95[3].cx, 'the trigger marked at the evaluation where it fired');
  assert.equal(read.stroke, 'rgb(130, 80, 223)', 'the p95 line coloured by app.css');
  const table = await page.locator('#chart-latency details table tbody tr').count();
  assert.equal(table, 5, 'the values as a table too');
  assert.deepEqual(problems, []);
  await page.context().close();
});

test('the pages work without JavaScript: a stage sign-off and a waiver post their fields with the CSRF token', async (t) => {
  if (!requireChromium(t)) return;
  const { page } = await openPage(false);
  await page.goto(`${dashboard.url}${paths.checklist('recipes')}`, { waitUntil: 'load' });
  const stage = page.locator('#signoff-stage-security');
  await stage.locator('input[name="note"]').fill('looked at <everything>');
  await Promise.all([page.waitForURL(`**${paths.checklist('recipes')}`), stage.locator('button').click()]);
  const signoff = posted.find((p) => p.path === paths.signoff('recipes'));
  assert.ok(signoff);
  assert.equal(signoff.fields.csrf, 'tok-browser');
  assert.equal(signoff.fields.target, 'stage:security');
  assert.equal(signoff.fields.note, 'looked at <everything>');
  assert.match(signoff.fields.run ?? '', /^[0-9A-Z]{26}$/);
  const waive = page.locator('#item-API details.waive');
  await waive.locator('summary').click();
  await waive.locator('textarea[name="mitigation"]').fill('feature flag off');
  await waive.locator('input[name="owner"]').fill('lee');
  await waive.locator('input[name="expires"]').fill('2099-01-31');
  await Promise.all([page.waitForURL(`**${paths.checklist('recipes')}`), waive.locator('button').click()]);
  const waiver = posted.find((p) => p.path === paths.waive('recipes'));
  assert.deepEqual(waiver?.fields, { csrf: 'tok-browser', env: 'staging', item: 'API', mitigation: 'feature flag off', owner: 'lee', expires: '2099-01-31' });
  await page.context().close();
});

for (const mode of ['sse', 'poll'] as const) {
  test(`a running run's page follows its progress live (${mode === 'sse' ? 'server-sent events' : 'polling'}) and shows the decision when it ends`, async (t) => {
    if (!requireChromium(t)) return;
    liveRunId = await store.beginRun({ gate: loaded.gate, env: 'staging', command: 'check', release: RELEASE.id, selection: {}, configHash: loaded.hash, startedAt: new Date(clock.now()).toISOString() });
    const result = (id: string, status: 'pass' | 'fail') => ({ id, tier: 'high' as const, status, message: status === 'pass' ? 'ok' : 'status 503', durationMs: 12, attempts: [] });
    await store.saveResult(liveRunId, result('HEALTH', 'pass'));
    const { page, problems } = await openPage();
    await page.goto(`${dashboard.url}${paths.run('recipes', liveRunId)}${mode === 'poll' ? '?live=poll' : ''}`, { waitUntil: 'load' });
    assert.equal(await page.locator('[data-live="status"]').textContent(), 'running');
    assert.equal(await page.locator('tbody[data-live="results"] tr').count(), 1);
    await store.saveResult(liveRunId, result('DOCS', 'pass'));
    await store.saveResult(liveRunId, result('API', 'fail'));
    if (mode === 'sse') await pushSnapshot();
    await page.waitForFunction(() => document.querySelectorAll('tbody[data-live="results"] tr').length === 3, undefined, { timeout: 10_000 });
    assert.equal(await page.locator('#result-API').getAttribute('data-status'), 'fail');
    assert.equal(await page.locator('[data-live="count"]').textContent(), '3 of 7');
    assert.equal(await page.locator('[data-live="progress"]').evaluate((el) => (el as HTMLProgressElement).value), 3);
    await screenshot(page, `run-live-${mode}`, t);
    const state = await gateState({ loaded, store, clock, release: RELEASE, envName: 'staging' });
    await store.endRun(liveRunId, { status: 'completed', finishedAt: new Date(clock.now()).toISOString(), decision: state.decision });
    await Promise.all([page.waitForEvent('load', { timeout: 10_000 }), mode === 'sse' ? pushSnapshot() : Promise.resolve()]);
    assert.equal(await page.locator('[data-live="status"]').textContent(), 'completed');
    assert.equal(await page.locator('.run-summary .verdict').count(), 1, 'the server-rendered page after the end shows the verdict');
    await screenshot(page, `run-done-${mode}`, t);
    assert.deepEqual(problems, []);
    await page.context().close();
  });
}
