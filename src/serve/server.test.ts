// The dashboard as a client meets it: a real server on 127.0.0.1 over a real gate's record (runs of a
// real HTTP target, accounts and a token, sign-offs, a watch), on SQLite and on the PostgreSQL test
// cluster. Every endpoint, and every refusal: no session, wrong role (with the rule), a missing or
// wrong CSRF token, an expired waiver, self-approval, a bad sign-in rate limited. Argo Rollouts' and
// Flagger's requests are sent byte for byte as their Go clients send them. A `${VAR}` value planted
// in the record is served nowhere. Time is the fake clock's.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JSONPath } from 'jsonpath-plus';
import { addUser, createToken, disableUser } from '../auth/accounts.js';
// parseConfig checks options against loaded kinds: the registry loads them all.
import '../checks/index.js';
import { loadConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/load.js';
import { authorityOf } from '../engine/authority.js';
import { runGate } from '../engine/gate.js';
import { resolveRelease } from '../engine/release.js';
import type { Release } from '../engine/release.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { runCli } from '../test-support/cli.js';
import { fakeClock } from '../test-support/clock.js';
import type { FakeClock } from '../test-support/clock.js';
import { postgresBinDir, requirePostgres, startCluster } from '../test-support/postgres.js';
import type { PgCluster } from '../test-support/postgres.js';
import { serve } from '../test-support/server.js';
import type { TestServer } from '../test-support/server.js';
import { CSP } from './security.js';
import { startDashboard } from './server.js';
import type { DashboardOptions, RunningDashboard } from './server.js';

const GATE = 'shop';
const SECRET = 'S3cret-dashboard-Value-42';
const PASSWORDS = { erin: 'erin-password-0001', rick: 'rick-password-0002', quinn: 'quinn-password-003', vic: 'vic-password-00004' } as const;
type Person = keyof typeof PASSWORDS;

function configText(url: string): string {
  return `version: 1
name: ${GATE}
environments:
  staging: { url: "${url}" }
  production: { url: "${url}" }
rules: { requiredSignoffs: [decision], goHighRatio: 1, conditionsHighRatio: 0.6 }
roles:
  release-manager: [decision, stage, item, waive, revoke, rollback]
  qa-lead: [stage, item]
  viewer: []
  deployer: [stage]
people:
  erin: { roles: [release-manager], emails: [erin@example.com] }
  rick: [release-manager]
  quinn: [qa-lead]
  vic: [viewer]
  ci-deploy: [deployer]
stages:
  staging:
    - { id: deploy, title: Deploy, budget: 15m, items: [HEALTH, SECRET, FLAKY, HIGH-2] }
  production:
    - { id: immediate, title: Immediate, budget: 15m, items: [HEALTH] }
watch:
  triggers:
    - { id: latency, severity: conditional, metric: p95_ms, above: 500 }
items:
  - { id: HEALTH, title: Health answers, tier: critical, check: { kind: http, url: "{{env.url}}/health" } }
  - { id: SECRET, title: Authorized API, tier: high, check: { kind: http, url: "{{env.url}}/echo", headers: { authorization: "Bearer \${DASH_SECRET}" } } }
  - { id: FLAKY, title: Search answers, tier: high, check: { kind: http, url: "{{env.url}}/search" } }
  - { id: HIGH-2, title: Docs, tier: high, check: { kind: http, url: "{{env.url}}/health" } }
  - { id: DOC-01, title: Runbook reviewed, tier: recommended, manual: true }
`;
}

/** A response as a test reads it. */
interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json(): Record<string, unknown>;
}

/** Whoever sends: a session (cookie and CSRF token), a bearer token, or nobody. */
interface As {
  cookie?: string;
  csrf?: string;
  token?: string;
}

/** Everything the suite's tests share: the record, the people, a running dashboard. */
interface World {
  dir: string;
  config: string;
  location: string;
  loaded: LoadedConfig;
  store: Store;
  clock: FakeClock;
  release: Release;
  token: string;
  dash: RunningDashboard;
  log: string[];
  watchId: string;
}

const env = { ...process.env, CI: '1', DASH_SECRET: SECRET };

async function call(base: string, path: string, o: { method?: string; as?: As; json?: unknown; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.as?.cookie) headers.cookie = o.as.cookie;
  if (o.as?.token) headers.authorization = `Bearer ${o.as.token}`;
  let body: string | undefined;
  if (o.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(o.json);
  } else if (o.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(o.form).toString();
  }
  const res = await fetch(`${base}${path}`, { method: o.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, redirect: 'manual', signal: AbortSignal.timeout(20_000) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

async function signIn(base: string, who: Person): Promise<As> {
  const res = await call(base, '/login', { json: { name: who, password: PASSWORDS[who] }, headers: { accept: 'application/json' } });
  assert.equal(res.status, 200, res.text);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
  return { cookie, csrf: String(res.json().csrfToken) };
}

/**
 * Sends `raw` (a whole HTTP/1.1 request, as a Go client writes it) over a socket and reads one
 * answer (by its Content-Length). Bounded: the socket times out.
 */
function rawRequest(port: number, raw: string): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(10_000, () => socket.destroy(new Error('raw request timed out')));
    let data = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = data.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 'NaN');
      if (Number.isNaN(length) || data.length - end - 4 < length) return;
      socket.destroy();
      resolve({ status: Number(head.split(' ')[1]), head, body: data.subarray(end + 4, end + 4 + length).toString('utf8') });
    });
    socket.on('error', reject);
    socket.write(raw);
  });
}

/** Argo Rollouts' web metric provider: GET with the AnalysisTemplate's headers, from Go's net/http. */
function argoRequest(port: number, path: string, token: string): Promise<{ status: number; body: string }> {
  return rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: Go-http-client/1.1\r\nAuthorization: Bearer ${token}\r\nAccept-Encoding: gzip\r\n\r\n`);
}

/** Flagger's webhook call: a POST of CanaryWebhookPayload as Go's encoding/json writes it (map keys sorted), no header of its own. */
function flaggerRequest(port: number, path: string, payload: { name: string; namespace: string; phase: string; checksum: string; metadata?: Record<string, string> }): Promise<{ status: number; body: string }> {
  const metadata = payload.metadata ? Object.fromEntries(Object.entries(payload.metadata).sort(([a], [b]) => (a < b ? -1 : 1))) : undefined;
  const body = JSON.stringify({ name: payload.name, namespace: payload.namespace, phase: payload.phase, checksum: payload.checksum, ...(metadata ? { metadata } : {}) });
  return rawRequest(port, `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n${body}`);
}

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=erin', '-c', 'user.email=erin@example.com', ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_SYSTEM: '/dev/null' } }).trim();
}

let target: TestServer;
let searchBroken = true;

before(async () => {
  target = await serve((req, res) => {
    if (req.url === '/health') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    // Echoes the credential it was sent: the secret reaches the evidence (the store keeps it redacted).
    if (req.url === '/echo') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(`you sent ${req.headers.authorization ?? ''}`);
    if (req.url === '/search') return void res.writeHead(searchBroken ? 503 : 200, { 'content-type': 'text/plain' }).end(searchBroken ? 'down' : 'ok');
    res.writeHead(404).end();
  });
});
after(async () => {
  await target?.close();
});

/** The record of one world: a git repo whose commit (by erin) is the release, runs, people, a token, a watch waiting for a decision. */
async function makeWorld(location: string, options: Partial<DashboardOptions> = {}): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-serve-'));
  const config = join(dir, 'gonogo.yaml');
  writeFileSync(config, configText(target.url));
  git(dir, 'init', '-q');
  git(dir, 'add', 'gonogo.yaml');
  git(dir, 'commit', '-q', '-m', 'the gate');
  const loaded = await loadConfig(config);
  const clock = fakeClock(Date.now());
  const store = await openStore(location);
  const release = await resolveRelease({ dir, configHash: loaded.hash });
  assert.equal(release.source, 'git');
  assert.equal(release.author?.name, 'erin');
  searchBroken = true;
  await runGate({ loaded, store, clock, release, envName: 'staging', stageSet: 'staging', keepGoing: true, processEnv: env });
  const rules = authorityOf(loaded.config);
  for (const [name, role] of [['erin', 'release-manager'], ['rick', 'release-manager'], ['quinn', 'qa-lead'], ['vic', 'viewer']] as const) {
    await addUser(store, clock, { gate: GATE, name, role, password: PASSWORDS[name], roles: rules.roles, ...(rules.people ? { people: rules.people } : {}) });
  }
  const { token } = await createToken(store, clock, { gate: GATE, name: 'ci-deploy', role: 'deployer', roles: rules.roles });
  // A watch of the release in production whose conditional trigger fired: it waits for a person.
  const watchId = 'w-latency';
  const base = { gate: GATE, env: 'production', release: release.id, watchId };
  const at = (s: number): string => new Date(clock.now() - 600_000 + s * 1000).toISOString();
  await store.addEvent({ ...base, kind: 'watch-begin', at: at(0), data: { stageSet: 'production', windows: [{ id: 'immediate', title: 'Immediate', windowMs: 900_000, everyMs: 60_000 }] } });
  await store.addEvent({ ...base, kind: 'window-begin', at: at(0), data: { window: 'immediate' } });
  for (const [i, p95] of [120, 640, 700].entries()) {
    await store.addEvent({ ...base, kind: 'evaluation', at: at(60 * (i + 1)), data: { window: 'immediate', metrics: { error_rate: 0, p50_ms: 40, p95_ms: p95, p99_ms: p95 + 40, samples: 30 }, items: { HEALTH: 'pass' }, verdicts: [{ id: 'latency', severity: 'conditional', state: p95 > 500 ? 'breach' : 'ok', value: p95, threshold: 500, streak: i, fired: i === 2, message: `p95 ${p95} ms against 500 ms` }] } });
  }
  await store.addEvent({ ...base, kind: 'trigger', at: at(180), data: { window: 'immediate', trigger: 'latency', severity: 'conditional', value: 700, threshold: 500, message: 'p95 700 ms above 500 ms' } });
  // The secret planted raw where a careless writer could have put it: a reported issue and a run's result message.
  await store.addEvent({ ...base, kind: 'issue-report', at: at(190), data: { by: 'support', summary: `customers see token ${SECRET}` } });
  const log: string[] = [];
  const dash = await startDashboard({ loaded, store, release, clock, processEnv: env, host: '127.0.0.1', port: 0, events: { pollMs: 1000, maxMs: 60_000 }, log: (l) => log.push(l), ...options });
  return { dir, config, location, loaded, store, clock, release, token, dash, log, watchId };
}

async function endWorld(w: World | undefined): Promise<void> {
  await w?.dash.close();
  await w?.store.close();
}

/** Every GET a signed-in person or a token can make, pages and API. */
function readPaths(w: World, runId: string): string[] {
  const g = `/api/v1/gates/${GATE}`;
  return [
    '/api/v1/session',
    '/api/v1/gates',
    `${g}/state`,
    `${g}/state?env=production`,
    `${g}/decision`,
    `${g}/runs`,
    `${g}/runs/${runId}`,
    `${g}/runs/${runId}/progress`,
    `${g}/watches`,
    `${g}/watches/${w.watchId}`,
    `${g}/watches/${w.watchId}/evaluations`,
    `${g}/audit`,
    `${g}/audit?since=2`,
    `${g}/audit/export`,
    `${g}/events?after=0`,
    '/metrics',
    '/badge.svg',
    `/gates/${GATE}`,
    `/gates/${GATE}/checklist`,
    `/gates/${GATE}/runs`,
    `/gates/${GATE}/runs/${runId}`,
    `/gates/${GATE}/watch`,
    `/gates/${GATE}/audit`,
    `/gates/${GATE}/audit/export`,
  ];
}

function suite(kind: string, location: () => Promise<string>): void {
  describe(`the dashboard on ${kind}`, () => {
    let w: World;
    let base: string;
    let runId: string;
    const api = `/api/v1/gates/${GATE}`;

    before(async () => {
      w = await makeWorld(await location());
      base = w.dash.url;
      const [run] = await w.store.listRuns({ gate: GATE, limit: 1 });
      runId = run.id;
    });
    after(() => endWorld(w));

    test('every answer carries the security headers, the strict CSP, no-store on data, no CORS and no X-Powered-By', async () => {
      const erin = await signIn(base, 'erin');
      const answers = [
        await call(base, '/healthz'),
        await call(base, `${api}/state`),
        await call(base, `/gates/${GATE}`),
        await call(base, `/gates/${GATE}`, { as: erin, headers: { origin: 'https://evil.example' } }),
        await call(base, `${api}/state`, { as: erin, headers: { origin: 'https://evil.example' } }),
        await call(base, `${api}/state`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } }),
        await call(base, '/no-such-page', { as: erin }),
        await call(base, '/assets/app.css'),
      ];
      for (const res of answers) {
        const h = res.headers;
        assert.equal(h.get('content-security-policy'), CSP);
        assert.equal(h.get('x-content-type-options'), 'nosniff');
        assert.equal(h.get('referrer-policy'), 'no-referrer');
        assert.equal(h.get('x-frame-options'), 'DENY');
        assert.match(h.get('permissions-policy') ?? '', /camera=\(\)/);
        assert.equal(h.get('x-powered-by'), null);
        assert.equal(h.get('strict-transport-security'), null, 'no HSTS over plain HTTP');
        for (const [name] of h) assert.doesNotMatch(name, /^access-control-/, `no CORS header (${name})`);
      }
      assert.equal(answers[4].headers.get('cache-control'), 'no-store');
      assert.equal(answers[3].headers.get('cache-control'), 'no-store');
      assert.equal(answers[7].headers.get('cache-control'), 'no-cache', 'an asset may be kept and asked again');
      assert.equal(answers[7].headers.get('content-type'), 'text/css; charset=utf-8');
      assert.equal(answers[5].status, 404, 'no preflight is answered');
      const https = await call(base, '/healthz', { headers: { 'x-forwarded-proto': 'https' } });
      assert.match(https.headers.get('strict-transport-security') ?? '', /max-age=31536000/, 'HSTS behind a TLS proxy');
    });

    test('no data without a session or a token: the API answers 401, a page sends the browser to /login; /healthz is open', async () => {
      for (const path of readPaths(w, runId)) {
        const res = await call(base, path);
        if (path.startsWith('/api/') || path === '/metrics' || path === '/badge.svg') assert.equal(res.status, 401, `${path}: ${res.text}`);
        else {
          assert.equal(res.status, 303, path);
          assert.match(res.headers.get('location') ?? '', /^\/login\?next=/, path);
        }
        assert.doesNotMatch(res.text, /HEALTH|Runbook|erin|rick/, `${path} shows nothing of the gate`);
      }
      for (const action of ['signoff', 'waive', 'revoke', 'decide-rollback']) {
        assert.equal((await call(base, `${api}/${action}`, { json: {} })).status, 401, action);
        const form = await call(base, `/gates/${GATE}/${action}`, { form: { target: 'decision' } });
        assert.equal(form.status, 303, `${action} form`);
        assert.match(form.headers.get('location') ?? '', /^\/login/);
      }
      const bad = await call(base, `${api}/state`, { as: { token: 'gng_not-a-real-token-0000000000000000000000000' } });
      assert.equal(bad.status, 401);
      assert.match(bad.headers.get('www-authenticate') ?? '', /invalid_token/);
      const health = await call(base, '/healthz');
      assert.equal(health.status, 200);
      assert.deepEqual(health.json(), { status: 'ok' });
    });

    test('sign-in: a wrong password is refused; the right one sets an HttpOnly, SameSite=Strict, Path=/ cookie (Secure only over HTTPS), and the page redirects', async () => {
      const wrong = await call(base, '/login', { form: { name: 'erin', password: 'not-her-password' } });
      assert.equal(wrong.status, 401);
      assert.match(wrong.text, /Wrong name or password/);
      assert.equal(wrong.headers.get('set-cookie'), null);
      const asked = await call(base, `/login?next=${encodeURIComponent(`/gates/${GATE}/audit`)}`);
      assert.match(asked.text, new RegExp(`<input type="hidden" name="next" value="/gates/${GATE}/audit">`), 'the sign-in form keeps the page asked for');
      const again = await call(base, '/login', { form: { name: 'erin', password: 'still wrong', next: `/gates/${GATE}/audit` } });
      assert.match(again.text, /name="next" value="\/gates\/shop\/audit"/, 'and keeps it after a wrong password');
      const page = await call(base, '/login', { form: { name: 'erin', password: PASSWORDS.erin, next: `/gates/${GATE}/checklist` } });
      assert.equal(page.status, 303);
      assert.equal(page.headers.get('location'), `/gates/${GATE}/checklist`);
      const cookie = page.headers.get('set-cookie') ?? '';
      assert.match(cookie, /^gonogo_session=[^;]+; Max-Age=28800; Path=\/; HttpOnly; SameSite=Strict$/);
      const open = await call(base, '/login', { form: { name: 'erin', password: PASSWORDS.erin, next: '//evil.example/x' } });
      assert.equal(open.headers.get('location'), `/gates/${GATE}`, 'no open redirect');
      const proxied = await call(base, '/login', { form: { name: 'erin', password: PASSWORDS.erin }, headers: { 'x-forwarded-proto': 'https' } });
      assert.match(proxied.headers.get('set-cookie') ?? '', /; Secure/);
      const foreign = await call(base, '/login', { form: { name: 'erin', password: PASSWORDS.erin }, headers: { origin: 'https://evil.example' } });
      assert.equal(foreign.status, 403, 'a sign-in posted from another site is refused');
      assert.equal((await call(base, '/login', { form: { name: 'erin', password: PASSWORDS.erin }, headers: { origin: 'null' } })).status, 403, 'Origin null alone (a sandboxed frame) proves nothing');
      assert.equal((await call(base, '/login', { form: { name: 'erin', password: PASSWORDS.erin }, headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } })).status, 403);
      // A browser's form under Referrer-Policy: no-referrer says Origin: null; its fetch metadata says where it came from.
      const ownPage = await call(base, '/login', { form: { name: 'erin', password: PASSWORDS.erin }, headers: { origin: 'null', 'sec-fetch-site': 'same-origin' } });
      assert.equal(ownPage.status, 303, 'a sign-in from our own page');
      const session = await call(base, '/api/v1/session', { as: { cookie: cookie.split(';')[0] } });
      assert.deepEqual({ ...session.json(), csrfToken: typeof session.json().csrfToken }, { name: 'erin', role: 'release-manager', kind: 'person', csrfToken: 'string', expires: new Date(w.clock.now() + 8 * 3600_000).toISOString() });
      const tampered = (cookie.split(';')[0] ?? '').replace(/^gonogo_session=[A-Za-z0-9_-]{4}/, 'gonogo_session=AAAA');
      assert.equal((await call(base, '/api/v1/session', { as: { cookie: tampered } })).status, 401, 'a tampered cookie is nobody');
    });

    test('the state is `gonogo status --format json` of the same store; unknown environments are 400, other gates 404', async () => {
      const erin = await signIn(base, 'erin');
      const res = await call(base, `${api}/state`, { as: erin });
      assert.equal(res.status, 200);
      const cli = await runCli(['--config', w.config, '--store', w.location, '--no-cache', 'status', '--format', 'json'], env);
      assert.equal(cli.code, 1, cli.stderr);
      const strip = (doc: Record<string, unknown>) => ({ ...doc, generatedAt: '' });
      assert.deepEqual(strip(res.json()), strip(JSON.parse(cli.stdout)));
      assert.equal(res.json().release, w.release.id);
      assert.equal((await call(base, `${api}/state?env=nowhere`, { as: erin })).status, 400);
      assert.equal((await call(base, `${api}/state?release=${encodeURIComponent('bad id!')}`, { as: erin })).status, 400);
      assert.equal((await call(base, '/api/v1/gates/other/state', { as: erin })).status, 404);
      assert.equal((await call(base, '/gates/other', { as: erin })).status, 404);
      const gates = await call(base, '/api/v1/gates', { as: { token: w.token } });
      assert.deepEqual(gates.json(), { gates: [{ name: GATE, environments: ['staging', 'production'], stageSets: ['staging', 'production'], items: 5 }] });
    });

    test('a state-changing request needs the session\'s CSRF token (and this Origin); a bearer token needs none', async () => {
      const quinn = await signIn(base, 'quinn');
      const body = { target: 'item:DOC-01', note: 'runbook read' };
      const none = await call(base, `${api}/signoff`, { as: { cookie: quinn.cookie }, json: body });
      assert.equal(none.status, 403);
      assert.match(none.json().error as string, /CSRF token/);
      const wrong = await call(base, `${api}/signoff`, { as: { cookie: quinn.cookie }, json: body, headers: { 'x-csrf-token': 'x'.repeat(32) } });
      assert.equal(wrong.status, 403);
      const otherSession = await signIn(base, 'quinn');
      assert.equal((await call(base, `${api}/signoff`, { as: { cookie: quinn.cookie }, json: body, headers: { 'x-csrf-token': otherSession.csrf ?? '' } })).status, 403, "another session's token");
      const foreign = await call(base, `${api}/signoff`, { as: { cookie: quinn.cookie }, json: body, headers: { 'x-csrf-token': quinn.csrf ?? '', origin: 'https://evil.example' } });
      assert.equal(foreign.status, 403, 'a foreign Origin even with the token');
      const forgedForm = await call(base, `/gates/${GATE}/signoff`, { as: { cookie: quinn.cookie }, form: body, headers: { origin: 'https://evil.example' } });
      assert.equal(forgedForm.status, 403);
      const crossSite = await call(base, `/gates/${GATE}/signoff`, { as: { cookie: quinn.cookie }, form: { ...body, csrf: quinn.csrf ?? '' }, headers: { origin: 'null', 'sec-fetch-site': 'cross-site' } });
      assert.equal(crossSite.status, 403, 'the token alone does not make a cross-site request ours');
      assert.equal((await w.store.listAttestations(GATE)).length, 0, 'nothing was recorded');
      const ok = await call(base, `/gates/${GATE}/signoff`, { as: { cookie: quinn.cookie }, form: { ...body, csrf: quinn.csrf ?? '' }, headers: { origin: 'null', 'sec-fetch-site': 'same-origin' } });
      assert.equal(ok.status, 303, `our own page's form (Origin null under no-referrer): ${ok.text}`);
      const ci = await call(base, `${api}/signoff`, { as: { token: w.token }, json: { target: 'stage:deploy', note: 'deployed by CI' } });
      assert.equal(ci.status, 201, ci.text);
      const [a, b] = await w.store.listAttestations(GATE);
      assert.deepEqual([a.by, a.role, b.by, b.role], ['quinn', 'qa-lead', 'ci-deploy', 'deployer'], 'each signs as its account, in its role');
    });

    test('a body that is not JSON or a form is 415, a body over 64 KiB 413, a malformed one 400; nothing is recorded', async () => {
      const before = (await w.store.listAttestations(GATE)).length;
      const plain = await call(base, `${api}/signoff`, { as: { token: w.token }, headers: { 'content-type': 'text/plain' }, method: 'POST' });
      assert.equal(plain.status, 415);
      const big = await fetch(`${base}${api}/signoff`, { method: 'POST', headers: { authorization: `Bearer ${w.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ target: 'stage:deploy', note: 'x'.repeat(70_000) }) });
      assert.equal(big.status, 413);
      const malformed = await fetch(`${base}${api}/signoff`, { method: 'POST', headers: { authorization: `Bearer ${w.token}`, 'content-type': 'application/json' }, body: '{"target":' });
      assert.equal(malformed.status, 400);
      assert.equal((await call(base, `${api}/signoff`, { as: { token: w.token }, json: { target: 'everything' } })).status, 400);
      assert.equal((await w.store.listAttestations(GATE)).length, before);
    });

    test('a signed-in person signs as themself: the name and role come from the account; a wrong role is 403 with the rule; the author may not approve', async () => {
      const vic = await signIn(base, 'vic');
      const refused = await call(base, `${api}/signoff`, { as: vic, json: { target: 'decision', by: 'rick', role: 'release-manager' }, headers: { 'x-csrf-token': vic.csrf ?? '' } });
      assert.equal(refused.status, 403);
      assert.equal(refused.json().rule, 'role viewer may not sign decision: it lacks the decision permission');
      const erin = await signIn(base, 'erin');
      const self = await call(base, `${api}/signoff`, { as: erin, json: { target: 'decision' }, headers: { 'x-csrf-token': erin.csrf ?? '' } });
      assert.equal(self.status, 403);
      assert.match(String(self.json().rule), /erin is the author of this release \(erin <erin@example.com>\) and may not sign its decision \(selfApproval: false\)/);
      const form = await call(base, `/gates/${GATE}/waive`, { as: { cookie: vic.cookie }, form: { csrf: vic.csrf ?? '', item: 'FLAKY', mitigation: 'm', owner: 'o', expires: '2099-01-01' } });
      assert.equal(form.status, 403, 'a refused form shows a page');
      assert.match(form.headers.get('content-type') ?? '', /text\/html/);
      assert.match(form.text, /role viewer may not waive: it lacks the waive permission/);
      assert.doesNotMatch(form.text, /at .*\.ts:\d+|Error:/, 'no stack trace');
    });

    test('a waiver with an expiry in the past is refused; a valid one (from the form) turns the decision to GO WITH CONDITIONS', async () => {
      const rick = await signIn(base, 'rick');
      const signed = await call(base, `${api}/signoff`, { as: rick, json: { target: 'decision' }, headers: { 'x-csrf-token': rick.csrf ?? '' } });
      assert.equal(signed.status, 201, signed.text);
      const before = (await call(base, `${api}/decision`, { as: rick })).json();
      assert.equal(before.verdict, 'NO_GO', 'FLAKY fails, not waived');
      const expired = await call(base, `${api}/waive`, { as: rick, json: { itemId: 'FLAKY', mitigation: 'search behind a flag', owner: 'rick', expires: '2020-01-01' }, headers: { 'x-csrf-token': rick.csrf ?? '' } });
      assert.equal(expired.status, 403);
      assert.match(String(expired.json().rule), /a waiver's expiry must be in the future/);
      const malformed = await call(base, `${api}/waive`, { as: rick, json: { itemId: 'FLAKY', mitigation: 'x', owner: 'rick', expires: '2099-02-31' }, headers: { 'x-csrf-token': rick.csrf ?? '' } });
      assert.equal(malformed.status, 400);
      const expires = new Date(w.clock.now() + 7 * 86_400_000).toISOString().slice(0, 10);
      const form = await call(base, `/gates/${GATE}/waive`, { as: { cookie: rick.cookie }, form: { csrf: rick.csrf ?? '', item: 'FLAKY', mitigation: 'search behind a flag', owner: 'rick', expires, env: 'staging' } });
      assert.equal(form.status, 303, form.text);
      assert.equal(form.headers.get('location'), `/gates/${GATE}/checklist?env=staging`);
      const after = (await call(base, `${api}/decision`, { as: rick })).json();
      assert.equal(after.verdict, 'GO_WITH_CONDITIONS', JSON.stringify(after.reasons));
      assert.equal(after.go, false, 'conditions are not a GO unless accepted');
      assert.equal((await call(base, `${api}/decision?acceptConditions=true`, { as: rick })).json().go, true);
    });

    test('revoke: anyone their own, the revoke permission anyone\'s, with the rule otherwise', async () => {
      const quinn = await signIn(base, 'quinn');
      const given = await call(base, `${api}/signoff`, { as: quinn, json: { target: 'stage:deploy', note: 'looked fine' }, headers: { 'x-csrf-token': quinn.csrf ?? '' } });
      assert.equal(given.status, 201, given.text);
      const id = String((given.json().attestation as { id: string }).id);
      const vic = await signIn(base, 'vic');
      const refused = await call(base, `${api}/revoke`, { as: vic, json: { attestationId: id, reason: 'not mine' }, headers: { 'x-csrf-token': vic.csrf ?? '' } });
      assert.equal(refused.status, 403);
      assert.match(String(refused.json().rule), /may not revoke quinn's signoff/);
      const own = await call(base, `${api}/revoke`, { as: quinn, json: { attestationId: id, reason: 'signed too early' }, headers: { 'x-csrf-token': quinn.csrf ?? '' } });
      assert.equal(own.status, 201, own.text);
      assert.equal((await call(base, `${api}/revoke`, { as: quinn, json: { attestationId: id }, headers: { 'x-csrf-token': quinn.csrf ?? '' } })).status, 400, 'a reason is required');
    });

    test('runs, one run, its progress and its live events', async () => {
      const erin = await signIn(base, 'erin');
      const runs = (await call(base, `${api}/runs?limit=5`, { as: erin })).json().runs as { id: string; partial: boolean; release: string }[];
      assert.equal(runs[0].id, runId);
      assert.equal(runs[0].release, w.release.id);
      assert.equal((await call(base, `${api}/runs?limit=0`, { as: erin })).status, 400);
      const run = (await call(base, `${api}/runs/${runId}`, { as: erin })).json().run as { results: { id: string; status: string }[] };
      assert.deepEqual(run.results.map((r) => `${r.id}:${r.status}`).sort(), ['FLAKY:fail', 'HEALTH:pass', 'HIGH-2:pass', 'SECRET:pass']);
      assert.equal((await call(base, `${api}/runs/nope`, { as: erin })).status, 404);
      const progress = (await call(base, `${api}/runs/${runId}/progress`, { as: erin })).json();
      assert.equal(progress.status, 'completed');
      assert.equal((progress.results as unknown[]).length, 4);
      // A completed run's stream: one snapshot, then it ends.
      const events = await call(base, `${api}/runs/${runId}/events`, { as: erin, headers: { accept: 'text/event-stream' } });
      assert.match(events.headers.get('content-type') ?? '', /text\/event-stream/);
      const data = [...events.text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]) as { status: string });
      assert.deepEqual(data.map((d) => d.status), ['completed']);
      const page = await call(base, `/gates/${GATE}/runs/${runId}`, { as: erin });
      assert.equal(page.status, 200);
      assert.match(page.text, /FLAKY/);
    });

    test('watches: the latest with what awaits a decision, one by id, and the evaluations a chart draws', async () => {
      const erin = await signIn(base, 'erin');
      const list = (await call(base, `${api}/watches`, { as: erin })).json();
      assert.equal((list.latest as { watchId: string }).watchId, w.watchId);
      assert.deepEqual((list.awaitingDecision as { id: string }[]).map((f) => f.id), ['latency']);
      const one = (await call(base, `${api}/watches/${w.watchId}`, { as: erin })).json();
      assert.equal((one.watch as { openReports: unknown[] }).openReports.length, 1);
      const series = (await call(base, `${api}/watches/${w.watchId}/evaluations`, { as: erin })).json();
      assert.deepEqual((series.evaluations as { metrics: { p95_ms: number } }[]).map((e) => e.metrics.p95_ms), [120, 640, 700]);
      assert.deepEqual((series.events as { kind: string }[]).map((e) => e.kind), ['window-begin', 'trigger']);
      assert.deepEqual((series.triggers as { id: string; above: number }[]).map((t) => [t.id, t.above]), [['latency', 500]]);
      assert.equal((await call(base, `${api}/watches/nope/evaluations`, { as: erin })).status, 404);
      const page = await call(base, `/gates/${GATE}/watch`, { as: erin });
      assert.match(page.text, /Decision needed/);
    });

    test('decide-rollback: the rollback permission, a running watch that waits; the form posts to the same handler', async () => {
      const vic = await signIn(base, 'vic');
      const refused = await call(base, `${api}/decide-rollback`, { as: vic, json: { watchId: w.watchId, decision: 'rollback' }, headers: { 'x-csrf-token': vic.csrf ?? '' } });
      assert.equal(refused.status, 403);
      assert.equal(refused.json().rule, 'role viewer may not decide a rollback: it lacks the rollback permission');
      const rick = await signIn(base, 'rick');
      const unknown = await call(base, `${api}/decide-rollback`, { as: rick, json: { watchId: 'nope', decision: 'continue' }, headers: { 'x-csrf-token': rick.csrf ?? '' } });
      assert.equal(unknown.status, 404);
      const bad = await call(base, `${api}/decide-rollback`, { as: rick, json: { watchId: w.watchId, decision: 'maybe' }, headers: { 'x-csrf-token': rick.csrf ?? '' } });
      assert.equal(bad.status, 400);
      const form = await call(base, `/gates/${GATE}/decide-rollback`, { as: { cookie: rick.cookie }, form: { csrf: rick.csrf ?? '', watch: w.watchId, decision: 'continue', note: 'p95 back to normal' } });
      assert.equal(form.status, 303, form.text);
      assert.equal(form.headers.get('location'), `/gates/${GATE}/watch`);
      const [decided] = await w.store.listEvents({ gate: GATE, watchId: w.watchId, kinds: ['decide-rollback'] });
      assert.deepEqual(decided.data, { decision: 'continue', by: 'rick', role: 'release-manager', note: 'p95 back to normal', triggers: ['latency'] });
      const again = await call(base, `${api}/decide-rollback`, { as: rick, json: { watchId: w.watchId, decision: 'rollback' }, headers: { 'x-csrf-token': rick.csrf ?? '' } });
      assert.equal(again.status, 409, 'nothing waits any more');
    });

    test('the audit log: entries, the chain verified, a filter by entry or date, the export as JSON lines', async () => {
      const erin = await signIn(base, 'erin');
      const audit = (await call(base, `${api}/audit?limit=3`, { as: erin })).json();
      const chain = audit.chain as { intact: boolean; entries: number; head: string };
      assert.equal(chain.intact, true);
      assert.equal((audit.head as { hash: string }).hash, chain.head);
      assert.deepEqual((audit.entries as { seq: number }[]).map((e) => e.seq), [1, 2, 3]);
      assert.equal(audit.next, 4);
      const since = (await call(base, `${api}/audit?since=4&limit=2`, { as: erin })).json();
      assert.deepEqual((since.entries as { seq: number }[]).map((e) => e.seq), [4, 5]);
      const byDate = (await call(base, `${api}/audit?since=2000-01-01&limit=1`, { as: erin })).json();
      assert.deepEqual((byDate.entries as { seq: number }[]).map((e) => e.seq), [1]);
      assert.equal((await call(base, `${api}/audit?since=yesterday`, { as: erin })).status, 400);
      const exported = await call(base, `${api}/audit/export`, { as: erin });
      assert.match(exported.headers.get('content-type') ?? '', /^application\/jsonl/);
      const lines = exported.text.trim().split('\n').map((l) => JSON.parse(l) as { seq: number; hash: string });
      assert.equal(lines.length, chain.entries);
      assert.equal(lines.at(-1)?.hash, chain.head);
      assert.match((await call(base, `/gates/${GATE}/audit`, { as: erin })).text, /Intact/);
    });

    test('events: changes of the record after an entry (JSON), and as server-sent events from the head on', async () => {
      const erin = await signIn(base, 'erin');
      const first = (await call(base, `${api}/events`, { as: erin })).json();
      const head = first.head as number;
      assert.deepEqual(first.changes, [], 'from the head on by default');
      await w.store.addEvent({ gate: GATE, env: 'production', release: w.release.id, kind: 'issue-report', at: new Date(w.clock.now()).toISOString(), data: { by: 'support', summary: 'checkout slow' } });
      const next = (await call(base, `${api}/events?after=${head}`, { as: erin })).json();
      assert.deepEqual((next.changes as { seq: number; kind: string; data: { event: string } }[]).map((c) => [c.seq, c.kind, c.data.event]), [[head + 1, 'event', 'issue-report']]);
      assert.equal((await call(base, `${api}/events?after=x`, { as: erin })).status, 400);
      // The stream: hello, then every change after Last-Event-ID; it ends with the test's abort.
      const controller = new AbortController();
      const res = await fetch(`${base}${api}/events`, { headers: { cookie: erin.cookie ?? '', accept: 'text/event-stream', 'last-event-id': String(head) }, signal: controller.signal });
      assert.equal(res.status, 200);
      const reader = res.body?.getReader();
      assert.ok(reader);
      let text = '';
      for (let i = 0; i < 50 && !/id: \d+/.test(text); i++) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += new TextDecoder().decode(chunk.value);
      }
      controller.abort();
      assert.match(text, /event: hello/);
      assert.match(text, new RegExp(`event: change\\ndata: .*issue-report.*\\nid: ${head + 1}\\n`));
    });

    test('Argo Rollouts: the web metric\'s exact request reads {$.go}; without a token it is refused', async () => {
      const path = `${api}/decision?env=staging&release=${encodeURIComponent(w.release.id)}`;
      const res = await argoRequest(w.dash.port, path, w.token);
      assert.equal(res.status, 200, res.body);
      const doc = JSON.parse(res.body) as Record<string, unknown>;
      // What Argo's successCondition `result == true` reads, by jsonPath "{$.go}".
      assert.equal(JSONPath({ path: '$.go', json: doc, wrap: false }), false);
      assert.deepEqual(Object.keys(doc).slice(0, 7), ['gate', 'env', 'release', 'verdict', 'go', 'readiness', 'reasons']);
      const anonymous = await rawRequest(w.dash.port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n`);
      assert.equal(anonymous.status, 401, 'Argo counts a non-2xx as a measurement error, never a success');
    });

    test('Flagger: the webhooks\' exact requests with the token in metadata; 2xx proceeds, non-2xx halts; rollback answers 2xx to roll back', async () => {
      const port = w.dash.port;
      const hook = (name: string) => `${api}/flagger/${name}`;
      const payload = { name: 'podinfo', namespace: 'shop', phase: 'Progressing', checksum: '6d8f7b9c5d' };
      const noToken = await flaggerRequest(port, hook('confirm-rollout'), payload);
      assert.equal(noToken.status, 401);
      const badToken = await flaggerRequest(port, hook('confirm-rollout'), { ...payload, metadata: { token: 'gng_wrong' } });
      assert.equal(badToken.status, 401);
      const meta = { token: w.token, env: 'staging', release: w.release.id };
      // The release is NO-GO or GO WITH CONDITIONS here: the canary waits.
      const rollout = await flaggerRequest(port, hook('confirm-rollout'), { ...payload, metadata: meta });
      assert.equal(rollout.status, 403, rollout.body);
      assert.equal((JSON.parse(rollout.body) as { answer: string }).answer, 'halt');
      assert.equal((await flaggerRequest(port, hook('confirm-promotion'), { ...payload, metadata: meta })).status, 403);
      assert.equal((await flaggerRequest(port, hook('pre-rollout'), { ...payload, metadata: meta })).status, 404, 'only the three hooks');
      assert.equal((await flaggerRequest(port, `/api/v1/gates/other/flagger/confirm-rollout`, { ...payload, metadata: meta })).status, 404);

      // A release that passes every check and is signed: GO, the canary proceeds.
      searchBroken = false;
      const good: Release = { id: 'v-good', source: 'option' };
      await runGate({ loaded: w.loaded, store: w.store, clock: w.clock, release: good, envName: 'production', processEnv: env });
      const rick = await signIn(w.dash.url, 'rick');
      const signed = await call(w.dash.url, `${api}/signoff`, { as: rick, json: { target: 'decision', env: 'production', release: 'v-good' }, headers: { 'x-csrf-token': rick.csrf ?? '' } });
      assert.equal(signed.status, 201, signed.text);
      const goMeta = { token: w.token, env: 'production', release: 'v-good' };
      const go = await flaggerRequest(port, hook('confirm-rollout'), { ...payload, metadata: goMeta });
      assert.equal(go.status, 200, go.body);
      assert.equal((await flaggerRequest(port, hook('confirm-promotion'), { ...payload, metadata: goMeta })).status, 200);
      assert.equal((await flaggerRequest(port, hook('rollback'), { ...payload, metadata: goMeta })).status, 403, 'no rollback for a GO release without a watch that says stop');
      assert.equal(JSON.parse((await argoRequest(port, `${api}/decision?env=production&release=v-good`, w.token)).body).go, true);

      // Its watch rolls it back: the rollback hook answers 2xx, promotion halts.
      const base = { gate: GATE, env: 'production', release: 'v-good', watchId: 'w-good' };
      const at = new Date(w.clock.now()).toISOString();
      await w.store.addEvent({ ...base, kind: 'watch-begin', at, data: { stageSet: 'production', windows: [{ id: 'immediate', title: 'Immediate', windowMs: 900_000, everyMs: 60_000 }] } });
      await w.store.addEvent({ ...base, kind: 'trigger', at, data: { window: 'immediate', trigger: 'app-down', severity: 'immediate', message: 'HEALTH failed twice' } });
      await w.store.addEvent({ ...base, kind: 'rollback-claim', at, key: 'rollback:production:v-good', data: { holder: 'watcher', reason: 'immediate trigger app-down' } });
      const rollback = await flaggerRequest(port, hook('rollback'), { ...payload, phase: 'Progressing', metadata: goMeta });
      assert.equal(rollback.status, 200, rollback.body);
      assert.match(rollback.body, /rolled back release v-good/);
      assert.equal((await flaggerRequest(port, hook('confirm-promotion'), { ...payload, metadata: goMeta })).status, 403);
      // The same question with the token in the Authorization header (another caller than Flagger).
      assert.equal((await call(w.dash.url, hook('rollback'), { as: { token: w.token }, json: { ...payload, metadata: { env: 'production', release: 'v-good' } } })).status, 200);
      searchBroken = true;
    });

    test('/metrics: Prometheus exposition of the verdict, readiness, items, last run, watch and chain; it needs a token', async () => {
      assert.equal((await call(base, '/metrics')).status, 401);
      const res = await call(base, '/metrics', { as: { token: w.token } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const line = (re: RegExp) => res.text.split('\n').find((l) => re.test(l));
      assert.ok(line(new RegExp(`^gonogo_verdict\\{gate="shop",env="staging",release="${w.release.id.replace(/[+]/g, '\\+')}",verdict="(NO_GO|GO_WITH_CONDITIONS)"\\} 1$`)), res.text);
      assert.ok(line(/^gonogo_readiness_percent\{gate="shop",env="staging",release="[^"]+"\} 100$/), 'HEALTH passed: 100% of critical');
      assert.ok(line(/^gonogo_items\{gate="shop",env="staging",tier="high",status="pass"\} 2$/));
      assert.ok(line(/^gonogo_last_run_timestamp_seconds\{gate="shop",env="staging",release="[^"]+"\} \d+(\.\d+)?$/));
      assert.ok(line(/^gonogo_audit_chain_intact\{gate="shop",env="staging"\} 1$/));
      assert.ok(line(/^gonogo_watch_state\{gate="shop",env="production",release="[^"]+",state="(running|awaiting-decision|rolled-back)"\} 1$/), res.text);
    });

    test('a `${VAR}` value planted in the record, sent to the target and echoed into evidence is served nowhere: no page, no API answer, no log line', async () => {
      // Planted raw (past the library's redaction) in an attestation's note and a result's message.
      await w.store.addAttestation({ kind: 'signoff', gate: GATE, release: w.release.id, target: { type: 'item', id: 'DOC-01' }, by: 'quinn', role: 'qa-lead', at: new Date(w.clock.now()).toISOString(), note: `the key is ${SECRET}` });
      const erin = await signIn(base, 'erin');
      const forms = [encodeURIComponent(SECRET), Buffer.from(SECRET).toString('base64').slice(0, 12)];
      for (const as of [erin, { token: w.token }]) {
        for (const path of readPaths(w, runId)) {
          const res = await call(base, path, { as });
          assert.equal(res.status < 400, true, `${path}: ${res.status} ${res.text.slice(0, 200)}`);
          assert.equal(res.text.includes(SECRET), false, `${path} serves the secret`);
          for (const f of forms) assert.equal(res.text.includes(f), false, `${path} serves an encoding of the secret`);
        }
      }
      const note = await call(base, `${api}/signoff`, { as: erin, json: { target: 'item:DOC-01', note: `oops ${SECRET}` }, headers: { 'x-csrf-token': erin.csrf ?? '' } });
      assert.equal(note.text.includes(SECRET), false);
      assert.ok(w.log.length > 0);
      for (const line of w.log) assert.equal(line.includes(SECRET), false, line);
      assert.ok((await call(base, `${api}/state`, { as: erin })).text.includes('***'), 'the echo is there, masked');
    });

    test('a result forged by hand in the database after a read shows at the next read: the decision\'s chain and the audit page', async () => {
      // A world of its own: the forged row would break every later answer of the shared one.
      const f = await makeWorld(await location());
      try {
        const decision = async (): Promise<{ go: boolean; chain: { intact: boolean } }> => (await call(f.dash.url, `${api}/decision`, { as: { token: f.token } })).json() as { go: boolean; chain: { intact: boolean } };
        const erin = await signIn(f.dash.url, 'erin');
        const audit = async (): Promise<{ intact: boolean; problem?: { kind: string } }> => (await call(f.dash.url, `${api}/audit?limit=1`, { as: erin })).json().chain as { intact: boolean; problem?: { kind: string } };
        assert.equal((await decision()).chain.intact, true);
        assert.equal((await audit()).intact, true);
        const sql = "UPDATE results SET status = 'pass' WHERE item_id = 'FLAKY'";
        if (/^postgres(ql)?:/.test(f.location)) {
          const { default: pg } = await import('pg');
          const client = new pg.Client({ connectionString: f.location });
          await client.connect();
          await client.query(sql).finally(() => client.end());
        } else {
          const { default: Database } = await import('better-sqlite3');
          const db = new Database(f.location);
          try {
            db.exec(sql);
          } finally {
            db.close();
          }
        }
        const forged = await decision();
        assert.deepEqual([forged.go, forged.chain.intact], [false, false]);
        assert.equal((await audit()).problem?.kind, 'row-changed');
      } finally {
        await endWorld(f);
      }
    });
  });
}

suite('SQLite', async () => join(mkdtempSync(join(tmpdir(), 'gonogo-serve-db-')), 'gonogo.db'));
if (postgresBinDir() === undefined) {
  test('the dashboard on PostgreSQL', (t) => {
    requirePostgres(t);
  });
} else {
  let cluster: PgCluster | undefined;
  before(async () => {
    cluster = await startCluster();
  });
  after(() => cluster?.stop());
  suite('PostgreSQL', async () => {
    if (!cluster) throw new Error('no cluster');
    return cluster.createStore();
  });
}

describe('sessions, sign-in limits and a restart', () => {
  let w: World | undefined;
  after(() => endWorld(w));

  test('a session ends after 8 h, at sign-out, when its account is disabled, and when the server restarts', async () => {
    w = await makeWorld(join(mkdtempSync(join(tmpdir(), 'gonogo-serve-db-')), 'gonogo.db'));
    const base = w.dash.url;
    const erin = await signIn(base, 'erin');
    assert.equal((await call(base, '/api/v1/session', { as: erin })).status, 200);
    await w.clock.advance(8 * 3600_000 - 1000);
    assert.equal((await call(base, '/api/v1/session', { as: erin })).status, 200, 'still within 8 h');
    await w.clock.advance(1000);
    assert.equal((await call(base, '/api/v1/session', { as: erin })).status, 401, 'over after 8 h');
    assert.equal((await call(base, `/gates/${GATE}`, { as: erin })).status, 303);

    const rick = await signIn(base, 'rick');
    assert.equal((await call(base, '/logout', { as: { cookie: rick.cookie }, form: {} })).status, 403, 'sign-out needs the token too');
    const out = await call(base, '/logout', { as: { cookie: rick.cookie }, form: { csrf: rick.csrf ?? '' } });
    assert.equal(out.status, 303);
    assert.match(out.headers.get('set-cookie') ?? '', /gonogo_session=; Max-Age=0/);
    assert.equal((await call(base, '/api/v1/session', { as: rick })).status, 401, 'the old cookie no longer works');

    const quinn = await signIn(base, 'quinn');
    await disableUser(w.store, w.clock, { gate: GATE, name: 'quinn' });
    assert.equal((await call(base, '/api/v1/session', { as: quinn })).status, 401, 'a disabled account is signed out at once');

    const vic = await signIn(base, 'vic');
    await w.dash.close();
    w.dash = await startDashboard({ loaded: w.loaded, store: w.store, release: w.release, clock: w.clock, processEnv: env, host: '127.0.0.1', port: 0 });
    assert.equal((await call(w.dash.url, '/api/v1/session', { as: vic })).status, 401, 'a restart signs everyone out (a new key)');
  });

  test('failed sign-ins are limited per client: 429 with Retry-After, again allowed after the window; right passwords do not count', async () => {
    assert.ok(w);
    const base = w.dash.url;
    for (let i = 0; i < 3; i++) await signIn(base, 'rick');
    for (let i = 0; i < 5; i++) assert.equal((await call(base, '/login', { json: { name: 'rick', password: `guess-${i}` } })).status, 401);
    const limited = await call(base, '/login', { json: { name: 'rick', password: PASSWORDS.rick } });
    assert.equal(limited.status, 429, 'even the right password waits: the guesser is not told');
    assert.equal(limited.headers.get('retry-after'), '60');
    const page = await call(base, '/login', { form: { name: 'rick', password: 'x' } });
    assert.equal(page.status, 429);
    assert.match(page.text, /Too many failed sign-ins/);
    await w.clock.advance(30_000);
    assert.equal((await call(base, '/login', { json: { name: 'rick', password: 'x' } })).headers.get('retry-after'), '30');
    await w.clock.advance(30_000);
    assert.equal((await signIn(base, 'rick')).cookie?.startsWith('gonogo_session='), true, 'allowed again after the window');
  });

  test('--public-badge and --public-metrics open those two, with the verdict only; errors say no more than "internal error"', async () => {
    assert.ok(w);
    const open = await startDashboard({ loaded: w.loaded, store: w.store, release: w.release, clock: w.clock, processEnv: env, host: '127.0.0.1', port: 0, publicBadge: true, publicMetrics: true });
    try {
      const badge = await call(open.url, '/badge.svg');
      assert.equal(badge.status, 200);
      assert.match(badge.headers.get('content-type') ?? '', /^image\/svg\+xml/);
      assert.match(badge.text, /go\/no-go: (NO-GO|GO WITH CONDITIONS|GO)</);
      assert.doesNotMatch(badge.text, /HEALTH|FLAKY|erin|release/i, 'the verdict only');
      assert.equal((await call(open.url, '/metrics')).status, 200);
      assert.equal((await call(open.url, `/api/v1/gates/${GATE}/state`)).status, 401, 'nothing else opens');
      // A store that fails under the server: 503 without its message; the log keeps it.
      const lines: string[] = [];
      const broken = await openStore(join(mkdtempSync(join(tmpdir(), 'gonogo-serve-db-')), 'gonogo.db'));
      const failing = await startDashboard({ loaded: w.loaded, store: broken, release: w.release, clock: w.clock, processEnv: env, host: '127.0.0.1', port: 0, publicBadge: true, log: (l) => lines.push(l) });
      await broken.close();
      const res = await call(failing.url, '/badge.svg');
      assert.equal(res.status >= 500, true);
      assert.doesNotMatch(res.text, /\.ts:\d+|\bat \w|sqlite|SQLITE/i, 'no stack trace, no driver message');
      assert.ok(lines.some((l) => /error on GET \/badge\.svg/.test(l)), lines.join('\n'));
      await failing.close();
    } finally {
      await open.close();
    }
  });
});
