// Error handling: requests that make apps fail must not make them talk.
//
// Each configured request (malformed JSON, a malformed id, unknown routes, an oversized body, a
// wrong method) is sent once, and its status, headers and body are searched for leaks.
//
// Severity table (per request and leak kind):
//   high    a secret: URL with credentials (`postgres://user:pass@`), AWS key id, private key, API
//           token, `password=...`, a SECRET/PASSWORD/TOKEN-named value          [leak.secret]
//   medium  a stack trace (Node, Python, Java, .NET, PHP, Ruby, Go)              [leak.stack-trace]
//           SQL error text or raw SQL (SQLITE_ERROR, ORA-, SQLSTATE, ...)        [leak.sql-error]
//   low     a path on the server's disk (/home/..., /usr/src/app, C:\...)        [leak.file-path]
//   info    the connection closed while the oversized body was being sent (the server refused it
//           early; nothing leaked)                                             [oversized.closed]
//
// Leaks are searched for in the first 64 KiB of each response (headers, then body) on the
// linear-time engine (see _shared/leaks.ts): a hostile body cannot hold the probe past its timeout.
//
// A 500 without a leak is not a finding here: this probe is about what an error tells an attacker,
// and a bare "internal error" tells nothing. Whether malformed input should be a 4xx rather than a
// 500 is a correctness question for the functional checks; the statuses are kept in `responses`
// and counted in `server_errors`, so an item can still demand `server_errors == 0`.
import { z } from 'zod';
import { defineKind } from '../types.js';
import { PROBE_FIELDS, ProbeClient, probeBudget, probeDefaultExpect, probeOutcome } from '../_shared/probe.js';
import type { Finding } from '../_shared/probe.js';
import { login } from '../_shared/auth.js';
import { HttpCheckError } from '../../util/http.js';
import type { HttpResponse } from '../../util/http.js';
import { LEAK_SEVERITY, findLeaks } from '../_shared/leaks.js';
import type { Leak, LeakKind } from '../_shared/leaks.js';
import { linear } from '../../util/pattern.js';

const SENDS = ['none', 'malformed-json', 'oversized'] as const;

const request = z.union([
  z.string().describe('A path, sent as a GET.'),
  z.strictObject({
    path: z.string().describe('Path on the target.'),
    method: z.string().default('GET').describe('HTTP method.'),
    send: z
      .enum(SENDS)
      .default('none')
      .describe('Body: `malformed-json` (truncated JSON, content-type application/json), `oversized` (`oversizeBytes` of JSON) or `none`.'),
    name: z.string().optional().describe('Label in findings and observations; default `METHOD path`.'),
  }),
]);

/**
 * Requests that fit any app (issue 9, point 11): the root and unknown paths, and the login the
 * config names, if any (an endpoint that surely parses a body). App-specific paths belong in config.
 */
function defaultRequests(loginUrl: string | undefined): z.output<typeof request>[] {
  const post = loginUrl ?? '/';
  return [
    { name: 'malformed JSON', method: 'POST', path: post, send: 'malformed-json' },
    { name: 'malformed path', method: 'GET', path: "/gonogo-no-such-route/'%22<>", send: 'none' },
    { name: 'unknown route', method: 'GET', path: '/gonogo-no-such-route', send: 'none' },
    { name: 'unknown API route', method: 'GET', path: '/api/gonogo-no-such-route', send: 'none' },
    { name: 'oversized body', method: 'POST', path: post, send: 'oversized' },
    { name: 'wrong method', method: 'PATCH', path: '/', send: 'none' },
  ];
}

const MiB = 1024 * 1024;

/** How a reset mid-upload surfaces from the HTTP client (undici's socket errors, the kernel's). */
const CONNECTION_CLOSED = linear(/ECONNRESET|EPIPE|UND_ERR_SOCKET|other side closed|socket hang up/i);

const options = z.strictObject({
  paths: z
    .array(request)
    .min(1)
    .max(50)
    .optional()
    .describe(
      'Requests that should fail gracefully. Default: malformed JSON and an oversized body POSTed to the configured login (or /), a malformed path, an unknown page and API route, and PATCH (a wrong method) on /.',
    ),
  oversizeBytes: z
    .number()
    .int()
    .min(1024)
    .max(16 * MiB)
    .default(2 * MiB)
    .describe('Size of the `oversized` body in bytes (default 2 MiB, at most 16 MiB).'),
  loginAs: z
    .string()
    .optional()
    .describe('A user name from `auth.users`: send the requests with that session (and its CSRF token), so they reach the handlers behind the login.'),
  ...probeBudget,
});

type Request = { name: string; path: string; method: string; send: (typeof SENDS)[number] };

function normalize(r: z.output<typeof request>): Request {
  if (typeof r === 'string') return { name: `GET ${r}`, path: r, method: 'GET', send: 'none' };
  const method = r.method.toUpperCase();
  return { name: r.name ?? `${method} ${r.path}`, path: r.path, method, send: r.send };
}

function body(send: Request['send'], oversizeBytes: number): { body?: string; headers: Record<string, string> } {
  const json = { 'content-type': 'application/json' };
  if (send === 'malformed-json') return { body: '{"title": "gonogo probe", "ingredients": [', headers: json };
  if (send === 'oversized') {
    const head = '{"title":"gonogo probe","padding":"';
    const tail = '"}';
    return { body: head + 'x'.repeat(Math.max(0, oversizeBytes - head.length - tail.length)) + tail, headers: json };
  }
  return { headers: {} };
}

/** The text searched for leaks: every header value but cookies, then the body. */
function searchable(res: HttpResponse): string {
  const headers = Object.entries(res.headers)
    .filter(([k]) => k !== 'set-cookie')
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
  return `${headers}\n\n${res.body}`;
}

export default defineKind({
  name: 'error-handling',
  description: 'Malformed JSON, a malformed id, unknown routes, an oversized body and a wrong method must not return stack traces, SQL errors, file paths or secrets.',
  options,
  fields: [...PROBE_FIELDS, 'responses', 'server_errors'],
  defaultExpect: probeDefaultExpect,
  async run(o, ctx) {
    const client = new ProbeClient(ctx, o);
    return client.guard(async () => {
      const requests = (o.paths ?? defaultRequests(ctx.auth?.login?.url)).map(normalize);
      client.assertOnTarget(requests.map((r) => r.path));
      const session = o.loginAs !== undefined ? await login(ctx.auth, o.loginAs, ctx, client) : undefined;
      const findings: Finding[] = [];
      const responses: { name: string; method: string; path: string; status: number | null }[] = [];

      for (const r of requests) {
        const b = body(r.send, o.oversizeBytes);
        const headers = { accept: 'application/json, text/html;q=0.9, */*;q=0.5', ...b.headers, ...session?.headers({ withToken: true }) };
        const budgetLeft = client.requests < o.maxRequests;
        let res: HttpResponse | undefined;
        try {
          res = await client.sendOrSkip({ path: r.path, method: r.method, headers, body: b.body });
        } catch (err) {
          // A server may answer 413 and close before reading a huge body; the upload then fails
          // mid-way with a reset. Nothing came back, so nothing leaked. Anything else (a timeout, the
          // budget, an unreachable target) means this request could not be judged: rethrown.
          const closed = err instanceof HttpCheckError && CONNECTION_CLOSED.test(err.message);
          if (r.send !== 'oversized' || !budgetLeft || ctx.signal.aborted || !closed) throw err;
          responses.push({ name: r.name, method: r.method, path: r.path, status: null });
          findings.push({
            id: 'oversized.closed',
            severity: 'info',
            message: `${r.name}: the connection closed while the ${o.oversizeBytes}-byte body was sent (the server refused it early)`,
            observed: { request: r.name, error: err.message },
          });
          continue;
        }
        if (!res) {
          // Rate limited after waiting as told: this request judged nothing (counted by the client).
          responses.push({ name: r.name, method: r.method, path: r.path, status: null });
          continue;
        }
        responses.push({ name: r.name, method: r.method, path: r.path, status: res.status });
        const byKind = new Map<LeakKind, Leak[]>();
        for (const leak of findLeaks(searchable(res))) byKind.set(leak.kind, [...(byKind.get(leak.kind) ?? []), leak]);
        for (const [kind, leaks] of byKind) {
          findings.push({
            id: `leak.${kind}`,
            severity: LEAK_SEVERITY[kind],
            message: `${r.name} (${r.method} ${r.path}) answered ${res.status} with ${leaks.map((l) => `a ${l.name}`).join(', ')}`,
            observed: { request: r.name, method: r.method, path: r.path, status: res.status, matches: leaks.map((l) => `${l.name}: ${l.match}`) },
          });
        }
      }
      const serverErrors = responses.filter((r) => r.status !== null && r.status >= 500).length;
      return probeOutcome(findings, client, { responses, server_errors: serverErrors });
    });
  },
});
