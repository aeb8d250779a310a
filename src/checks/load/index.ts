// load: a short, bounded load test against the target, so that "it is fast enough and does not
// fail under the expected traffic" is a checked item rather than a belief.
//
// autocannon generates the load (one request in flight per connection, the paths in turn), on a
// thread of its own (thread.ts); each request is timed there from being written to its last byte
// received (the start of the event-loop turn that read it, so that the generator's own work on the
// other answers of that turn is not timed as the target's: see drive.ts), at microsecond precision, into an HDR histogram (3 significant digits): autocannon's
// own histogram keeps whole milliseconds and has no p95 (see drive.ts). The thread keeps the load's
// time on the system clock, not the context's: a load test sends real requests for real. Every answer counts, whatever its status; a request
// still unanswered when the run ends is not counted (as wrk and autocannon do), one unanswered for
// `requestTimeout` is an error. With `rate`, the latencies are corrected for coordinated omission
// (HdrHistogram's expected interval): a target that cannot keep up with the rate is judged by the
// waits its users would see, not by the few requests it did answer.
//
// Fails closed: no answer at all, a target that rate-limits more than `maxLimited` of the answers
// (a 429 measures the limiter, not the app) and one that answers nothing but 4xx (nothing of the
// app was measured) are `error`, never `pass`. The check's timeout always ends the run, with every
// socket closed.
//
// k6 writes `p(95) < 2000`; the conditions language has no function that reads a kind's samples,
// so the percentiles are fields: `p95_ms < 2000`.
import { connect as tlsConnect } from 'node:tls';
import { isIP } from 'node:net';
import { z } from 'zod';
import { build, decodeFromCompressedBase64 } from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import { CheckError, defineKind } from '../types.js';
import type { CheckContext } from '../types.js';
import { isAllowedOrigin } from '../../util/http.js';
import { readDuration } from '../../util/duration.js';
import { LIMITED_SAMPLE, LOAD_METHODS } from './plan.js';
import type { DriveSpec, Tally } from './plan.js';
import { runOnThread } from './thread.js';

/** Hard bounds: a load test is a short check before a release, not a soak or a stress test. */
export const LOAD_LIMITS = {
  durationMs: 5 * 60_000,
  warmupMs: 60_000,
  connections: 1000,
  requests: 1_000_000,
  rate: 100_000,
  requestTimeoutMs: 60_000,
  paths: 100,
} as const;

const DEFAULT_DURATION = '5s';

/** A duration within [minMs, maxMs], with a message naming the bound. */
function durationWithin(what: string, minMs: number, maxMs: number, max: string) {
  return z.string().superRefine((value, ctx) => {
    const r = readDuration(value);
    if ('error' in r) ctx.addIssue({ code: 'custom', message: r.error });
    else if (r.ms > maxMs) ctx.addIssue({ code: 'custom', message: `${what} may be at most ${max}: a load test is a short check, not a soak` });
    else if (r.ms < minMs) ctx.addIssue({ code: 'custom', message: `${what} must be at least ${minMs} ms` });
  });
}

const msOf = (value: string): number => {
  const r = readDuration(value);
  if ('error' in r) throw new Error(r.error);
  return r.ms;
};

const options = z
  .strictObject({
    paths: z
      .array(z.string().min(1))
      .min(1)
      .max(LOAD_LIMITS.paths)
      .optional()
      .describe(
        "Paths (or URLs on the target's origin) to load, resolved against the environment's URL like a probe's; each connection requests them in turn. Default: the environment's URL itself. Another origin is refused before anything is sent.",
      ),
    method: z.enum(LOAD_METHODS).default('GET').describe('HTTP method of every request.'),
    headers: z.record(z.string(), z.string()).default({}).describe('Headers of every request (set `content-type` for a body).'),
    body: z.string().optional().describe('Body of every request, sent as is.'),
    connections: z
      .number()
      .int()
      .min(1)
      .max(LOAD_LIMITS.connections, `at most ${LOAD_LIMITS.connections} connections: more would measure this machine rather than the target`)
      .default(10)
      .describe('Connections open at once, one request in flight on each (a closed model: a slower target gets fewer requests).'),
    duration: durationWithin('duration', 100, LOAD_LIMITS.durationMs, '5m')
      .optional()
      .describe(
        `How long the load runs (\`30s\`, \`2m\`; at most 5m). Default ${DEFAULT_DURATION}, or 5m with \`requests\` (whichever ends first). The item's \`timeout\` (default 10 s) always ends it: give it room for \`warmup\` + \`duration\` and a second more.`,
      ),
    requests: z
      .number()
      .int()
      .min(1)
      .max(LOAD_LIMITS.requests, `at most ${LOAD_LIMITS.requests.toLocaleString('en')} requests`)
      .optional()
      .describe(
        'Stop after this many requests are written (at least one per connection), or at `duration`, whichever comes first. A request written on a connection the target said it would close (`Connection: close`) goes unanswered and is not counted: `requests` observes those answered or failed.',
      ),
    rate: z
      .number()
      .int()
      .min(1)
      .max(LOAD_LIMITS.rate, `a rate of at most ${LOAD_LIMITS.rate} requests/s`)
      .optional()
      .describe(
        'At most this many requests per second, all connections together (each connection gets its share of every second). Latencies are then corrected for coordinated omission: a target that falls behind the rate is judged by the waits its users would see. Default: as fast as the connections go.',
      ),
    warmup: durationWithin('warmup', 0, LOAD_LIMITS.warmupMs, '1m')
      .default('0s')
      .describe('Load sent first with the same settings and not measured (caches, JIT, connection pools). At most 1m.'),
    requestTimeout: durationWithin('requestTimeout', 1000, LOAD_LIMITS.requestTimeoutMs, '1m')
      .default('10s')
      .describe('A request unanswered this long is an error (`timeouts`), and its connection is replaced. At least 1s, at most 1m.'),
    maxLimited: z
      .number()
      .min(0)
      .max(1)
      .default(0.1)
      .describe(
        `Share of 429 answers above which the item is \`error\`: the target's own rate limiter answered, which measures the limiter, not the app. The run stops early once it is exceeded over at least ${LIMITED_SAMPLE} answers.`,
      ),
  })
  .refine((o) => o.requests === undefined || o.requests >= o.connections, {
    message: 'requests is fewer than connections: every connection sends at least one; lower connections or raise requests',
    path: ['requests'],
  });

type LoadOptions = z.output<typeof options>;

/** The observations, as `expect:` reads them. */
const FIELDS = [
  'requests',
  'rps',
  'duration_ms',
  'errors',
  'timeouts',
  'non_2xx',
  'statuses',
  'error_rate',
  'rate_limited',
  'p50_ms',
  'p90_ms',
  'p95_ms',
  'p99_ms',
  'max_ms',
  'mean_ms',
  'min_ms',
  'connections',
  'stopped_by',
] as const;

/** What the load is sent to: one origin of the target, and the cycle of requests. */
function planTarget(o: LoadOptions, ctx: CheckContext): Pick<DriveSpec, 'origin' | 'requests'> {
  if (!ctx.env.url) throw new Error(`environment "${ctx.env.name}" has no url: a load test needs a target`);
  const base = new URL(ctx.env.url);
  const dir = base.href.endsWith('/') ? base : new URL(`${base.href}/`);
  const urls = (o.paths ?? [base.href]).map((p) => {
    let url: URL;
    try {
      url = new URL(p, dir);
    } catch {
      throw new Error(`${JSON.stringify(p)} is not a path or URL`);
    }
    if (!isAllowedOrigin(url, ctx.allowedOrigins) || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new Error(`refused: ${p} resolves to ${url.origin}, which is not the configured target; nothing was sent`);
    }
    return url;
  });
  const origins = [...new Set(urls.map((u) => u.origin))];
  if (origins.length > 1) throw new Error(`paths span ${origins.join(' and ')}: one load test runs against one origin`);
  return {
    origin: origins[0],
    requests: urls.map((u) => ({ method: o.method, path: `${u.pathname}${u.search}`, headers: o.headers, body: o.body })),
  };
}

/**
 * autocannon connects with certificate checks off (it sets rejectUnauthorized: false), so one
 * verified handshake comes first: headers with credentials never go to an impostor's certificate.
 */
async function verifyCertificate(origin: URL, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  const host = origin.hostname.replace(/^\[(.*)\]$/, '$1');
  await new Promise<void>((resolve, reject) => {
    const socket = tlsConnect({ host, port: Number(origin.port || 443), rejectUnauthorized: true, ...(isIP(host) ? {} : { servername: host }) });
    const end = (err?: unknown): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err === undefined) resolve();
      else reject(err);
    };
    const onAbort = (): void => end(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('secureConnect', () => end());
    socket.once('error', (err) => end(new Error(`TLS handshake with ${origin.origin} failed (${err.message}); the certificate is verified before a load test, and nothing was sent`)));
  });
}

const round = (value: number, digits: number): number => Number(value.toFixed(digits));
/** Microseconds from the histogram as milliseconds with three decimals. */
const ms = (micros: number): number => round(micros / 1000, 3);

/** 2 for 2xx, 5 for 5xx. */
const classOf = (status: string): number => Math.floor(Number(status) / 100);

function observe(t: Tally, h: Histogram): Record<(typeof FIELDS)[number], unknown> {
  const requests = t.answers + t.errors;
  // A percentile is the top of its bucket (0.1% wide), which can lie above the largest value seen.
  // No answer, no latency: null, never a 0 that a threshold would pass.
  const sampled = h.totalCount > 0;
  const at = (percentile: number): number | null => (sampled ? ms(Math.min(h.getValueAtPercentile(percentile), h.maxValue)) : null);
  let serverErrors = 0;
  let ok = 0;
  for (const [code, n] of Object.entries(t.statuses)) {
    if (classOf(code) === 5) serverErrors += n;
    if (classOf(code) === 2) ok += n;
  }
  return {
    requests,
    rps: round(t.answers / Math.max(t.elapsedMs / 1000, 1e-3), 1),
    duration_ms: Math.round(t.elapsedMs),
    errors: t.errors,
    timeouts: t.timeouts,
    non_2xx: t.answers - ok,
    statuses: t.statuses,
    error_rate: requests === 0 ? 1 : round((t.errors + serverErrors) / requests, 6),
    rate_limited: t.limited,
    p50_ms: at(50),
    p90_ms: at(90),
    p95_ms: at(95),
    p99_ms: at(99),
    max_ms: sampled ? ms(h.maxValue) : null,
    mean_ms: sampled ? ms(h.mean) : null,
    min_ms: sampled ? ms(h.minNonZeroValue) : null,
    connections: t.connections,
    stopped_by: t.stoppedBy,
  };
}

/** Why a run judges nothing, or undefined when its figures can be judged. */
function unjudgeable(t: Tally, o: LoadOptions, durationMs: number): string | undefined {
  if (t.answers === 0) {
    if (t.errors > t.timeouts) return `no request was answered: ${t.errors} failed to connect or were cut off (${t.firstError ?? 'no message'})`;
    if (t.timeouts > 0) return `no request was answered: ${t.timeouts} timed out after ${o.requestTimeout}`;
    return `no request was answered within ${durationMs} ms: the ${t.connections} requests in flight were still waiting when the load test ended (the target hangs)`;
  }
  if (t.limited > o.maxLimited * t.answers) {
    const share = ((100 * t.limited) / t.answers).toFixed(1);
    return `the target's rate limiter answered 429 to ${t.limited} of ${t.answers} requests (${share}%, above maxLimited ${o.maxLimited}): that measures the limiter, not the app, so nothing is judged; exempt this client from the limit, lower rate or connections, or load a path that is not limited`;
  }
  const fourxx = Object.entries(t.statuses).filter(([code]) => classOf(code) === 4);
  if (fourxx.reduce((s, [, n]) => s + n, 0) === t.answers) {
    return `every answer was a 4xx (${fourxx.map(([code, n]) => `${code}: ${n}`).join(', ')}): nothing of the app was measured; check paths, method and headers`;
  }
  return undefined;
}

export default defineKind({
  name: 'load',
  description: 'A short, bounded load test (autocannon; latency timed per request in µs): requests, rps, errors, error_rate, p50/p90/p95/p99 and max latency in ms.',
  options,
  fields: FIELDS,
  defaultExpect: () => ['error_rate < 0.01', 'p95_ms < 2000'],
  // It loads the target: other checks' latencies would suffer, and it could trip limits they need.
  exclusive: true,
  async run(o, ctx) {
    const target = planTarget(o, ctx);
    if (target.origin.startsWith('https:')) await verifyCertificate(new URL(target.origin), ctx.signal);
    const durationMs = msOf(o.duration ?? (o.requests !== undefined ? '5m' : DEFAULT_DURATION));
    const spec: DriveSpec = { ...target, connections: o.connections, durationMs, amount: o.requests, rate: o.rate, requestTimeoutMs: msOf(o.requestTimeout), maxLimited: o.maxLimited };
    // With a rate, each connection should send every connections/rate seconds: a longer wait hid requests that users would have sent.
    const expectedUs = o.rate === undefined ? 0 : Math.round((1e6 * Math.min(o.connections, o.rate)) / o.rate);
    const { tally, histogramUs } = await runOnThread({ spec, warmupMs: msOf(o.warmup), expectedUs }, ctx);
    // Decoded, each value is its bucket's (exact below 2.048 ms, within 0.1% above): the figures are the evidence's.
    const histogram = histogramUs === undefined ? build() : decodeFromCompressedBase64(histogramUs);
    try {
      const observations = observe(tally, histogram);
      const evidence = {
        target: target.origin,
        requests: target.requests.map((r) => `${r.method} ${r.path}`),
        settings: { connections: o.connections, duration: o.duration ?? null, requests: o.requests ?? null, rate: o.rate ?? null, warmup: o.warmup, requestTimeout: o.requestTimeout },
        observed: observations,
        ...(tally.firstError ? { firstError: tally.firstError } : {}),
        // Every latency, for the record: µs in HdrHistogram's compressed base64 form, which any HdrHistogram library decodes.
        ...(histogramUs !== undefined ? { histogramUs } : {}),
      };
      const why = unjudgeable(tally, o, durationMs);
      if (why !== undefined) throw new CheckError(why, evidence);
      return { observations, evidence };
    } finally {
      histogram.destroy();
    }
  },
});
