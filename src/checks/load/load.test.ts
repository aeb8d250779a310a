// The load kind against real HTTP servers on 127.0.0.1, judged by the engine as a run would judge
// it. Each load is small (a few hundred requests at most); the servers are made to clearly exceed
// the thresholds (200 ms against 50 ms, 10% errors against 1%), so nothing depends on this
// machine's speed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import load from './index.js';
import { runChecks } from '../../engine/run.js';
import { parseCondition } from '../../conditions/index.js';
import type { ItemConfig } from '../../config/schema.js';
import type { ItemResult } from '../../model.js';
import { CheckError } from '../types.js';
import { loadKinds } from '../kinds.js';
import { testContext } from '../../test-support/context.js';
import { configProblems } from '../../test-support/config.js';
import { requireProgram } from '../../test-support/programs.js';
import { freePort, readBody, serve, serveRaw } from '../../test-support/server.js';
import { systemClock } from '../../util/clock.js';
import { fakeClock } from '../../test-support/clock.js';

const QUICK = { timeout: 20_000 };

type Hooks = { after: (fn: () => Promise<void> | void) => void };

/** A real HTTP server; `n` numbers the requests from 0. */
async function target(t: Hooks, handler: (req: IncomingMessage, res: ServerResponse, n: number) => void) {
  let count = 0;
  const server = await serve((req, res) => handler(req, res, count++));
  t.after(server.close);
  return server;
}

const ok = (_req: IncomingMessage, res: ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
};

/** Runs one load item through the engine, judged by `expect` (default: the kind's own). */
async function runItem(url: string, options: Record<string, unknown>, opts: { expect?: string[]; timeoutMs?: number } = {}): Promise<ItemResult> {
  const conditions = (opts.expect ?? load.defaultExpect(options)).map((source) => {
    const r = parseCondition(source, load.fields);
    assert.ok(r.ok, source);
    return r.condition;
  });
  const item = { id: 'PERF-01', title: 'Load', tier: 'high', check: { kind: 'load', ...options } } as unknown as ItemConfig;
  const [result] = await runChecks([item], new Map([[item.id, conditions]]), {
    env: { name: 'test', url, vars: { url } },
    configDir: '.',
    clock: systemClock,
    concurrency: 1,
    perHost: 1,
    defaultTimeoutMs: opts.timeoutMs ?? 15_000,
    kinds: { load },
  });
  return result;
}

function observed(result: ItemResult): Record<string, unknown> {
  const evidence = result.evidence;
  assert.ok(typeof evidence === 'object' && evidence !== null && 'observed' in evidence, JSON.stringify(evidence));
  const o = evidence.observed;
  assert.ok(typeof o === 'object' && o !== null);
  return { ...o };
}

/** A TCP server that accepts and never answers; `idle()` resolves once every connection it got is closed. */
async function hungServer(t: Hooks) {
  const open = new Set<Socket>();
  let waiters: (() => void)[] = [];
  const server = await serveRaw((socket) => {
    open.add(socket);
    socket.resume();
    socket.on('close', () => {
      open.delete(socket);
      if (open.size === 0) for (const w of waiters.splice(0)) w();
    });
  });
  t.after(server.close);
  return {
    url: server.url,
    connections: server.connections,
    open: () => open.size,
    idle: () => (open.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    reset: () => {
      waiters = [];
    },
  };
}

test('a healthy server passes the default expect, with exactly the requests asked for', QUICK, async (t) => {
  const server = await target(t, ok);
  const result = await runItem(server.url, { paths: ['/health'], connections: 5, requests: 200 });
  assert.equal(result.status, 'pass', result.message);
  assert.match(result.message, /error_rate < 0\.01: error_rate was 0; p95_ms < 2000: p95_ms was [\d.]+/);
  const o = observed(result);
  assert.equal(o.requests, 200);
  assert.deepEqual(o.statuses, { 200: 200 });
  assert.equal(o.errors, 0);
  assert.equal(o.non_2xx, 0);
  assert.equal(o.stopped_by, 'requests');
  assert.equal(server.hits(), 200);
  assert.ok(server.requests.every((r) => r === 'GET /health'));
  // Percentiles in order, at microsecond resolution (three decimals of a millisecond).
  const [p50, p90, p95, p99, max] = ['p50_ms', 'p90_ms', 'p95_ms', 'p99_ms', 'max_ms'].map((f) => Number(o[f]));
  assert.ok(p50 > 0 && p50 <= p90 && p90 <= p95 && p95 <= p99 && p99 <= max, JSON.stringify(o));
  assert.ok(Number(o.rps) > 0);
  // Every latency is kept in the evidence, as HdrHistogram's compressed form.
  const kept = decodeFromCompressedBase64(String(Reflect.get(Object(result.evidence), 'histogramUs')));
  assert.equal(kept.totalCount, 200);
  // Decoded, a value is its bucket's (3 significant digits).
  assert.ok(Math.abs(kept.maxValue / 1000 - max) <= max / 1000 + 0.001, `${kept.maxValue} µs vs ${max} ms`);
});

test('a slow tail is caught by the p95 threshold (every 4th answer 200 ms late, threshold 50 ms)', QUICK, async (t) => {
  const server = await target(t, (req, res, n) => {
    if (n % 4 === 0) setTimeout(() => ok(req, res), 200);
    else ok(req, res);
  });
  const result = await runItem(server.url, { connections: 8, requests: 80 }, { expect: ['error_rate < 0.01', 'p95_ms < 50'] });
  assert.equal(result.status, 'fail', result.message);
  assert.match(result.message, /^p95_ms < 50: p95_ms was \d+(\.\d+)?$/);
  assert.ok(Number(observed(result).p95_ms) >= 50);
});

test('errors are caught by the error-rate threshold: 500s, and connections cut mid-request', QUICK, async (t) => {
  const fails = await target(t, (req, res, n) => {
    if (n % 10 === 0) res.writeHead(500).end('boom');
    else ok(req, res);
  });
  const r500 = await runItem(fails.url, { connections: 5, requests: 200 });
  assert.equal(r500.status, 'fail', r500.message);
  assert.match(r500.message, /^error_rate < 0\.01: error_rate was 0\.1$/);
  assert.equal(observed(r500).non_2xx, 20);

  const cuts = await target(t, (req, res, n) => {
    if (n % 10 === 5) req.socket.destroy();
    else ok(req, res);
  });
  const rcut = await runItem(cuts.url, { connections: 5, requests: 200 });
  assert.equal(rcut.status, 'fail', rcut.message);
  assert.match(rcut.message, /^error_rate < 0\.01: error_rate was 0\.\d+$/);
  assert.ok(Number(observed(rcut).errors) > 0);
});

test('a target that closes each connection after answering (Connection: close) loses nothing', QUICK, async (t) => {
  const server = await target(t, (_req, res) => res.writeHead(200, { connection: 'close' }).end('ok'));
  const result = await runItem(server.url, { connections: 4, requests: 100 });
  assert.equal(result.status, 'pass', result.message);
  const o = observed(result);
  assert.equal(o.errors, 0);
  assert.equal(o.requests, Number(Reflect.get(Object(o.statuses), '200')));
});

test('a request left unanswered is an error after requestTimeout (its connection replaced)', QUICK, async (t) => {
  const server = await target(t, (req, res, n) => {
    if (n % 10 !== 3) ok(req, res);
  });
  const result = await runItem(server.url, { connections: 4, duration: '1500ms', requestTimeout: '1s' });
  assert.equal(result.status, 'fail', result.message);
  assert.match(result.message, /^error_rate < 0\.01: error_rate was 0\.\d+$/);
  const o = observed(result);
  assert.ok(Number(o.timeouts) > 0 && o.timeouts === o.errors, JSON.stringify(o));
});

test('a target whose rate limiter answers 429 to a large share: error with the reason, and the load stops early', QUICK, async (t) => {
  const server = await target(t, (req, res, n) => {
    if (n < 20) ok(req, res);
    else res.writeHead(429, { 'retry-after': '60' }).end('slow down');
  });
  const result = await runItem(server.url, { connections: 4, requests: 400 });
  assert.equal(result.status, 'error', result.message);
  assert.match(result.message, /rate limiter answered 429 to \d+ of \d+ requests .*nothing is judged/);
  assert.ok(server.hits() < 400, `stopped early: ${server.hits()} requests`);
  assert.equal(observed(result).stopped_by, 'rate-limited');
});

test('a few 429s under maxLimited are reported, and the figures are judged', QUICK, async (t) => {
  const server = await target(t, (req, res, n) => {
    if (n % 50 === 49) res.writeHead(429).end();
    else ok(req, res);
  });
  const result = await runItem(server.url, { connections: 4, requests: 200 });
  assert.equal(result.status, 'pass', result.message);
  assert.equal(observed(result).rate_limited, 4);
});

test('a hung target: error within the timeout, and every socket is closed after', QUICK, async (t) => {
  const hung = await hungServer(t);
  // The check's timeout ends a 30 s load at once, through the engine...
  const result = await runItem(hung.url, { connections: 4, duration: '30s' }, { timeoutMs: 300 });
  assert.equal(result.status, 'error');
  assert.match(result.message, /timed out after 300 ms/);
  await hung.idle();

  // ...and the kind itself: its signal ends it, it rejects only once every socket is closed.
  const ctx = testContext({ url: hung.url, timeoutMs: 300 });
  await assert.rejects(load.run({ connections: 4, duration: '30s' }, ctx), (err: unknown) => err === ctx.signal.reason);
  await hung.idle();
  assert.equal(hung.open(), 0);
});

test('aborting the check reaches the load on its thread: it stops at once and closes every socket', QUICK, async (t) => {
  const open = new Set<Socket>();
  let closedAll = (): void => undefined;
  let loaded = (): void => undefined;
  const running = new Promise<void>((resolve) => (loaded = resolve));
  const server = await target(t, (req, res, n) => {
    const socket = req.socket;
    if (!open.has(socket)) {
      open.add(socket);
      socket.once('close', () => {
        open.delete(socket);
        if (open.size === 0) closedAll();
      });
    }
    if (n === 100) loaded();
    ok(req, res);
  });
  const interrupt = new AbortController();
  // A clock that never moves: the thread is never ended after a grace, so only its own stop can end the run.
  const ctx = { ...testContext({ url: server.url }), signal: interrupt.signal, clock: fakeClock() };
  const run = load.run({ connections: 4, duration: '5m' }, ctx);
  await running;
  interrupt.abort(new Error('interrupted'));
  await assert.rejects(run, (err: unknown) => err === interrupt.signal.reason);
  // The thread closed its sockets before it answered; the server hears of the last close soon after.
  if (open.size > 0) await new Promise<void>((resolve) => (closedAll = resolve));
  const hits = server.hits();
  assert.ok(hits > 100, String(hits));
});

test('a hung target within the duration: error saying nothing was answered', QUICK, async (t) => {
  const hung = await hungServer(t);
  await assert.rejects(load.run({ connections: 3, duration: '300ms' }, testContext({ url: hung.url })), (err: unknown) => {
    assert.ok(err instanceof CheckError);
    assert.match(err.message, /^no request was answered within 300 ms: the 3 requests in flight were still waiting when the load test ended \(the target hangs\)$/);
    // No answer, no latency: null in the evidence, never a 0 a threshold would take.
    const seen = Reflect.get(Object(err.evidence), 'observed');
    assert.equal(Reflect.get(Object(seen), 'p95_ms'), null);
    assert.equal(Reflect.get(Object(seen), 'min_ms'), null);
    return true;
  });
  await hung.idle();
  assert.equal(hung.connections(), 3);
});

test('a closed port: error naming the refusal, without spinning for the whole duration', QUICK, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  await assert.rejects(load.run({ connections: 2, duration: '1m' }, testContext({ url })), /^Error: no request was answered: \d+ failed to connect or were cut off \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/);
});

test('a request to another origin is refused before anything is sent', QUICK, async (t) => {
  const server = await target(t, ok);
  const other = await target(t, ok);
  for (const path of [`${other.url}/`, `https://127.0.0.1:${server.port}/`, 'file:///etc/passwd']) {
    await assert.rejects(load.run({ paths: ['/', path], requests: 10, connections: 1 }, testContext({ url: server.url })), /refused: .* is not the configured target; nothing was sent/);
  }
  assert.equal(server.hits(), 0);
  assert.equal(other.hits(), 0);
});

test('every answer a 4xx: error, nothing of the app was measured', QUICK, async (t) => {
  const server = await target(t, (_req, res) => res.writeHead(404).end('not found'));
  const result = await runItem(server.url, { paths: ['/nope'], connections: 2, requests: 20 });
  assert.equal(result.status, 'error');
  assert.match(result.message, /^every answer was a 4xx \(404: 20\): nothing of the app was measured/);
});

test('paths in turn, with the method, headers and body; warmup requests are sent but not counted', QUICK, async (t) => {
  const seen: string[] = [];
  const server = await target(t, (req, res) => {
    void readBody(req).then((body) => {
      seen.push(`${req.method} ${req.url} ${req.headers['content-type']} ${body}`);
      ok(req, res);
    });
  });
  const out = await load.run(
    { paths: ['/a', 'b?x=1'], method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":1}', connections: 2, requests: 40, warmup: '200ms' },
    testContext({ url: `${server.url}/api/` }),
  );
  assert.equal(out.observations.requests, 40);
  assert.ok(server.hits() > 40, `warmup sent ${server.hits() - 40}`);
  assert.deepEqual(new Set(seen), new Set(['POST /a application/json {"n":1}', 'POST /api/b?x=1 application/json {"n":1}']));
});

test('rate caps the requests per second', QUICK, async (t) => {
  const server = await target(t, ok);
  const out = await load.run({ rate: 20, connections: 4, duration: '1s' }, testContext({ url: server.url }));
  // One second at 20/s: autocannon grants each second's share at its start, so at most two shares.
  assert.ok(server.hits() > 0 && server.hits() <= 40, String(server.hits()));
  assert.equal(out.observations.connections, 4);
});

test('https: the certificate is verified before any load (autocannon does not verify it)', QUICK, async (t) => {
  if (!requireProgram(t, 'openssl')) return;
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-load-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  let hits = 0;
  const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
    hits++;
    ok(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  const url = `https://127.0.0.1:${address.port}`;
  await assert.rejects(load.run({ requests: 10, connections: 1 }, testContext({ url })), /TLS handshake with https:\/\/127\.0\.0\.1:\d+ failed \(self[- ]signed certificate\).*nothing was sent/);
  assert.equal(hits, 0);
});

const CONFIG = (check: string) => `version: 1
environments:
  staging: { url: "http://127.0.0.1:3000" }
items:
  - id: PERF-01
    title: Load
    tier: high
    check: { kind: load, ${check} }
`;

const REFUSED: { name: string; check: string; problem: RegExp }[] = [
  { name: 'a duration over 5m', check: 'duration: 10m', problem: /items\.0\.check\.duration: duration may be at most 5m: a load test is a short check, not a soak/ },
  { name: 'a duration that is none', check: 'duration: soon', problem: /items\.0\.check\.duration: not a duration: "soon"/ },
  { name: 'a warmup over 1m', check: 'warmup: 2m', problem: /items\.0\.check\.warmup: warmup may be at most 1m/ },
  { name: 'over 1000 connections', check: 'connections: 5000', problem: /items\.0\.check\.connections: at most 1000 connections/ },
  { name: 'over 1,000,000 requests', check: 'requests: 2000000', problem: /items\.0\.check\.requests: at most 1,000,000 requests/ },
  { name: 'fewer requests than connections', check: 'requests: 5, connections: 10', problem: /items\.0\.check\.requests: requests is fewer than connections/ },
  { name: 'a request timeout under 1s', check: 'requestTimeout: 500ms', problem: /items\.0\.check\.requestTimeout: requestTimeout must be at least 1000 ms/ },
  { name: 'an unknown method', check: 'method: FETCH', problem: /items\.0\.check\.method: / },
  { name: 'a k6 function in expect', check: 'expect: ["p(95) < 2000"]', problem: /unknown function "p"/ },
];

for (const row of REFUSED) {
  test(`refused at load: ${row.name}`, async () => {
    // parseConfig is synchronous: it validates with the kinds loaded so far.
    await loadKinds(['load']);
    const found = configProblems(CONFIG(row.check));
    assert.ok(
      found.some((p) => row.problem.test(p)),
      `expected a problem matching ${row.problem}, got:\n${found.join('\n')}`,
    );
  });
}
