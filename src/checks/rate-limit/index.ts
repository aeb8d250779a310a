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
    path: z.string().default('/api/login').describe('Endpoint to burst, on the target.'),
    method: z.string().default('POST').describe('HTTP method.'),
    body: z
      .string()
      .optional()
      .describe('Request body, sent as is. Default: a JSON login for a random user with a random password (never a real account).'),
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
  fields: [...PROBE_FIELDS, 'limited', 'limited_after', 'retry_after', 'statuses', 'stopped_by', 'elapsed_ms'],
  defaultExpect: probeDefaultExpect,
  async run(o, ctx) {
    const client = new ProbeClient(ctx, o);
    return client.guard(async () => {
      client.assertOnTarget([o.path]);
      const withinMs = parseDuration(o.within);
      const limitedStatuses = new Set(o.limitedStatuses);
      const body = o.body ?? JSON.stringify({ username: `gonogo-probe-${randomBytes(4).toString('hex')}`, password: randomBytes(12).toString('base64url') });
      const headers = { 'content-type': o.contentType, accept: 'application/json, */*;q=0.5', ...o.headers };

      const started = ctx.clock.monotonic();
      const statuses: Record<string, number> = {};
      let launched = 0;
      let firstLimited: { seq: number; retryAfter: string | null } | undefined;
      let stop: 'limit' | 'burst' | 'time' | 'error' | undefined;

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
            const res = await client.send({ path: o.path, method: o.method, headers, body, limited: 'answer' });
            status = res.status;
            retryAfter = res.headers['retry-after'];
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
            throw new Error(`${o.method} ${client.url(o.path)} answered ${status}: there is no such endpoint to test; set \`path\` (and \`method\`)`);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(o.concurrency, o.burst) }, worker));
      const elapsedMs = Math.round(ctx.clock.monotonic() - started);

      const findings: Finding[] = [];
      const where = `${o.method.toUpperCase()} ${o.path}`;
      if (firstLimited === undefined) {
        const why = stop === 'time' ? `the ${o.within} bound ended the burst after ${launched} requests, so a limit above that rate would not show` : `all ${launched} requests of the burst`;
        findings.push({
          id: 'rate-limit.none',
          severity: 'high',
          message: `${where} was never limited (no ${[...limitedStatuses].join('/')}): ${why}`,
          observed: { requests: client.requests, statuses, elapsed: formatDuration(elapsedMs), stoppedBy: stop },
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
        limited: firstLimited !== undefined,
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
