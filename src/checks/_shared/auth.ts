import { z } from 'zod';
import { parse as parseSetCookie } from 'set-cookie-parser';
import type { CheckContext } from '../types.js';
import { UnjudgedAnswer } from './probe.js';
import type { ProbeClient } from './probe.js';
import type { HttpResponse } from '../../util/http.js';
import { mustCompile } from '../../util/pattern.js';
import { patternString } from '../../util/pattern-schema.js';
import { execFile } from 'node:child_process';
import { JSONPath } from 'jsonpath-plus';

const tokenSource = z
  .strictObject({
    from: z
      .enum(['body', 'header', 'cookie', 'endpoint'])
      .describe('Where the CSRF token comes from: the login response\'s body, a header or a cookie, or a separate `endpoint` asked with the session after login.'),
    url: z.string().optional().describe('from: endpoint — the path that hands out the token (`/api/csrf-token`), asked with GET.'),
    path: z
      .string()
      .optional()
      .describe('from: body or endpoint — dotted JSON path to the token (`csrfToken`, `data.csrf`). Default `csrfToken`.'),
    pattern: patternString()
      .optional()
      .describe('from: body or endpoint — a regular expression whose first group is the token, for HTML bodies (`name="csrf" value="([^"]+)"`).'),
    name: z
      .string()
      .optional()
      .describe('from: header — header name (default: csrfHeader); from: cookie — cookie name (default `XSRF-TOKEN`); from: endpoint — read this header, or else this cookie, of its answer instead of the body.'),
  })
  .refine((t) => t.from !== 'endpoint' || t.url !== undefined, { message: 'from: endpoint needs url' })
  .describe('Where the CSRF token comes from.');

/** A JSONPath, checked at load: rooted at `$`, brackets closed, and evaluable (script filters are off). */
const jsonPath = z.string().min(1).refine(
  (p) => {
    if (!p.startsWith('$') || (p.match(/\[/g) ?? []).length !== (p.match(/\]/g) ?? []).length) return false;
    try {
      JSONPath({ path: p, json: {}, wrap: false, eval: false });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected a JSONPath such as `$.access_token` or `$.data.token`' },
);

const bearerFromLogin = z
  .strictObject({
    path: jsonPath.describe('JSONPath to the token in the login response body (`$.access_token`, `$.data.token`).'),
    header: z.string().default('Authorization').describe('Header that carries it on every later request.'),
    scheme: z.string().default('Bearer').describe('Written before the token (`Bearer`, `Token`); empty for none.'),
  })
  .describe('The login answers with a token (not, or not only, a cookie): sent as a header on every later request.');

const loginSchema = z
  .strictObject({
    url: z
      .string()
      .describe('Login URL: a path relative to the environment URL, or `{{env.url}}/...`. Must be on the target.'),
    method: z.string().default('POST').describe('HTTP method of the login request.'),
    json: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('JSON body; `{{username}}` and `{{password}}` are replaced in every string. Default `{ username, password }`.'),
    form: z
      .record(z.string(), z.string())
      .optional()
      .describe('Form-urlencoded body instead of JSON, with the same placeholders (`{ email: "{{username}}", password: "{{password}}" }`).'),
    headers: z.record(z.string(), z.string()).default({}).describe('Extra request headers for the login request.'),
    token: bearerFromLogin.optional(),
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
      .describe('Name of the cookie that must be set for the login to count (default: any cookie, unless `token` is given).'),
  })
  .refine((l) => !(l.json && l.form), { message: 'give either json or form, not both' })
  .describe('How to log in: one request whose response sets the session cookie or carries a token.');

const tokenCommand = z
  .strictObject({
    run: z.array(z.string()).min(1).describe('Program and arguments (no shell), run in the config\'s folder; its first line of output is the token.'),
    header: z.string().default('Authorization').describe('Header that carries the token.'),
    scheme: z.string().default('Bearer').describe('Written before the token; empty for none.'),
    timeout: z.number().int().min(100).max(60_000).default(10_000).describe('Milliseconds the command may take.'),
  })
  .describe('A command that prints a token, for any login gonogo cannot do itself (SSO, a device flow, a vault).');

const userSchema = z
  .strictObject({
    username: z.string().min(1).optional().describe('Login name (for `login` and `basic`).'),
    password: z.string().optional().describe('Password; use `${VAR}` so it comes from the environment, not the file.'),
    role: z.string().optional().describe('Free-form role (`admin`, `user`), for the reader.'),
    login: loginSchema.optional().describe('This user\'s own login recipe, instead of `auth.login`.'),
    headers: z
      .record(z.string(), z.string())
      .optional()
      .describe('Static headers that are this user (`authorization: "Bearer ${API_TOKEN}"`): an API token, or a token a person pasted from an SSO login. No login request is made.'),
    basic: z.boolean().optional().describe('HTTP Basic with username and password on every request. No login request is made.'),
    command: tokenCommand.optional(),
  })
  .refine((u) => [u.login, u.headers, u.basic, u.command].filter((x) => x !== undefined && x !== false).length <= 1, {
    message: 'give at most one of login, headers, basic, command',
  })
  .refine((u) => !u.basic || (u.username !== undefined && u.password !== undefined), { message: 'basic needs username and password' })
  .describe('A test user, and how to be them: the shared `auth.login` recipe, or their own `login`, `headers`, `basic` or `command`.');

/** The principal of a request with no credentials at all; probes take it wherever they take a user. */
export const ANONYMOUS = 'anonymous';

/** The config's `auth:` section: a login recipe and named test users that probes log in as. */
export const authSchema = z
  .strictObject({
    login: loginSchema.optional().describe('The login recipe of every user without their own (`headers`, `basic`, `command` or `login`).'),
    users: z
      .record(z.string(), userSchema)
      .refine((u) => !(ANONYMOUS in u), { message: `"${ANONYMOUS}" is the name of the principal with no credentials: choose another user name` })
      .describe('Test users by name (`alice`, `bob`, `admin`); probes refer to these names, and to `anonymous` for no credentials.'),
  })
  .describe('How probes log in as test users.');

export type AuthConfig = z.output<typeof authSchema>;
type LoginRecipe = z.output<typeof loginSchema>;

/**
 * What a browser holds for one principal: cookies (sent by the browser on its own, even on a
 * cross-site request), headers the page's code adds (a bearer token: never sent by itself), and
 * the CSRF token.
 */
export interface Session {
  /** The user's name in `auth.users`, or `anonymous`. */
  user: string;
  /**
   * How the session is carried: `cookie` and `basic` are ambient (a browser attaches them to a
   * forged cross-site request), `token` is not (a page must add it), `none` is anonymous.
   */
  credential: 'cookie' | 'basic' | 'token' | 'none';
  /** `name=value; ...` of the cookies the session holds now. */
  cookieHeader(): string;
  /** The raw `Set-Cookie` headers of the login response. */
  setCookies: string[];
  csrfToken?: string;
  /**
   * Every credential header, plus the CSRF token header unless `withToken: false`; `ambientOnly`:
   * only what a browser would attach to a cross-site request by itself (cookies, Basic).
   */
  headers(opts?: { withToken?: boolean; ambientOnly?: boolean }): Record<string, string>;
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

/** Reads the CSRF token from an answer as configured (body path or pattern, a header, a cookie). */
function tokenIn(source: z.output<typeof tokenSource>, csrfHeader: string, res: HttpResponse, jar: Jar): string | undefined {
  let token: unknown;
  if (source.from === 'header') token = res.headers[(source.name ?? csrfHeader).toLowerCase()];
  else if (source.from === 'cookie') token = jar.get(source.name ?? 'XSRF-TOKEN');
  else if (source.from === 'endpoint' && source.name !== undefined) token = res.headers[source.name.toLowerCase()] ?? jar.get(source.name);
  else if (source.pattern) token = mustCompile(source.pattern).exec(res.body)?.[1];
  else token = readPath(parseJson(res.body), source.path ?? 'csrfToken');
  if (typeof token === 'number') token = String(token);
  return typeof token === 'string' && token !== '' ? token : undefined;
}

function defaultToken(res: HttpResponse): string | undefined {
  const token = readPath(parseJson(res.body), 'csrfToken');
  return typeof token === 'string' && token !== '' ? token : undefined;
}

/** A session from parts; every constructor of a Session goes through here. */
function makeSession(
  user: string,
  credential: Session['credential'],
  parts: { jar?: Jar; setCookies?: string[]; authHeaders?: Record<string, string>; csrfToken?: string; csrfHeader?: string },
  ctx: CheckContext,
): Session {
  const jar = parts.jar ?? new Jar();
  const auth = Object.fromEntries(Object.entries(parts.authHeaders ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    user,
    credential,
    setCookies: parts.setCookies ?? [],
    csrfToken: parts.csrfToken,
    cookieHeader: () => jar.header(),
    headers: (opts = {}) => {
      const h: Record<string, string> = {};
      if (jar.size > 0) h['cookie'] = jar.header();
      if (!opts.ambientOnly || credential === 'basic') Object.assign(h, auth);
      if (!opts.ambientOnly && (opts.withToken ?? true) && parts.csrfToken !== undefined) h[(parts.csrfHeader ?? 'X-CSRF-Token').toLowerCase()] = parts.csrfToken;
      return h;
    },
    absorb: (r) => jar.absorb(r.setCookies, ctx.clock.now()),
  };
}

/** The principal with no credentials: what a stranger, or a forged request without a session, carries. */
export function anonymousSession(ctx: CheckContext): Session {
  return makeSession(ANONYMOUS, 'none', {}, ctx);
}

const withScheme = (scheme: string, token: string): string => (scheme === '' ? token : `${scheme} ${token}`);

/** Runs a user's token command (no shell, bounded in time and output) and returns its first line. */
function commandToken(cmd: z.output<typeof tokenCommand>, user: string, ctx: CheckContext): Promise<string> {
  const [program, ...args] = cmd.run;
  return new Promise((resolve, reject) => {
    execFile(
      program,
      args,
      { cwd: ctx.configDir, env: { ...(ctx.processEnv ?? {}) }, signal: ctx.signal, timeout: cmd.timeout, maxBuffer: 64 * 1024, windowsHide: true },
      (err, stdout) => {
        if (err) return reject(new Error(`the token command of "${user}" (${program}) failed: ${err.message.split('\n')[0]}`));
        const token = stdout.split(/\r?\n/).find((l) => l.trim() !== '')?.trim();
        if (!token) return reject(new Error(`the token command of "${user}" (${program}) printed nothing`));
        resolve(token);
      },
    );
  });
}

/**
 * Becomes a configured test user (or `anonymous`) through the probe's client, so every request
 * counts against the budget and can only go to the target. Throws when it cannot: the probe is
 * then `error`, never a quiet pass on an unauthenticated session.
 */
export async function login(auth: AuthConfig | undefined, user: string, ctx: CheckContext, client: ProbeClient): Promise<Session> {
  if (user === ANONYMOUS) return anonymousSession(ctx);
  const problem = ctx.authProblems?.[user];
  if (problem) throw new Error(`cannot log in as "${user}": ${problem}`);
  if (!auth) throw new Error(`this probe logs in as "${user}", but the config has no auth: section (login recipe and users)`);
  const cred = auth.users[user];
  if (!cred) {
    const known = Object.keys(auth.users);
    throw new Error(`unknown user "${user}": auth.users has ${known.length ? known.join(', ') : 'no users'} (and ${ANONYMOUS}, for no credentials)`);
  }
  if (cred.headers) return makeSession(user, 'token', { authHeaders: cred.headers }, ctx);
  if (cred.basic) {
    const basic = Buffer.from(`${cred.username ?? ''}:${cred.password ?? ''}`).toString('base64');
    return makeSession(user, 'basic', { authHeaders: { authorization: `Basic ${basic}` } }, ctx);
  }
  if (cred.command) {
    const token = await commandToken(cred.command, user, ctx);
    return makeSession(user, 'token', { authHeaders: { [cred.command.header]: withScheme(cred.command.scheme, token) } }, ctx);
  }
  const recipe = cred.login ?? auth.login;
  if (!recipe) throw new Error(`no way to log in as "${user}": give auth.login, or the user's own login, headers, basic or command`);
  if (cred.username === undefined) throw new Error(`auth.users.${user} has no username for the login recipe`);
  const vars = { ...envVars(ctx), username: cred.username, password: cred.password ?? '' };
  const path = fillTemplate(recipe.url, vars);
  const headers: Record<string, string> = { accept: 'application/json, text/html;q=0.9, */*;q=0.1' };
  // A browser sends its own origin on a POST; apps that check Origin expect it on the login too.
  headers['origin'] = new URL(client.url(path)).origin;
  let body: string;
  if (recipe.form) {
    body = new URLSearchParams(fillTemplate(recipe.form, vars)).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else {
    body = JSON.stringify(fillTemplate(recipe.json ?? { username: '{{username}}', password: '{{password}}' }, vars));
    headers['content-type'] = 'application/json';
  }
  for (const [k, v] of Object.entries(recipe.headers)) headers[k.toLowerCase()] = fillTemplate(v, vars);

  // One login per user per run when the engine shares answers (ctx.logins); a failed one is not kept.
  let pending = ctx.logins?.get(user);
  if (!pending) {
    pending = client.send({ path, method: recipe.method, headers, body });
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
    return await sessionFrom(res, user, recipe, client.url(path), ctx, client);
  } catch (err) {
    if (ctx.logins?.get(user) === pending) ctx.logins.delete(user);
    throw err;
  }
}

async function sessionFrom(res: HttpResponse, user: string, l: LoginRecipe, url: string, ctx: CheckContext, client: ProbeClient): Promise<Session> {
  const where = `${l.method.toUpperCase()} ${url}`;
  if (!statusOk(res.status, l.expectStatus)) {
    throw new Error(`login as "${user}" failed: ${where} answered ${res.status}${l.expectStatus ? ` (expected ${l.expectStatus.join('/')})` : ''}`);
  }
  const jar = new Jar();
  jar.absorb(res.setCookies, ctx.clock.now());
  let authHeaders: Record<string, string> | undefined;
  if (l.token) {
    const found: unknown = JSONPath({ path: l.token.path, json: parseJson(res.body) ?? null, wrap: false, eval: false });
    const token = typeof found === 'string' || typeof found === 'number' ? String(found) : undefined;
    if (token === undefined || token === '') throw new Error(`login as "${user}": ${where} answered ${res.status} without a token at ${l.token.path}`);
    authHeaders = { [l.token.header]: withScheme(l.token.scheme, token) };
  } else if (l.sessionCookie ? jar.get(l.sessionCookie) === undefined : jar.size === 0) {
    throw new Error(
      `login as "${user}" failed: ${where} answered ${res.status} but set ${l.sessionCookie ? `no "${l.sessionCookie}" cookie` : 'no cookie'}`,
    );
  }
  const credential = authHeaders ? 'token' : 'cookie';
  let csrfToken: string | undefined;
  if (l.csrfToken?.from === 'endpoint' && l.csrfToken.url !== undefined) {
    // The token's own endpoint, asked as this user (it often sets the cookie the token pairs with).
    const partial = makeSession(user, credential, { jar, authHeaders }, ctx);
    const answer = await client.send({ path: fillTemplate(l.csrfToken.url, envVars(ctx)), headers: { accept: 'application/json, text/html;q=0.9', ...partial.headers() } });
    jar.absorb(answer.setCookies, ctx.clock.now());
    csrfToken = tokenIn(l.csrfToken, l.csrfHeader, answer, jar);
  } else {
    csrfToken = l.csrfToken ? tokenIn(l.csrfToken, l.csrfHeader, res, jar) : defaultToken(res);
  }
  if (l.csrfToken && csrfToken === undefined) {
    throw new Error(`login as "${user}": no CSRF token found in the ${l.csrfToken.from === 'endpoint' ? `answer of ${l.csrfToken.url ?? ''}` : `response ${l.csrfToken.from}`} as configured in auth.login.csrfToken`);
  }
  return makeSession(user, credential, { jar, setCookies: res.setCookies, authHeaders, csrfToken, csrfHeader: l.csrfHeader }, ctx);
}
