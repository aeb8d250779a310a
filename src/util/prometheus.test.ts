// The Prometheus client against a real Prometheus (Debian's package) scraping the real recipes app
// on loopback, and, for the answers a real Prometheus never gives (garbage, a proxy's error page,
// an endless body, a hang, a redirect elsewhere, a malformed result), against fake servers on loopback.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { startApp } from '../../examples/recipes-app/src/app.js';
import type { RunningApp } from '../../examples/recipes-app/src/app.js';
import { PrometheusError, formatSeries, queryInstant, queryRange } from './prometheus.js';
import type { PrometheusErrorCode } from './prometheus.js';
import { fakeClock } from '../test-support/clock.js';
import { errorRateQuery, prometheusBinary, requirePrometheus, scrapedTraffic, startPrometheus } from '../test-support/prometheus.js';
import type { TestPrometheus } from '../test-support/prometheus.js';
import { endlessBody, freePort, readBody, serve, serveRaw } from '../test-support/server.js';
import type { TestServer } from '../test-support/server.js';

const QUICK = { timeout: 10_000 };
// Waits for real scrapes: Prometheus 2.42 starts scraping about 5 s after it starts (its target
// discovery settles first), then every second.
const SCRAPED = { timeout: 60_000 };

/** The error a query rejected with, checked to be a PrometheusError of `code` whose message matches. */
async function failure(p: Promise<unknown>, code: PrometheusErrorCode, message: RegExp): Promise<PrometheusError> {
  const err = await p.then(
    (v) => assert.fail(`expected a ${code} error, got ${JSON.stringify(v)}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof PrometheusError, String(err));
  assert.match(err.message, message);
  assert.equal(err.code, code, err.message);
  return err;
}

// Started before any test, so that Prometheus' first scrapes happen while the fake-server tests run.
let prom: TestPrometheus | undefined;
let faulty: RunningApp | undefined;
let healthy: RunningApp | undefined;
before(async () => {
  if (prometheusBinary() === undefined) return;
  faulty = await startApp({ faults: { errorRate: 0.5 } });
  healthy = await startApp();
  prom = await startPrometheus({ faulty: faulty.url, healthy: healthy.url });
});
after(async () => {
  await prom?.stop();
  await faulty?.close();
  await healthy?.close();
});

describe('answers only a fake server gives (a real Prometheus never sends them)', () => {
  /** A fake Prometheus answering `status` with `body` (JSON when not a string), recording each request. */
  async function fake(t: { after: (fn: () => Promise<void>) => void }, status: number, body: unknown, headers: Record<string, string> = {}): Promise<TestServer & { seen: { headers: IncomingMessage['headers']; body: string }[] }> {
    const seen: { headers: IncomingMessage['headers']; body: string }[] = [];
    const server = await serve((req, res) => {
      void readBody(req).then((text) => {
        seen.push({ headers: req.headers, body: text });
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(typeof body === 'string' ? body : JSON.stringify(body));
      });
    });
    t.after(server.close);
    return Object.assign(server, { seen });
  }
  const vector = (result: unknown) => ({ status: 'success', data: { resultType: 'vector', result } });

  test('sends a form POST to <base>/api/v1/query with the query, time and timeout; a path prefix is kept', QUICK, async (t) => {
    const server = await fake(t, 200, vector([{ metric: { job: 'app' }, value: [1700000000.5, '1e-05'] }]));
    const r = await queryInstant({ url: `${server.url}/prometheus` }, 'up{job="app"}', { at: 1700000000500, timeoutMs: 4000 });
    assert.deepEqual(server.requests, ['POST /prometheus/api/v1/query']);
    const form = new URLSearchParams(server.seen[0].body);
    assert.deepEqual(Object.fromEntries(form), { query: 'up{job="app"}', time: '1700000000.500', timeout: '4000ms' });
    assert.equal(server.seen[0].headers['content-type'], 'application/x-www-form-urlencoded');
    assert.deepEqual(r, { resultType: 'vector', series: [{ metric: { job: 'app' }, value: [1700000000500, 0.00001] }], warnings: [], dropped: 0 });
  });

  test('credentials and headers go to the server; a redirect to another origin is not followed, and nothing reaches it', QUICK, async (t) => {
    const elsewhere = await fake(t, 200, vector([]));
    const server = await fake(t, 302, '', { location: `${elsewhere.url}/api/v1/query` });
    const err = await failure(
      queryInstant({ url: server.url, bearerToken: 'prom-token-1234', headers: { 'X-Scope-OrgID': 'team-a' } }, 'up'),
      'http',
      /redirected to http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query: not followed/,
    );
    assert.equal(err.status, 302);
    assert.equal(server.seen[0].headers.authorization, 'Bearer prom-token-1234');
    assert.equal(server.seen[0].headers['x-scope-orgid'], 'team-a');
    assert.equal(elsewhere.hits(), 0);
    assert.doesNotMatch(err.message, /prom-token/);

    const basic = await fake(t, 200, vector([]));
    await queryInstant({ url: basic.url, basicAuth: { username: 'gate', password: 'pw-5678' } }, 'up');
    assert.equal(basic.seen[0].headers.authorization, `Basic ${Buffer.from('gate:pw-5678').toString('base64')}`);
  });

  test('an answer that is not JSON, or not the API, is an error saying what came', QUICK, async (t) => {
    const garbage = await fake(t, 200, '<html>Grafana login</html>');
    await failure(queryInstant({ url: garbage.url }, 'up'), 'invalid', /HTTP 200 with a body that is not JSON \(starts "<html>Grafana login<\/html>"\): is this the Prometheus API\?/);
    const other = await fake(t, 200, { hello: 'world' });
    await failure(queryInstant({ url: other.url }, 'up'), 'invalid', /JSON that is not the Prometheus API's/);
    const proxy = await fake(t, 502, '<html>502 Bad Gateway</html>');
    assert.equal((await failure(queryInstant({ url: proxy.url }, 'up'), 'http', /answered HTTP 502; not the Prometheus API \(body starts "<html>502/)).status, 502);
    const locked = await fake(t, 401, 'Unauthorized');
    await failure(queryInstant({ url: locked.url }, 'up'), 'http', /HTTP 401 \(check bearerToken or basicAuth\)/);
    const raw = await serveRaw((socket) => socket.end('SSH-2.0-OpenSSH_9.2\r\n'));
    t.after(raw.close);
    await failure(queryInstant({ url: raw.url }, 'up'), 'http', /not an HTTP response/);
  });

  test('a result not shaped as documented names where; a value that is not a number is refused, not read as 0', QUICK, async (t) => {
    const noValue = await fake(t, 200, vector([{ metric: {}, histogram: [1, {}] }]));
    await failure(queryInstant({ url: noValue.url }, 'x'), 'invalid', /result\[0\]\.value/);
    for (const value of ['', ' 1', '0x10', 'lots']) {
      const bad = await fake(t, 200, vector([{ metric: {}, value: [1, value] }]));
      await failure(queryInstant({ url: bad.url }, 'x'), 'invalid', /sample value that is not a number: result\[0\]/);
    }
    const matrix = await fake(t, 200, { status: 'success', data: { resultType: 'matrix', result: [{ metric: { a: 'b' }, values: [[1, '1'], [2, 'NaN'], [3, '3']] }] } });
    const r = await queryRange({ url: matrix.url }, 'x', { start: 1000, end: 3000, step: 1000, nonFinite: 'drop' });
    assert.deepEqual(r, { series: [{ metric: { a: 'b' }, values: [[1000, 1], [3000, 3]] }], warnings: [], dropped: 1 });
  });

  test('warnings are passed on', QUICK, async (t) => {
    const server = await fake(t, 200, { ...vector([]), warnings: ['partial response from store-gateway'] });
    assert.deepEqual((await queryInstant({ url: server.url }, 'up')).warnings, ['partial response from store-gateway']);
  });

  test('an endless body stops at the cap', QUICK, async (t) => {
    const server = await serve(endlessBody('{'));
    t.after(server.close);
    await failure(queryInstant({ url: server.url }, 'up', { maxBodyBytes: 64 * 1024 }), 'http', /response body larger than 65536 bytes: stopped reading/);
  });

  test('a server that never answers: the deadline (on the injected clock) ends it; the caller can end it too', QUICK, async (t) => {
    let arrived = 0;
    const server = await serve(() => {
      arrived++;
    });
    t.after(server.close);
    const clock = fakeClock();
    const hung = failure(queryInstant({ url: server.url }, 'up', { clock, timeoutMs: 2000 }), 'timeout', /did not answer within 2000 ms/);
    await clock.sleepers(1);
    await clock.advance(1999);
    for (let i = 0; i < 1000 && arrived < 1; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(arrived, 1, 'the request is there, unanswered');
    await clock.advance(1);
    await hung;

    const caller = new AbortController();
    const stopped = queryInstant({ url: server.url }, 'up', { signal: caller.signal, timeoutMs: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 1000 && arrived < 2; i++) await new Promise((resolve) => setImmediate(resolve));
    caller.abort(new Error('the watch was stopped'));
    await failure(stopped, 'aborted', /the watch was stopped/);
  });

  test('refused before sending: a URL with a password, both kinds of auth, a range with too many points', QUICK, async (t) => {
    const server = await fake(t, 200, vector([]));
    const withPassword = server.url.replace('http://', 'http://gate:pw@');
    await failure(queryInstant({ url: withPassword }, 'up'), 'options', /must not hold a user or password: use basicAuth/);
    await failure(queryInstant({ url: server.url, bearerToken: 'abcd', basicAuth: { username: 'a', password: 'b' } }, 'up'), 'options', /not both/);
    await failure(queryRange({ url: server.url }, 'up', { start: 0, end: 86_400_000, step: '1s' }), 'options', /86401 points per series .* more than 11000: use a longer step/);
    await failure(queryRange({ url: server.url }, 'up', { start: 2000, end: 1000, step: '1s' }), 'options', /end .* is before start/);
    assert.equal(server.hits(), 0);
  });

  test('nothing listening: unreachable, at once', QUICK, async () => {
    const port = await freePort();
    await failure(queryInstant({ url: `http://127.0.0.1:${port}` }, 'up'), 'unreachable', /could not be queried: connection refused by 127\.0\.0\.1:\d+ .*\(ECONNREFUSED\)/);
  });

  test('formatSeries writes a series as Prometheus does', () => {
    assert.equal(formatSeries({ __name__: 'http_requests_total', job: 'app', status: '500' }), 'http_requests_total{job="app", status="500"}');
    assert.equal(formatSeries({}), '{}');
  });
});

describe('a real Prometheus scraping the recipes app', () => {
  test('the 5xx rate: 0.5 on the app with the error-rate fault, 0 on the healthy one; ranges in time order', SCRAPED, async (t) => {
    if (!requirePrometheus(t) || !prom || !faulty || !healthy) return;
    const p = prom;
    await Promise.all([scrapedTraffic(p, { job: 'faulty', url: faulty.url }, 10), scrapedTraffic(p, { job: 'healthy', url: healthy.url }, 10)]);
    const bad = await queryInstant({ url: p.url }, errorRateQuery('faulty'));
    assert.equal(bad.series.length, 1);
    // Every 2nd answer is a 500; rate()'s extrapolation can move the share a little when a scrape
    // fell inside a round of requests.
    assert.ok(Math.abs(bad.series[0].value[1] - 0.5) < 0.2, `about half: ${bad.series[0].value[1]}`);
    const good = await queryInstant({ url: p.url }, errorRateQuery('healthy'));
    assert.equal(good.series[0].value[1], 0);

    const end = Date.now();
    const range = await queryRange({ url: p.url }, 'sum by (status) (http_requests_total{job="faulty", route="/"})', { start: end - 60_000, end, step: '1s' });
    assert.deepEqual(range.series.map((s) => s.metric.status).sort(), ['200', '500']);
    for (const s of range.series) {
      const times = s.values.map((v) => v[0]);
      assert.deepEqual(times, [...times].sort((a, b) => a - b));
      assert.ok(times[0] >= end - 60_000 && times[times.length - 1] <= end, 'within the range');
      assert.equal(s.values[s.values.length - 1][1], 10);
    }
  });

  test('what Prometheus itself refuses or cannot give a number for', QUICK, async (t) => {
    if (!requirePrometheus(t) || !prom) return;
    const server = { url: prom.url };
    const refused = await failure(queryInstant(server, 'sum(rate(http_requests_total[5m]'), 'api', /refused the query \(bad_data, HTTP 400\): invalid parameter "query"/);
    assert.equal(refused.errorType, 'bad_data');
    await failure(queryInstant(server, '0/0'), 'non-finite', /\{\} is NaN at .*a division of zero by zero/);
    await failure(queryInstant(server, '1/0'), 'non-finite', /\{\} is \+Inf/);
    assert.deepEqual(await queryInstant(server, 'vector(0)/0', { nonFinite: 'drop' }), { resultType: 'vector', series: [], warnings: [], dropped: 1 });
    await failure(queryInstant(server, 'up[1m]'), 'invalid', /returned a matrix, not a vector or a scalar: a range vector selector/);
    await failure(queryInstant(server, '"text"'), 'invalid', /returned a string/);
    const scalar = await queryInstant(server, 'scalar(vector(3))', { at: 1_700_000_000_000 });
    assert.deepEqual(scalar.series, [{ metric: {}, value: [1_700_000_000_000, 3] }]);
    assert.deepEqual((await queryInstant(server, 'http_requests_total{job="no-such-job"}')).series, [], 'no series is an answer, not an error');
  });

  test('stopped: unreachable, with the reason', QUICK, async (t) => {
    if (!requirePrometheus(t) || !prom) return;
    await prom.stop();
    await failure(queryInstant({ url: prom.url }, 'up'), 'unreachable', /connection refused/);
  });
});
