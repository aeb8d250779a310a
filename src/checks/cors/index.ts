// CORS: does the target let a foreign site read its responses with the user's cookies?
//
// For each origin, one GET carrying `Origin` (and the session cookie with `loginAs`) and one
// preflight `OPTIONS` for a credentialed JSON PUT, the way a browser would ask.
//
// Severity table:
//   high    a foreign origin or `null` reflected with Access-Control-Allow-Credentials: true, on
//           the GET [cors.get.credentials] or on a preflight that also allows the PUT with a JSON
//           content-type [cors.preflight.credentials]: any site the user visits reads (and changes)
//           their data
//   medium  the target's own host under plain http:// trusted with credentials on an HTTPS target
//           [cors.*.insecure-origin]: anyone on the network path can be that origin
//   low     a foreign origin reflected without credentials [cors.get.reflected,
//           cors.preflight.reflected]: only what an anonymous request gets is readable, but
//           intranet- or IP-protected data leaks; `*` on an authenticated API [cors.get.wildcard]
//           (browsers never send cookies with `*`, so it is no credential leak, but it is rarely meant)
//   info    `*` on a public path; `*` together with credentials (browsers refuse it); a reflected
//           origin without `Vary: Origin` (a shared cache may serve it to others); the path answered
//           404, so CORS was judged on a response the app may not route
import { z } from 'zod';
import { defineKind } from '../types.js';
import { PROBE_FIELDS, ProbeClient, probeBudget, probeDefaultExpect, probeOutcome } from '../_shared/probe.js';
import type { Finding } from '../_shared/probe.js';
import { login } from '../_shared/auth.js';
import type { HttpResponse } from '../../util/http.js';
import { linear } from '../../util/pattern.js';

/** Methods a page may send cross-site without a preflight: `*` letting these through is no news. */
const SIMPLE = new Set(['GET', 'HEAD', 'POST']);

/** A foreign origin that can never belong to anyone: `.invalid` is reserved (RFC 6761). */
export const PROBE_ORIGIN = 'https://gonogo-probe.invalid';

const options = z.strictObject({
  path: z.string().default('/').describe('An API path on the target whose responses must not be readable (or writable) cross-site; default the root, which fits any app.'),
  private: z
    .boolean()
    .default(false)
    .describe('The path serves data that is not public (an admin API, a user list): `*` there lets any site read it through a visitor\'s browser (high), not "info".'),
  loginAs: z.string().optional().describe('A user name from `auth.users`: the GET carries that session, as a victim\'s browser would.'),
  origins: z
    .array(z.string().min(1))
    .min(1)
    .max(20)
    .default([PROBE_ORIGIN, 'null'])
    .describe('Origins to present; `null` is what sandboxed iframes and file: pages send.'),
  originVariants: z
    .boolean()
    .default(true)
    .describe(
      'Also try `<scheme>://<target host>.gonogo-probe.invalid` (passes a naive "starts with our origin" check) and, on an HTTPS target, `http://<target host>` (the same host without TLS).',
    ),
  method: z.string().default('PUT').describe('Method the preflight asks for (Access-Control-Request-Method).'),
  ...probeBudget,
});

interface Presented {
  origin: string;
  /** Foreign origins get `high`; the target's own host over http is `medium`. */
  kind: 'foreign' | 'insecure-origin';
}

function presentedOrigins(target: URL, o: z.output<typeof options>): Presented[] {
  const list: Presented[] = o.origins.map((origin) => ({ origin, kind: 'foreign' }));
  if (o.originVariants) {
    list.push({ origin: `${target.protocol}//${target.hostname}.gonogo-probe.invalid`, kind: 'foreign' });
    if (target.protocol === 'https:') list.push({ origin: `http://${target.host}`, kind: 'insecure-origin' });
  }
  return list.filter((p, i) => list.findIndex((q) => q.origin === p.origin) === i);
}

/** The CORS headers of a response, as observed (null when absent). */
function corsView(res: HttpResponse) {
  const h = res.headers;
  return {
    status: res.status,
    'access-control-allow-origin': h['access-control-allow-origin'] ?? null,
    'access-control-allow-credentials': h['access-control-allow-credentials'] ?? null,
    'access-control-allow-methods': h['access-control-allow-methods'] ?? null,
    'access-control-allow-headers': h['access-control-allow-headers'] ?? null,
    vary: h['vary'] ?? null,
  };
}

const listHas = (list: string | undefined, wanted: string, credentials: boolean): boolean => {
  if (list === undefined) return false;
  const items = list.split(',').map((s) => s.trim().toLowerCase());
  // `*` is a wildcard only for requests without credentials (Fetch standard).
  return items.includes(wanted.toLowerCase()) || (!credentials && items.includes('*'));
};

/**
 * Judges one response. `preflight`: the answer to OPTIONS, which lets the request through only
 * when the origin, the method and the content-type header are all allowed.
 */
/** `Vary` names Origin (or everything); read on the linear-time engine, as every target-sent text. */
const VARY_ORIGIN = linear(/(^|,)\s*(origin|\*)\s*(,|$)/i);

function judge(res: HttpResponse, p: Presented, request: 'get' | 'preflight', ctx: { authenticated: boolean; method: string; private: boolean }): Finding[] {
  const h = res.headers;
  const acao = h['access-control-allow-origin']?.trim();
  const credentials = h['access-control-allow-credentials']?.trim().toLowerCase() === 'true';
  const observed = { request: request === 'get' ? 'GET' : 'OPTIONS', origin: p.origin, ...corsView(res) };
  const label = request === 'get' ? 'GET' : `preflight for ${ctx.method}`;
  if (acao === undefined) return [];
  if (acao === '*') {
    if (credentials) {
      return [{ id: `cors.${request}.wildcard-credentials`, severity: 'info', message: `${label}: Allow-Origin * with Allow-Credentials true (browsers refuse this combination)`, observed }];
    }
    // What `*` opens, not its shape: writes from any page on an API that needs no login, or data
    // the config says is private, read anonymously.
    if (request === 'preflight' && !ctx.authenticated && listHas(h['access-control-allow-methods'], ctx.method, false) && listHas(h['access-control-allow-headers'], 'content-type', false) && !SIMPLE.has(ctx.method.toUpperCase())) {
      return [{ id: 'cors.preflight.wildcard-writes', severity: 'medium', message: `preflight: Access-Control-Allow-Origin * lets any site send ${ctx.method} with a JSON body to an API that needs no login (through a visitor's browser, from inside their network)`, observed }];
    }
    if (request === 'get' && ctx.private && !ctx.authenticated && res.status >= 200 && res.status < 300) {
      return [{ id: 'cors.get.wildcard-private', severity: 'high', message: `GET: Access-Control-Allow-Origin * on private data served without a login (${res.status}): any site can read it through a visitor's browser`, observed }];
    }
    return [
      {
        id: `cors.${request}.wildcard`,
        severity: ctx.authenticated && request === 'get' ? 'low' : 'info',
        message: `${label}: Access-Control-Allow-Origin * ${ctx.authenticated ? 'on an authenticated API' : 'on a path that needs no login'} (no cookies are sent with *)`,
        observed,
      },
    ];
  }
  if (acao.toLowerCase() !== p.origin.toLowerCase()) return [];

  const findings: Finding[] = [];
  let lets = true;
  if (request === 'preflight') {
    lets = listHas(h['access-control-allow-methods'], ctx.method, credentials) && listHas(h['access-control-allow-headers'], 'content-type', credentials);
  }
  if (credentials && lets) {
    const insecure = p.kind === 'insecure-origin';
    findings.push({
      id: `cors.${request}.${insecure ? 'insecure-origin' : 'credentials'}`,
      severity: insecure ? 'medium' : 'high',
      message:
        request === 'get'
          ? `GET: origin ${p.origin} is allowed with credentials: ${insecure ? 'anyone on the network path can act as that origin and' : 'any site the user visits can'} read responses with the user's session`
          : `preflight: origin ${p.origin} may send a credentialed ${ctx.method} with a JSON body: ${insecure ? 'anyone on the network path can' : 'any site the user visits can'} change data as the user`,
      observed,
    });
  } else if (p.kind === 'foreign') {
    findings.push({
      id: `cors.${request}.reflected`,
      severity: 'low',
      message: `${label}: origin ${p.origin} is reflected${credentials ? ' with credentials, but the requested method or content-type is not allowed' : ' without credentials: responses to anonymous requests are readable from any site'}`,
      observed,
    });
  }
  if (!VARY_ORIGIN.test(h['vary'] ?? '')) {
    findings.push({ id: `cors.${request}.no-vary`, severity: 'info', message: `${label}: the origin is reflected without Vary: Origin: a shared cache may hand this answer to other sites`, observed });
  }
  return findings;
}

export default defineKind({
  name: 'cors',
  description: 'CORS: a foreign or null Origin must not be reflected with credentials; `*` on an authenticated API is reported lower.',
  options,
  fields: [...PROBE_FIELDS, 'responses'],
  defaultExpect: probeDefaultExpect,
  async run(o, ctx) {
    const client = new ProbeClient(ctx, o);
    return client.guard(async () => {
      client.assertOnTarget([o.path]);
      const target = new URL(client.url(o.path));
      const session = o.loginAs !== undefined ? await login(ctx.auth, o.loginAs, ctx, client) : undefined;
      const findings: Finding[] = [];
      const responses: Record<string, unknown>[] = [];
      let notFound = false;

      for (const p of presentedOrigins(target, o)) {
        const get = await client.sendOrSkip({ path: o.path, headers: { origin: p.origin, accept: 'application/json', ...session?.headers({ withToken: false }) } });
        // Rate limited after waiting as told: nothing to judge for this origin (counted by the client).
        if (!get) continue;
        // Without a session, a 401/403 tells us the path is an authenticated API.
        const authenticated = session !== undefined || get.status === 401 || get.status === 403;
        if (get.status === 404) notFound = true;
        findings.push(...judge(get, p, 'get', { authenticated, method: o.method, private: o.private }));
        // Browsers send preflights without cookies.
        const pre = await client.sendOrSkip({
          path: o.path,
          method: 'OPTIONS',
          headers: { origin: p.origin, 'access-control-request-method': o.method, 'access-control-request-headers': 'content-type' },
        });
        if (pre) findings.push(...judge(pre, p, 'preflight', { authenticated, method: o.method, private: o.private }));
        responses.push({ origin: p.origin, get: corsView(get), preflight: pre ? corsView(pre) : null });
      }
      if (notFound) {
        findings.push({ id: 'cors.path-not-found', severity: 'info', message: `${o.path} answered 404: CORS was judged on a response the app may not route; set \`path\` to a real API path`, observed: o.path });
      }
      return probeOutcome(findings, client, { responses });
    });
  },
});
