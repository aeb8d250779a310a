// Synthetic metrics over a sliding window: percentiles as exact as the histogram promises, samples
// leaving the window, and memory that does not grow with the length of the watch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SampleWindow, wholeWindow } from './metrics.js';
import { seededRandom as random } from '../test-support/random.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');

/** The nearest-rank percentile of a sorted array (the definition HdrHistogram uses). */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Within the histogram's precision: one part in 1000, plus a microsecond. */
const near = (got: number | undefined, expected: number): boolean => got !== undefined && Math.abs(got - expected) <= expected * 1e-3 + 0.001;

test('percentiles match a sorted-array reference within the histogram\'s precision (3 significant digits, microseconds)', () => {
  const next = random(42);
  const w = new SampleWindow({ windowMs: 5 * 60_000 });
  const latencies: number[] = [];
  let errors = 0;
  for (let i = 0; i < 20_000; i++) {
    // A long-tailed distribution: mostly 20-120 ms, a tail up to several seconds.
    const u = next();
    const ms = u < 0.9 ? 20 + next() * 100 : 120 + (next() ** 3) * 5000;
    const ok = next() > 0.03;
    if (!ok) errors += 1;
    latencies.push(Math.round(ms * 1000) / 1000);
    w.add({ at: T0 + Math.floor((i / 20_000) * 4 * 60_000), latencyMs: ms, ok });
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const v = w.values(T0 + 4 * 60_000);
  assert.equal(v.samples, 20_000);
  assert.equal(v.error_rate, errors / 20_000);
  for (const [name, p] of [['p50_ms', 50], ['p95_ms', 95], ['p99_ms', 99]] as const) {
    const expected = percentile(sorted, p);
    assert.ok(near(v[name], expected), `${name}: ${v[name]} vs ${expected}`);
  }
});

test('small values keep microsecond precision', () => {
  const w = new SampleWindow({ windowMs: 60_000 });
  for (const ms of [0.25, 0.5, 0.75, 1.5, 2.125]) w.add({ at: T0, latencyMs: ms, ok: true });
  const v = w.values(T0);
  assert.equal(v.p50_ms, 0.75);
  assert.equal(v.p99_ms, 2.125);
});

test('old samples leave the window: the values are those of the last window only', () => {
  const w = new SampleWindow({ windowMs: 5 * 60_000 });
  // Minute 0-1: slow and failing; minutes 10-11: fast and fine.
  for (let s = 0; s < 60; s++) w.add({ at: T0 + s * 1000, latencyMs: 3000, ok: false });
  const during = w.values(T0 + 60_000);
  assert.deepEqual([during.error_rate, during.samples], [1, 60]);
  assert.ok(near(during.p95_ms, 3000), `p95 ${during.p95_ms}`);
  for (let s = 0; s < 60; s++) w.add({ at: T0 + 600_000 + s * 1000, latencyMs: 50, ok: true });
  const after = w.values(T0 + 660_000);
  assert.deepEqual([after.error_rate, after.samples], [0, 60]);
  assert.ok(near(after.p95_ms, 50), `p95 ${after.p95_ms}`);
  // Nothing in the window: no value is made up (absent, never 0).
  assert.deepEqual(w.values(T0 + 3_600_000), { samples: 0 });
  // A sample arriving older than the window is refused, and counted.
  w.add({ at: T0, latencyMs: 10, ok: false });
  assert.equal(w.late, 1);
});

test('the window is exact to one interval: a sample counts until its interval has wholly left the window', () => {
  const w = new SampleWindow({ windowMs: 60_000, buckets: 6 });
  assert.equal(w.bucketMs, 10_000);
  w.add({ at: T0 + 5000, latencyMs: 100, ok: false });
  assert.equal(w.values(T0 + 60_000).samples, 1);
  assert.equal(w.values(T0 + 69_999).samples, 1);
  assert.equal(w.values(T0 + 70_000).samples, 0);
});

test('out-of-order samples land in their own interval', () => {
  const w = new SampleWindow({ windowMs: 60_000, buckets: 6 });
  w.add({ at: T0 + 30_000, latencyMs: 10, ok: true });
  w.add({ at: T0 + 5000, latencyMs: 10, ok: false });
  w.add({ at: T0 + 15_000, latencyMs: 10, ok: true });
  assert.equal(w.values(T0 + 60_000).samples, 3);
  // The interval of the sample at 5 s leaves first.
  assert.deepEqual([w.values(T0 + 70_000).samples, w.values(T0 + 70_000).error_rate], [2, 0]);
});

test('memory is bounded: a 24-hour watch sampling every second holds at most buckets + 2 intervals', () => {
  const w = new SampleWindow({ windowMs: 5 * 60_000, buckets: 30 });
  let most = 0;
  const next = random(7);
  for (let s = 0; s < 24 * 3600; s++) {
    w.add({ at: T0 + s * 1000, latencyMs: 10 + next() * 200, ok: next() > 0.01 });
    if (s % 60 === 0) w.values(T0 + s * 1000);
    most = Math.max(most, w.bucketCount);
  }
  assert.ok(most <= 32, `held ${most} intervals`);
  const v = w.values(T0 + 24 * 3600 * 1000);
  assert.ok(v.samples <= 5 * 60 + 10 && v.samples >= 5 * 60, `samples ${v.samples}`);
  // A whole 24-hour window (a stage's criteria) is bounded the same way.
  const day = new SampleWindow({ windowMs: 24 * 3_600_000, buckets: 48 });
  for (let s = 0; s < 3 * 24 * 3600; s += 10) day.add({ at: T0 + s * 1000, latencyMs: 5, ok: true });
  assert.ok(day.bucketCount <= 50, `held ${day.bucketCount} intervals`);
});

test('a stage window read at its end holds two intervals at most, and gives the values of a sliding window over the same span', () => {
  const day = 24 * 3_600_000;
  // A window that starts part-way into an interval (it straddles an edge), sampled every 10 minutes.
  const start = T0 + 17 * 60_000;
  const whole = wholeWindow(day);
  const sliding = new SampleWindow({ windowMs: day });
  const next = random(11);
  let most = 0;
  for (let at = start; at < start + day; at += 600_000) {
    for (let i = 0; i < 10; i++) {
      const sample = { at, latencyMs: 5 + next() * 400, ok: next() > 0.02 };
      whole.add(sample);
      sliding.add(sample);
    }
    most = Math.max(most, whole.bucketCount);
  }
  assert.ok(most <= 2, `held ${most} intervals`);
  assert.deepEqual(whole.values(start + day), sliding.values(start + day));
});
