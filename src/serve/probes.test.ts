// gonogo's own security probes against its own dashboard: a config whose items are the `headers`,
// `csrf`, `rate-limit`, `auth-required` and `access-control` probes, pointed at a running `gonogo
// serve` (a real server on 127.0.0.1 over a real record), run by `gonogo check` in-process. Every
// one must pass, and each must have really probed (its evidence says what it sent and saw), so a
// pass is never a probe that did nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addUser } from '../auth/accounts.js';
// parseConfig checks options against loaded kinds: the registry loads them all.
import '../checks/index.js';
import { loadConfig } from '../config/load.js';
import { authorityOf } from '../engine/authority.js';
import { runGate } from '../engine/gate.js';
import type { Release } from '../engine/release.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { runCli } from '../test-support/cli.js';
import { serve } from '../test-support/server.js';
import type { TestServer } from '../test-support/server.js';
import { systemClock } from '../util/clock.js';
import { startDashboard } from './server.js';
import type { RunningDashboard } from './server.js';

const ERIN = 'erin-dashboard-pass-1';
const VIC = 'vic-dashboard-pass-22';
const RELEASE: Release = { id: 'v3.1.0', source: 'option' };

let target: TestServer;
let store: Store;
let dash: RunningDashboard;
let runId = '';

before(async () => {
  target = await serve((req, res) => {
    res.writeHead(req.url === '/health' ? 200 : 503, { 'content-type': 'text/plain' }).end(req.url === '/health' ? 'ok' : 'down');
  });
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-serve-probed-'));
  writeFileSync(
    join(dir, 'gonogo.yaml'),
    `version: 1
name: shop
environments: { staging: { url: "${target.url}" } }
roles: { release-manager: [decision, stage, item, waive, revoke, rollback], viewer: [] }
stages:
  staging:
    - { id: deploy, title: Deploy, budget: 15m, items: [HEALTH, SEARCH] }
items:
  - { id: HEALTH, title: Grandma's health check, tier: critical, check: { kind: http, url: "{{env.url}}/health" } }
  - { id: SEARCH, title: Search answers, tier: high, check: { kind: http, url: "{{env.url}}/search" } }
  - { id: DOC-01, title: Runbook reviewed, tier: recommended, manual: true }
`,
  );
  const loaded = await loadConfig(join(dir, 'gonogo.yaml'));
  store = await openStore(join(dir, 'gonogo.db'));
  const outcome = await runGate({ loaded, store, clock: systemClock, release: RELEASE, envName: 'staging', stageSet: 'staging', keepGoing: true, processEnv: {} });
  runId = outcome.runId;
  const { roles } = authorityOf(loaded.config);
  await addUser(store, systemClock, { gate: 'shop', name: 'erin', role: 'release-manager', password: ERIN, roles });
  await addUser(store, systemClock, { gate: 'shop', name: 'vic', role: 'viewer', password: VIC, roles });
  dash = await startDashboard({ loaded, store, release: RELEASE, releasePinned: true, clock: systemClock, processEnv: {}, host: '127.0.0.1', port: 0 });
});

after(async () => {
  await dash?.close();
  await store?.close();
  await target?.close();
});

/** The probes' config: the dashboard is the target; its accounts are the test users. */
function probeConfig(url: string): string {
  const api = '/api/v1/gates/shop';
  return `version: 1
name: dashboard-security
environments: { local: { url: "${url}" } }
defaults: { timeout: 20s }
auth:
  login:
    url: /login
    form: { name: "{{username}}", password: "{{password}}" }
    sessionCookie: gonogo_session
  users:
    erin: { username: erin, password: "\${DASH_ERIN_PASSWORD}" }
    vic: { username: vic, password: "\${DASH_VIC_PASSWORD}" }
items:
  - id: DASH-HEADERS
    title: Security headers and session cookie flags
    tier: critical
    check: { kind: headers, path: /login, paths: [/gates/shop, "${api}/state", /assets/app.js], loginAs: erin }
  - id: DASH-CSRF
    title: CSRF protection on the sign-off
    tier: critical
    check:
      kind: csrf
      loginAs: erin
      request: { method: POST, path: "${api}/signoff", fields: { target: "item:DOC-01", note: "{{nonce}}" } }
  - id: DASH-AUTH
    title: No data without a session
    tier: critical
    check:
      kind: auth-required
      control: erin
      paths:
        - /gates/shop
        - /gates/shop/checklist
        - /gates/shop/runs
        - /gates/shop/audit
        - "${api}/state"
        - "${api}/decision"
        - "${api}/runs"
        - "${api}/runs/${runId}"
        - "${api}/watches"
        - "${api}/audit"
        - "${api}/events"
        - /metrics
      dataMarkers: ["Grandma's health check", "${RELEASE.id}"]
  - id: DASH-ACCESS
    title: The record is read by accounts only
    tier: critical
    check:
      kind: access-control
      owner: erin
      objects:
        - { path: "${api}/runs/${runId}", marker: "validate:staging" }
        - { path: "${api}/state", marker: "${RELEASE.id}" }
      lists:
        - { path: "${api}/runs", ownerMarker: "${runId}" }
  - id: DASH-RATE
    title: Sign-in is rate limited
    tier: critical
    check: { kind: rate-limit, path: /login, burst: 20, within: 10s, concurrency: 1 }
`;
}

test("gonogo's headers, csrf, rate-limit, auth-required and access-control probes pass against the running dashboard, each having really probed", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-serve-probes-'));
  const config = join(dir, 'gonogo.yaml');
  writeFileSync(config, probeConfig(dash.url));
  const env = { ...process.env, CI: '1', DASH_ERIN_PASSWORD: ERIN, DASH_VIC_PASSWORD: VIC };
  const r = await runCli(['--config', config, '--store', join(dir, 'probes.db'), '--release', 'dashboard', '--no-cache', 'check', '--format', 'json'], env);
  const doc = JSON.parse(r.stdout) as { decision: string; items: { id: string; status: string; message: string; evidence: Record<string, unknown> }[] };
  const byId = Object.fromEntries(doc.items.map((i) => [i.id, i]));
  for (const item of doc.items) assert.equal(item.status, 'pass', `${item.id}: ${item.message}\n${JSON.stringify(item.evidence, null, 1).slice(0, 3000)}`);
  assert.equal(doc.decision, 'GO');
  assert.equal(r.code, 0, r.stderr);

  // What each probe saw: the policy and the cookie flags; every forgery refused; the limit reached.
  const headers = byId['DASH-HEADERS'].evidence as { headers: Record<string, string | null>; cookies: { name: string; httpOnly: boolean; sameSite?: string }[] };
  assert.match(String(headers.headers['content-security-policy']), /script-src 'self'/);
  assert.ok(headers.cookies.some((c) => c.name === 'gonogo_session' && c.httpOnly), JSON.stringify(headers.cookies));
  const csrf = byId['DASH-CSRF'].evidence as { control: number; attempts: Record<string, { status: number; accepted: boolean }>; accepted: string[] };
  assert.equal(csrf.control, 201, 'the legitimate request (session and token) was accepted');
  assert.deepEqual(csrf.accepted, []);
  assert.deepEqual(Object.values(csrf.attempts).map((a) => a.status), [403, 403, 403, 403], 'form, text/plain, multipart and Origin null: each refused');
  const rate = byId['DASH-RATE'].evidence as { limited: boolean; limited_after: number; retry_after: string | null };
  assert.equal(rate.limited, true);
  assert.equal(rate.limited_after, 5, 'limited after five failed sign-ins');
  // The window is a minute on the system clock, counted from the first failed sign-in: by the time
  // the probe reads it some seconds may have gone (a loaded machine), so it says at most 60 and
  // more than 0. Its exact value on a fake clock is session.test.ts's.
  const wait = Number(rate.retry_after);
  assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= 60, `Retry-After ${rate.retry_after}`);
  const auth = byId['DASH-AUTH'].evidence as Record<string, unknown>;
  assert.ok(JSON.stringify(auth).includes('/metrics'), 'every path was asked');
});
