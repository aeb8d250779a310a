import { z } from 'zod';
import type { CheckContext } from '../types.js';
import { httpRequest, HttpCheckError, isAllowedOrigin } from '../../util/http.js';
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
}

/** Options every probe shares: a request budget. Merge into a probe's own schema with `.extend(probeBudget)`. */
export const probeBudget = {
  maxRequests: z.number().int().min(1).max(1000).default(100).describe('Most requests this probe may send.'),
};

/**
 * The only way a probe talks to the target: every URL is resolved against the environment's URL,
 * every origin (scheme, host and port) is checked against the allowed origins, requests are
 * counted against the budget and every exchange is kept for the evidence.
 */
export class ProbeClient {
  readonly exchanges: Exchange[] = [];
  private sent = 0;
  private readonly base: URL;

  constructor(
    private readonly ctx: CheckContext,
    private readonly maxRequests: number,
  ) {
    if (!ctx.env.url) throw new Error(`environment "${ctx.env.name}" has no url: a probe needs a target`);
    this.base = new URL(ctx.env.url);
  }

  get requests(): number {
    return this.sent;
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

  /** Sends one request; throws when the budget is spent, the origin is not the target's, or the target misbehaves. */
  async send(req: {
    path: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    /** Follow up to this many redirects, each on an allowed origin (another is an error). Default 0: the redirect is the answer. */
    maxRedirects?: number;
    /** Gives up on this one request after so long (the check's own timeout still bounds the whole probe). */
    timeoutMs?: number;
  }): Promise<HttpResponse> {
    if (this.sent >= this.maxRequests) {
      throw new HttpCheckError(`request budget of ${this.maxRequests} spent before the probe finished`);
    }
    this.sent += 1;
    const method = (req.method ?? 'GET').toUpperCase();
    const url = this.url(req.path);
    try {
      const res = await httpRequest({
        url,
        method,
        headers: req.headers,
        body: req.body,
        signal: req.timeoutMs === undefined ? this.ctx.signal : AbortSignal.any([this.ctx.signal, AbortSignal.timeout(req.timeoutMs)]),
        // `any`, not `same-origin`: a redirect off the allowed origins is refused as an error, not kept as an answer.
        redirects: req.maxRedirects ? { policy: 'any', max: req.maxRedirects } : { policy: 'none', max: 0 },
        maxBodyBytes: 256 * 1024,
        allowedOrigins: this.ctx.allowedOrigins,
      });
      // Excerpts are kept in the record: a leaked secret is masked, not stored.
      this.exchanges.push({ method, url, status: res.status, bodyExcerpt: maskSecrets(res.body.slice(0, 300)) });
      return res;
    } catch (err) {
      this.exchanges.push({ method, url, error: err instanceof Error ? err.message : String(err) });
      throw err;
    }
  }
}

/** Counts findings by severity: the observations a probe's default `expect:` judges. */
export function findingCounts(findings: readonly Finding[]): Record<Severity, number> {
  const counts: Record<Severity, number> = { info: 0, low: 0, medium: 0, high: 0 };
  for (const f of findings) counts[f.severity] += 1;
  return counts;
}

/** Fields every probe exposes to `expect:`. */
export const PROBE_FIELDS = ['findings', 'high', 'medium', 'low', 'info', 'requests'] as const;

/** The default judgement of a probe: no high or medium finding. */
export const probeDefaultExpect = (): string[] => ['high == 0', 'medium == 0'];

/** Observations and evidence in the shape every probe returns. */
export function probeOutcome(findings: Finding[], client: ProbeClient, extra: Record<string, unknown> = {}) {
  return {
    observations: { findings, ...findingCounts(findings), requests: client.requests, ...extra },
    evidence: { findings, exchanges: client.exchanges, ...extra },
  };
}
