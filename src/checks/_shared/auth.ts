import { z } from 'zod';
import { parse as parseSetCookie } from 'set-cookie-parser';
import type { CheckContext } from '../types.js';
import { UnjudgedAnswer } from './probe.js';
import type { ProbeClient } from './probe.js';
import type { HttpResponse } from '../../util/http.js';
import { mustCompile, patternString } from '../../util/pattern.js';

const tokenSource = z
  .strictObject({
    from: z.enum(['body', 'header', 'cookie']).describe('Where the login response carries the CSRF token.'),
    path: z
      .string()
      .optional()
      .describe('from: body — dotted JSON path to the token (`csrfToken`, `data.csrf`). Default `csrfToken`.'),
    pattern: patternString()
      .optional()
      .describe('from: body — a regular expression whose first group is the token, for HTML bodies (`name="csrf" value="([^"]+)"`).'),
    name: z
      .string()
      .optional()
      .describe('from: header — header name (default: csrfHeader); from: cookie — cookie name (default `XSRF-TOKEN`).'),
  })
  .describe('Where the CSRF token comes from after login.');

const loginSchema = z
  .strictObject({
    url: z
      .string()
      .default('/api/login')
      .describe('Login URL: a path relative to the environment URL, or `{{env.url}}/...`. Must be on the target.'),
    method: z.string().default('POST').describe('HTTP method of the login request.'),
    json: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('JSON body; `{{username}}` and `{{password}}` are replaced in every string. Default `{ username, password }`.'),
    form: z
      .record(z.string(), z.string())
      .optional()
      .describe('Form-urlencoded body instead of JSON, with the same placeholders.'),
    headers: z.record(z.string(), z.string()).default({}).describe('Extra request headers for the login request.'),
    csrfToken: tokenSource
      .optional()
      .describe('Where the CSRF token comes from. When omitted, a top-level `csrfToken` in a JSON response is used if present.'),
    csrfHeader: z.string().default('X-CSRF-Token').describe('Header that carries the CSRF token on state-changing requests.'),
    expectStatus: z
      .array(z.number().int().min(100).max(599))
      .optional()
      .describe('Statuses that mean the login worked. Default: any 2xx or 3xx.'),
    sessionCookie: z
      .string()
      .optional()
      .describe('Name of the cookie that must be set for the login to count (default: any cookie).'),
  })
  .refine((l) => !(l.json && l.form), { message: 'give either json or form, not both' })
  .describe('How to log in: one request whose response sets the session cookie.');

const userSchema = z
  .strictObject({
    username: z.string().min(1).describe('Login name.'),
    password: z.string().describe('Password; use `${VAR}` so it comes from the environment, not the file.'),
    role: z.string().optional().describe('Free-form role (`admin`, `user`), for the reader.'),
  })
  .describe('A test user.');

/** The config's `auth:` section: a login recipe and named test users that probes log in as. */
export const authSchema = z
  .strictObject({
    login: loginSchema.prefault({}),
    users: z.record(z.string(), userSchema).describe('Test users by name (`alice`, `bob`, `admin`); probes refer to these names.'),
  })
  .describe('How probes log in as test users.');

export type AuthConfig = z.output<typeof authSchema>;

/** A logged-in test user, as a browser would hold it: cookies and the CSRF token. */
export interface Session {
  /** The user's name in `auth.users`. */
  user: string;
  /** `name=value; ...` of the cookies the session holds now. */
  cookieHeader(): string;
  /** The raw `Set-Cookie` headers of the login response. */
  setCookies: string[];
  csrfToken?: string;
  /** Cookie header, plus the CSRF token header unless `withToken: false`. */
  headers(opts?: { withToken?: boolean }): Record<string, string>;
  /** Takes in cookies a later response sets (sessions that rotate their cookie). */
  absorb(res: Pick<HttpResponse, 'setCookies'>): void;
}

/** Reads a dotted path (`a.b[0].c`, `items.0.id`) from parsed JSON; undefined when any step is missing. */
export function readPath(value: unknown, path: string): unknown {
  const steps = path.replace(/\[(\d+)\]/g, '.$1').split('.').filter((s) => s !== '');
  let cur: unknown = value;
  for (const step of steps) {
    if (Array.isArray(cur)) cur = /^\d+$/.test(step) ? cur[Number(step)] : undefined;
    else if (cur !== null && typeof cur === 'object') cur = Object.getOwnPropertyDescriptor(cur, step)?.value;
    else return undefined;
  }
  return cur;
}

/** Parses JSON, or undefined when the text is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Replaces `{{name}}` in every string of a JSON-like value. */
export function fillTemplate<T>(value: T, vars: Record<string, string>): T;
export function fillTemplate(value: unknown, vars: Record<string, string>): unknown {
  if (typeof value === 'string') return value.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (m, k: string) => vars[k] ?? m);
  if (Array.isArray(value)) return value.map((v) => fillTemplate(v, vars));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillTemplate(v, vars)]));
  }
  return value;
}

/** `{{env.x}}` from the environment, for the rare config that reaches a probe unexpanded. */
function envVars(ctx: CheckContext): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.env.vars)) vars[`env.${k}`] = v;
  if (ctx.env.url) vars['env.url'] = ctx.env.url.replace(/\/+$/, '');
  return vars;
}

/** A cookie jar for one target: name -> value, with deletions honoured. */
class Jar {
  private readonly cookies = new Map<string, string>();

  absorb(setCookies: readonly string[], now: number): void {
    for (const c of parseSetCookie([...setCookies], { decodeValues: false })) {
      const expired = (c.maxAge !== undefined && c.maxAge <= 0) || (c.expires !== undefined && c.expires.getTime() <= now);
      if (expired) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  get size(): number {
    return this.cookies.size;
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

function statusOk(status: number, expected: readonly number[] | undefined): boolean {
  return expected ? expected.includes(status) : status >= 200 && status < 400;
}

function extractToken(
  source: z.output<typeof tokenSource> | undefined,
  csrfHeader: string,
  res: HttpResponse,
  jar: Jar,
): string | undefined {
  if (!source) {
    const token = readPath(parseJson(res.body), 'csrfToken');
    return typeof token === 'string' && token !== '' ? token : undefined;
  }
  let token: unknown;
  if (source.from === 'header') token = res.headers[(source.name ?? csrfHeader).toLowerCase()];
  else if (source.from === 'cookie') token = jar.get(source.name ?? 'XSRF-TOKEN');
  else if (source.pattern) token = mustCompile(source.pattern).exec(res.body)?.[1];
  else token = readPath(parseJson(res.body), source.path ?? 'csrfToken');
  if (typeof token === 'number') token = String(token);
  return typeof token === 'string' && token !== '' ? token : undefined;
}

/**
 * Logs in as a configured test user through the probe's client (so the login counts against the
 * budget and can only go to the target). Throws when it cannot: the probe is then `error`, never a
 * quiet pass on an unauthenticated session.
 */
export async function login(auth: AuthConfig | undefined, user: string, ctx: CheckContext, client: ProbeClient): Promise<Session> {
  const problem = ctx.authProblems?.[user];
  if (problem) throw new Error(`cannot log in as "${user}": ${problem}`);
  if (!auth) throw new Error(`this probe logs in as "${user}", but the config has no auth: section (login recipe and users)`);
  const cred = auth.users[user];
  if (!cred) {
    const known = Object.keys(auth.users);
    throw new Error(`unknown user "${user}": auth.users has ${known.length ? known.join(', ') : 'no users'}`);
  }
  const l = auth.login;
  const vars = { ...envVars(ctx), username: cred.username, password: cred.password };
  const path = fillTemplate(l.url, vars);
  const headers: Record<string, string> = { accept: 'application/json, text/html;q=0.9, */*;q=0.1' };
  // A browser sends its own origin on a POST; apps that check Origin expect it on the login too.
  headers['origin'] = new URL(client.url(path)).origin;
  let body: string;
  if (l.form) {
    body = new URLSearchParams(fillTemplate(l.form, vars)).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else {
    body = JSON.stringify(fillTemplate(l.json ?? { username: '{{username}}', password: '{{password}}' }, vars));
    headers['content-type'] = 'application/json';
  }
  for (const [k, v] of Object.entries(l.headers)) headers[k.toLowerCase()] = fillTemplate(v, vars);

  // One login per user per run when the engine shares answers (ctx.logins); a failed one is not kept.
  let pending = ctx.logins?.get(user);
  if (!pending) {
    pending = client.send({ path, method: l.method, headers, body });
    ctx.logins?.set(user, pending);
    pending.catch(() => ctx.logins?.delete(user));
  }
  let res: HttpResponse;
  try {
    res = await pending;
  } catch (err) {
    // Still limited after waiting as told: the target's login limit is spent (often by a burst just before).
    if (err instanceof UnjudgedAnswer) {
      throw new Error(`login as "${user}" failed: ${err.url} answered ${err.status} (rate limited${err.retryAfter !== undefined ? `, Retry-After ${err.retryAfter}` : ''}: the target's login limit is spent)`);
    }
    throw err;
  }
  try {
    return sessionFrom(res, user, l, client.url(path), ctx);
  } catch (err) {
    if (ctx.logins?.get(user) === pending) ctx.logins.delete(user);
    throw err;
  }
}

function sessionFrom(res: HttpResponse, user: string, l: AuthConfig['login'], url: string, ctx: CheckContext): Session {
  const where = `${l.method.toUpperCase()} ${url}`;
  if (!statusOk(res.status, l.expectStatus)) {
    // A login limiter (or the rate-limit probe's burst just before) is the usual cause; say so.
    const limited = res.status === 429 ? ` (rate limited${res.headers['retry-after'] ? `, Retry-After ${res.headers['retry-after']}` : ''}: the target's login limit is spent)` : '';
    throw new Error(`login as "${user}" failed: ${where} answered ${res.status}${limited}${l.expectStatus ? ` (expected ${l.expectStatus.join('/')})` : ''}`);
  }
  const jar = new Jar();
  jar.absorb(res.setCookies, ctx.clock.now());
  if (l.sessionCookie ? jar.get(l.sessionCookie) === undefined : jar.size === 0) {
    throw new Error(
      `login as "${user}" failed: ${where} answered ${res.status} but set ${l.sessionCookie ? `no "${l.sessionCookie}" cookie` : 'no cookie'}`,
    );
  }
  const csrfToken = extractToken(l.csrfToken, l.csrfHeader, res, jar);
  if (l.csrfToken && csrfToken === undefined) {
    throw new Error(`login as "${user}": no CSRF token found in the response ${l.csrfToken.from} as configured in auth.login.csrfToken`);
  }
  return {
    user,
    setCookies: res.setCookies,
    csrfToken,
    cookieHeader: () => jar.header(),
    headers: (opts = {}) => {
      const h: Record<string, string> = { cookie: jar.header() };
      if ((opts.withToken ?? true) && csrfToken !== undefined) h[l.csrfHeader.toLowerCase()] = csrfToken;
      return h;
    },
    absorb: (r) => jar.absorb(r.setCookies, ctx.clock.now()),
  };
}
