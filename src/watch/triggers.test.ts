// The triggers as a pure function over series of observations: persistence (consecutive), firing
// once per streak, no-data policies, the sample guard and thresholds against the baseline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateTrigger, evaluateTriggers } from './triggers.js';
import type { TriggerStates } from './triggers.js';
import type { MetricValues, Observation, TriggerConfig, TriggerVerdict } from './types.js';
import type { Status } from '../model.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');

function trigger(t: Partial<TriggerConfig> & Pick<TriggerConfig, 'id'>): TriggerConfig {
  return { severity: 'immediate', consecutive: 2, minSamples: 10, noData: t.items ? 'breach' : 'unknown', ...t };
}

function obs(at: number, o: { metrics?: Partial<MetricValues>; items?: Record<string, Status>; reports?: number; baseline?: MetricValues } = {}): Observation {
  return { at: T0 + at * 60_000, metrics: { samples: 100, ...o.metrics }, items: o.items ?? {}, reports: o.reports ?? 0, ...(o.baseline ? { baseline: o.baseline } : {}) };
}

/** The verdicts of one trigger over a series, states carried from one evaluation to the next. */
function run(t: TriggerConfig, series: Observation[]): TriggerVerdict[] {
  let states: TriggerStates = {};
  return series.map((o) => {
    const r = evaluateTriggers([t], o, states);
    states = r.states;
    return r.verdicts[0];
  });
}

const errorRate = (values: (number | undefined)[], samples = 100): Observation[] =>
  values.map((v, i) => obs(i, { metrics: v === undefined ? { samples } : { error_rate: v, samples } }));

const critical = trigger({ id: 'error-rate-critical', metric: 'error_rate', above: 0.05 });

test('a flapping series (breach, ok, breach, ok...) never fires with consecutive 2', () => {
  const verdicts = run(critical, errorRate([0.09, 0.01, 0.2, 0.0, 0.5, 0.02, 0.07, 0.01]));
  assert.deepEqual(verdicts.map((v) => v.state), ['breach', 'ok', 'breach', 'ok', 'breach', 'ok', 'breach', 'ok']);
  assert.deepEqual(verdicts.map((v) => v.streak), [1, 0, 1, 0, 1, 0, 1, 0]);
  assert.equal(verdicts.filter((v) => v.fired).length, 0);
});

test('a sustained breach fires exactly once, on the evaluation the streak reaches consecutive; it re-arms only after an ok', () => {
  const verdicts = run(critical, errorRate([0.01, 0.08, 0.09, 0.1, 0.12, 0.2, 0.01, 0.06, 0.07]));
  assert.deepEqual(verdicts.map((v) => v.fired), [false, false, true, false, false, false, false, false, true]);
  assert.deepEqual(verdicts.map((v) => v.streak), [0, 1, 2, 3, 4, 5, 0, 1, 2]);
  assert.equal(verdicts[2].message, 'error_rate 9% > 5% over 100 samples (2/2 consecutive): fired');
  assert.equal(verdicts[2].value, 0.09);
  assert.equal(verdicts[2].threshold, 0.05);
  assert.equal(verdicts[0].message, 'error_rate 1% <= 5% over 100 samples');
});

test('consecutive 1 fires on the first breach; consecutive 3 needs three in a row', () => {
  assert.deepEqual(run({ ...critical, consecutive: 1 }, errorRate([0.06])).map((v) => v.fired), [true]);
  assert.deepEqual(run({ ...critical, consecutive: 3 }, errorRate([0.06, 0.06, 0.01, 0.06, 0.06, 0.06])).map((v) => v.fired), [false, false, false, false, false, true]);
});

test('no data under each policy: unknown keeps the streak, breach grows it, ok resets it', () => {
  const series = errorRate([0.09, undefined, 0.09, undefined, undefined, 0.09]);
  const unknown = run({ ...critical, noData: 'unknown' }, series);
  assert.deepEqual(unknown.map((v) => v.state), ['breach', 'unknown', 'breach', 'unknown', 'unknown', 'breach']);
  // The gap neither counts against the app nor wipes the breach before it: fires on the second breach.
  assert.deepEqual(unknown.map((v) => v.streak), [1, 1, 2, 2, 2, 3]);
  assert.deepEqual(unknown.map((v) => v.fired), [false, false, true, false, false, false]);
  assert.match(unknown[1].message, /^error_rate: no value in this evaluation \[no data: counted as unknown, streak kept\] \(1\/2 consecutive\)$/);

  const breach = run({ ...critical, noData: 'breach' }, series);
  assert.deepEqual(breach.map((v) => v.state), ['breach', 'no-data', 'breach', 'no-data', 'no-data', 'breach']);
  assert.deepEqual(breach.map((v) => v.streak), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(breach.map((v) => v.fired), [false, true, false, false, false, false]);

  const ok = run({ ...critical, noData: 'ok' }, series);
  assert.deepEqual(ok.map((v) => v.streak), [1, 0, 1, 0, 0, 1]);
  assert.ok(ok.every((v) => !v.fired));

  // A series with no data at all: silent under unknown and ok, fires under breach (fail closed).
  const silent = errorRate([undefined, undefined, undefined]);
  assert.ok(run({ ...critical, noData: 'unknown' }, silent).every((v) => !v.fired && v.streak === 0));
  assert.ok(run({ ...critical, noData: 'ok' }, silent).every((v) => !v.fired && v.streak === 0));
  assert.deepEqual(run({ ...critical, noData: 'breach' }, silent).map((v) => v.fired), [false, true, false]);
});

test('the minimum-samples guard: a rate over too few samples is no data, not a breach', () => {
  // 1 error in 3 requests is 33%: a cold start, not an outage.
  const few = run(critical, errorRate([0.33, 0.33, 0.33], 3));
  assert.deepEqual(few.map((v) => v.state), ['unknown', 'unknown', 'unknown']);
  assert.ok(few.every((v) => !v.fired));
  assert.match(few[0].message, /^error_rate 33% stands on 3 samples, fewer than 10: not judged/);
  // A source that gives no count (Infinity): the guard cannot apply, and no count is claimed.
  const uncounted = run(critical, errorRate([0.33, 0.33], Number.POSITIVE_INFINITY));
  assert.deepEqual(uncounted.map((v) => v.fired), [false, true]);
  assert.equal(uncounted[0].message, 'error_rate 33% > 5% (1/2 consecutive)');
  // Exactly minSamples counts.
  assert.deepEqual(run(critical, errorRate([0.33, 0.33], 10)).map((v) => v.fired), [false, true]);
});

test('a baseline-relative threshold: p95 above 1.5 x the baseline\'s p95', () => {
  const t = trigger({ id: 'latency-degraded', severity: 'conditional', metric: 'p95_ms', aboveBaseline: 1.5 });
  const baseline: MetricValues = { p95_ms: 200, samples: 500 };
  const at = (p95: number) => obs(0, { metrics: { p95_ms: p95 }, baseline });
  const [quiet] = run(t, [at(300)]);
  assert.equal(quiet.state, 'ok');
  assert.equal(quiet.threshold, 300);
  assert.equal(quiet.message, 'p95_ms 300 ms <= 300 ms (1.5 x baseline 200 ms) over 100 samples');
  const slow = run(t, [at(301), at(450)]);
  assert.deepEqual(slow.map((v) => [v.state, v.fired]), [['breach', false], ['breach', true]]);
  assert.equal(slow[1].message, 'p95_ms 450 ms > 300 ms (1.5 x baseline 200 ms) over 100 samples (2/2 consecutive): fired');
  // No baseline recorded: no data, and the message says why.
  const none = run(t, [obs(0, { metrics: { p95_ms: 10_000 } }), obs(1, { metrics: { p95_ms: 10_000 } })]);
  assert.deepEqual(none.map((v) => v.state), ['unknown', 'unknown']);
  assert.match(none[0].message, /no baseline recorded, so 1\.5 x baseline cannot be judged/);
  // A baseline without this metric: no data too.
  const [partial] = run(t, [obs(0, { metrics: { p95_ms: 10_000 }, baseline: { error_rate: 0.001, samples: 100 } })]);
  assert.match(partial.message, /the baseline has no p95_ms/);
});

test('above: beside aboveBaseline: is a floor: a fast service\'s noise over 1.5 x a tiny baseline never fires; a real slowdown does', () => {
  const t = trigger({ id: 'latency-degraded', severity: 'conditional', metric: 'p95_ms', aboveBaseline: 1.5, above: 100 });
  const baseline: MetricValues = { p95_ms: 6, samples: 500 };
  const noisy = run(t, [obs(0, { metrics: { p95_ms: 40 }, baseline }), obs(1, { metrics: { p95_ms: 60 }, baseline })]);
  assert.deepEqual(noisy.map((v) => [v.state, v.threshold, v.fired]), [['ok', 100, false], ['ok', 100, false]]);
  assert.match(noisy[0].message, /40 ms <= 100 ms \(1\.5 x baseline 6 ms, at least 100 ms\)/);
  const slow = run(t, [obs(0, { metrics: { p95_ms: 400 }, baseline }), obs(1, { metrics: { p95_ms: 400 }, baseline })]);
  assert.deepEqual(slow.map((v) => v.fired), [false, true]);
  // No baseline yet: the floor alone is judged.
  const [floor] = run(t, [obs(0, { metrics: { p95_ms: 400 } })]);
  assert.equal(floor.state, 'breach');
  assert.match(floor.message, /the floor: no baseline recorded/);
});

test('an items trigger: fail or error of any item it names breaches (error fails closed); passing items stay quiet', () => {
  const t = trigger({ id: 'app-down', items: ['HEALTH-01', 'AUTH-01'] });
  const quiet = run(t, [obs(0, { items: { 'HEALTH-01': 'pass', 'AUTH-01': 'pass', 'OTHER-01': 'fail' } }), obs(1, { items: { 'HEALTH-01': 'pass', 'AUTH-01': 'pass' } })]);
  assert.deepEqual(quiet.map((v) => [v.state, v.value, v.fired]), [['ok', 0, false], ['ok', 0, false]]);
  const erroring = run(t, [obs(0, { items: { 'HEALTH-01': 'error', 'AUTH-01': 'pass' } }), obs(1, { items: { 'HEALTH-01': 'error', 'AUTH-01': 'fail' } })]);
  assert.deepEqual(erroring.map((v) => [v.state, v.value, v.fired]), [['breach', 1, false], ['breach', 2, true]]);
  assert.equal(erroring[1].message, '2 of 2 items not passing: HEALTH-01 error, AUTH-01 fail (2/2 consecutive): fired');
  // Only the items checked this time are judged.
  const [some] = run(t, [obs(0, { items: { 'AUTH-01': 'fail' } })]);
  assert.equal(some.message, '1 of 1 item not passing: AUTH-01 fail (1 not checked this time) (1/2 consecutive)');
});

test('an items trigger none of whose items was checked is no data: breach by default (fail closed), unknown when asked', () => {
  const t = trigger({ id: 'data-integrity', items: ['MIG-03'] });
  const series = [obs(0, { items: { 'HEALTH-01': 'pass' } }), obs(1, { items: {} })];
  const dflt = run(t, series);
  assert.deepEqual(dflt.map((v) => [v.state, v.fired]), [['no-data', false], ['no-data', true]]);
  assert.match(dflt[0].message, /^none of its items \(MIG-03\) was checked in this evaluation \[no data: counted as breach\]/);
  assert.ok(run({ ...t, noData: 'unknown' }, series).every((v) => v.state === 'unknown' && !v.fired));
});

test('a reports trigger breaches while an issue report is open', () => {
  const t = trigger({ id: 'reported-issue', severity: 'conditional', reports: true });
  const verdicts = run(t, [obs(0), obs(1, { reports: 1 }), obs(2, { reports: 2 }), obs(3)]);
  assert.deepEqual(verdicts.map((v) => [v.state, v.value, v.fired]), [['ok', 0, false], ['breach', 1, false], ['breach', 2, true], ['ok', 0, false]]);
  assert.equal(verdicts[2].message, '2 open issue reports (fires above 0) (2/2 consecutive): fired');
});

test('several triggers at once: each keeps its own streak, states are plain data and the input states are not changed', () => {
  const triggers = [critical, trigger({ id: 'constructor', severity: 'conditional', metric: 'error_rate', above: 0.02 })];
  const before: TriggerStates = Object.freeze({ 'error-rate-critical': { streak: 1, fired: false } });
  const r = evaluateTriggers(triggers, obs(0, { metrics: { error_rate: 0.03 } }), before);
  assert.deepEqual(r.verdicts.map((v) => [v.id, v.state, v.streak]), [['error-rate-critical', 'ok', 0], ['constructor', 'breach', 1]]);
  assert.deepEqual(r.states, { 'error-rate-critical': { streak: 0, fired: false }, constructor: { streak: 1, fired: false } });
  assert.deepEqual(JSON.parse(JSON.stringify(r.states)), r.states);
  // A resumed watch: a stored streak that had fired does not fire again while the breach lasts.
  const resumed = evaluateTrigger(critical, obs(1, { metrics: { error_rate: 0.5 } }), { streak: 4, fired: true });
  assert.deepEqual([resumed.verdict.fired, resumed.state], [false, { streak: 5, fired: true }]);
});
