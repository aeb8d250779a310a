import { z } from 'zod';
import type { CheckContext } from '../types.js';
import { CheckError } from '../types.js';
import { httpRequest, HttpCheckError, isAllowedOrigin } from '../../util/http.js';
import { parseStrictDate } from '../../util/date.js';
import type { HttpResponse } from '../../util/http.js';
import { maskSecrets } from './leaks.js';

/** How bad a finding is. `high` and `medium` fail a probe by default; `low` and `info` are reported. */
export const SEVERITIES = ['info', 'low', 'medium', 'high'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** One thing a probe noticed, with what it saw. */
export interface Finding {
  /** Stable id within the probe, e.g. `csp.unsafe-inline`, `cookie.sid.httponly`. */
  id: string;
  severity: Severity;
  message: string;
  /** The observed value (a header value, a status, a request that got through). */
  observed?: unknown;
}

/** One exchange as kept in evidence: enough to reproduce it by hand, bodies cut short. */
export interface Exchange {
  method: string;
  url: string;
  status?: number;
  error?: string;
  bodyExcerpt?: string;
  /** The body was longer than the probe's bodyCap: only its first part was read. */
  truncated?: boolean;
}

/** A rate: `5/s`, `30/m`, `100/h`. */
const PACE = /^(\d+(?:\.\d+)?)\/(s|m|h)$/;
const PACE_UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds between request starts for a `pace:` value. */
export function paceGapMs(pace: string): number {
  const m = PACE.exec(pace);
  if (!m) throw new Error(`pace "${pace}" is not a rate like "5/s" or "30/m"`);
  const n = Number(m[1]);
  return n > 0 ? PACE_UNIT_MS[m[2] as keyof typeof PACE_UNIT_MS] / n : Number.POSITIVE_INFINITY;
}

const ignoreEntry = z
  .strictObject({
    finding: z.string().min(1).describe('The finding id to accept (`csp.unsafe-inline`, `exposed:/swagger.json`); a trailing `*` matches ids that start with the rest.'),
    reason: z.string().min(1).describe('Why it is accepted: reported with the finding.'),
    until: z
      .string()
      .refine((v) => !('error' in parseStrictDate(v)), { message: 'expected a date YYYY-MM-DD or a date-time with an offset' })
      .describe('Date the exception ends (YYYY-MM-DD, end of that day UTC); afterwards the finding counts again.'),
  })
  .describe('A finding accepted for a while: reported as ignored with its reason, never dropped silently.');

/**
 * Options every probe shares: a request budget, pacing and what a rate-limited answer means, the
 * body cap, and accepted findings. Spread into a probe's own schema with `...probeBudget`.
 */
export const probeBudget = {
  maxRequests: z.number().int().min(1).max(1000).default(100).describe('Most requests this probe may send.'),
  pace: z
    .string()
    .regex(PACE, 'expected a rate like "5/s" or "30/m"')
    .optional()
    .describe('Most requests per second (`5/s`), minute (`30/m`) or hour, for targets with a rate limiter. Default: no pacing until the first 429.'),
  maxWait: z
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(5000)
    .describe('Longest wait in ms for one `Retry-After` (or the back-off after a 429 without one) before the request is given up as unjudged.'),
  maxUnjudged: z
    .number()
    .min(0)
    .max(1)
    .default(0.1)
    .describe('Share of requests whose answer judged nothing (a 429, or a 503 with Retry-After) above which the item is `error`, never `pass`.'),
  bodyCap: z
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(256 * 1024)
    .describe('Bytes of each response read; a longer one is judged on its first part, with a note.'),
  ignore: z.array(ignoreEntry).max(100).default([]).describe('Findings accepted until a date, each with its reason (like ZAP baseline\'s rule config).'),
};

/** The shared options as a probe holds them after parsing. */
export type ProbeLimits = z.output<z.ZodObject<typeof probeBudget>>;

const DEFAULT_LIMITS: Omit<ProbeLimits, 'maxRequests'> = { maxWait: 5000, maxUnjudged: 0.1, bodyCap: 256 * 1024, ignore: [] };

/**
 * An answer that judges nothing: the target refused to serve us now (429, or 503 with
 * Retry-After), not what the probe asked about. Thrown by `send()` after waiting as told; a probe
 * may catch it and go on with its other requests, and the item ends `error` when too many were.
 */
export class UnjudgedAnswer extends HttpCheckError {
  constructor(
    readonly url: string,
    readonly status: number,
    readonly retryAfter: string | undefined,
  ) {
    super(`${url} answered ${status}${retryAfter !== undefined ? ` (Retry-After ${retryAfter})` : ''}: rate limited, nothing judged`);
  }
}

/** 429, or 503 with Retry-After: the target is shedding load, so the answer says nothing about the question. */
export function isLimited(res: Pick<HttpResponse, 'status' | 'headers'>): boolean {
  return res.status === 429 || (res.status === 503 && res.headers['retry-after'] !== undefined);
}

/** Retry-After in ms (delta-seconds or an HTTP date), or undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = /[a-z]/i.test(v) ? Date.parse(v) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The only way a probe talks to the target: every URL is resolved against the environment's URL,
 * every origin (scheme, host and port) is checked against the allowed origins, requests are
 * counted against the budget, paced, and every exchange is kept for the evidence. A rate-limited
 * answer is waited out as the target asks (within `maxWait`), then given up as unjudged.
 */
export class ProbeClient {
  readonly exchanges: Exchange[] = [];
  private sent = 0;
  private readonly base: URL;
  private readonly limits: ProbeLimits;
  /** Earliest monotonic time the next request may start; requests wait their turn when paced. */
  private nextAt = 0;
  private gapMs: number;
  /** Limited answers seen (each retry's too) and requests given up as unjudged. */
  private limitedAnswers = 0;
  private readonly givenUp: string[] = [];
  private readonly truncatedUrls: string[] = [];

  constructor(
    private readonly ctx: CheckContext,
    limits: number | (Partial<ProbeLimits> & { maxRequests: number }),
  ) {
    if (!ctx.env.url) throw new Error(`environment "${ctx.env.name}" has no url: a probe needs a target`);
    this.base = new URL(ctx.env.url);
    this.limits = typeof limits === 'number' ? { ...DEFAULT_LIMITS, maxRequests: limits } : { ...DEFAULT_LIMITS, ...limits };
    this.gapMs = this.limits.pace === undefined ? 0 : paceGapMs(this.limits.pace);
  }

  get requests(): number {
    return this.sent;
  }

  /** Requests given up because every answer was rate limited, as `METHOD url status`. */
  get unjudged(): readonly string[] {
    return this.givenUp;
  }

  /** Resolves a path (or a URL on the target) against the environment's URL. */
  url(pathOrUrl: string): string {
    return new URL(pathOrUrl, this.base.href.endsWith('/') ? this.base : `${this.base.href}/`).href;
  }

  /**
   * Throws before anything is sent when a configured path resolves to an origin other than the
   * target's (another port of the same host is another origin): a probe refuses the whole plan
   * rather than part of it.
   */
  assertOnTarget(paths: readonly string[]): void {
    for (const p of paths) {
      const url = new URL(this.url(p));
      if (!isAllowedOrigin(url, this.ctx.allowedOrigins)) throw new Error(`refused: ${p} resolves to ${url.origin}, which is not the configured target`);
    }
  }

  /** Waits for this request's turn when pacing (a `pace:` or the back-off after a 429). */
  private async turn(): Promise<void> {
    if (this.gapMs === 0) return;
    const now = this.ctx.clock.monotonic();
    const at = Math.max(now, this.nextAt);
    this.nextAt = at + this.gapMs;
    if (at > now) await this.ctx.clock.sleep(at - now, this.ctx.signal);
  }

  /**
   * Sends one request; throws when the budget is spent, the origin is not the target's, or the
   * target misbehaves. A 429 (or 503 with Retry-After) is waited out and asked again while the
   * budget and `maxWait` allow, then thrown as `UnjudgedAnswer`; `limited: 'answer'` returns it
   * instead (the rate-limit probe, for which it is the answer).
   */
  async send(req: {
    path: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    /** Follow up to this many redirects, each on an allowed origin (another is an error). Default 0: the redirect is the answer. */
    maxRedirects?: number;
    /** Gives up on this one request after so long (the check's own timeout still bounds the whole probe). */
    timeoutMs?: number;
    limited?: 'wait' | 'answer';
  }): Promise<HttpResponse> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = this.url(req.path);
    for (let tries = 0; ; tries++) {
      if (this.sent >= this.limits.maxRequests) {
        throw new HttpCheckError(`request budget of ${this.limits.maxRequests} spent before the probe finished`);
      }
      // Already more given up than the whole budget could excuse: stop now, not at the timeout.
      if (this.givenUp.length > this.limits.maxUnjudged * this.limits.maxRequests) this.notes();
      await this.turn();
      this.sent += 1;
      const res = await this.exchange(req, method, url);
      if (req.limited === 'answer' || !isLimited(res)) return res;
      this.limitedAnswers += 1;
      // Back off from the first 429 on: one request at a time, at least a second apart.
      this.gapMs = Math.max(this.gapMs, 1000);
      const wait = retryAfterMs(res.headers['retry-after'], this.ctx.clock.now()) ?? 1000 * 2 ** tries;
      if (tries >= 2 || wait > this.limits.maxWait || this.sent >= this.limits.maxRequests) {
        this.givenUp.push(`${method} ${url} ${res.status}`);
        throw new UnjudgedAnswer(`${method} ${url}`, res.status, res.headers['retry-after']);
      }
      this.nextAt = Math.max(this.nextAt, this.ctx.clock.monotonic() + wait);
    }
  }

  /** `send()`, but a request given up as rate limited is `undefined`: the probe goes on with its other requests. */
  async sendOrSkip(req: Parameters<ProbeClient['send']>[0]): Promise<HttpResponse | undefined> {
    try {
      return await this.send(req);
    } catch (err) {
      if (err instanceof UnjudgedAnswer) return undefined;
      throw err;
    }
  }

  private async exchange(req: { path: string; headers?: Record<string, string>; body?: string; maxRedirects?: number; timeoutMs?: number }, method: string, url: string): Promise<HttpResponse> {
    try {
      const res = await httpRequest({
        url,
        method,
        headers: req.headers,
        body: req.body,
        signal: req.timeoutMs === undefined ? this.ctx.signal : AbortSignal.any([this.ctx.signal, AbortSignal.timeout(req.timeoutMs)]),
        // `any`, not `same-origin`: a redirect off the allowed origins is refused as an error, not kept as an answer.
        redirects: req.maxRedirects ? { policy: 'any', max: req.maxRedirects } : { policy: 'none', max: 0 },
        maxBodyBytes: this.limits.bodyCap,
        truncateBody: true,
        allowedOrigins: this.ctx.allowedOrigins,
        // The run's own connection pool, when the engine passes one.
        dispatcher: this.ctx.dispatcher,
      });
      if (res.truncated) this.truncatedUrls.push(`${method} ${url}`);
      // Excerpts are kept in the record: a leaked secret is masked, not stored.
      this.exchanges.push({ method, url, status: res.status, bodyExcerpt: maskSecrets(res.body.slice(0, 300)), ...(res.truncated ? { truncated: true } : {}) });
      return res;
    } catch (err) {
      this.exchanges.push({ method, url, error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
  }

  /**
   * Fails closed on rate limiting: when more than `maxUnjudged` of the requests were given up as
   * limited, the probe could not verify, whatever it found quiet. Below that, a note says which
   * answers were not judged; a truncated body is noted too.
   */
  notes(findings: readonly Finding[] = []): Finding[] {
    const notes: Finding[] = [];
    const n = this.givenUp.length;
    if (n > 0 && n > this.limits.maxUnjudged * this.sent) {
      throw new CheckError(
        `could not verify: ${n} of ${this.sent} answers were ${[...new Set(this.givenUp.map((g) => g.split(' ').pop()))].join('/')} (rate limited) after waiting as asked; slow down with \`pace\`, raise \`maxWait\`, or exempt the prober from the limiter`,
        { findings, exchanges: this.exchanges, unjudged: this.givenUp },
      );
    }
    if (n > 0) {
      notes.push({ id: 'probe.unjudged', severity: 'info', message: `${n} of ${this.sent} answers were rate limited and not judged (within maxUnjudged ${this.limits.maxUnjudged})`, observed: this.givenUp });
    } else if (this.limitedAnswers > 0) {
      notes.push({ id: 'probe.paced', severity: 'info', message: `the target rate limited ${this.limitedAnswers} answer(s); each was waited out and asked again`, observed: this.limitedAnswers });
    }
    if (this.truncatedUrls.length > 0) {
      notes.push({
        id: 'probe.truncated',
        severity: 'info',
        message: `${this.truncatedUrls.length} answer(s) were longer than ${this.limits.bodyCap} bytes and were judged on their first ${this.limits.bodyCap} bytes (bodyCap)`,
        observed: this.truncatedUrls,
      });
    }
    return notes;
  }

  /** Accepted findings under `ignore:` until their date, as `{ finding, reason, until }`. */
  ignoring(findings: readonly Finding[]): { kept: Finding[]; ignored: IgnoredFinding[]; expired: Finding[] } {
    const kept: Finding[] = [];
    const ignored: IgnoredFinding[] = [];
    const expired: Finding[] = [];
    const now = this.ctx.clock.now();
    for (const f of findings) {
      const rule = this.limits.ignore.find((r) => (r.finding.endsWith('*') ? f.id.startsWith(r.finding.slice(0, -1)) : f.id === r.finding));
      if (!rule) {
        kept.push(f);
        continue;
      }
      const until = parseStrictDate(rule.until);
      if ('ms' in until && until.ms >= now) ignored.push({ ...f, ignored: { reason: rule.reason, until: rule.until } });
      else {
        kept.push(f);
        expired.push({ id: `ignore.expired:${f.id}`, severity: 'info', message: `the exception for ${f.id} ended on ${rule.until} ("${rule.reason}"): it counts again`, observed: rule });
      }
    }
    return { kept, ignored, expired };
  }

  /**
   * Runs a probe's body: an error thrown inside keeps the exchanges so far and names the URL
   * that failed, as evidence of an `error` result.
   */
  async guard<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      if (err instanceof CheckError) throw err;
      if (err instanceof UnjudgedAnswer) {
        // A request the probe cannot do without (a baseline, the login, the control) was limited.
        const statuses = [...new Set(this.givenUp.map((g) => g.split(' ').pop()))].join('/');
        throw new CheckError(`could not verify: ${this.givenUp.length} of ${this.sent} answers were ${statuses} (rate limited), among them ${err.url}, which the probe needs`, {
          exchanges: this.exchanges,
          unjudged: this.givenUp,
          failedUrl: err.url,
        });
      }
      const msg = err instanceof Error ? err.message : String(err);
      const failed = [...this.exchanges].reverse().find((e) => e.error !== undefined);
      const where = failed && !msg.includes(failed.url) ? ` (at ${failed.method} ${failed.url})` : '';
      throw new CheckError(`${msg}${where}`, { exchanges: this.exchanges, ...(failed ? { failedUrl: failed.url } : {}) });
    }
  }
}

/** A finding accepted by `ignore:`, kept with why. */
export interface IgnoredFinding extends Finding {
  ignored: { reason: string; until: string };
}

/** Counts findings by severity: the observations a probe's default `expect:` judges. */
export function findingCounts(findings: readonly Finding[]): Record<Severity, number> {
  const counts: Record<Severity, number> = { info: 0, low: 0, medium: 0, high: 0 };
  for (const f of findings) counts[f.severity] += 1;
  return counts;
}

/** Fields every probe exposes to `expect:`. */
export const PROBE_FIELDS = ['findings', 'high', 'medium', 'low', 'info', 'requests', 'ignored'] as const;

/** The default judgement of a probe: no high or medium finding. */
export const probeDefaultExpect = (): string[] => ['high == 0', 'medium == 0'];

/** Observations and evidence in the shape every probe returns. */
/**
 * Observations and evidence in the shape every probe returns. Throws (the item is `error`) when
 * too many answers were rate limited; ignored findings leave the counts but stay in the record.
 */
export function probeOutcome(all: Finding[], client: ProbeClient, extra: Record<string, unknown> = {}) {
  const { kept, ignored, expired } = client.ignoring([...all, ...client.notes(all)]);
  const findings = [...kept, ...expired];
  const withIgnored = ignored.length > 0 ? { ignored } : {};
  return {
    observations: { findings, ...findingCounts(findings), requests: client.requests, ignored, ...extra },
    evidence: { findings, ...withIgnored, exchanges: client.exchanges, ...extra },
  };
}
