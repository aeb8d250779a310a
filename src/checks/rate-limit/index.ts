// Rate limiting: a bounded burst at one endpoint (the login by default). Protected = a 429 (or
// 503) shows up before the burst ends; the burst stops at the first one.
//
// Bounds: at most `burst` requests (and never more than `maxRequests`), no new request once
// `within` has passed on the injected clock, at most `concurrency` in flight.
//
// Severity table:
//   high  never limited within the burst [rate-limit.none]: password guessing runs at full speed
//   low   limited, but without Retry-After [rate-limit.no-retry-after] or with one that is neither
//         seconds nor an HTTP date [rate-limit.bad-retry-after]: clients cannot back off properly
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { defineKind } from '../types.js';
import { PROBE_FIELDS, ProbeClient, probeBudget, probeDefaultExpect, probeOutcome } from '../_shared/probe.js';
import type { Finding } from '../_shared/probe.js';
import { formatDuration, parseDuration } from '../../util/duration.js';

function isDuration(value: string): boolean {
  try {
    return parseDuration(value) > 0;
  } catch {
    return false;
  }
}

const options = z
  .strictObject({
    path: z.string().optional().describe('Endpoint to burst, on the target. Default: the login URL of `auth.login` (no default fits every app otherwise).'),
    method: z.string().default('POST').describe('HTTP method.'),
    body: z
      .string()
      .optional()
      .describe('Request body, sent as is. Default: for POST/PUT/PATCH, a JSON login for a random user with a random password (never a real account); none for GET, HEAD and DELETE.'),
    contentType: z.string().default('application/json').describe('Content-Type of the body.'),
    headers: z.record(z.string(), z.string()).default({}).describe('Extra request headers.'),
    burst: z.number().int().min(1).max(1000).default(100).describe('Most requests in the burst.'),
    within: z
      .string()
      .default('10s')
      .refine(isDuration, { message: 'expected a duration like "10s" or "500ms"' })
      .describe('No new request after this long (`10s`, `1m`); whichever of burst and within comes first ends the burst.'),
    concurrency: z.number().int().min(1).max(20).default(5).describe('Requests in flight at once (1 makes `limited_after` exact).'),
    limitedStatuses: z
      .array(z.number().int().min(400).max(599))
      .min(1)
      .default([429, 503])
      .describe('Statuses that mean "limited".'),
    ...probeBudget,
  })
  .refine((o) => o.burst <= o.maxRequests, { message: 'burst is larger than maxRequests: raise maxRequests or lower burst', path: ['burst'] });

/** A limit the target announces in its headers, as observed on one answer. */
export interface Announced {
  limit: number;
  remaining?: number;
  windowS?: number;
  /** The header it was read from. */
  source: string;
}

const num = (v: string | undefined): number | undefined => (v !== undefined && /^\s*\d+\s*$/.test(v) ? Number(v) : undefined);

/**
 * Reads an announced limit: `RateLimit-Policy: 100;w=900` and `RateLimit: limit=100, remaining=99,
 * reset=900` (the IETF drafts, as express-rate-limit sends them), `RateLimit-Limit` /
 * `RateLimit-Remaining`, or the older `X-RateLimit-Limit` / `X-RateLimit-Remaining`.
 */
export function announcedLimit(h: Readonly<Record<string, string>>): Announced | undefined {
  const policy = /^\s*(\d+)\s*(?:;.*?\bw\s*=\s*(\d+))?/.exec(h['ratelimit-policy'] ?? '');
  const combined = h['ratelimit'];
  const field = (name: string) => (combined ? num(new RegExp(`\\b${name}\\s*=\\s*(\\d+)`).exec(combined)?.[1]) : undefined);
  const limit = num(policy?.[1]) ?? field('limit') ?? num(h['ratelimit-limit']) ?? num(h['x-ratelimit-limit']);
  if (limit === undefined) return undefined;
  const source = policy ? 'RateLimit-Policy' : combined && field('limit') !== undefined ? 'RateLimit' : h['ratelimit-limit'] !== undefined ? 'RateLimit-Limit' : 'X-RateLimit-Limit';
  const remaining = field('remaining') ?? num(h['ratelimit-remaining']) ?? num(h['x-ratelimit-remaining']);
  const windowS = num(policy?.[2]);
  return { limit, source, ...(remaining !== undefined ? { remaining } : {}), ...(windowS !== undefined ? { windowS } : {}) };
}

const BODYLESS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS']);

/** Retry-After is delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
function validRetryAfter(value: string): boolean {
  const v = value.trim();
  return /^\d+$/.test(v) || (/[a-z]/i.test(v) && !Number.isNaN(Date.parse(v)));
}

export default defineKind({
  // Its burst trips the target's limits (the login limit other probes need): it runs alone, last.
  exclusive: true,
  name: 'rate-limit',
  description: 'A bounded burst (default at most 100 requests or 10 s) at an endpoint, the login by default; protected = 429 or 503 before the burst ends.',
  options,
  fields: [...PROBE_FIELDS, 'limited', 'limited_after', 'retry_after', 'statuses', 'stopped_by', 'elapsed_ms', 'announced'],
  defaultExpect: probeDefaultExpect,
  async run(o, ctx) {
    const client = new ProbeClient(ctx, o);
    return client.guard(async () => {
      const path = o.path ?? ctx.auth?.login?.url;
      if (path === undefined) throw new Error('rate-limit needs `path` (the endpoint to burst): there is no auth.login url to default to');
      client.assertOnTarget([path]);
      const withinMs = parseDuration(o.within);
      const limitedStatuses = new Set(o.limitedStatuses);
      const method = o.method.toUpperCase();
      // A GET burst sends no login body (nor a content-type for one).
      const hasBody = o.body !== undefined || !BODYLESS.has(method);
      const body = !hasBody ? undefined : (o.body ?? JSON.stringify({ username: `gonogo-probe-${randomBytes(4).toString('hex')}`, password: randomBytes(12).toString('base64url') }));
      const headers = { ...(hasBody ? { 'content-type': o.contentType } : {}), accept: 'application/json, */*;q=0.5', ...o.headers };
      let announced: Announced | undefined;
      let firstRemaining: number | undefined;

      const started = ctx.clock.monotonic();
      const statuses: Record<string, number> = {};
      let launched = 0;
      let firstLimited: { seq: number; retryAfter: string | null } | undefined;
      let stop: 'limit' | 'burst' | 'time' | 'error' | 'announced' | undefined;

      const worker = async (): Promise<void> => {
        for (;;) {
          if (stop) return;
          if (launched >= o.burst) {
            stop = 'burst';
            return;
          }
          if (ctx.clock.monotonic() - started >= withinMs) {
            stop = 'time';
            return;
          }
          const seq = ++launched;
          let status: number;
          let retryAfter: string | undefined;
          try {
            const res = await client.send({ path, method, headers, body, limited: 'answer' });
            status = res.status;
            retryAfter = res.headers['retry-after'];
            const a = announcedLimit(res.headers);
            if (a) {
              announced = a;
              firstRemaining ??= a.remaining;
              // A limit above the burst, announced and counting down: seen without spending it.
              if (a.limit > o.burst && a.remaining !== undefined && firstRemaining !== undefined && a.remaining < firstRemaining) stop ??= 'announced';
            }
          } catch (err) {
            stop = 'error';
            throw err;
          }
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (limitedStatuses.has(status)) {
            if (firstLimited === undefined || seq < firstLimited.seq) firstLimited = { seq, retryAfter: retryAfter ?? null };
            stop ??= 'limit';
          } else if (seq === 1 && (status === 404 || status === 405)) {
            stop = 'error';
            throw new Error(`${method} ${client.url(path)} answered ${status}: there is no such endpoint to test; set \`path\` (and \`method\`)`);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(o.concurrency, o.burst) }, worker));
      const elapsedMs = Math.round(ctx.clock.monotonic() - started);

      const findings: Finding[] = [];
      const where = `${method} ${path}`;
      const counted = announced !== undefined && announced.remaining !== undefined && firstRemaining !== undefined && announced.remaining < firstRemaining;
      if (firstLimited === undefined && counted && announced) {
        findings.push({
          id: 'rate-limit.announced',
          severity: 'info',
          message: `${where} announces a limit of ${announced.limit}${announced.windowS !== undefined ? ` per ${announced.windowS} s` : ''} (${announced.source}) and counted down to ${announced.remaining ?? '?'} during ${launched} requests: limited, by its own account, without spending the limit`,
          observed: announced,
        });
      } else if (firstLimited === undefined) {
        const why =
          stop === 'time'
            ? `the ${o.within} bound ended the burst after ${launched} requests, so a limit above that rate would not show`
            : `no ${[...limitedStatuses].join('/')} within ${launched} requests; a limit above that cannot be seen${announced ? ` (it announces ${announced.limit} in ${announced.source}, but did not count down)` : ' (a target that announces its limit in RateLimit or X-RateLimit-* headers is judged without reaching it)'}`;
        findings.push({
          id: 'rate-limit.none',
          severity: 'high',
          message: `${where} was not limited: ${why}`,
          observed: { requests: client.requests, statuses, elapsed: formatDuration(elapsedMs), stoppedBy: stop, announced: announced ?? null },
        });
      } else if (firstLimited.retryAfter === null) {
        findings.push({
          id: 'rate-limit.no-retry-after',
          severity: 'low',
          message: `${where} was limited after ${firstLimited.seq - 1} requests but sent no Retry-After`,
          observed: { limitedAfter: firstLimited.seq - 1, retryAfter: null },
        });
      } else if (!validRetryAfter(firstLimited.retryAfter)) {
        findings.push({
          id: 'rate-limit.bad-retry-after',
          severity: 'low',
          message: `${where} was limited with Retry-After "${firstLimited.retryAfter}", which is neither seconds nor an HTTP date`,
          observed: { limitedAfter: firstLimited.seq - 1, retryAfter: firstLimited.retryAfter },
        });
      }

      return probeOutcome(findings, client, {
        limited: firstLimited !== undefined || counted,
        announced: announced ?? null,
        // Requests let through before the first limited one, in send order: 10 for "10 per minute".
        limited_after: firstLimited === undefined ? null : firstLimited.seq - 1,
        retry_after: firstLimited?.retryAfter ?? null,
        statuses,
        stopped_by: firstLimited ? 'limit' : (stop ?? 'burst'),
        elapsed_ms: elapsedMs,
      });
    });
  },
});
