// A small client of Prometheus' HTTP API (`/api/v1/query` and `/api/v1/query_range`), for the
// `prometheus` check kind and the watch after a deploy. Every request goes through util/http (body
// cap, one deadline, an origin allow-list on every hop), and only ever to the configured server's
// origin: its token or password is never sent anywhere else, a redirect away from it is not
// followed. Every way a query can fail is one PrometheusError with a sentence a person can act on.
//
//   const { series } = await queryInstant({ url: 'http://127.0.0.1:9090' }, 'sum(rate(http_requests_total[5m]))', { signal });
//   series[0]?.value[1]; // the number, never NaN or Inf (those are errors unless `nonFinite: 'drop'`)
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { systemClock } from './clock.js';
import type { Clock } from './clock.js';
import { parseDuration } from './duration.js';
import { HttpCheckError, httpRequest } from './http.js';
import type { HttpResponse } from './http.js';

/** A Prometheus server (or anything speaking its API: Thanos, Mimir, VictoriaMetrics) and how to authenticate to it. */
export interface PrometheusServer {
  /** Base URL: `http://127.0.0.1:9090`, or with a path prefix, `https://mon.example.com/prometheus`. No user:password in it. */
  url: string;
  /** Sent as `Authorization: Bearer <token>`, to this server's origin only. */
  bearerToken?: string;
  /** Sent as `Authorization: Basic ...`, to this server's origin only. */
  basicAuth?: { username: string; password: string };
  /** Extra request headers (a tenant header such as `X-Scope-OrgID`), to this server's origin only. */
  headers?: Record<string, string>;
}

/** Bounds of one query; all optional. */
export interface QueryOptions {
  /** Ends the request (the caller's deadline: a check's timeout, a watch being stopped). */
  signal?: AbortSignal;
  /** The connection pool to use (a run's or a watch's); default: util/http's own. */
  dispatcher?: Dispatcher;
  /**
   * The client's own deadline, also sent to Prometheus as the query's `timeout` so that it stops
   * working too. Default 30 s; `Infinity`: none, the signal alone ends the request.
   */
  timeoutMs?: number;
  /** The clock the deadline runs on (tests pass a fake one). Default: the system clock. */
  clock?: Clock;
  /** A larger answer is an error. Default 8 MiB (a few thousand series). */
  maxBodyBytes?: number;
  /**
   * What a NaN or ±Inf sample is: `error` (the default: a rate of 0/0 is no number to judge) or
   * `drop` (the sample is left out, a series left without samples too; `dropped` counts them).
   */
  nonFinite?: 'error' | 'drop';
}

/** An instant query: the value of each series at one moment. */
export interface InstantQueryOptions extends QueryOptions {
  /** When to evaluate (milliseconds since the epoch, or a Date). Default: Prometheus' own now. */
  at?: number | Date;
}

/** A range query: each series' values from `start` to `end`, every `step`. */
export interface RangeQueryOptions extends QueryOptions {
  /** Milliseconds since the epoch, or a Date. */
  start: number | Date;
  /** Milliseconds since the epoch, or a Date; not before `start`. */
  end: number | Date;
  /** Milliseconds between points, or a duration such as `15s`; more than 0. */
  step: number | string;
}

/** A series' labels, `__name__` included when the result keeps it. */
export type Labels = Record<string, string>;

/** One sample: [milliseconds since the epoch, value]. Prometheus' seconds are turned into milliseconds. */
export type Sample = [t: number, value: number];

/** One series of an instant query. */
export interface InstantSeries {
  metric: Labels;
  value: Sample;
}

/** One series of a range query, its samples in time order. */
export interface RangeSeries {
  metric: Labels;
  values: Sample[];
}

/** What an instant query returned. A scalar result (`1 + 1`) is one series with no labels. */
export interface InstantResult {
  resultType: 'vector' | 'scalar';
  series: InstantSeries[];
  /** Prometheus' warnings (a partial answer from a remote store, for instance). */
  warnings: string[];
  /** NaN or ±Inf samples left out under `nonFinite: 'drop'`. */
  dropped: number;
}

/** What a range query returned. */
export interface RangeResult {
  series: RangeSeries[];
  warnings: string[];
  dropped: number;
}

/**
 * How a query failed: `unreachable` (no answer: refused, reset, unknown host), `timeout` (the
 * client's deadline), `aborted` (the caller's signal), `http` (an answer that is not the API's: an
 * error page, a redirect away, a body over the cap, not HTTP at all), `api` (Prometheus refused or
 * failed the query), `invalid` (JSON not shaped as documented), `non-finite` (NaN or ±Inf),
 * `options` (refused before anything was sent).
 */
export type PrometheusErrorCode = 'unreachable' | 'timeout' | 'aborted' | 'http' | 'api' | 'invalid' | 'non-finite' | 'options';

/** A query that gave no numbers, with why. */
export class PrometheusError extends Error {
  constructor(
    message: string,
    readonly code: PrometheusErrorCode,
    /** Prometheus' own `errorType` (`bad_data`, `execution`, `timeout`...) when it said one. */
    readonly errorType?: string,
    /** The HTTP status, when there was an answer. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'PrometheusError';
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;
/** Prometheus refuses a range query with more points per series than this ("exceeded maximum resolution"). */
export const MAX_RANGE_POINTS = 11_000;

/**
 * An instant query (`/api/v1/query`): each series' value at `at`. A result that is a range vector
 * (`x[5m]`) or a string is an error: it has no single number per series.
 */
export async function queryInstant(server: PrometheusServer, promql: string, opts: InstantQueryOptions = {}): Promise<InstantResult> {
  const params = new URLSearchParams({ query: promql });
  if (opts.at !== undefined) params.set('time', seconds(millis(opts.at, 'at')));
  const { data, warnings } = await call(server, 'query', params, opts);
  const drop = new Dropper(opts.nonFinite);
  if (data.resultType === 'scalar') {
    const value = sample(checked(pointSchema, data.result, server), {}, drop, 'result');
    return { resultType: 'scalar', series: value ? [{ metric: {}, value }] : [], warnings, dropped: drop.count };
  }
  if (data.resultType !== 'vector') throw wrongType(data.resultType, 'an instant query', 'a vector or a scalar');
  const parsed = checked(vectorSchema, data.result, server);
  const series: InstantSeries[] = [];
  parsed.forEach((s, i) => {
    const value = sample(s.value, s.metric, drop, `result[${i}]`);
    if (value) series.push({ metric: s.metric, value });
  });
  return { resultType: 'vector', series, warnings, dropped: drop.count };
}

/** A range query (`/api/v1/query_range`): each series' values from `start` to `end`, every `step`. */
export async function queryRange(server: PrometheusServer, promql: string, opts: RangeQueryOptions): Promise<RangeResult> {
  const start = millis(opts.start, 'start');
  const end = millis(opts.end, 'end');
  const step = stepMs(opts.step);
  if (end < start) throw new PrometheusError(`range query: end (${iso(end)}) is before start (${iso(start)})`, 'options');
  const points = Math.floor((end - start) / step) + 1;
  if (points > MAX_RANGE_POINTS) {
    throw new PrometheusError(`range query: ${points} points per series (step ${step} ms over ${end - start} ms); Prometheus refuses more than ${MAX_RANGE_POINTS}: use a longer step`, 'options');
  }
  const params = new URLSearchParams({ query: promql, start: seconds(start), end: seconds(end), step: seconds(step) });
  const { data, warnings } = await call(server, 'query_range', params, opts);
  if (data.resultType !== 'matrix') throw wrongType(data.resultType, 'a range query', 'a matrix');
  const drop = new Dropper(opts.nonFinite);
  const series: RangeSeries[] = [];
  checked(matrixSchema, data.result, server).forEach((s, i) => {
    const values: Sample[] = [];
    s.values.forEach((v, j) => {
      const point = sample(v, s.metric, drop, `result[${i}].values[${j}]`);
      if (point) values.push(point);
    });
    if (values.length > 0) series.push({ metric: s.metric, values });
  });
  return { series, warnings, dropped: drop.count };
}

/** `http_requests_total{job="app",status="500"}`: a series as Prometheus writes it; `{}` for no labels. */
export function formatSeries(metric: Labels): string {
  const { __name__: name, ...labels } = metric;
  const inner = Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
  return `${name ?? ''}{${inner}}`;
}

// --- the exchange ------------------------------------------------------------------------------

// The documented envelope (https://prometheus.io/docs/prometheus/latest/querying/api/#format-overview).
const envelopeSchema = z.union([
  z.object({
    status: z.literal('success'),
    data: z.object({ resultType: z.string(), result: z.unknown() }),
    warnings: z.array(z.string()).optional(),
  }),
  z.object({ status: z.literal('error'), errorType: z.string().optional(), error: z.string().optional() }),
]);
// [unix seconds, "value"]: values are strings so that NaN and Inf survive JSON.
const pointSchema = z.tuple([z.number(), z.string()]);
const labelsSchema = z.record(z.string(), z.string());
const vectorSchema = z.array(z.object({ metric: labelsSchema, value: pointSchema }));
const matrixSchema = z.array(z.object({ metric: labelsSchema, values: z.array(pointSchema) }));

interface Success {
  data: { resultType: string; result: unknown };
  warnings: string[];
}

/** The API's base URL, or why the server's URL cannot be one. */
function apiBase(server: PrometheusServer): URL {
  if (!URL.canParse(server.url)) throw new PrometheusError(`Prometheus server URL is not an absolute URL: ${JSON.stringify(server.url)}`, 'options');
  const base = new URL(server.url);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new PrometheusError(`Prometheus server URL must be http or https, not ${base.protocol}`, 'options');
  // A password in the URL would travel into messages and evidence: it has its own option.
  if (base.username !== '' || base.password !== '') throw new PrometheusError('Prometheus server URL must not hold a user or password: use basicAuth', 'options');
  if (base.search !== '' || base.hash !== '') throw new PrometheusError('Prometheus server URL must not have a query or fragment: give the base URL (a path prefix is fine)', 'options');
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  return base;
}

function requestHeaders(server: PrometheusServer): Record<string, string> {
  const given = Object.entries(server.headers ?? {}).map(([name, value]): [string, string] => [name.toLowerCase(), value]);
  const headers: Record<string, string> = { ...Object.fromEntries(given), accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' };
  if (server.bearerToken !== undefined && server.basicAuth !== undefined) throw new PrometheusError('give bearerToken or basicAuth, not both', 'options');
  if (server.bearerToken !== undefined) headers.authorization = `Bearer ${server.bearerToken}`;
  if (server.basicAuth !== undefined) headers.authorization = `Basic ${Buffer.from(`${server.basicAuth.username}:${server.basicAuth.password}`).toString('base64')}`;
  return headers;
}

/**
 * One POST to the API (POST: a long query fits, and it stays out of access logs' URLs), under one
 * controller that the caller's signal and the client's deadline both end.
 */
async function call(server: PrometheusServer, endpoint: 'query' | 'query_range', params: URLSearchParams, opts: QueryOptions): Promise<Success> {
  const base = apiBase(server);
  const url = new URL(`api/v1/${endpoint}`, base);
  const headers = requestHeaders(server);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new PrometheusError(`timeoutMs must be more than 0, got ${timeoutMs}`, 'options');
  if (Number.isFinite(timeoutMs)) params.set('timeout', `${Math.ceil(timeoutMs)}ms`);
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(opts.signal?.reason);
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const timedOut = new Error(`Prometheus at ${url.host} did not answer within ${timeoutMs} ms`);
  if (Number.isFinite(timeoutMs)) (opts.clock ?? systemClock).sleep(timeoutMs, controller.signal).then(() => controller.abort(timedOut), () => undefined);
  let res: HttpResponse;
  try {
    res = await httpRequest({
      url: url.href,
      method: 'POST',
      headers,
      body: params.toString(),
      signal: controller.signal,
      dispatcher: opts.dispatcher,
      maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      // Its own origin only: a redirect elsewhere is the answer (and an error below), never followed.
      redirects: { policy: 'same-origin', max: 3 },
      allowedOrigins: new Set([url.origin]),
    });
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (controller.signal.reason === timedOut) throw new PrometheusError(`${timedOut.message} (${endpoint})`, 'timeout');
    if (controller.signal.aborted) throw new PrometheusError(`Prometheus query at ${url.host} stopped: ${why}`, 'aborted');
    // util/http's own bounds and a peer that does not speak HTTP: something answered, wrongly.
    if (err instanceof HttpCheckError && /larger than|redirect|not an HTTP response/.test(why)) throw new PrometheusError(`Prometheus at ${url.host}: ${why}`, 'http');
    throw new PrometheusError(`Prometheus at ${url.host} could not be queried: ${why}`, 'unreachable');
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    controller.abort(FINISHED);
  }
  return envelope(res, url);
}

const FINISHED = new Error('finished');

/** The answer's envelope: the data of a success, or the error Prometheus (or whatever answered) gave. */
function envelope(res: HttpResponse, url: URL): Success {
  const where = `Prometheus at ${url.host}`;
  if (res.status >= 300 && res.status < 400) {
    const to = res.headers.location ?? '(no Location)';
    throw new PrometheusError(`${where} redirected to ${to}: not followed, it leaves the configured server's origin`, 'http', undefined, res.status);
  }
  let json: unknown;
  try {
    json = JSON.parse(res.body);
  } catch {
    if (res.status >= 400) throw new PrometheusError(`${where} answered HTTP ${res.status}${hint(res.status)}; not the Prometheus API (body starts ${excerpt(res.body)})`, 'http', undefined, res.status);
    throw new PrometheusError(`${where} answered HTTP ${res.status} with a body that is not JSON (starts ${excerpt(res.body)}): is this the Prometheus API?`, 'invalid', undefined, res.status);
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) {
    if (res.status >= 400) throw new PrometheusError(`${where} answered HTTP ${res.status}${hint(res.status)}; not the Prometheus API (body starts ${excerpt(res.body)})`, 'http', undefined, res.status);
    throw new PrometheusError(`${where} answered JSON that is not the Prometheus API's (expected {"status":"success","data":{...}}; body starts ${excerpt(res.body)})`, 'invalid', undefined, res.status);
  }
  const body = parsed.data;
  if (body.status === 'error') {
    const type = body.errorType ?? 'unknown';
    throw new PrometheusError(`${where} refused the query (${type}, HTTP ${res.status}): ${body.error ?? 'no reason given'}`, 'api', type, res.status);
  }
  if (res.status >= 300) throw new PrometheusError(`${where} answered HTTP ${res.status} with a success body: not trusted`, 'http', undefined, res.status);
  return { data: body.data, warnings: body.warnings ?? [] };
}

function hint(status: number): string {
  if (status === 401 || status === 403) return ' (check bearerToken or basicAuth)';
  if (status === 404) return ' (is the URL the server base, without /api/v1?)';
  return '';
}

function excerpt(body: string): string {
  return JSON.stringify(body.slice(0, 60));
}

// --- samples -------------------------------------------------------------------------------------

/** Parses a result against its documented shape; the first problem, with its path, is the error. */
function checked<T>(schema: z.ZodType<T>, result: unknown, server: PrometheusServer): T {
  const r = schema.safeParse(result);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = ['result', ...(issue?.path ?? [])].map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('').replace(/^\./, '');
  throw new PrometheusError(`Prometheus at ${new URL(server.url).host} answered a result not shaped as documented: ${path}: ${issue?.message ?? 'invalid'}`, 'invalid');
}

// Go's float syntax as Prometheus writes it (strconv.FormatFloat): `0.25`, `1e-05`, `NaN`, `+Inf`, `-Inf`.
const FINITE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE: Record<string, number> = { NaN: Number.NaN, '+Inf': Number.POSITIVE_INFINITY, Inf: Number.POSITIVE_INFINITY, '-Inf': Number.NEGATIVE_INFINITY };

/** Counts the NaN and Inf samples left out, or turns the first into an error. */
class Dropper {
  count = 0;
  constructor(private readonly policy: 'error' | 'drop' = 'error') {}
  handle(text: string, metric: Labels, t: number): undefined {
    if (this.policy === 'drop') {
      this.count++;
      return undefined;
    }
    const why = text === 'NaN' ? 'a division of zero by zero (a ratio of rates with no requests in its window?)' : 'a division by zero, or a quantile above the highest histogram bucket';
    throw new PrometheusError(`${formatSeries(metric)} is ${text} at ${iso(t)}: no number to judge; ${why}`, 'non-finite');
  }
}

function sample([t, text]: [number, string], metric: Labels, drop: Dropper, path: string): Sample | undefined {
  const ms = Math.round(t * 1000);
  if (text in NON_FINITE) return drop.handle(text, metric, ms);
  if (!FINITE.test(text)) throw new PrometheusError(`Prometheus answered a sample value that is not a number: ${path}: ${JSON.stringify(text.slice(0, 40))}`, 'invalid');
  return [ms, Number(text)];
}

function wrongType(resultType: string, what: string, expected: string): PrometheusError {
  const fix = resultType === 'matrix' ? ': a range vector selector (x[5m]) needs a function around it, such as rate(), or a range query' : '';
  return new PrometheusError(`${what} returned a ${resultType}, not ${expected}${fix}`, 'invalid');
}

// --- times ---------------------------------------------------------------------------------------

function millis(value: number | Date, name: string): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (!Number.isFinite(ms)) throw new PrometheusError(`${name} is not a time: ${String(value)}`, 'options');
  return ms;
}

function stepMs(step: number | string): number {
  let ms: number;
  try {
    ms = typeof step === 'number' ? step : parseDuration(step);
  } catch (err) {
    throw new PrometheusError(`step: ${err instanceof Error ? err.message : String(err)}`, 'options');
  }
  if (!(ms > 0) || !Number.isFinite(ms)) throw new PrometheusError(`step must be more than 0, got ${String(step)}`, 'options');
  return ms;
}

/** Milliseconds as Prometheus' unix seconds, to the millisecond. */
function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function iso(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms);
}
