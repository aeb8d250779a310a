// Replay over recorded series: a real incident's recording fires what the watch would have fired,
// when it would have; a noisy but healthy one fires nothing; a bad recording is refused line by line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseBaseline, parseRecording, prometheusRecording, renderReplayText, replay, replayDocument, ReplayInputError } from './replay.js';
import type { RangeQuery } from './replay.js';
import type { TriggerConfig } from './types.js';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/replay/${name}`, import.meta.url), 'utf8');

const base = { consecutive: 2, minSamples: 10 };
const TRIGGERS: TriggerConfig[] = [
  { id: 'app-down', severity: 'immediate', items: ['HEALTH-01'], ...base, noData: 'breach' },
  { id: 'error-rate-critical', severity: 'immediate', metric: 'error_rate', above: 0.05, ...base, noData: 'unknown' },
  { id: 'error-rate-elevated', severity: 'conditional', metric: 'error_rate', above: 0.02, ...base, noData: 'unknown' },
  { id: 'latency-degraded', severity: 'conditional', metric: 'p95_ms', aboveBaseline: 1.5, ...base, noData: 'unknown' },
  { id: 'reported-issue', severity: 'conditional', reports: true, ...base, noData: 'unknown' },
];

const minute = (m: number): string => new Date(Date.parse('2026-03-01T12:00:00Z') + m * 60_000).toISOString();

test('the error-spike incident: each trigger fires once, at the evaluation its breach had lasted `consecutive`', () => {
  const r = replay(TRIGGERS, parseRecording(fixture('error-spike-incident.jsonl'), 'incident.jsonl'));
  assert.equal(r.evaluations, 40);
  assert.deepEqual(r.skipped, []);
  assert.deepEqual(
    r.firings.map((f) => [new Date(f.at).toISOString(), f.trigger, f.value, f.threshold]),
    [
      [minute(21), 'error-rate-elevated', 0.07, 0.02],
      [minute(21), 'latency-degraded', 520, 375],
      [minute(22), 'error-rate-critical', 0.09, 0.05],
      [minute(25), 'app-down', 1, 0],
      [minute(27), 'reported-issue', 1, 0],
    ],
  );
  const text = renderReplayText(r);
  assert.match(text, /^Replayed 5 triggers over 40 evaluations, 2026-03-01T12:00:00\.000Z to 2026-03-01T12:39:00\.000Z\.$/m);
  assert.match(text, /^2026-03-01T12:22:00\.000Z {2}error-rate-critical {2}immediate {4}error_rate 9% > 5% over 300 samples \(2\/2 consecutive\): fired$/m);
  assert.match(text, /^2026-03-01T12:21:00\.000Z {2}latency-degraded +conditional {2}p95_ms 520 ms > 375 ms \(1\.5 x baseline 250 ms\) over 300 samples/m);
  assert.match(text, /^5 firings: .*\. The first immediate one \(error-rate-critical at 2026-03-01T12:22:00\.000Z\) would have rolled the release back\.$/m);
  const doc = replayDocument(r);
  assert.equal(doc.from, '2026-03-01T12:00:00.000Z');
  assert.deepEqual((doc.firings as { at: string }[])[0].at, minute(21));
});

test('the noisy but healthy recording: single spikes, a cold start on 3 requests, a gap, one failed check: nothing fires', () => {
  const r = replay(TRIGGERS, parseRecording(fixture('noisy-but-healthy.jsonl'), 'noisy.jsonl'));
  assert.equal(r.evaluations, 40);
  assert.deepEqual(r.firings, []);
  assert.match(renderReplayText(r), /^No trigger would have fired\.$/m);
  // The same noise with consecutive 1 would have rolled back: persistence is what keeps it quiet.
  const eager = replay(TRIGGERS.map((t) => ({ ...t, consecutive: 1 })), parseRecording(fixture('noisy-but-healthy.jsonl'), 'noisy.jsonl'));
  assert.ok(eager.firings.some((f) => f.trigger === 'error-rate-critical'));
});

test('triggers the recording holds nothing for are left out, saying why; a baseline can be given', () => {
  const rec = parseRecording('{"at": 0, "error_rate": 0.2, "p95_ms": 900, "samples": 50}\n{"at": 60000, "error_rate": 0.2, "p95_ms": 900, "samples": 50}\n', 'metrics-only.jsonl');
  const r = replay(TRIGGERS, rec);
  assert.deepEqual(r.skipped, [
    { trigger: 'app-down', reason: 'none of its items (HEALTH-01) is in the recording' },
    { trigger: 'latency-degraded', reason: 'no baseline p95_ms in the recording (give one with --baseline p95_ms=VALUE)' },
    { trigger: 'reported-issue', reason: 'the recording has no reports' },
  ]);
  assert.deepEqual(r.firings.map((f) => f.trigger), ['error-rate-critical', 'error-rate-elevated']);
  const withBaseline = replay(TRIGGERS, rec, { baseline: parseBaseline('p95_ms=300') });
  assert.ok(withBaseline.firings.some((f) => f.trigger === 'latency-degraded' && f.threshold === 450));
});

test('a recording line without samples is uncounted: the minSamples guard does not apply to it', () => {
  const r = replay(TRIGGERS, parseRecording('{"at": 0, "error_rate": 0.2}\n{"at": 1000, "error_rate": 0.2}\n', 'uncounted.jsonl'));
  assert.deepEqual(r.firings.map((f) => [f.trigger, f.message]), [
    ['error-rate-critical', 'error_rate 20% > 5% (2/2 consecutive): fired'],
    ['error-rate-elevated', 'error_rate 20% > 2% (2/2 consecutive): fired'],
  ]);
});

test('a bad recording is refused with every bad line named by its number', () => {
  const text = [
    '{"at": "2026-03-01T12:00:00Z", "error_rate": 0.01, "samples": 10}',
    '',
    '{"at": "2026-03-01T12:01:00Z", "error_rate": 0.01',
    '{"at": "yesterday", "error_rate": 0.01}',
    '{"at": "2026-03-01T12:02:00Z", "error_rate": 1.5, "p95": 300}',
    '{"at": "2026-03-01T12:03:00Z", "items": {"HEALTH-01": "ok"}}',
    '{"at": "2026-03-01T11:00:00Z"}',
    '[1, 2]',
  ].join('\n');
  assert.throws(
    () => parseRecording(text, 'bad.jsonl'),
    (err: unknown) => {
      assert.ok(err instanceof ReplayInputError);
      assert.equal(err.problems.length, 6, err.message);
      assert.match(err.problems[0], /^bad\.jsonl:3: not JSON: /);
      assert.match(err.problems[1], /^bad\.jsonl:4: at: /);
      assert.match(err.problems[2], /^bad\.jsonl:5: .*error_rate: .*unknown field p95/);
      assert.match(err.problems[3], /^bad\.jsonl:6: items\.HEALTH-01: /);
      assert.match(err.problems[4], /^bad\.jsonl:7: at 2026-03-01T11:00:00\.000Z is before the line above .*: lines must be in time order$/);
      assert.match(err.problems[5], /^bad\.jsonl:8: /);
      return true;
    },
  );
  assert.throws(() => parseRecording('\n\n', 'empty.jsonl'), /empty\.jsonl: no observations/);
});

test('--baseline values are METRIC=VALUE pairs', () => {
  assert.deepEqual(parseBaseline('p95_ms=300, error_rate=0.002'), { p95_ms: 300, error_rate: 0.002, samples: Number.POSITIVE_INFINITY });
  for (const bad of ['p95=300', 'p95_ms', 'p95_ms=-1', 'p95_ms=fast', '', 'p95_ms=1=2']) assert.throws(() => parseBaseline(bad), /--baseline/, bad);
});

test('a Prometheus recording: each query a range query, latencies from seconds to ms, the worst series per step, samples whole', async () => {
  const calls: { promql: string; start: unknown; end: unknown; step: unknown; timeoutMs: unknown }[] = [];
  const answers: Record<string, [number, number][][]> = {
    ER: [[[0, 0.01], [1000, 0.2], [2000, 0.3]], [[1000, 0.4]]],
    P95: [[[0, 0.25], [2000, 1.2]]],
    N: [[[0, 99.6], [1000, 120.2], [2000, 130]]],
  };
  const query: RangeQuery = async (_server, promql, opts) => {
    calls.push({ promql, start: opts.start, end: opts.end, step: opts.step, timeoutMs: opts.timeoutMs });
    return { series: (answers[promql] ?? []).map((values) => ({ metric: {}, values })), warnings: [], dropped: 0 };
  };
  const rec = await prometheusRecording({ errorRate: 'ER', p95: 'P95', samples: 'N', timeout: '3s' }, { url: 'http://127.0.0.1:9' }, { start: 0, end: 2000, step: 1000 }, query);
  assert.deepEqual(calls.map((c) => c.promql).sort(), ['ER', 'N', 'P95']);
  assert.deepEqual(calls[0], { promql: 'ER', start: 0, end: 2000, step: 1000, timeoutMs: 3000 });
  assert.deepEqual(
    rec.observations.map((o) => [o.at, o.metrics]),
    [
      [0, { samples: 100, error_rate: 0.01, p95_ms: 250 }],
      [1000, { samples: 120, error_rate: 0.4 }],
      [2000, { samples: 130, error_rate: 0.3, p95_ms: 1200 }],
    ],
  );
  // No point at all: nothing to replay, said so (never an empty replay that "fired nothing").
  const none: RangeQuery = async () => ({ series: [], warnings: [], dropped: 0 });
  await assert.rejects(prometheusRecording({ errorRate: 'ER', timeout: '3s' }, { url: 'http://127.0.0.1:9' }, { start: 0, end: 2000, step: 1000 }, none), (err: unknown) => err instanceof ReplayInputError && /answered no points from 1970-01-01T00:00:00\.000Z/.test(err.message));
});
