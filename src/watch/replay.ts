// Replay: the configured triggers run over a recorded series (a JSON-lines file, or Prometheus range
// queries), saying when each would have fired. The same evaluateTriggers as the watch, so tuning a
// threshold or `consecutive` against last month's incident, and against last week's noise, tells
// what the watch will do.
import { z } from 'zod';
import { STATUS_ORDER } from '../model.js';
import type { PrometheusConfig } from '../config/watch-schema.js';
import type { PrometheusServer, RangeQueryOptions, RangeResult } from '../util/prometheus.js';
import { parseDuration } from '../util/duration.js';
import { evaluateTriggers } from './triggers.js';
import type { TriggerStates } from './triggers.js';
import { METRICS } from './types.js';
import type { MetricValues, Observation, TriggerConfig, TriggerSeverity } from './types.js';

/** A recording that could not be read: every bad line, with its number. */
export class ReplayInputError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ReplayInputError';
  }
}

/** Bad lines named before giving up on listing them: a wrong file should not print a million lines. */
const MAX_PROBLEMS = 20;

const rate = z.number().min(0).max(1);
const ms = z.number().min(0);
const metricFields = {
  error_rate: rate.optional(),
  p50_ms: ms.optional(),
  p95_ms: ms.optional(),
  p99_ms: ms.optional(),
  samples: z.number().int().min(0).optional(),
};

const at = z.union([
  z.number().int().min(0),
  z.string().refine((s) => /^\d{4}-\d{2}-\d{2}T/.test(s) && Number.isFinite(Date.parse(s)), 'expected an ISO date-time such as 2026-03-01T12:00:00Z'),
]);

/** One line of a recording: `{at, error_rate, p50_ms, p95_ms, p99_ms, samples, items: {ID: status}, reports, baseline}`. */
const lineSchema = z.strictObject({
  at,
  ...metricFields,
  items: z.record(z.string(), z.enum(STATUS_ORDER)).optional(),
  reports: z.number().int().min(0).optional(),
  baseline: z.strictObject(metricFields).optional(),
});

/** What a recording holds, besides its observations: what its triggers can be judged on. */
export interface Recording {
  observations: Observation[];
  /** Items that appear on some line. */
  items: Set<string>;
  /** Whether some line gives `reports`. */
  reports: boolean;
}

function metricsOf(v: { error_rate?: number; p50_ms?: number; p95_ms?: number; p99_ms?: number; samples?: number }): MetricValues {
  const m: MetricValues = { samples: v.samples ?? Number.POSITIVE_INFINITY };
  for (const name of METRICS) {
    const x = v[name];
    if (x !== undefined) m[name] = x;
  }
  return m;
}

/**
 * Reads a JSON-lines recording, one observation per line (blank lines skipped). `at` is an ISO
 * date-time or epoch milliseconds; a line without `samples` is uncounted (the minSamples guard does
 * not apply to it); a `baseline` applies from its line on. Lines must come in time order. Throws
 * ReplayInputError naming every bad line (`FILE:LINE: ...`).
 */
export function parseRecording(text: string, file: string): Recording {
  const problems: string[] = [];
  const observations: Observation[] = [];
  const items = new Set<string>();
  let reports = false;
  let baseline: MetricValues | undefined;
  let last = Number.NEGATIVE_INFINITY;
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || problems.length > MAX_PROBLEMS) return;
    const where = `${file}:${i + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (err) {
      problems.push(`${where}: not JSON: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const parsed = lineSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => {
        const path = issue.path.map(String).join('.');
        return `${path ? `${path}: ` : ''}${issue.code === 'unrecognized_keys' ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}` : issue.message}`;
      });
      problems.push(`${where}: ${issues.join('; ')}`);
      return;
    }
    const v = parsed.data;
    const time = typeof v.at === 'number' ? v.at : Date.parse(v.at);
    if (time < last) {
      problems.push(`${where}: at ${new Date(time).toISOString()} is before the line above (${new Date(last).toISOString()}): lines must be in time order`);
      return;
    }
    last = time;
    if (v.baseline) baseline = metricsOf(v.baseline);
    for (const id of Object.keys(v.items ?? {})) items.add(id);
    if (v.reports !== undefined) reports = true;
    observations.push({ at: time, metrics: metricsOf(v), items: v.items ?? {}, reports: v.reports ?? 0, ...(baseline ? { baseline } : {}) });
  });
  if (problems.length > MAX_PROBLEMS) problems.splice(MAX_PROBLEMS, problems.length, `${file}: more bad lines not listed`);
  if (problems.length > 0) throw new ReplayInputError(problems);
  if (observations.length === 0) throw new ReplayInputError([`${file}: no observations (one JSON object per line: {"at": "2026-03-01T12:00:00Z", "error_rate": 0.01, "p95_ms": 420, "samples": 300})`]);
  return { observations, items, reports };
}

/** One time a trigger would have fired. */
export interface ReplayFiring {
  /** Milliseconds since the epoch. */
  at: number;
  trigger: string;
  severity: TriggerSeverity;
  value?: number;
  threshold?: number;
  message: string;
}

/** What a replay found. */
export interface ReplayResult {
  evaluations: number;
  /** First and last observation (milliseconds since the epoch). */
  from: number;
  to: number;
  /** The triggers replayed. */
  triggers: string[];
  /** Triggers left out: the recording holds nothing they watch (no data for them is not their verdict). */
  skipped: { trigger: string; reason: string }[];
  firings: ReplayFiring[];
}

/** Why a trigger cannot be replayed on this recording, if it cannot. */
function unreplayable(t: TriggerConfig, r: Recording): string | undefined {
  if (t.items && !t.items.some((id) => r.items.has(id))) return `none of its items (${t.items.join(', ')}) is in the recording`;
  if (t.reports && !r.reports) return 'the recording has no reports';
  if (t.metric && !r.observations.some((o) => o.metrics[t.metric ?? 'error_rate'] !== undefined)) return `the recording has no ${t.metric}`;
  if (t.aboveBaseline !== undefined && !r.observations.some((o) => o.baseline?.[t.metric ?? 'error_rate'] !== undefined)) return `no baseline ${t.metric} in the recording (give one with --baseline ${t.metric}=VALUE)`;
  return undefined;
}

/**
 * Runs the triggers over the observations in order, streaks carried as in a watch, and lists every
 * firing. `baseline` applies to observations that carry none. Triggers the recording holds nothing
 * for are left out, with why: their no-data policy would otherwise decide the replay.
 */
export function replay(triggers: readonly TriggerConfig[], recording: Recording, opts: { baseline?: MetricValues } = {}): ReplayResult {
  const { baseline } = opts;
  const rec: Recording = baseline ? { ...recording, observations: recording.observations.map((o) => (o.baseline ? o : { ...o, baseline })) } : recording;
  const skipped = triggers.flatMap((t) => {
    const reason = unreplayable(t, rec);
    return reason ? [{ trigger: t.id, reason }] : [];
  });
  const kept = triggers.filter((t) => !skipped.some((s) => s.trigger === t.id));
  const firings: ReplayFiring[] = [];
  let states: TriggerStates = {};
  for (const o of rec.observations) {
    const r = evaluateTriggers(kept, o, states);
    states = r.states;
    for (const v of r.verdicts) {
      if (!v.fired) continue;
      firings.push({ at: o.at, trigger: v.id, severity: v.severity, ...(v.value !== undefined ? { value: v.value } : {}), ...(v.threshold !== undefined ? { threshold: v.threshold } : {}), message: v.message });
    }
  }
  const obs = rec.observations;
  return { evaluations: obs.length, from: obs[0]?.at ?? 0, to: obs.at(-1)?.at ?? 0, triggers: kept.map((t) => t.id), skipped, firings };
}

/** The Prometheus client's range query, injected so this module does not load it (or undici) until asked. */
export type RangeQuery = (server: PrometheusServer, promql: string, opts: RangeQueryOptions) => Promise<RangeResult>;

/** Which metric each configured query answers, and the factor to the metric's unit (seconds to milliseconds). */
const QUERIES: [keyof MetricValues, 'errorRate' | 'p50' | 'p95' | 'p99' | 'samples', number][] = [
  ['error_rate', 'errorRate', 1],
  ['p50_ms', 'p50', 1000],
  ['p95_ms', 'p95', 1000],
  ['p99_ms', 'p99', 1000],
  ['samples', 'samples', 1],
];

/**
 * A recording from Prometheus: each configured query (`watch.metrics.prometheus`, its `${VAR}` and
 * `{{env.x}}` already expanded by the caller) as a range query from `start` to `end` every `step`;
 * one observation per step at which any metric has a value. Several series: the worst (highest) at
 * each step. Without a `samples` query, observations are uncounted. A failed query throws; no point at
 * all is a ReplayInputError.
 */
export async function prometheusRecording(
  prom: Pick<PrometheusConfig, 'errorRate' | 'p50' | 'p95' | 'p99' | 'samples' | 'timeout'>,
  server: PrometheusServer,
  range: { start: number; end: number; step: number },
  queryRange: RangeQuery,
  opts: Pick<RangeQueryOptions, 'clock' | 'signal' | 'dispatcher'> = {},
): Promise<Recording> {
  const points = new Map<number, MetricValues>();
  const timeoutMs = parseDuration(prom.timeout);
  const wanted = QUERIES.flatMap(([metric, key, scale]) => {
    const promql = prom[key];
    return promql === undefined ? [] : [{ metric, promql, scale }];
  });
  const results = await Promise.all(
    wanted.map(async (w) => ({ ...w, result: await queryRange(server, w.promql, { ...opts, start: range.start, end: range.end, step: range.step, timeoutMs, nonFinite: 'drop' }) })),
  );
  for (const { metric, scale, result } of results) {
    for (const series of result.series) {
      for (const [t, value] of series.values) {
        const m = points.get(t) ?? { samples: Number.POSITIVE_INFINITY };
        // A count from rate() or increase() is fractional: samples are whole.
        const scaled = metric === 'samples' ? Math.round(value) : value * scale;
        const before = metric === 'samples' && !Number.isFinite(m.samples) ? undefined : m[metric];
        m[metric] = before === undefined ? scaled : Math.max(before, scaled);
        points.set(t, m);
      }
    }
  }
  const observations = [...points.entries()].sort(([a], [b]) => a - b).map(([t, metrics]): Observation => ({ at: t, metrics, items: {}, reports: 0 }));
  if (observations.length === 0) {
    throw new ReplayInputError([`Prometheus answered no points from ${new Date(range.start).toISOString()} to ${new Date(range.end).toISOString()}: nothing to replay (is the range right, and does the error-rate query answer in it?)`]);
  }
  return { observations, items: new Set(), reports: false };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** A replay as text: what was replayed over what, each firing on a line (time, trigger, value vs threshold), and a summary. */
export function renderReplayText(r: ReplayResult): string {
  const lines = [`Replayed ${r.triggers.length} trigger${r.triggers.length === 1 ? '' : 's'} over ${r.evaluations} evaluation${r.evaluations === 1 ? '' : 's'}, ${iso(r.from)} to ${iso(r.to)}.`];
  for (const s of r.skipped) lines.push(`Not replayed: ${s.trigger}: ${s.reason}.`);
  if (r.firings.length === 0) {
    lines.push('No trigger would have fired.');
    return `${lines.join('\n')}\n`;
  }
  const width = Math.max(...r.firings.map((f) => f.trigger.length));
  for (const f of r.firings) lines.push(`${iso(f.at)}  ${f.trigger.padEnd(width)}  ${f.severity.padEnd(11)}  ${f.message}`);
  const counts = new Map<string, number>();
  for (const f of r.firings) counts.set(f.trigger, (counts.get(f.trigger) ?? 0) + 1);
  const first = r.firings.find((f) => f.severity === 'immediate');
  lines.push(
    `${r.firings.length} firing${r.firings.length === 1 ? '' : 's'}: ${[...counts].map(([id, n]) => `${id} ${n === 1 ? 'once' : `${n} times`}`).join(', ')}.` +
      (first ? ` The first immediate one (${first.trigger} at ${iso(first.at)}) would have rolled the release back.` : ''),
  );
  return `${lines.join('\n')}\n`;
}

/** A replay as JSON data: times as ISO strings. */
export function replayDocument(r: ReplayResult): Record<string, unknown> {
  return {
    from: iso(r.from),
    to: iso(r.to),
    evaluations: r.evaluations,
    triggers: r.triggers,
    skipped: r.skipped,
    firings: r.firings.map((f) => ({ ...f, at: iso(f.at) })),
  };
}

/** `p95_ms=300,error_rate=0.002`: a baseline given on the command line; throws with what is wrong. */
export function parseBaseline(text: string): MetricValues {
  const m: MetricValues = { samples: Number.POSITIVE_INFINITY };
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const [name, value, ...rest] = part.split('=');
    const metric = METRICS.find((x) => x === name.trim());
    const n = Number(value);
    if (!metric || rest.length > 0 || value === undefined || value.trim() === '' || !Number.isFinite(n) || n < 0) {
      throw new Error(`--baseline: ${JSON.stringify(part)} is not METRIC=VALUE (metrics: ${METRICS.join(', ')}; latencies in ms, error_rate 0..1)`);
    }
    m[metric] = n;
  }
  if (METRICS.every((x) => m[x] === undefined)) throw new Error('--baseline: give at least one METRIC=VALUE, e.g. p95_ms=300');
  return m;
}
