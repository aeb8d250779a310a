// prometheus: one PromQL query against the team's Prometheus (an instant query now, or a range
// query ending now), observed as numbers for `expect:` to judge: `value < 0.05` on a 5xx rate, a
// p99 latency, a backup's last success. The production signals a release is gated on live there,
// not in anything gonogo can ask the target directly.
//
// Reach: `local`. The kind talks to its configured Prometheus server, never to the target: so the
// target's per-host limit does not apply (a query is a read on the monitoring system and must not
// queue behind probes of the app), and the run's target origins are not its to use (a local kind is
// given none). It keeps its own allow-list instead: exactly the `server` origin, on every hop (a
// redirect elsewhere is an error, not followed), and its own credentials (`bearerToken`,
// `basicAuth`, `headers`), which go to that origin only. It never reads the `auth:` section or the
// run's logins: the target's test users' passwords and sessions are never sent to Prometheus.
//
// No data is never a silent pass: a query with no series (a typo in a label, a target not scraped)
// or fewer samples than `minSamples` is `error` unless `noData:` says it counts as `fail` or `pass`.
import { z } from 'zod';
import { CheckError, defineKind } from '../types.js';
import type { CheckOutcome } from '../types.js';
import { parseDuration } from '../../util/duration.js';
import { formatSeries, queryInstant, queryRange } from '../../util/prometheus.js';
import type { Labels, PrometheusServer } from '../../util/prometheus.js';

/** Series kept in the evidence: a query over thousands of series must not fill the store. */
const MAX_EVIDENCE_SERIES = 20;

function isDuration(value: string): boolean {
  try {
    return parseDuration(value) > 0;
  } catch {
    return false;
  }
}

/** An absolute http(s) URL without credentials, or one whose `${VAR}` / `{{env.x}}` is filled in at run time (checked then). */
function serverUrl(value: string): boolean {
  if (value.includes('${') || value.includes('{{')) return true;
  if (!URL.canParse(value)) return false;
  const u = new URL(value);
  return (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '';
}

const positiveDuration = (what: string) => z.string().refine(isDuration, { message: `${what}: expected a duration such as "30s", "5m" or "1h"` });

const options = z
  .strictObject({
    server: z
      .string()
      .refine(serverUrl, { message: 'expected the http(s) base URL of the Prometheus server, e.g. http://prometheus:9090 (no user:password in it: use basicAuth)' })
      .describe('Base URL of the Prometheus server (or Thanos, Mimir...): `http://prometheus:9090`, `https://mon.example.com/prometheus`. `${VAR}` and `{{env.x}}` are expanded.'),
    query: z.string().min(1).describe('The PromQL expression, e.g. `sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))`.'),
    range: positiveDuration('range')
      .optional()
      .describe('Make it a range query over this long, ending now (`15m`); without it, an instant query now. min, max and avg are then over every point.'),
    step: positiveDuration('step').optional().describe('Distance between points of a range query (default: the range / 60, at least 1s).'),
    noData: z
      .enum(['error', 'fail', 'pass'])
      .default('error')
      .describe('What a query with no series, or fewer samples than `minSamples`, counts as; `expect:` is then not judged. Default `error`: no data never passes silently.'),
    minSamples: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe('Fewer samples than this (points of a range query, series of an instant one, NaN and Inf left out under `nonFinite: drop`) is no data.'),
    nonFinite: z
      .enum(['error', 'drop'])
      .default('error')
      .describe('A NaN or ±Inf sample (a ratio of rates with no traffic is 0/0): `error`, or `drop` it (then it counts as no data when nothing is left).'),
    bearerToken: z.string().optional().describe('Sent as `Authorization: Bearer ...` to the server only; write it as `${VAR}`.'),
    basicAuth: z
      .strictObject({ username: z.string(), password: z.string() })
      .optional()
      .describe('HTTP Basic credentials for the server only; write the password as `${VAR}`.'),
    headers: z.record(z.string(), z.string()).default({}).describe('Extra headers for the server only (a tenant header such as `X-Scope-OrgID`).'),
  })
  .refine((o) => o.step === undefined || o.range !== undefined, { message: 'step is for a range query: give range too', path: ['step'] })
  .refine((o) => !(o.bearerToken !== undefined && o.basicAuth !== undefined), { message: 'give bearerToken or basicAuth, not both', path: ['basicAuth'] });

type Options = z.output<typeof options>;

/** One series as the kind sees it: its labels and its values in time order (one for an instant query). */
interface Seen {
  labels: Labels;
  values: number[];
}

export default defineKind({
  name: 'prometheus',
  description: 'One PromQL query (instant, or a range ending now) against a Prometheus server; conditions on the value, min, max, avg, last and the series.',
  options,
  fields: ['value', 'values', 'series', 'samples', 'min', 'max', 'avg', 'last', 'labels'],
  defaultExpect: () => ['series > 0'],
  reach: 'local',
  async run(o, ctx) {
    const server: PrometheusServer = {
      url: o.server,
      headers: o.headers,
      ...(o.bearerToken !== undefined ? { bearerToken: o.bearerToken } : {}),
      ...(o.basicAuth !== undefined ? { basicAuth: o.basicAuth } : {}),
    };
    const now = ctx.clock.now();
    // The engine owns the deadline (the check's `timeout`): the client sets none of its own.
    const common = { signal: ctx.signal, dispatcher: ctx.dispatcher, timeoutMs: Number.POSITIVE_INFINITY, nonFinite: o.nonFinite };
    const request = requestOf(o, now);
    let seen: Seen[];
    let warnings: string[];
    let dropped: number;
    if (o.range === undefined) {
      const r = await queryInstant(server, o.query, { ...common, at: now });
      seen = r.series.map((s) => ({ labels: s.metric, values: [s.value[1]] }));
      ({ warnings, dropped } = r);
    } else {
      const r = await queryRange(server, o.query, { ...common, start: request.start ?? now, end: now, step: request.stepMs ?? 1000 });
      seen = r.series.map((s) => ({ labels: s.metric, values: s.values.map((v) => v[1]) }));
      ({ warnings, dropped } = r);
    }
    return outcome(o, seen, { ...request.evidence, warnings, dropped });
  },
});

/** The query's time span as sent, and how the evidence states it. */
function requestOf(o: Options, now: number): { start?: number; stepMs?: number; evidence: Record<string, unknown> } {
  const base = { server: o.server, query: o.query };
  if (o.range === undefined) return { evidence: { ...base, type: 'instant', at: new Date(now).toISOString() } };
  const rangeMs = parseDuration(o.range);
  const stepMs = o.step !== undefined ? parseDuration(o.step) : Math.max(1000, Math.ceil(rangeMs / 60 / 1000) * 1000);
  const start = now - rangeMs;
  return { start, stepMs, evidence: { ...base, type: 'range', start: new Date(start).toISOString(), end: new Date(now).toISOString(), stepMs } };
}

/** Observations of what came back, or no data as the policy says. */
function outcome(o: Options, seen: readonly Seen[], about: Record<string, unknown>): CheckOutcome {
  const samples = seen.reduce((n, s) => n + s.values.length, 0);
  const evidence = {
    ...about,
    series: seen.length,
    samples,
    shown: seen.slice(0, MAX_EVIDENCE_SERIES).map((s) => ({ series: formatSeries(s.labels), last: s.values[s.values.length - 1], points: s.values.length })),
  };
  const empty = seen.length === 0 ? 'the query returned no series' : samples < o.minSamples ? `${samples} sample${samples === 1 ? '' : 's'}, fewer than minSamples ${o.minSamples}` : undefined;
  if (empty !== undefined) {
    const reason = `no data: ${empty} (noData: ${o.noData})`;
    if (o.noData === 'error') throw new CheckError(reason, evidence);
    return { observations: { series: seen.length, samples }, evidence, noData: { counts: o.noData, reason } };
  }
  // Each series' latest value; with several, `value` is the highest (the worst rate or latency) and
  // `labels` are that series'.
  const lasts = seen.map((s) => s.values[s.values.length - 1]);
  let top = 0;
  lasts.forEach((v, i) => {
    if (v > lasts[top]) top = i;
  });
  // Loops, not Math.min(...points): a range answer can hold more points than a call takes arguments.
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (const s of seen) {
    for (const v of s.values) {
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
  }
  return {
    observations: { value: lasts[top], values: lasts, series: seen.length, samples, min, max, avg: sum / samples, last: lasts[top], labels: seen[top].labels },
    evidence,
  };
}
