import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { defineKind } from '../types.js';
import { login, parseJson } from '../_shared/auth.js';
import type { Session } from '../_shared/auth.js';
import { ProbeClient, PROBE_FIELDS, probeBudget, probeDefaultExpect, probeOutcome } from '../_shared/probe.js';
import type { Finding } from '../_shared/probe.js';
import type { HttpResponse } from '../../util/http.js';
import { linear, mustCompile } from '../../util/pattern.js';
import { patternString } from '../../util/pattern-schema.js';

const entry = z.union([
  z.string().describe('A path, requested with GET.'),
  z.strictObject({
    path: z.string().describe('Path on the target.'),
    method: z.string().default('GET').describe('HTTP method (sent without a body).'),
    asUser: z.string().optional().describe('Overrides the top-level asUser for this path.'),
    dataMarkers: z.array(z.string()).default([]).describe('Extra data markers for this path.'),
  }),
]);

const options = z.strictObject({
  paths: z.array(entry).min(1).describe('Endpoints that must refuse an anonymous request: paths, or { path, method, asUser, dataMarkers }.'),
  asUser: z
    .string()
    .optional()
    .describe('A logged-in test user who must be refused too (a non-admin, for admin routes); a name in `auth.users`.'),
  control: z
    .string()
    .optional()
    .describe(
      'A test user who may read every path (an admin). Proves each path exists and serves data, so a 404 counts as a refusal and an identical answer as a leak.',
    ),
  dataMarkers: z
    .array(z.string())
    .default([])
    .describe('Text that only appears in the data (a seeded title, an email): its presence in any refused answer is a leak.'),
  loginPattern: patternString({ ignoreCase: true })
    .default('login|log-in|signin|sign-in|/auth')
    .describe('Regular expression a redirect `Location` matches when it points at the login page.'),
  ...probeBudget,
});

type Verdict = 'refused' | 'exposed' | 'unclear';
interface Judgement {
  verdict: Verdict;
  reason: string;
  /** Worth a note in the findings even when refused (a redirect elsewhere, the catch-all page). */
  note?: string;
}
interface Target {
  path: string;
  method: string;
  asUser?: string;
  markers: string[];
}

// Linear-time: on V8's engine a page of unclosed `<input` tags made this quadratic.
const LOGIN_FORM = linear(/<input[^>]+type\s*=\s*["']?password/i);

export default defineKind({
  name: 'auth-required',
  description:
    'Listed endpoints must refuse an anonymous request (401/403 or a redirect to login) and not return data; optionally a non-admin user must be refused too.',
  options,
  fields: [...PROBE_FIELDS, 'exposed', 'paths'],
  defaultExpect: probeDefaultExpect,
  async run(o, ctx) {
    const targets: Target[] = o.paths.map((p) =>
      typeof p === 'string'
        ? { path: p, method: 'GET', asUser: o.asUser, markers: o.dataMarkers }
        : { path: p.path, method: p.method.toUpperCase(), asUser: p.asUser ?? o.asUser, markers: [...o.dataMarkers, ...p.dataMarkers] },
    );
    const users = [...new Set([...targets.flatMap((t) => (t.asUser ? [t.asUser] : [])), ...(o.control ? [o.control] : [])])];
    const planned = users.length + targets.length * (1 + (o.control ? 1 : 0)) + targets.filter((t) => t.asUser).length + 1;
    if (planned > o.maxRequests) throw new Error(`the auth-required probe needs up to ${planned} requests; maxRequests is ${o.maxRequests}`);
    const loginPage = mustCompile(o.loginPattern, { ignoreCase: true });

    const client = new ProbeClient(ctx, o);
    return client.guard(async () => {
      const sessions = new Map<string, Session>();
      for (const u of users) sessions.set(u, await login(ctx.auth, u, ctx, client));

      // The app's answer to a path that cannot exist: an SPA or a catch-all page answers 200 there too.
      // Asked at most once, and only when a 200 needs telling apart from it.
      let baseline: Promise<HttpResponse> | undefined;
      const catchAll = async (): Promise<HttpResponse | undefined> => {
        baseline ??= client.send({ path: `/gonogo-${randomBytes(6).toString('hex')}` });
        const res = await baseline;
        return res.status >= 200 && res.status < 300 ? res : undefined;
      };

      const judge = async (res: HttpResponse, t: Target, control: HttpResponse | undefined): Promise<Judgement> => {
        const marker = t.markers.find((m) => res.body.includes(m));
        if (marker !== undefined) return { verdict: 'exposed', reason: `answered ${res.status} containing the data marker "${marker}"` };
        if (res.status === 401 || res.status === 403) return { verdict: 'refused', reason: `answered ${res.status}` };
        if (res.status >= 300 && res.status < 400) {
          const location = res.headers['location'] ?? '';
          return loginPage.test(location)
            ? { verdict: 'refused', reason: `redirected to the login page ${location}` }
            : { verdict: 'refused', reason: `redirected to ${location || '(no location)'}`, note: `redirects to ${location || '(no location)'}, not to a login page` };
        }
        if (res.status === 404 || res.status === 405 || res.status === 410) {
          return control
            ? { verdict: 'refused', reason: `answered ${res.status} (hidden: ${o.control ?? ''} reads it)` }
            : { verdict: 'unclear', reason: `answered ${res.status}: a missing route and a hidden one look the same (set control: to tell them apart)` };
        }
        if (res.status < 200 || res.status >= 300) return { verdict: 'unclear', reason: `answered ${res.status}: neither a refusal nor data` };
        if (control && control.body === res.body && res.body.trim() !== '') {
          return { verdict: 'exposed', reason: `answered ${res.status} with exactly what ${o.control ?? ''} sees` };
        }
        // A 2xx is access, whatever the body: `[]`, `{}`, `{"user":null}` and an empty body
        // included (an app with nothing to show yet still let the caller in). Only a login page, or
        // the page every unknown path gets, says "not you".
        if (LOGIN_FORM.test(res.body)) return { verdict: 'refused', reason: `answered ${res.status} with a login form` };
        const fallback = await catchAll();
        if (fallback && fallback.body === res.body) {
          return { verdict: 'refused', reason: `answered ${res.status} with the app's catch-all page`, note: 'answers with the catch-all page (the same as for a random path)' };
        }
        const body = res.body.trim();
        const shape = body === '' ? 'an empty body' : parseJson(body) !== undefined ? 'JSON' : 'content that is neither a login page nor the catch-all page';
        return { verdict: 'exposed', reason: `answered ${res.status} with ${shape}: a 2xx is access, whatever the body` };
      };

      const findings: Finding[] = [];
      const unclear: string[] = [];
      const report: Record<string, unknown>[] = [];
      for (const t of targets) {
        const label = `${t.method} ${t.path}`;
        let control: HttpResponse | undefined;
        const controlSession = o.control ? sessions.get(o.control) : undefined;
        if (controlSession) {
          control = await client.send({ path: t.path, method: t.method, headers: controlSession.headers() });
          if (control.status < 200 || control.status >= 300) {
            throw new Error(`control user "${o.control ?? ''}" could not read ${label} (answered ${control.status}): the path cannot be verified`);
          }
        }
        const row: Record<string, unknown> = { path: t.path, method: t.method, control: control?.status };
        const asks: [who: string, headers: Record<string, string>][] = [['anonymous', {}]];
        const userSession = t.asUser ? sessions.get(t.asUser) : undefined;
        if (t.asUser && userSession) asks.push([`user ${t.asUser}`, userSession.headers()]);
        for (const [who, headers] of asks) {
          const res = await client.sendOrSkip({ path: t.path, method: t.method, headers });
          if (!res) {
            // Rate limited after waiting as told: no verdict for this ask (counted by the client).
            row[who === 'anonymous' ? 'anonymous' : 'user'] = { status: null, verdict: 'unjudged' };
            continue;
          }
          const j = await judge(res, t, control);
          row[who === 'anonymous' ? 'anonymous' : 'user'] = { status: res.status, verdict: j.verdict, reason: j.reason };
          const id = `${who === 'anonymous' ? 'anonymous' : `user.${t.asUser ?? ''}`}:${label}`;
          if (j.verdict === 'exposed') {
            findings.push({ id, severity: 'high', message: `${label} as ${who}: ${j.reason}`, observed: { status: res.status, bodyExcerpt: res.body.slice(0, 200) } });
          } else if (j.verdict === 'unclear') {
            unclear.push(`${label} as ${who} ${j.reason}`);
            findings.push({ id, severity: 'info', message: `${label} as ${who}: could not verify: ${j.reason}`, observed: { status: res.status } });
          } else if (j.note) {
            findings.push({ id, severity: 'info', message: `${label} as ${who}: ${j.note}`, observed: { status: res.status, location: res.headers['location'] } });
          }
        }
        report.push(row);
      }
      // Nothing proved exposed, but some answers prove nothing either: that is no pass.
      if (unclear.length > 0 && !findings.some((f) => f.severity === 'high')) throw new Error(`could not verify: ${unclear.join('; ')}`);
      const exposed = findings.filter((f) => f.severity === 'high').map((f) => f.id);
      return probeOutcome(findings, client, { exposed, paths: report });
    });
  },
});
