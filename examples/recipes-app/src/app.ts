// The reference target app: a family-recipe web app whose security defects switch on one at a
// time and whose faults are injected live. This file owns the request pipeline: security
// headers, CORS, faults, routing, CSRF, error rendering and metrics. Handlers are in routes.ts.
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDefect, validateFaults } from './defects.js';
import type { Defect, Faults } from './defects.js';
import { HttpError, InvalidJsonError, html, json, parseCookies } from './http.js';
import type { Reply } from './http.js';
import { createMetrics } from './metrics.js';
import { SPA_SHELL, errorPage } from './pages.js';
import { FakeSqlError, routeTable } from './routes.js';
import type { AppState, Ctx, RouteDef } from './routes.js';
import { unmapAddress } from './ssrf.js';
import { DEFAULT_USERS, LoginLimiter, Sessions, StorageFullError, Store } from './store.js';
import type { UserSeed } from './store.js';

export { DEFECTS, parseDefects, parseFaults } from './defects.js';
export type { Defect, Faults } from './defects.js';
export { DEFAULT_USERS } from './store.js';
export type { Role, UserSeed } from './store.js';
export { VERSION } from './routes.js';

/** How to build an app: which defects are on, which faults are injected, which users exist. */
export interface AppOptions {
  defects?: Defect[];
  faults?: Faults;
  /** Answer every unknown non-API GET with the single-page shell (a false-positive trap, not a defect). */
  spa?: boolean;
  /** Login attempts allowed per client IP per minute; default 10. */
  loginLimit?: number;
  /** Replaces the seeded users; seeded recipes and documents are kept only for owners that exist. */
  users?: readonly UserSeed[];
  /** Milliseconds since the epoch; injectable so the login rate limit can be tested without waiting. */
  now?: () => number;
  /** Waits `ms` or until `signal` aborts (the latency fault); injectable so a test holds a request for exactly that long without waiting. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Name resolution for the recipe import; default resolves IP literals and localhost only (no DNS). */
  resolveHost?: (hostname: string) => string[] | undefined;
}

/** A listening app. */
export interface RunningApp {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string;
  server: http.Server;
  close(): Promise<void>;
  /** Replaces the injected faults (not a merge); takes effect on the next request. */
  setFaults(faults: Faults): void;
}

const STRICT_CSP = "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'";
const WEAK_CSP = "default-src *; script-src 'self' 'unsafe-inline' 'unsafe-eval' data:";
const FAKE_DATABASE_URL = 'postgres://recipes:s3cret@db:5432/recipes';
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Routes the error-rate fault spares, so that health checks and scrapes keep working. */
const OPERATIONAL = new Set(['/health', '/health/integrity', '/metrics']);

function securityHeaders(app: AppState): Record<string, string> {
  if (app.has('headers')) return { 'X-Powered-By': 'Express', Server: 'nginx/1.18.0' };
  return {
    'Content-Security-Policy': app.has('weak-csp') ? WEAK_CSP : STRICT_CSP,
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'strict-origin-when-cross-origin',
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
    'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
    Server: 'recipes-app',
  };
}

interface CompiledRoute {
  def: RouteDef;
  segments: string[];
  params: number;
}

type Match =
  | { kind: 'route'; template: string; allow: string[]; route: RouteDef; params: Record<string, string> }
  | { kind: 'wrong-method'; template: string; allow: string[] }
  | { kind: 'spa' }
  | { kind: 'none' };

function compile(routes: RouteDef[]): CompiledRoute[] {
  return routes.map((def) => {
    const segments = def.path.split('/').slice(1);
    return { def, segments, params: segments.filter((s) => s.startsWith(':')).length };
  });
}

function matchSegments(template: string[], path: string[]): Record<string, string> | undefined {
  if (template.length !== path.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const want = template[i];
    const got = path[i];
    if (want.startsWith(':')) {
      if (got === '') return undefined;
      params[want.slice(1)] = safeDecode(got);
    } else if (want !== got) {
      return undefined;
    }
  }
  return params;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The route for this method and path; literal templates win over parameters (`/import` over `/:id`). */
function matchRoute(table: CompiledRoute[], method: string, pathname: string, spa: boolean): Match {
  const path = pathname.split('/').slice(1);
  const hits = table.flatMap((r) => {
    const params = matchSegments(r.segments, path);
    return params ? [{ r, params }] : [];
  });
  if (hits.length === 0) {
    const page = (method === 'GET' || method === 'HEAD') && !pathname.startsWith('/api/');
    return spa && page ? { kind: 'spa' } : { kind: 'none' };
  }
  const fewest = Math.min(...hits.map((h) => h.r.params));
  const best = hits.filter((h) => h.r.params === fewest);
  const template = best[0].r.def.path;
  const allow = [...new Set(best.flatMap((h) => (h.r.def.method === 'GET' ? ['GET', 'HEAD'] : [h.r.def.method]))), 'OPTIONS'];
  const wanted = method === 'HEAD' ? 'GET' : method;
  const hit = best.find((h) => h.r.def.method === wanted);
  if (hit) return { kind: 'route', template, allow, route: hit.r.def, params: hit.params };
  return { kind: 'wrong-method', template, allow };
}

/** The path and query of an origin-form request target; undefined for anything else. */
function parseTarget(raw: string | undefined): { pathname: string; query: URLSearchParams } | undefined {
  if (!raw || !raw.startsWith('/') || raw.startsWith('//')) return undefined;
  try {
    const url = new URL(raw, 'http://recipes.invalid');
    return { pathname: url.pathname, query: url.searchParams };
  } catch {
    return undefined;
  }
}

function isSecure(req: IncomingMessage): boolean {
  const forwarded = req.headers['x-forwarded-proto'];
  const proto = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0].trim().toLowerCase();
  return proto === 'https' || ('encrypted' in req.socket && req.socket.encrypted === true);
}

/** The origin this request was addressed to, from its Host header. */
function ownOrigin(req: IncomingMessage, secure: boolean): string | undefined {
  const host = req.headers.host;
  return host ? `${secure ? 'https' : 'http'}://${host.toLowerCase()}` : undefined;
}

/** The Origin header, else the Referer's origin; 'null' for an opaque or unparseable one. */
function claimedOrigin(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin;
  if (typeof origin === 'string') return origin.toLowerCase();
  const referer = req.headers.referer;
  if (typeof referer !== 'string') return undefined;
  try {
    return new URL(referer).origin.toLowerCase();
  } catch {
    return 'null';
  }
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

const csrfFailed = (): HttpError => new HttpError(403, 'CSRF check failed');

/** A state-changing request must come from our own origin and, with a session, carry its token. */
function checkCsrf(ctx: Ctx, route: RouteDef): void {
  if (ctx.app.has('csrf')) return;
  const origin = claimedOrigin(ctx.req);
  if (origin !== undefined && origin !== ownOrigin(ctx.req, ctx.secure)) throw csrfFailed();
  if (route.csrfExempt || !ctx.session) return;
  const token = ctx.req.headers['x-csrf-token'];
  if (typeof token !== 'string' || !sameToken(token, ctx.session.csrfToken)) throw csrfFailed();
}

function corsHeaders(app: AppState, req: IncomingMessage): Record<string, string> {
  const origin = req.headers.origin;
  if (!app.has('cors') || typeof origin !== 'string') return {};
  return { 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true', Vary: 'Origin' };
}

function preflight(app: AppState, req: IncomingMessage, match: Match): Reply {
  const headers: Record<string, string> = {};
  if (match.kind === 'route' || match.kind === 'wrong-method') headers.Allow = match.allow.join(', ');
  if (app.has('cors') && typeof req.headers.origin === 'string') {
    headers['Access-Control-Allow-Methods'] = req.headers['access-control-request-method'] ?? 'GET, HEAD, POST, PUT, PATCH, DELETE';
    headers['Access-Control-Allow-Headers'] = req.headers['access-control-request-headers'] ?? '*';
    headers['Access-Control-Max-Age'] = '86400';
  }
  return { status: 204, headers };
}

function renderError(app: AppState, err: unknown, page: boolean): Reply {
  if (err instanceof StorageFullError) return json(507, { error: 'storage full' });
  if (app.has('stack-traces')) {
    const leaked = err instanceof InvalidJsonError ? err.parseError : err instanceof HttpError ? undefined : err;
    if (leaked !== undefined) {
      const e = leaked instanceof Error ? leaked : new Error(String(leaked));
      return json(500, { error: e.message, stack: e.stack, database: FAKE_DATABASE_URL, ...(e instanceof FakeSqlError ? { sql: e.sql } : {}) });
    }
  }
  if (err instanceof HttpError) {
    if (page) return { ...html(err.status, errorPage(err.status, err.message)), headers: err.headers };
    return json(err.status, { error: err.message }, err.headers);
  }
  return json(500, { error: 'internal error' });
}

function send(req: IncomingMessage, res: ServerResponse, reply: Reply, common: Record<string, string>): void {
  if (res.headersSent || res.destroyed) {
    res.end();
    return;
  }
  const empty = reply.status === 204 || reply.status === 304;
  const body = empty ? '' : (reply.body ?? '');
  res.statusCode = reply.status;
  for (const [name, value] of Object.entries({ ...common, ...reply.headers })) res.setHeader(name, value);
  if (reply.type && !empty) res.setHeader('Content-Type', reply.type);
  if (!empty) res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(req.method === 'HEAD' || empty ? undefined : body);
}

interface BuiltApp {
  server: http.Server;
  setFaults(faults: Faults): void;
  /** Cancels work in flight (imports, injected delays). */
  shutdown(): void;
}

function build(opts: AppOptions): BuiltApp {
  const defects = new Set<Defect>();
  for (const name of opts.defects ?? []) {
    if (!isDefect(name)) throw new Error(`unknown defect: ${String(name)}`);
    defects.add(name);
  }
  const loginLimit = opts.loginLimit ?? 10;
  if (!Number.isInteger(loginLimit) || loginLimit < 1) throw new RangeError(`loginLimit must be a positive integer, got ${loginLimit}`);
  const now = opts.now ?? Date.now;
  const wait = opts.sleep ?? ((ms: number, signal: AbortSignal) => sleep(ms, undefined, { signal }));
  const lifetime = new AbortController();
  const app: AppState = {
    has: (defect) => defects.has(defect),
    spa: opts.spa ?? false,
    store: new Store(opts.users ?? DEFAULT_USERS, now),
    sessions: new Sessions(now),
    limiter: new LoginLimiter(loginLimit, 60_000, now),
    metrics: createMetrics(),
    now,
    startedAt: now(),
    lifetime: lifetime.signal,
    resolveHost: opts.resolveHost,
    faults: validateFaults(opts.faults ?? {}),
  };
  const table = compile(routeTable(app));
  const baseHeaders = securityHeaders(app);
  // The error-rate fault fails every k-th request, deterministically: a running share, not dice.
  let errorCredit = 0;
  const injectError = (): boolean => {
    errorCredit += app.faults.errorRate ?? 0;
    if (errorCredit < 1 - 1e-9) return false;
    errorCredit -= 1;
    return true;
  };

  async function respond(req: IncomingMessage, method: string, target: ReturnType<typeof parseTarget>, match: Match): Promise<Reply> {
    const { faults } = app;
    if (faults.latencyMs) await wait(faults.latencyMs, lifetime.signal);
    if (faults.down) return json(503, { error: 'service unavailable' });
    if (!target) throw new HttpError(400, 'bad request');
    const operational = match.kind === 'route' && OPERATIONAL.has(match.template);
    if (!operational && injectError()) return json(500, { error: 'injected fault' });
    if (method === 'OPTIONS') return preflight(app, req, match);
    if (match.kind === 'none') throw new HttpError(404, 'not found');
    if (match.kind === 'spa') return html(200, SPA_SHELL);
    if (match.kind === 'wrong-method') throw new HttpError(405, 'method not allowed', { Allow: match.allow.join(', ') });
    const secure = isSecure(req);
    const session = app.sessions.get(parseCookies(req.headers.cookie).get('sid') ?? '');
    const ctx: Ctx = {
      req,
      app,
      params: match.params,
      query: target.query,
      session,
      user: session ? app.store.users.get(session.userId) : undefined,
      secure,
      clientIp: unmapAddress(req.socket.remoteAddress ?? ''),
    };
    if (UNSAFE_METHODS.has(method)) checkCsrf(ctx, match.route);
    return await match.route.handler(ctx);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const method = (req.method ?? 'GET').toUpperCase();
    const target = parseTarget(req.url);
    const match = target ? matchRoute(table, method, target.pathname, app.spa) : { kind: 'none' as const };
    const label = match.kind === 'route' || match.kind === 'wrong-method' ? match.template : match.kind === 'spa' ? 'spa' : 'unmatched';
    res.on('finish', () => app.metrics.observe(method, label, res.statusCode, (performance.now() - started) / 1000));
    const common = { ...baseHeaders, ...corsHeaders(app, req) };
    let reply: Reply;
    try {
      reply = await respond(req, method, target, match);
    } catch (err) {
      reply = renderError(app, err, match.kind === 'route' && match.route.page === true);
    }
    send(req, res, reply, common);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  // Bounded: a client that trickles headers or a body cannot hold a connection for long.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  server.on('close', () => lifetime.abort());
  return {
    server,
    setFaults(faults) {
      app.faults = validateFaults(faults);
      errorCredit = 0;
    },
    shutdown: () => lifetime.abort(),
  };
}

/** A server for the app, not yet listening. */
export function createApp(opts: AppOptions = {}): http.Server {
  return build(opts).server;
}

/** Builds the app and listens (127.0.0.1, a free port by default). */
export async function startApp(opts: AppOptions & { port?: number; host?: string } = {}): Promise<RunningApp> {
  const built = build(opts);
  const { server } = built;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server is not listening on TCP');
  // A wildcard listen is reachable on loopback; that is the URL to hand out.
  const host = address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '[::1]' : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    server,
    setFaults: built.setFaults,
    close() {
      closing ??= new Promise<void>((resolve) => {
        built.shutdown();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
