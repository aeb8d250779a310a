// The prometheus kind through the engine (config parsed, options expanded, conditions judged where
// every check is judged) against a real Prometheus (Debian's package) scraping the real recipes app
// on loopback; hostile answers from fake servers on loopback, which a real Prometheus never gives.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { startApp } from '../../../examples/recipes-app/src/app.js';
import type { RunningApp } from '../../../examples/recipes-app/src/app.js';
import prometheus from './index.js';
import { loadKinds } from '../kinds.js';
import { parseConfig } from '../../config/load.js';
import { runChecks } from '../../engine/run.js';
import type { ItemResult } from '../../model.js';
import { systemClock } from '../../util/clock.js';
import type { Clock } from '../../util/clock.js';
import { fakeClock } from '../../test-support/clock.js';
import { configProblems } from '../../test-support/config.js';
import { testContext } from '../../test-support/context.js';
import { errorRateQuery, prometheusBinary, requirePrometheus, scrapedTraffic, startPrometheus } from '../../test-support/prometheus.js';
import type { TestPrometheus } from '../../test-support/prometheus.js';
import { endlessBody, freePort, readBody, serve } from '../../test-support/server.js';

const QUICK = { timeout: 10_000 };
// Waits for real scrapes: Prometheus 2.42 starts scraping about 5 s after it starts, then every second.
const SCRAPED = { timeout: 60_000 };

type Check = Record<string, unknown>;

/** A config with one item per check (ids P-1, P-2...), against the healthy app as the target. */
function configText(checks: Check[], extra: Record<string, unknown> = {}): string {
  const items = checks.map((check, i) => ({ id: `P-${i + 1}`, title: `Prometheus check ${i + 1}`, tier: 'critical', check: { kind: 'prometheus', ...check } }));
  // JSON is YAML: the loader reads it with positions like any config.
  return JSON.stringify({ version: 1, environments: { staging: { url: target } }, items, ...extra });
}

/** Loads the config and runs its checks through the engine, as `gonogo check` does. */
async function run(checks: Check[], opts: { clock?: Clock; processEnv?: Record<string, string>; extra?: Record<string, unknown> } = {}): Promise<ItemResult[]> {
  const kinds = await loadKinds(['prometheus']);
  const loaded = parseConfig(configText(checks, opts.extra), 'gonogo.yaml', kinds);
  return runChecks(loaded.config.items, loaded.conditions, {
    env: { name: 'staging', url: target, vars: { url: target } },
    configDir: '.',
    clock: opts.clock ?? systemClock,
    concurrency: 4,
    perHost: 1,
    defaultTimeoutMs: 10_000,
    kinds,
    auth: loaded.config.auth,
    processEnv: opts.processEnv ?? {},
  });
}

async function one(check: Check, opts: Parameters<typeof run>[1] = {}): Promise<ItemResult> {
  const [result] = await run([check], opts);
  return result;
}

// One Prometheus for the file, started before any test so that its first scrapes (about 5 s after
// it starts) happen while the tests that need none run.
let prom: TestPrometheus | undefined;
let faulty: RunningApp | undefined;
let healthy: RunningApp | undefined;
let target = 'http://127.0.0.1:9';
let traffic: Promise<void> | undefined;
before(async () => {
  healthy = await startApp();
  target = healthy.url;
  if (prometheusBinary() === undefined) return;
  faulty = await startApp({ faults: { errorRate: 0.5 } });
  prom = await startPrometheus({ faulty: faulty.url, healthy: healthy.url });
});
after(async () => {
  await prom?.stop();
  await faulty?.close();
  await healthy?.close();
});

/** Two rounds of 10 requests to `/` on each app, scraped (once per file, by the first test that needs it). */
function scraped(p: TestPrometheus, f: RunningApp, h: RunningApp): Promise<void> {
  traffic ??= Promise.all([scrapedTraffic(p, { job: 'faulty', url: f.url }, 10), scrapedTraffic(p, { job: 'healthy', url: h.url }, 10)]).then(() => undefined);
  return traffic;
}

describe('at load', () => {
  test('the default expectation is series > 0; expect: names observations; bad options are config problems', QUICK, async () => {
    assert.deepEqual(prometheus.defaultExpect({ server: 'http://p:9090', query: 'up' }), ['series > 0']);
    await loadKinds(['prometheus']);
    const problems = configProblems(
      configText([
        { server: 'prometheus:9090', query: 'up' },
        { server: 'http://p:9090', query: 'up', step: '5s' },
        { server: 'http://p:9090', query: 'up', range: 'ten minutes' },
        { server: 'http://p:9090', query: 'up', expect: ['status == 200'] },
        { server: 'http://p:9090', query: 'up', noData: 'ignore' },
      ]),
    );
    const text = problems.join('\n');
    assert.match(text, /items\.0\.check\.server: expected the http\(s\) base URL of the Prometheus server/);
    assert.match(text, /items\.1\.check\.step: step is for a range query: give range too/);
    assert.match(text, /items\.2\.check\.range: range: expected a duration/);
    assert.match(text, /items\.3\.check\.expect\.0: bad condition "status == 200": unknown field "status" \(expected one of: value, values, series, samples, min, max, avg, last, labels\)/);
    assert.match(text, /items\.4\.check\.noData: /);
    assert.doesNotThrow(() => parseConfig(configText([{ server: '${PROM_URL}', query: 'up' }]), 'gonogo.yaml'), 'a ${VAR} URL is checked when it is filled in');
  });
});

describe('hostile or missing servers: error with the reason, never a stall', () => {
  test('nothing listening', QUICK, async () => {
    const port = await freePort();
    const r = await one({ server: `http://127.0.0.1:${port}`, query: 'up' });
    assert.equal(r.status, 'error');
    assert.match(r.message, /Prometheus at 127\.0\.0\.1:\d+ could not be queried: connection refused/);
  });

  test('garbage, a body without end, a server that never answers', QUICK, async (t) => {
    const garbage = await serve((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>It works!</html>'));
    const endless = await serve(endlessBody('['));
    let waiting = 0;
    const hangs = await serve(() => {
      waiting++;
    });
    for (const s of [garbage, endless, hangs]) t.after(s.close);
    const clock = fakeClock();
    const results = run(
      [
        { server: garbage.url, query: 'up' },
        { server: endless.url, query: 'up' },
        { server: hangs.url, query: 'up', timeout: '5s' },
      ],
      { clock },
    );
    // The hanging one is ended by the engine's timeout, on the injected clock.
    for (let i = 0; i < 10_000 && waiting < 1; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(waiting, 1);
    await clock.advance(5000);
    const [g, e, h] = await results;
    assert.deepEqual([g.status, e.status, h.status], ['error', 'error', 'error']);
    assert.match(g.message, /a body that is not JSON \(starts "<html>It works!<\/html>"\): is this the Prometheus API\?/);
    assert.match(e.message, /response body larger than 8388608 bytes: stopped reading/);
    assert.match(h.message, /timed out after 5000 ms/);
  });

  test("its credentials go to the server only, ${VAR} secrets never reach the result, and the target's test users are never sent", QUICK, async (t) => {
    const seen: IncomingMessage['headers'][] = [];
    const bodies: string[] = [];
    // A server that echoes what it was sent in its error, as some proxies do.
    const server = await serve((req, res) => {
      void readBody(req).then((body) => {
        seen.push(req.headers);
        bodies.push(body);
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: `refused ${req.headers.authorization}` }));
      });
    });
    t.after(server.close);
    const r = await one(
      { server: '${PROM_URL}', query: 'up', bearerToken: '${PROM_TOKEN}' },
      {
        processEnv: { PROM_URL: server.url, PROM_TOKEN: 'prom-token-s3cret', ALICE_PASSWORD: 'alice-pw-s3cret' },
        extra: { auth: { login: { url: '/api/login' }, users: { alice: { username: 'alice', password: '${ALICE_PASSWORD}' } } } },
      },
    );
    assert.equal(r.status, 'error');
    assert.match(r.message, /refused the query \(bad_data, HTTP 400\): refused Bearer \*\*\*/);
    assert.doesNotMatch(JSON.stringify(r), /prom-token-s3cret/);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].authorization, 'Bearer prom-token-s3cret');
    assert.equal(seen[0].cookie, undefined);
    assert.doesNotMatch(JSON.stringify(seen) + bodies.join(), /alice/);
  });

  test('a local kind: no target origins, not the per-host limit of the target', () => {
    assert.equal(prometheus.reach, 'local');
    assert.equal(prometheus.host({ server: 'http://p:9090', query: 'up' }, { name: 't', url: 'http://p:9090', vars: {} }), undefined);
  });
});

describe('a real Prometheus scraping the recipes app', () => {
  test('a 5xx rate of 0.5 under the error-rate fault is caught by value < 0.05; the healthy app passes the same check', SCRAPED, async (t) => {
    if (!requirePrometheus(t) || !prom || !faulty || !healthy) return;
    await scraped(prom, faulty, healthy);
    const [bad, good] = await run([
      { server: prom.url, query: errorRateQuery('faulty'), expect: ['value < 0.05'] },
      { server: prom.url, query: errorRateQuery('healthy'), expect: ['value < 0.05'] },
    ]);
    assert.equal(bad.status, 'fail', bad.message);
    assert.match(bad.message, /value < 0\.05: value was 0\.[3-7]/, 'about half the answers are 500');
    assert.equal(good.status, 'pass', good.message);
    assert.match(good.message, /value < 0\.05: value was 0\b/);
  });

  test('observations: the one series, or the highest of several with all their values; a range query its min, max, avg and last', SCRAPED, async (t) => {
    if (!requirePrometheus(t) || !prom || !faulty || !healthy) return;
    await scraped(prom, faulty, healthy);
    const ctx = testContext();
    const several = await prometheus.run({ server: prom.url, query: 'sum by (job, status) (http_requests_total{route="/"})' }, ctx);
    assert.deepEqual({ ...several.observations, values: [...(several.observations.values as number[])].sort() }, {
      value: 20,
      values: [10, 10, 20],
      series: 3,
      samples: 3,
      min: 10,
      max: 20,
      avg: 40 / 3,
      last: 20,
      labels: { job: 'healthy', status: '200' },
    });
    const range = await prometheus.run({ server: prom.url, query: 'sum(http_requests_total{job="faulty", route="/"})', range: '1m', step: '1s' }, ctx);
    const o = range.observations;
    assert.equal(o.series, 1);
    assert.ok(typeof o.samples === 'number' && o.samples >= 2, `a point per scrape: ${o.samples}`);
    assert.deepEqual([o.value, o.last, o.max], [20, 20, 20]);
    assert.ok(typeof o.min === 'number' && o.min > 0 && o.min < 20, `the first round was scraped before the second: ${o.min}`);
    assert.ok(typeof o.avg === 'number' && o.avg > o.min && o.avg < 20, `between the first value and the last: ${o.avg}`);
    assert.deepEqual(o.labels, {});
    assert.match(JSON.stringify(range.evidence), /"type":"range".*"stepMs":1000/);
  });

  test('no series: error by default (never a silent pass), fail or pass as noData says; too few samples is no data', SCRAPED, async (t) => {
    if (!requirePrometheus(t) || !prom) return;
    const query = 'sum(rate(http_requests_total{job="no-such-job"}[1m]))';
    const [byDefault, failing, passing, defaultExpect, tooFew] = await run([
      { server: prom.url, query, expect: ['!(value > 0.05)'] },
      { server: prom.url, query, noData: 'fail', expect: ['!(value > 0.05)'] },
      { server: prom.url, query, noData: 'pass', expect: ['value > 1000'] },
      { server: prom.url, query, noData: 'fail' },
      { server: prom.url, query: 'count(up)', range: '5s', step: '1s', minSamples: 100, noData: 'fail' },
    ]);
    assert.deepEqual([byDefault.status, failing.status, passing.status, defaultExpect.status, tooFew.status], ['error', 'fail', 'pass', 'fail', 'fail']);
    assert.equal(byDefault.message, 'no data: the query returned no series (noData: error)');
    assert.equal(failing.message, 'no data: the query returned no series (noData: fail)');
    assert.equal(passing.message, 'no data: the query returned no series (noData: pass)');
    assert.match(tooFew.message, /^no data: \d+ samples?, fewer than minSamples 100 \(noData: fail\)$/);
  });

  test('Prometheus stopped: error with the reason, at once', QUICK, async (t) => {
    if (!requirePrometheus(t) || !prom) return;
    await prom.stop();
    const r = await one({ server: prom.url, query: 'up' });
    assert.equal(r.status, 'error');
    assert.match(r.message, /could not be queried: connection refused/);
  });
});
