// The watch's metrics from a real Prometheus (Debian's package) scraping the real recipes app on
// loopback, judged by the watch's triggers as the watch judges them: a 5xx fault and a latency
// fault are caught, the healthy app stays quiet, no data is absent (never 0) and counted as the
// trigger's noData policy says, a server that is gone or hangs gives reasons and no values without
// stalling, and the query's token goes to the Prometheus origin only and never into the reasons.
// What a real Prometheus never answers (a hang, an echo of the token, a redirect away) comes from
// fake servers on loopback.
//
// Real time: Prometheus scrapes on its own wall clock (its first scrape about 5 s after it starts,
// then every second), so the tests that need scraped traffic wait for it. Each wait is the
// test-support helpers' bounded poll of the thing itself (the scraped counter reaching the count
// sent), never a fixed sleep; the traffic is a bounded number of GETs to loopback apps.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { startApp } from '../../examples/recipes-app/src/app.js';
import type { RunningApp } from '../../examples/recipes-app/src/app.js';
// parseConfig checks options against loaded kinds: the registry loads them all (the engine loads only those a run uses).
import '../checks/index.js';
import { parseConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/load.js';
import { triggersFor } from '../config/watch-schema.js';
import { systemClock } from '../util/clock.js';
import type { Clock } from '../util/clock.js';
import { queryInstant } from '../util/prometheus.js';
import { fakeClock } from '../test-support/clock.js';
import { errorRateQuery, prometheusBinary, requirePrometheus, scrapedTraffic, startPrometheus } from '../test-support/prometheus.js';
import type { TestPrometheus } from '../test-support/prometheus.js';
import { freePort, readBody, serve } from '../test-support/server.js';
import { readPrometheusMetrics } from './prometheus-metrics.js';
import type { PrometheusRead } from './prometheus-metrics.js';
import { evaluateTriggers } from './triggers.js';
import type { TriggerStates } from './triggers.js';
import type { MetricValues, TriggerVerdict } from './types.js';

const QUICK = { timeout: 10_000 };
// Waits for real scrapes (see the top of the file): the helpers' polls end by 20 s each.
const SCRAPED = { timeout: 60_000 };

/** Requests per round: the traffic helper sends two rounds to each app, with a scrape between them. */
const ROUND = 10;
/** The latency fault: every answer of the slow app takes at least this long (the histogram's 0.1-0.25 s bucket). */
const SLOW_MS = 150;

/** The queries a team would write for one job: the 5xx share, p95 from the histogram (seconds), and the requests behind them. */
function queriesFor(job: string): Record<string, string> {
  const sel = `job=${JSON.stringify(job)}, route="/"`;
  return {
    errorRate: errorRateQuery(job),
    p95: `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{${sel}}[1m])))`,
    samples: `sum(increase(http_requests_total{${sel}}[1m]))`,
  };
}

/** A gate watching production with these Prometheus settings and triggers, loaded as `gonogo watch` loads it. */
function gate(prometheus: Record<string, unknown>, triggers: Record<string, unknown>[], env = 'http://127.0.0.1:9'): LoadedConfig {
  const config = {
    version: 1,
    environments: { production: { url: env } },
    items: [{ id: 'HOME', title: 'the home page answers', tier: 'high', manual: true }],
    // minSamples 5: increase() over the 1m window extrapolates from the scrapes that saw the two
    // rounds of ROUND requests, so it answers about 10 to 20, not exactly 20.
    watch: { minSamples: 5, metrics: { prometheus: { timeout: '5s', ...prometheus } }, triggers },
  };
  // JSON is YAML: the loader reads it with positions like any config.
  return parseConfig(JSON.stringify(config), 'gonogo.yaml');
}

/** One evaluation's read, as the watch does it (watch.ts withPrometheus). */
function read(loaded: LoadedConfig, o: { at?: number; clock?: Clock; processEnv?: Record<string, string> } = {}): Promise<PrometheusRead> {
  const prom = loaded.config.watch.metrics.prometheus;
  assert.ok(prom, 'the gate configures watch.metrics.prometheus');
  return readPrometheusMetrics(prom, { at: o.at ?? Date.now(), clock: o.clock ?? systemClock, processEnv: o.processEnv ?? {}, env: 'production', loaded });
}

/**
 * The metrics a read gives the triggers, as the watch merges them: there are no synthetic probes
 * here, so without Prometheus' own count the minSamples guard cannot apply (samples: Infinity, as
 * for any source without a count).
 */
function metricsOf(r: PrometheusRead): MetricValues {
  return { ...r.values, samples: r.values.samples ?? Number.POSITIVE_INFINITY };
}

/** The gate's triggers over successive reads, each trigger's streak carried from one to the next; the verdicts of each evaluation. */
function judge(loaded: LoadedConfig, reads: readonly PrometheusRead[], o: { baseline?: MetricValues; states?: TriggerStates } = {}): TriggerVerdict[][] {
  const triggers = triggersFor(loaded.config, 'production');
  let states = o.states ?? {};
  return reads.map((r) => {
    const judged = evaluateTriggers(triggers, { at: Date.now(), metrics: metricsOf(r), items: {}, reports: 0, ...(o.baseline ? { baseline: o.baseline } : {}) }, states);
    states = judged.states;
    return judged.verdicts;
  });
}

/** [id, state, streak, fired] of each verdict: what the assertions compare. */
const brief = (verdicts: readonly TriggerVerdict[]): [string, string, number, boolean][] => verdicts.map((v) => [v.id, v.state, v.streak, v.fired]);

/** Two reads of the same gate, one after the other: two evaluations of the watch. */
async function twice(loaded: LoadedConfig): Promise<PrometheusRead[]> {
  const first = await read(loaded);
  return [first, await read(loaded)];
}

const ERROR_TRIGGERS = [
  { id: 'errors-at-once', severity: 'immediate', metric: 'error_rate', above: 0.05, consecutive: 1 },
  { id: 'errors-twice', severity: 'immediate', metric: 'error_rate', above: 0.05, consecutive: 2 },
];
const LATENCY_TRIGGER = [{ id: 'latency-degraded', severity: 'conditional', metric: 'p95_ms', aboveBaseline: 1.5, consecutive: 2 }];

// One Prometheus for the file, scraping three apps: the healthy one, one answering half its
// requests with 500 and one answering everything 150 ms late (a release with a 5xx fault and one
// with a latency fault). Their traffic starts in `before`, so that Prometheus' first scrapes
// happen while the tests that need none run.
let prom: TestPrometheus | undefined;
let healthy: RunningApp | undefined;
let faulty: RunningApp | undefined;
let slow: RunningApp | undefined;
let traffic: Promise<void> | undefined;
before(async () => {
  if (prometheusBinary() === undefined) return;
  healthy = await startApp();
  faulty = await startApp({ faults: { errorRate: 0.5 } });
  slow = await startApp({ faults: { latencyMs: SLOW_MS } });
  prom = await startPrometheus({ healthy: healthy.url, faulty: faulty.url, slow: slow.url });
  const p = prom;
  traffic = Promise.all(Object.entries({ healthy, faulty, slow }).map(([job, app]) => scrapedTraffic(p, { job, url: app.url }, ROUND))).then(() => undefined);
  // Awaited by the tests that need it; a failure is theirs to report, not an unhandled rejection.
  traffic.catch(() => undefined);
});
after(async () => {
  await prom?.stop();
  await Promise.all([healthy?.close(), faulty?.close(), slow?.close()]);
});

describe('a server that is gone or hangs: reasons and no values, never a throw or a stall', () => {
  test('nothing listening (a stopped Prometheus): every metric absent with the reason; the trigger is unknown', QUICK, async () => {
    const port = await freePort();
    const loaded = gate({ server: `http://127.0.0.1:${port}`, ...queriesFor('healthy') }, ERROR_TRIGGERS);
    // The fake clock is never moved: a refused connection is answered at once, not by the deadline.
    const r = await read(loaded, { clock: fakeClock() });
    assert.deepEqual(r.values, {});
    assert.equal(r.errors.length, 3, r.errors.join('\n'));
    for (const e of r.errors) assert.match(e, /^(error_rate|p95_ms|samples): Prometheus at 127\.0\.0\.1:\d+ could not be queried: connection refused/);
    const [verdicts] = judge(loaded, [r], { states: { 'errors-twice': { streak: 1, fired: false } } });
    assert.deepEqual(brief(verdicts), [
      ['errors-at-once', 'unknown', 0, false],
      ['errors-twice', 'unknown', 1, false],
    ]);
  });

  test('a server that accepts and never answers: each query ends at the timeout, on the injected clock', QUICK, async (t) => {
    let waiting = 0;
    const hangs = await serve(() => {
      waiting++;
    });
    t.after(hangs.close);
    const clock = fakeClock();
    const loaded = gate({ server: hangs.url, ...queriesFor('healthy'), timeout: '2s' }, ERROR_TRIGGERS);
    const reading = read(loaded, { clock });
    // Bounded by count, not time: the three queries reach the server, each with its deadline asleep.
    for (let i = 0; i < 10_000 && waiting < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(waiting, 3);
    await clock.sleepers(3);
    await clock.advance(2000);
    const r = await reading;
    assert.deepEqual(r.values, {});
    assert.deepEqual(r.errors.map((e) => e.replace(/:\d+ /, ':<port> ')).sort(), [
      'error_rate: Prometheus at 127.0.0.1:<port> did not answer within 2000 ms (query)',
      'p95_ms: Prometheus at 127.0.0.1:<port> did not answer within 2000 ms (query)',
      'samples: Prometheus at 127.0.0.1:<port> did not answer within 2000 ms (query)',
    ]);
  });
});

describe('secrets', () => {
  test('a ${VAR} header goes to the Prometheus origin only, and an answer echoing it never puts it into the reasons', QUICK, async (t) => {
    const token = 'prom-token-s3cret';
    const seen: IncomingHttpHeaders[] = [];
    // A server that echoes what it was sent in its error, as some proxies do.
    const echo = await serve((req, res) => {
      void readBody(req).then(() => {
        seen.push(req.headers);
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: `refused ${req.headers.authorization}` }));
      });
    });
    // Another origin: the watched environment, and where a second fake Prometheus redirects to.
    const elsewhere: IncomingHttpHeaders[] = [];
    const other = await serve((req, res) => {
      elsewhere.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }));
    });
    const redirects = await serve((_req, res) => res.writeHead(307, { location: `${other.url}/api/v1/query` }).end());
    for (const s of [echo, other, redirects]) t.after(s.close);
    const processEnv = { PROM_TOKEN: token };
    const headers = { Authorization: 'Bearer ${PROM_TOKEN}' };

    const echoed = await read(gate({ server: echo.url, errorRate: 'up', p95: 'up', headers }, ERROR_TRIGGERS, other.url), { processEnv });
    assert.deepEqual(seen.map((h) => h.authorization), [`Bearer ${token}`, `Bearer ${token}`], 'the token reaches Prometheus, once per query');
    assert.deepEqual(echoed.values, {});
    assert.equal(echoed.errors.length, 2);
    for (const e of echoed.errors) assert.match(e, /refused the query \(bad_data, HTTP 400\): refused Bearer \*\*\*$/);
    assert.doesNotMatch(JSON.stringify(echoed), new RegExp(token));

    const redirected = await read(gate({ server: redirects.url, errorRate: 'up', headers }, ERROR_TRIGGERS, other.url), { processEnv });
    assert.deepEqual(redirected.values, {});
    assert.match(redirected.errors.join('\n'), /^error_rate: Prometheus at 127\.0\.0\.1:\d+ redirected to http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query: not followed/);
    assert.doesNotMatch(JSON.stringify(redirected), new RegExp(token));
    assert.deepEqual(elsewhere, [], 'nothing, token or not, was sent to another origin (the redirect target, the watched environment)');
  });
});

describe('a real Prometheus scraping the recipes app', () => {
  test('an error rate of 0.5 reads about half, p95 in ms; an immediate error_rate > 0.05 trigger fires (consecutive 1 at once, 2 on the second evaluation); the healthy app stays quiet', SCRAPED, async (t) => {
    if (!requirePrometheus(t) || !prom) return;
    await traffic;
    const faultyGate = gate({ server: prom.url, ...queriesFor('faulty') }, ERROR_TRIGGERS);
    const at = Date.now();
    const [first, second] = [await read(faultyGate, { at }), await read(faultyGate)];
    for (const r of [first, second]) {
      assert.deepEqual(r.errors, []);
      const { error_rate: rate, samples } = r.values;
      assert.ok(rate !== undefined && rate > 0.3 && rate < 0.7, `about half the answers are 500: ${rate}`);
      assert.ok(samples !== undefined && samples >= 5, `the requests behind the values: ${samples}`);
    }
    // Prometheus answers seconds; the watch's metric is milliseconds.
    const [p95] = (await queryInstant({ url: prom.url }, queriesFor('faulty').p95, { at })).series;
    assert.ok(p95 && p95.value[1] > 0);
    assert.equal(first.values.p95_ms, p95.value[1] * 1000);
    t.diagnostic(`faulty: ${JSON.stringify(first.values)}`);
    assert.deepEqual(judge(faultyGate, [first, second]).map(brief), [
      [
        ['errors-at-once', 'breach', 1, true],
        ['errors-twice', 'breach', 1, false],
      ],
      [
        ['errors-at-once', 'breach', 2, false],
        ['errors-twice', 'breach', 2, true],
      ],
    ]);

    const healthyGate = gate({ server: prom.url, ...queriesFor('healthy') }, ERROR_TRIGGERS);
    const calm = await twice(healthyGate);
    for (const r of calm) {
      assert.deepEqual(r.errors, []);
      assert.equal(r.values.error_rate, 0, 'no 5xx series: `or vector(0)` makes its rate 0, a value, not no data');
    }
    const verdicts = judge(healthyGate, calm);
    assert.deepEqual(verdicts.map(brief), [
      [
        ['errors-at-once', 'ok', 0, false],
        ['errors-twice', 'ok', 0, false],
      ],
      [
        ['errors-at-once', 'ok', 0, false],
        ['errors-twice', 'ok', 0, false],
      ],
    ]);
    assert.match(verdicts[0][0].message, /^error_rate 0% <= 5% over \d+(\.\d+)? samples$/);
  });

  test(`a ${SLOW_MS} ms latency fault breaches p95_ms aboveBaseline: 1.5 against the healthy app's baseline (read from Prometheus too); the healthy app stays ok`, SCRAPED, async (t) => {
    if (!requirePrometheus(t) || !prom) return;
    await traffic;
    const healthyGate = gate({ server: prom.url, ...queriesFor('healthy') }, LATENCY_TRIGGER);
    // The baseline as `gonogo baseline record` takes it: the healthy release's values from the same queries.
    const recorded = await read(healthyGate);
    assert.deepEqual(recorded.errors, []);
    const baseline = metricsOf(recorded);
    assert.ok(baseline.p95_ms !== undefined && baseline.p95_ms > 0, `a baseline p95: ${baseline.p95_ms}`);

    const slowGate = gate({ server: prom.url, ...queriesFor('slow') }, LATENCY_TRIGGER);
    const degraded = await twice(slowGate);
    for (const r of degraded) assert.deepEqual(r.errors, []);
    const [[one], [two]] = judge(slowGate, degraded, { baseline });
    assert.deepEqual([brief([one]), brief([two])], [[['latency-degraded', 'breach', 1, false]], [['latency-degraded', 'breach', 2, true]]]);
    assert.equal(one.threshold, 1.5 * baseline.p95_ms);
    assert.ok(one.value !== undefined && one.value > one.threshold, one.message);
    t.diagnostic(`slow: ${one.message}`);
    assert.match(one.message, /^p95_ms \d+(\.\d+)? ms > \d+(\.\d+)? ms \(1\.5 x baseline \d+(\.\d+)? ms\)/);

    const calm = judge(healthyGate, await twice(healthyGate), { baseline });
    assert.deepEqual(calm.map(brief), [[['latency-degraded', 'ok', 0, false]], [['latency-degraded', 'ok', 0, false]]]);
  });

  test('no data: absent, never 0, with the reason; the trigger is unknown by default (streak kept) and a breach under noData: breach', SCRAPED, async (t) => {
    if (!requirePrometheus(t) || !prom) return;
    const triggers = [
      { id: 'by-default', severity: 'immediate', metric: 'error_rate', above: 0.05 },
      { id: 'fail-closed', severity: 'immediate', metric: 'error_rate', above: 0.05, noData: 'breach' },
    ];
    const missing = gate({ server: prom.url, errorRate: 'sum(rate(gonogo_no_such_requests_total[1m]))', p95: 'histogram_quantile(0.95, sum by (le) (rate(gonogo_no_such_seconds_bucket[1m])))' }, triggers);
    const r = await read(missing);
    assert.deepEqual(r.values, {}, 'no metric is 0 for want of data');
    assert.deepEqual([...r.errors].sort(), ['error_rate: the query answered no series (no data)', 'p95_ms: the query answered no series (no data)']);
    // Both triggers one breach into a streak of 2: the default neither grows nor resets it; breach grows it and fires.
    const streaks = { 'by-default': { streak: 1, fired: false }, 'fail-closed': { streak: 1, fired: false } };
    const [verdicts] = judge(missing, [r], { states: streaks });
    assert.deepEqual(brief(verdicts), [
      ['by-default', 'unknown', 1, false],
      ['fail-closed', 'no-data', 2, true],
    ]);
    assert.match(verdicts[0].message, /^error_rate: no value in this evaluation \[no data: counted as unknown, streak kept\] \(1\/2 consecutive\)$/);
    assert.match(verdicts[1].message, /^error_rate: no value in this evaluation \[no data: counted as breach\] \(2\/2 consecutive\): fired$/);
  });

  test('a ratio with nothing under it (0/0, an app with no requests in the window) is no data, said as such, never 0', SCRAPED, async (t) => {
    if (!requirePrometheus(t) || !prom) return;
    // The shape of the 5xx share when the app answered nothing in the window: (0 or vector(0)) / 0.
    const quiet = gate({ server: prom.url, errorRate: 'vector(0) / vector(0)' }, ERROR_TRIGGERS);
    const r = await read(quiet);
    assert.deepEqual(r.values, {});
    assert.deepEqual(r.errors, ['error_rate: the query answered only NaN or Inf (1 value left out): no number to judge (a ratio of rates with no requests in its window?)']);
    const [verdicts] = judge(quiet, [r]);
    assert.deepEqual(
      verdicts.map((v) => v.state),
      ['unknown', 'unknown'],
    );
  });
});
