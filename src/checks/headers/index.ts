// Security headers and cookie flags of the target's pages.
//
// Severity table (a finding's id in brackets; high and medium fail the default expect):
//   high    CSP missing [csp.missing] or Report-Only only [csp.report-only]; CSP without
//           script-src/default-src [csp.script.unrestricted]; script sources with 'unsafe-inline'
//           (no nonce/hash), 'unsafe-eval', `*`/`http:`/`https:`, `data:` [csp.script.*];
//           HTTPS without HSTS, or HSTS invalid or max-age=0 [hsts.missing|invalid|disabled];
//           session cookie without HttpOnly, or without Secure on HTTPS [cookie.<name>.httponly|secure]
//   medium  no X-Frame-Options (DENY/SAMEORIGIN) and no CSP frame-ancestors, an invalid one, or
//           frame-ancestors `*` [frame.missing|invalid|permissive]; X-Content-Type-Options not
//           nosniff [nosniff.*]; Referrer-Policy unsafe-url or no-referrer-when-downgrade
//           [referrer.unsafe]; a version number in Server / X-Powered-By / X-AspNet-Version
//           [leak.<header>.version]; HSTS max-age under `hstsMinAge` [hsts.short-max-age]; script
//           source on http:// [csp.script.insecure-host]; session cookie without SameSite or
//           SameSite=None [cookie.<name>.samesite]; no base-uri in a nonce/hash policy [csp.base-uri]
//   low     Referrer-Policy missing (browsers default to strict-origin-when-cross-origin) or invalid;
//           Permissions-Policy missing; object-src not 'none' (plugins are gone from current
//           browsers); no base-uri otherwise; X-Powered-By naming the framework without a version;
//           Secure missing on a non-session cookie over HTTPS; SameSite missing on the CSRF cookie
//   info    HSTS over plain HTTP (not applicable: browsers ignore it); 'unsafe-inline' neutralized by
//           a nonce or hash, wildcards neutralized by 'strict-dynamic'; CSP via <meta>; framing by
//           X-Frame-Options only; Server naming the product without a version; HSTS without
//           includeSubDomains; flags of non-session cookies; document-only rules skipped on a
//           non-HTML response
import { z } from 'zod';
import { defineKind } from '../types.js';
import { PROBE_FIELDS, ProbeClient, probeBudget, probeDefaultExpect, probeOutcome } from '../_shared/probe.js';
import type { Finding } from '../_shared/probe.js';
import { login } from '../_shared/auth.js';
import type { HttpResponse } from '../../util/http.js';
import { linear } from '../../util/pattern.js';
import { analyzeCsp, analyzeFraming } from './csp.js';
import { DEFAULT_HSTS_MIN_AGE, analyzeCookies, analyzeHsts, analyzeLeaks, analyzeNosniff, analyzePermissions, analyzeReferrer, observeCookies } from './rules.js';
import type { CookieFlags } from './rules.js';

const toggle = (what: string) => z.boolean().default(true).describe(`Judge ${what}; false leaves it out.`);

const options = z.strictObject({
  path: z.string().default('/').describe('Page whose response headers are judged: a path on the target (redirects on the target are followed).'),
  paths: z.array(z.string()).max(20).default([]).describe('More pages to judge the same way (each one request).'),
  loginAs: z
    .string()
    .optional()
    .describe('A user name from `auth.users`: log in and judge the flags of the cookies the login response sets (HttpOnly, SameSite, Secure on HTTPS).'),
  require: z
    .strictObject({
      hsts: toggle('Strict-Transport-Security (HTTPS targets only)'),
      csp: toggle('Content-Security-Policy'),
      framing: toggle('X-Frame-Options / CSP frame-ancestors'),
      nosniff: toggle('X-Content-Type-Options'),
      referrerPolicy: toggle('Referrer-Policy'),
      permissionsPolicy: toggle('Permissions-Policy'),
      versionLeaks: toggle('Server / X-Powered-By version leaks'),
      cookies: toggle('cookie flags'),
    })
    .prefault({})
    .describe('Which rules to apply; every one is on by default.'),
  hstsMinAge: z.number().int().min(0).default(DEFAULT_HSTS_MIN_AGE).describe('Shortest acceptable HSTS max-age in seconds (default 15552000, 180 days, as the HTTP Observatory).'),
  ...probeBudget,
});

type Options = z.output<typeof options>;

/** The headers reported as observed values, lower case; null when absent. */
const REPORTED = [
  'strict-transport-security',
  'content-security-policy',
  'content-security-policy-report-only',
  'x-frame-options',
  'x-content-type-options',
  'referrer-policy',
  'permissions-policy',
  'server',
  'x-powered-by',
] as const;

function isHtml(res: HttpResponse): boolean {
  const type = res.headers['content-type'];
  if (type === undefined) return /^\s*</.test(res.body);
  return /html/i.test(type);
}

// On the linear-time engine: on V8's, a page of unclosed `<meta` tags made these quadratic.
const META_TAG = linear(/<meta\b[^>]*>/i);
const ATTRIBUTE = linear(/([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/);

/** The content of `<meta http-equiv="Content-Security-Policy">`, whatever the attribute order. */
export function metaCsp(html: string): string | undefined {
  for (const [tag] of META_TAG.matchAll(html)) {
    const attrs = new Map<string, string>();
    for (const m of ATTRIBUTE.matchAll(tag)) {
      attrs.set((m[1] ?? '').toLowerCase(), m[2] ?? m[3] ?? m[4] ?? '');
    }
    if (attrs.get('http-equiv')?.toLowerCase() === 'content-security-policy') return attrs.get('content');
  }
  return undefined;
}

/** Every header rule for one response. */
function judgeResponse(res: HttpResponse, https: boolean, o: Options): Finding[] {
  const h = res.headers;
  const findings: Finding[] = [];
  const r = o.require;
  if (r.hsts) findings.push(...analyzeHsts(h['strict-transport-security'], https, o.hstsMinAge));
  if (r.nosniff) findings.push(...analyzeNosniff(h['x-content-type-options']));
  if (r.versionLeaks) findings.push(...analyzeLeaks(h));
  // CSP, framing, referrer and permissions govern documents; a JSON API response needs none of
  // them (nosniff keeps it from being rendered), and judging one would be a false alarm.
  if (isHtml(res)) {
    if (r.csp) {
      findings.push(...analyzeCsp({ header: h['content-security-policy'], reportOnly: h['content-security-policy-report-only'], meta: metaCsp(res.body) }));
    }
    if (r.framing) findings.push(...analyzeFraming({ xFrameOptions: h['x-frame-options'], cspHeader: h['content-security-policy'] }));
    if (r.referrerPolicy) findings.push(...analyzeReferrer(h['referrer-policy']));
    if (r.permissionsPolicy) findings.push(...analyzePermissions(h['permissions-policy'], h['feature-policy']));
  } else if (r.csp || r.framing || r.referrerPolicy || r.permissionsPolicy) {
    findings.push({
      id: 'document-rules.skipped',
      severity: 'info',
      message: `CSP, framing, Referrer-Policy and Permissions-Policy not judged: the response is ${h['content-type'] ?? 'not HTML'}, not a document`,
      observed: h['content-type'] ?? null,
    });
  }
  return findings;
}

export default defineKind({
  name: 'headers',
  description: 'Security headers (HSTS, CSP, framing, nosniff, Referrer-Policy, Permissions-Policy, version leaks) and session cookie flags, each with its observed value.',
  options,
  fields: [...PROBE_FIELDS, 'headers', 'cookies'],
  defaultExpect: probeDefaultExpect,
  async run(o, ctx) {
    const client = new ProbeClient(ctx, o);
    return client.guard(async () => {
      const paths = [...new Set([o.path, ...o.paths])];
      client.assertOnTarget(paths);
      const findings: Finding[] = [];
      const cookies: CookieFlags[] = [];
      const perPath: Record<string, Record<string, string | null>> = {};
      let mainHttps = new URL(client.url(o.path)).protocol === 'https:';

      for (const path of paths) {
        const res = await client.send({ path, maxRedirects: 5 });
        if (res.status >= 500) {
          throw new Error(`GET ${client.url(path)} answered ${res.status}: the headers of an error page say nothing about the app's pages`);
        }
        // Judged on the final URL: an http:// entry redirected to https:// is an HTTPS page.
        const https = new URL(res.url).protocol === 'https:';
        if (path === o.path) mainHttps = https;
        const label = paths.length > 1 ? `${path}: ` : '';
        for (const f of judgeResponse(res, https, o)) findings.push({ ...f, message: label + f.message, observed: { path, value: f.observed } });
        perPath[path] = Object.fromEntries(REPORTED.map((name) => [name, res.headers[name] ?? null]));
        cookies.push(...observeCookies(res.setCookies, path, { fromLogin: false }));
      }

      if (o.loginAs !== undefined) {
        const session = await login(ctx.auth, o.loginAs, ctx, client);
        cookies.push(...observeCookies(session.setCookies, 'login', { fromLogin: true, csrfToken: session.csrfToken }));
      }
      if (o.require.cookies) findings.push(...analyzeCookies(cookies, mainHttps));

      const outcome = probeOutcome(findings, client, { headers: perPath[o.path], cookies });
      return { ...outcome, evidence: { ...outcome.evidence, headersByPath: perPath } };
    });
  },
});
