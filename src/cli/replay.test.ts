// `gonogo replay` in-process: a recorded incident fires, a noisy healthy recording does not, bad
// input is one exit 2 naming each bad line, and --prometheus replays a real Prometheus' history of
// the recipes app (faulty: fires; healthy: quiet).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApp } from '../../examples/recipes-app/src/app.js';
import type { RunningApp } from '../../examples/recipes-app/src/app.js';
import { runCli } from '../test-support/cli.js';
import { errorRateQuery, prometheusBinary, requirePrometheus, scrapedTraffic, startPrometheus } from '../test-support/prometheus.js';
import type { TestPrometheus } from '../test-support/prometheus.js';

const fixture = (name: string): string => fileURLToPath(new URL(`../watch/fixtures/replay/${name}`, import.meta.url));

const CONFIG = `version: 1
environments:
  faulty: { url: "http://127.0.0.1:9", job: faulty }
  healthy: { url: "http://127.0.0.1:9", job: healthy }
stages:
  production:
    - { id: immediate, title: Immediate, budget: 15m, items: [HEALTH-01] }
items:
  - { id: HEALTH-01, title: Health, tier: critical, check: { kind: http, url: "{{env.url}}/health" } }
watch:
  metrics:
    prometheus:
      server: "\${PROM_URL}"
      errorRate: 'ERROR_RATE'
      samples: 'sum(increase(http_requests_total{job="{{env.job}}", route="/"}[1m]))'
  triggers:
    - { id: app-down, severity: immediate, items: [HEALTH-01] }
    - { id: error-rate-critical, severity: immediate, metric: error_rate, above: 0.05 }
    - { id: error-rate-elevated, severity: conditional, metric: error_rate, above: 0.02 }
    - { id: latency-degraded, severity: conditional, metric: p95_ms, aboveBaseline: 1.5 }
    - { id: reported-issue, severity: conditional, reports: true }
`.replace("'ERROR_RATE'", JSON.stringify(errorRateQuery('{{env.job}}')));

let dir: string;
let config: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'gonogo-replay-'));
  config = join(dir, 'gonogo.yaml');
  writeFileSync(config, CONFIG);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const replay = (...args: string[]) => runCli(['-c', config, 'replay', ...args], { CI: '1' });

test('gonogo replay --from a recorded incident prints when each trigger would have fired, exit 0', async () => {
  const r = await replay('--from', fixture('error-spike-incident.jsonl'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /^Replayed 5 triggers over 40 evaluations/);
  assert.deepEqual(
    lines.slice(1, 6).map((l) => l.split(/ {2,}/).slice(0, 3)),
    [
      ['2026-03-01T12:21:00.000Z', 'error-rate-elevated', 'conditional'],
      ['2026-03-01T12:21:00.000Z', 'latency-degraded', 'conditional'],
      ['2026-03-01T12:22:00.000Z', 'error-rate-critical', 'immediate'],
      ['2026-03-01T12:25:00.000Z', 'app-down', 'immediate'],
      ['2026-03-01T12:27:00.000Z', 'reported-issue', 'conditional'],
    ],
  );
  assert.match(lines[3], /error_rate 9% > 5% over 300 samples \(2\/2 consecutive\): fired$/);
});

test('gonogo replay --from a noisy but healthy recording: no trigger would have fired, exit 0', async () => {
  const r = await replay('--from', fixture('noisy-but-healthy.jsonl'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^No trigger would have fired\.$/m);
});

test('gonogo replay --format json', async () => {
  const r = await replay('--from', fixture('error-spike-incident.jsonl'), '--format', 'json');
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.evaluations, 40);
  assert.deepEqual(doc.firings[2], {
    at: '2026-03-01T12:22:00.000Z',
    trigger: 'error-rate-critical',
    severity: 'immediate',
    value: 0.09,
    threshold: 0.05,
    message: 'error_rate 9% > 5% over 300 samples (2/2 consecutive): fired',
  });
});

test('bad lines: exit 2, each named by file and line number, no stack trace', async () => {
  const file = join(dir, 'bad.jsonl');
  writeFileSync(file, '{"at": 0, "error_rate": 0.1}\n{"at": 1000, "error_rate": "high"}\nnot json\n');
  const r = await replay('--from', file);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 2, r.stderr);
  assert.match(lines[0], /bad\.jsonl:2: error_rate: /);
  assert.match(lines[1], /bad\.jsonl:3: not JSON: /);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
});

test('usage mistakes are one line, exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [[], /give either --from FILE .* or --prometheus/],
    [['--from', fixture('noisy-but-healthy.jsonl'), '--prometheus'], /give either --from FILE/],
    [['--from', join(dir, 'missing.jsonl')], /--from .*missing\.jsonl: no such file/],
    [['--from', fixture('noisy-but-healthy.jsonl'), '--step', '1m'], /--start, --end and --step go with --prometheus/],
    [['--prometheus', '--start', '2026-03-01T12:00:00Z', '--end', '2026-03-01T11:00:00Z', '--step', '1m'], /--end .* must be after --start/],
    [['--prometheus', '--start', 'yesterday', '--end', '2026-03-01T11:00:00Z', '--step', '1m'], /--start: "yesterday" is not a time/],
    [['--prometheus', '--start', '0', '--end', '60000'], /needs --step/],
    [['--prometheus', '--start', '0', '--end', '60000', '--step', '1m'], /watch\.metrics\.prometheus: environment variable PROM_URL is not set/],
    [['--from', fixture('noisy-but-healthy.jsonl'), '--baseline', 'p95=3'], /--baseline: "p95=3" is not METRIC=VALUE/],
    [['--from', fixture('noisy-but-healthy.jsonl'), '--stage-set', 'staging'], /stage set "staging" is not defined/],
  ];
  for (const [args, message] of cases) {
    const r = await replay(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

// A real Prometheus (Debian's package) scraping the real recipes app, faulty (half its answers 5xx)
// and healthy: replaying its last minute fires the error-rate triggers for the one and nothing for the other.
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

test('gonogo replay --prometheus replays the configured queries over a range: the faulty app fires, the healthy one does not', { timeout: 90_000 }, async (t) => {
  if (!requirePrometheus(t) || !prom || !faulty || !healthy) return;
  const since = Date.now();
  await Promise.all([scrapedTraffic(prom, { job: 'faulty', url: faulty.url }, 20), scrapedTraffic(prom, { job: 'healthy', url: healthy.url }, 20)]);
  // Two more scrapes: the rates stand at a few consecutive steps.
  for (const job of ['faulty', 'healthy']) {
    await prom.waitForScrape(job);
    await prom.waitForScrape(job);
  }
  const range = ['--prometheus', '--start', String(since - 5000), '--end', String(Date.now()), '--step', '1s'];
  const env = { CI: '1', PROM_URL: prom.url };
  const bad = await runCli(['-c', config, 'replay', ...range, '--env', 'faulty', '--format', 'json'], env);
  assert.equal(bad.code, 0, bad.stderr);
  const doc = JSON.parse(bad.stdout);
  assert.deepEqual(
    doc.skipped.map((s: { trigger: string }) => s.trigger),
    ['app-down', 'latency-degraded', 'reported-issue'],
  );
  const fired = doc.firings.map((f: { trigger: string }) => f.trigger);
  assert.ok(fired.includes('error-rate-critical'), bad.stdout);
  assert.ok(fired.includes('error-rate-elevated'), bad.stdout);
  const critical = doc.firings.find((f: { trigger: string }) => f.trigger === 'error-rate-critical');
  assert.ok(critical.value > 0.2 && critical.value < 0.8, bad.stdout);
  assert.match(critical.message, /over \d+ samples/);

  const good = await runCli(['-c', config, 'replay', ...range, '--env', 'healthy'], env);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /^No trigger would have fired\.$/m);
  assert.doesNotMatch(good.stdout, /over 0 evaluations/);
});
