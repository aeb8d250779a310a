import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { parse as parseSetCookie } from 'set-cookie-parser';
import { defineKind } from '../types.js';
import { ANONYMOUS, login, fillTemplate } from '../_shared/auth.js';
import type { Session } from '../_shared/auth.js';
import { ProbeClient, PROBE_FIELDS, probeBudget, probeDefaultExpect, probeOutcome } from '../_shared/probe.js';
import type { Finding } from '../_shared/probe.js';
import type { HttpResponse } from '../../util/http.js';
import { linear } from '../../util/pattern.js';

/**
 * How a foreign page can make a logged-in browser send the request:
 * - `form`, `text-plain`, `multipart`: an auto-submitted HTML form (the three encodings a form may use),
 *   with the foreign page's Origin and Referer and no token;
 * - `null-origin`: the same form from a sandboxed iframe or data: URL, which sends `Origin: null`;
 * - `cors-json`: a `fetch()` with credentials and a JSON body, sent only when a CORS preflight
 *   from the foreign origin would let it through.
 */
const VECTORS = ['form', 'text-plain', 'multipart', 'null-origin', 'cors-json'] as const;
type Vector = (typeof VECTORS)[number];
const FORM_VECTORS: ReadonlySet<Vector> = new Set(['form', 'text-plain', 'multipart', 'null-origin']);

const options = z.strictObject({
  loginAs: z
    .string()
    .optional()
    .describe('Test user (a name in `auth.users`) whose session the forged requests ride on, or `anonymous` for an app without users. Default: the first user, or anonymous when there is none.'),
  request: z
    .strictObject({
      method: z.string().default('POST').describe('Method of the state-changing request. Forms can only POST: other methods are tried through CORS only.'),
      path: z.string().describe('Path on the target (required: no default fits every app). Point it at a harmless endpoint: each accepted request creates or changes something.'),
      fields: z
        .record(z.string(), z.string())
        .default({ title: 'gonogo-csrf-probe' })
        .describe('Fields of the request; `{{nonce}}` becomes a value unique to each attempt.'),
    })
    .describe('The state-changing request a foreign site would forge.'),
  foreignOrigin: z.url().default('https://gonogo-probe.invalid').describe('Origin the forged requests claim to come from.'),
  vectors: z
    .array(z.enum(VECTORS))
    .min(1)
    .default([...VECTORS])
    .describe('Which ways of forging the request to try (`form`, `text-plain`, `multipart`, `null-origin`, `cors-json`).'),
  control: z
    .boolean()
    .default(true)
    .describe(
      'First send the request the legitimate way (JSON, same origin, with the token) and require it to be accepted, so a refusal below means a defence and not a request the app never accepts.',
    ),
  verify: z
    .strictObject({
      status: z
        .array(z.number().int().min(100).max(599))
        .optional()
        .describe('Statuses that mean the change was accepted. Default: any 2xx, or a 3xx not pointing at a login or error page.'),
      bodyIncludes: z
        .string()
        .optional()
        .describe('Text the response must also contain for the change to count as accepted (`{{nonce}}` allowed).'),
    })
    .prefault({})
    .describe('How to tell that the change was accepted.'),
  ...probeBudget,
});
type Options = z.output<typeof options>;

const REFUSAL_LOCATION = linear(/login|log-in|signin|sign-in|auth|error|denied|forbidden|csrf/i);

function accepted(res: HttpResponse, verify: Options['verify'], nonce: string): boolean {
  const location = res.headers['location'] ?? '';
  const statusAccepted = verify.status
    ? verify.status.includes(res.status)
    : (res.status >= 200 && res.status < 300) || (res.status >= 300 && res.status < 400 && !REFUSAL_LOCATION.test(location));
  if (!statusAccepted) return false;
  return verify.bodyIncludes === undefined || res.body.includes(fillTemplate(verify.bodyIncludes, { nonce }));
}

/** The body each encoding produces for the fields, as a browser would send it. */
function encode(vector: Vector, fields: Record<string, string>): { contentType: string; body: string } {
  if (vector === 'text-plain') {
    // A text/plain form sends `name=value\r\n`; a name of `{"title":"x` and a value of `"}` make JSON,
    // with the `=` landing inside the last string. That is the best a foreign page can do.
    const json = JSON.stringify(fields);
    const body = json === '{}' ? '{"gonogo":"="}' : `${json.slice(0, -2)}="}`;
    return { contentType: 'text/plain', body: `${body}\r\n` };
  }
  if (vector === 'multipart') {
    const boundary = `----gonogo${randomBytes(8).toString('hex')}`;
    const parts = Object.entries(fields).map(
      ([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k.replace(/"/g, '%22')}"\r\n\r\n${v}\r\n`,
    );
    return { contentType: `multipart/form-data; boundary=${boundary}`, body: `${parts.join('')}--${boundary}--\r\n` };
  }
  return { contentType: 'application/x-www-form-urlencoded', body: new URLSearchParams(fields).toString() };
}

interface Preflight {
  status: number;
  allowed: boolean;
  allowOrigin?: string;
  allowCredentials?: string;
  allowMethods?: string;
  allowHeaders?: string;
}

const SIMPLE_METHODS = new Set(['GET', 'HEAD', 'POST']);

/** Would a browser, after this preflight, send a credentialed JSON request from `origin`? (Fetch spec CORS check.) */
function judgePreflight(res: HttpResponse, origin: string, method: string): Preflight {
  const h = res.headers;
  const list = (v: string | undefined) => (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  // With credentials, `*` is no wildcard: origin, methods and headers must be named.
  const originOk = h['access-control-allow-origin'] === origin;
  const credsOk = h['access-control-allow-credentials'] === 'true';
  const methodOk = SIMPLE_METHODS.has(method) || list(h['access-control-allow-methods']).includes(method);
  const headerOk = list(h['access-control-allow-headers']).some((x) => x.toLowerCase() === 'content-type');
  return {
    status: res.status,
    allowed: res.status >= 200 && res.status < 300 && originOk && credsOk && methodOk && headerOk,
    allowOrigin: h['access-control-allow-origin'],
    allowCredentials: h['access-control-allow-credentials'],
    allowMethods: h['access-control-allow-methods'],
    allowHeaders: h['access-control-allow-headers'],
  };
}

/**
 * SameSite=Lax/Strict on every session cookie keeps a cross-site page from riding the session in
 * current browsers. An accepted forgery stays a high finding (same-site pages, older browsers,
 * embedded browsers, a cookie attribute one refactor away from gone), but the message says so.
 */
function sameSiteOnly(session: Session): string | undefined {
  const cookies = parseSetCookie(session.setCookies, { decodeValues: false });
  const modes = cookies.map((c) => (c.sameSite ?? '').toLowerCase());
  if (modes.length === 0 || !modes.every((m) => m === 'lax' || m === 'strict')) return undefined;
  return modes.includes('lax') ? 'Lax' : 'Strict';
}

function nonce(): string {
  return `gonogo-${randomBytes(6).toString('hex')}`;
}

export default defineKind({
  name: 'csrf',
  description:
    'Logs in as a test user, then forges the configured state-changing request the ways a foreign site can (form, text/plain, multipart, Origin null, CORS JSON) without the token; accepted = finding. The control and every accepted forgery really make the change: point it at a harmless endpoint.',
  options,
  fields: [...PROBE_FIELDS, 'accepted', 'attempts', 'preflight', 'control', 'user'],
  defaultExpect: probeDefaultExpect,
  async run(o, ctx) {
    const method = o.request.method.toUpperCase();
    const vectors = o.vectors.filter((v) => !FORM_VECTORS.has(v) || method === 'POST');
    const planned = 1 + (o.control ? 1 : 0) + vectors.filter((v) => FORM_VECTORS.has(v)).length + (vectors.includes('cors-json') ? 2 : 0);
    if (planned > o.maxRequests) throw new Error(`the csrf probe needs up to ${planned} requests; maxRequests is ${o.maxRequests}`);
    // Without users, the forged requests carry no credentials at all: an app that takes them
    // changes state for any site that makes a visitor's browser post (issue 9, point 5).
    const user = o.loginAs ?? Object.keys(ctx.auth?.users ?? {})[0] ?? ANONYMOUS;

    const client = new ProbeClient(ctx, o);
    return client.guard(async () => {
      const session = await login(ctx.auth, user, ctx, client);
      const target = new URL(client.url(o.request.path));
      const foreign = new URL(o.foreignOrigin).origin;
      const findings: Finding[] = [];
      const attempts: Partial<Record<Vector, { status: number; accepted: boolean }>> = {};
      const sameSite = sameSiteOnly(session);
      const sameSiteNote = sameSite ? ` (only SameSite=${sameSite} session cookies stand in the way, for cross-site pages in current browsers)` : '';

      // A forged request carries what the browser attaches by itself: cookies and Basic
      // credentials, never a bearer token (a foreign page cannot read it) nor the CSRF token.
      const ambient = session.headers({ withToken: false, ambientOnly: true });
      const send = async (extra: Record<string, string>, body: string | undefined, m = method) => {
        const res = await client.send({ path: o.request.path, method: m, headers: { ...ambient, ...extra }, body });
        session.absorb(res);
        return res;
      };
      /** A forged attempt; a rate-limited answer (after waiting as told) is undefined: not judged, counted. */
      const forge = async (extra: Record<string, string>, body: string | undefined) => {
        const res = await client.sendOrSkip({ path: o.request.path, method, headers: { ...ambient, ...extra }, body });
        if (res) session.absorb(res);
        return res;
      };
      const how = session.credential === 'none' ? 'with no credentials at all' : session.credential === 'token' ? 'with the cookies alone (no bearer token) and no CSRF token' : 'without the token';

      let controlStatus: number | undefined;
      if (o.control) {
        const n = nonce();
        const res = await send(
          { ...session.headers({ withToken: true }), origin: target.origin, referer: `${target.origin}/`, 'content-type': 'application/json' },
          JSON.stringify(fillTemplate(o.request.fields, { nonce: n })),
        );
        controlStatus = res.status;
        if (!accepted(res, o.verify, n)) {
          throw new Error(
            `control request refused: a same-origin ${method} ${target.pathname} with the session and its token answered ${res.status}, so a refusal of a forged one proves nothing; fix request/verify, or set control: false`,
          );
        }
      }

      for (const vector of vectors) {
        if (!FORM_VECTORS.has(vector)) continue;
        const n = nonce();
        const { contentType, body } = encode(vector, fillTemplate(o.request.fields, { nonce: n }));
        const from: Record<string, string> = vector === 'null-origin' ? { origin: 'null' } : { origin: foreign, referer: `${foreign}/` };
        const res = await forge({ ...from, 'content-type': contentType }, body);
        if (!res) continue;
        const ok = accepted(res, o.verify, n);
        attempts[vector] = { status: res.status, accepted: ok };
        if (ok) {
          findings.push({
            id: `csrf.${vector}`,
            severity: 'high',
            message: `a ${contentType.split(';')[0]} ${method} to ${target.pathname} from ${vector === 'null-origin' ? 'Origin null' : foreign} ${how} was accepted (${res.status})${sameSiteNote}`,
            observed: { status: res.status, location: res.headers['location'] },
          });
        }
      }

      let preflight: Preflight | undefined;
      if (vectors.includes('cors-json')) {
        const pre = await client.send({
          path: o.request.path,
          method: 'OPTIONS',
          headers: { origin: foreign, 'access-control-request-method': method, 'access-control-request-headers': 'content-type' },
        });
        preflight = judgePreflight(pre, foreign, method);
        if (preflight.allowed) {
          const n = nonce();
          const res = await send(
            { origin: foreign, referer: `${foreign}/`, 'content-type': 'application/json' },
            JSON.stringify(fillTemplate(o.request.fields, { nonce: n })),
          );
          const ok = accepted(res, o.verify, n);
          attempts['cors-json'] = { status: res.status, accepted: ok };
          findings.push(
            ok
              ? {
                  id: 'csrf.cors-json',
                  severity: 'high',
                  message: `the CORS preflight lets ${foreign} send a credentialed JSON ${method}, and the request without the token was accepted (${res.status})${sameSiteNote}`,
                  observed: { preflight, status: res.status },
                }
              : {
                  id: 'csrf.cors-preflight',
                  severity: 'info',
                  message: `the CORS preflight lets ${foreign} send a credentialed JSON ${method}; the request itself was refused (${res.status})`,
                  observed: { preflight, status: res.status },
                },
          );
        }
      }

      const acceptedVectors = VECTORS.filter((v) => attempts[v]?.accepted === true);
      const outcome = probeOutcome(findings, client, { accepted: acceptedVectors, attempts, preflight, control: controlStatus, user });
      // Token apps: a foreign page cannot add the Authorization header, so forgery needs an
      // ambient credential; once a write with the cookies alone was refused, CSRF does not apply.
      const tried = Object.values(attempts);
      if (session.credential === 'token' && acceptedVectors.length === 0 && tried.length > 0) {
        const statuses = [...new Set(tried.map((a) => a.status))].join('/');
        return { ...outcome, skip: `not applicable: writes need a bearer token, not an ambient credential (a cross-site write with the cookies alone was refused: ${statuses})` };
      }
      return outcome;
    });
  },
});
