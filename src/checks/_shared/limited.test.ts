// Issue 9, point 1: a rate limiter must never turn into a pass. Probes run against the leaky
// fixture app behind a limiter on every route, on a fake clock (pacing and Retry-After waits take
// no real time).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import debugEndpoints from '../debug-endpoints/index.js';
import errorHandling from '../error-handling/index.js';
import cors from '../cors/index.js';
import authRequired from '../auth-required/index.js';
import { CheckError } from '../types.js';
import type { CheckContext, RegisteredKind } from '../types.js';
import type { Finding } from './probe.js';
import { isLimited, retryAfterMs } from './probe.js';
import { testContext } from '../../test-support/context.js';
import { serve } from '../../test-support/server.js';
import { fakeClock } from '../../test-support/clock.js';
import type { FakeClock } from '../../test-support/clock.js';
import { drive } from '../../test-support/fixtures/drive.js';
import { leakyApp, limiter } from '../../test-support/fixtures/apps.js';
import type { Handler } from '../../test-support/fixtures/apps.js';
import { runChecks } from '../../engine/run.js';
import { skipAllBut } from '../../test-support/fixtures/catalog.js';
import { parseCondition } from '../../conditions/index.js';
import type { ItemConfig } from '../../config/schema.js';

function ctxOn(url: string, clock: FakeClock): CheckContext {
  return { ...testContext({ url }), clock };
}

async function target(t: { after(fn: () => Promise<void>): void }, handler: Handler) {
  const server = await serve(handler);
  t.after(server.close);
  return server;
}

const ids = (findings: unknown, severity?: string) => (findings as Finding[]).filter((f) => severity === undefined || f.severity === severity).map((f) => f.id).sort();

// The leaky app's defects, each seen by one probe when nothing stands in the way.
const probes: [string, RegisteredKind, Record<string, unknown>, string][] = [
  ['debug-endpoints', debugEndpoints, { sourceMaps: false, skip: skipAllBut('/.env', '/.git/config', '/server-status', '/debug') }, 'exposed:/.env'],
  ['error-handling', errorHandling, { paths: ['/api/nothing-here', { path: '/api/notes', method: 'PATCH' }] }, 'leak.stack-trace'],
  ['cors', cors, { path: '/api/notes' }, 'cors.get.credentials'],
  ['auth-required', authRequired, { paths: ['/api/notes'] }, 'anonymous:GET /api/notes'],
];

test('behind a limiter on every route (30 an hour), no probe of a vulnerable app passes: each ends error, naming the share of 429s', async (t) => {
  const clock = fakeClock();
  const server = await target(t, limiter(leakyApp(), { limit: 30, windowMs: 3_600_000, clock }));
  for (const [name, kind, opts] of probes) {
    // The whole catalog here: a limit of 30 must be reached, as a real scan reaches it.
    const run = drive(clock, kind.run(name === 'debug-endpoints' ? { sourceMaps: false } : opts, ctxOn(server.url, clock)));
    await assert.rejects(run, (err: unknown) => {
      assert.ok(err instanceof CheckError, `${name}: ${String(err)}`);
      assert.match(err.message, /^could not verify: \d+ of \d+ answers were 429 \(rate limited\)/, name);
      // What it saw before giving up is kept, and a share of the answers really were 429s.
      const evidence = err.evidence as { exchanges: { status?: number }[] };
      assert.ok(evidence.exchanges.some((e) => e.status === 429), name);
      return true;
    });
  }
});

test('the same app behind a limiter that asks to wait 1 s: probes wait as told and find every defect', async (t) => {
  const clock = fakeClock();
  const gate = limiter(leakyApp(), { limit: 5, windowMs: 1000, clock });
  const server = await target(t, gate);
  for (const [name, kind, opts, defect] of probes) {
    const out = await drive(clock, kind.run(opts, ctxOn(server.url, clock)));
    assert.ok(ids(out.observations.findings).includes(defect), `${name}: ${JSON.stringify(out.observations.findings)}`);
    if (name === 'debug-endpoints') assert.ok(ids(out.observations.findings).includes('probe.paced'), 'the long probe says it was paced');
  }
  assert.ok(gate.limitedCount() > 0, 'the limiter did limit');
});

test('the hardened app behind the same limiter is quiet: waiting is not a finding', async (t) => {
  const clock = fakeClock();
  const server = await target(t, limiter(leakyApp({ hardened: true }), { limit: 5, windowMs: 1000, clock }));
  const out = await drive(clock, debugEndpoints.run({ sourceMaps: false, skip: skipAllBut('/.env', '/.git/config', '/server-status', '/debug') }, ctxOn(server.url, clock)));
  assert.equal(out.observations.high, 0);
  assert.equal(out.observations.medium, 0);
});

test('a few unjudged answers under maxUnjudged are a note, not an error; a 503 with Retry-After counts, one without is an answer', async (t) => {
  const clock = fakeClock();
  let n = 0;
  const app = leakyApp({ hardened: true });
  const server = await target(t, (req, res) => {
    n += 1;
    if (n === 3) return void res.writeHead(503, { 'retry-after': '3600' }).end('busy');
    app(req, res);
  });
  // 1 of 7 answers is 14%: within a maxUnjudged of 20%.
  const out = await drive(clock, debugEndpoints.run({ sourceMaps: false, maxUnjudged: 0.2, skip: skipAllBut('/.env', '/.git/config', '/server-status', '/debug') }, ctxOn(server.url, clock)));
  assert.deepEqual(ids(out.observations.findings, 'info').filter((id) => id.startsWith('probe.')), ['probe.unjudged']);
  assert.equal(out.observations.high, 0);
  assert.equal(isLimited({ status: 503, headers: {} }), false);
  assert.equal(isLimited({ status: 503, headers: { 'retry-after': '5' } }), true);
  assert.equal(retryAfterMs('Wed, 01 Jan 2026 00:00:10 GMT', Date.parse('2026-01-01T00:00:00Z')), 10_000);
});

test('pace: requests start no closer than the rate allows', async (t) => {
  const clock = fakeClock();
  const arrivals: number[] = [];
  const app = leakyApp();
  const server = await target(t, (req, res) => {
    arrivals.push(clock.monotonic());
    app(req, res);
  });
  await drive(clock, errorHandling.run({ pace: '2/s' }, ctxOn(server.url, clock)));
  assert.equal(arrivals.length, 6);
  for (let i = 1; i < arrivals.length; i++) assert.ok(arrivals[i] - arrivals[i - 1] >= 500, `gap ${i}: ${arrivals[i] - arrivals[i - 1]} ms`);
});

test('through the engine: a limited item is error with the evidence it gathered, never pass', async (t) => {
  const clock = fakeClock();
  const server = await target(t, limiter(leakyApp({ hardened: true }), { limit: 10, windowMs: 3_600_000, clock }));
  const item = { id: 'SEC-DEBUG', title: 'debug endpoints', tier: 'critical', check: { kind: 'debug-endpoints', sourceMaps: false } } as unknown as ItemConfig;
  const conditions = ['high == 0', 'medium == 0'].map((c) => {
    const r = parseCondition(c, debugEndpoints.fields);
    assert.ok(r.ok);
    return r.condition;
  });
  const env = { name: 'test', url: server.url, vars: { url: server.url } };
  const run = runChecks([item], new Map([[item.id, conditions]]), { env, configDir: '.', clock, concurrency: 2, perHost: 2, defaultTimeoutMs: 3_600_000 });
  const [result] = await drive(clock, run, { background: 1 });
  assert.equal(result.status, 'error');
  assert.match(result.message, /could not verify: \d+ of \d+ answers were 429/);
  assert.ok(Array.isArray((result.evidence as { exchanges?: unknown }).exchanges), 'the exchanges are kept');
});
