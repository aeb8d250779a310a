// `gonogo serve`: the dashboard and its API over HTTP. The config is loaded once by the caller, the
// store is opened once and kept open; every route calls the library (state, attestations, watch,
// audit). The app is assembled here: security headers, redaction and authentication around every
// route, then the pages, the API, the rollout integrations, /metrics, /healthz and the badge.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import type { ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie } from 'hono/cookie';
import { HTTPException } from 'hono/http-exception';
import type { LoadedConfig } from '../config/loaded.js';
import { AuthorityError } from '../engine/attest.js';
import type { Release } from '../engine/release.js';
import type { Verdict } from '../model.js';
import { StoreError } from '../store/errors.js';
import type { Store } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { systemClock } from '../util/clock.js';
import { DecideRollbackError } from '../watch/decide-rollback.js';
import { actionRoutes, apiRoutes, DEFAULT_EVENTS, fromBrowserPage, requirePrincipal, UnsupportedMedia } from './api.js';
import type { EventsOptions } from './api.js';
import { BadRequest, GateContext } from './context.js';
import { DashboardMetrics } from './metrics.js';
import { DEFAULT_LOGIN_LIMIT, LoginLimiter, redactBodies, securityHeaders } from './security.js';
import type { LoginLimit } from './security.js';
import { AccountCache, authenticate, SESSION_COOKIE, Sessions } from './session.js';
import type { ServeEnv } from './session.js';
import { messagePage, webRoutes } from './web.js';

/** What the dashboard serves and how. */
export interface DashboardOptions {
  loaded: LoadedConfig;
  store: Store;
  /** The release of `--release`, or the one resolved at start (git commit of the config's tree, or the config hash). */
  release: Release;
  /** Whether `release` was given with --release: then it is every request's default release. */
  releasePinned?: boolean;
  clock?: Clock;
  /** Where the config's `${VAR}` values are read from (their values are redacted from every answer). */
  processEnv?: Readonly<Record<string, string | undefined>>;
  /** Set the session cookie Secure even over plain HTTP (a TLS proxy in front that does not say X-Forwarded-Proto). */
  secureCookies?: boolean;
  /** Serve /badge.svg (the verdict only) without a session. */
  publicBadge?: boolean;
  /** Serve /metrics without a token. */
  publicMetrics?: boolean;
  /** The key sessions are signed with (default: random, made now: a restart signs everyone out). */
  sessionKey?: Buffer;
  loginLimit?: LoginLimit;
  events?: EventsOptions;
  /** One line per request and per error (redacted); nothing by default. */
  log?: (line: string) => void;
}

/** Bodies larger than this are refused (413) before they are read. */
const MAX_BODY = 64 * 1024;

/** The static files pages.ts links (app.css, app.js): read once at start, served from memory. */
interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const ASSET_TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * src/serve/assets, wherever this module runs from: beside it (tsx), or two levels up from the
 * bundle (dist/bundle/) and from tsc's output (dist/serve/), which do not copy it.
 */
function assetsDir(): string | undefined {
  for (const rel of ['./assets/', '../../src/serve/assets/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(dir) && statSync(dir).isDirectory()) return dir;
  }
  return undefined;
}

function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const dir = assetsDir();
  if (!dir) return assets;
  for (const name of readdirSync(dir)) {
    const ext = name.slice(name.lastIndexOf('.'));
    const type = ASSET_TYPES[ext];
    if (!type || !/^[\w.-]+$/.test(name)) continue;
    const body = readFileSync(`${dir}${name}`);
    assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return assets;
}

const BADGE_COLOUR: Record<Verdict, string> = { GO: '#2e7d32', GO_WITH_CONDITIONS: '#b26a00', NO_GO: '#c62828' };
const BADGE_TEXT: Record<Verdict, string> = { GO: 'GO', GO_WITH_CONDITIONS: 'GO WITH CONDITIONS', NO_GO: 'NO-GO' };

/** A status badge with the verdict only (no reasons, no release): what --public-badge shows to anyone. */
export function badgeSvg(verdict: Verdict): string {
  const label = 'go/no-go';
  const text = BADGE_TEXT[verdict];
  const lw = 62;
  const tw = 12 + text.length * 7;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${lw + tw}" height="20" role="img" aria-label="${label}: ${text}"><title>${label}: ${text}</title><rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${tw}" height="20" fill="${BADGE_COLOUR[verdict]}"/><g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle"><text x="${lw / 2}" y="14">${label}</text><text x="${lw + tw / 2}" y="14">${text}</text></g></svg>`;
}

/** The assembled app and what its owner must end when it stops. */
export interface Dashboard {
  app: Hono<ServeEnv>;
  ctx: GateContext;
  /** Ends every open event stream. */
  close(): void;
}

/** Builds the app: middleware, then routes. No socket: `startDashboard` listens. */
export function createDashboard(o: DashboardOptions): Dashboard {
  const clock = o.clock ?? systemClock;
  const ctx = new GateContext(o.loaded, o.store, clock, o.processEnv ?? process.env, o.release, o.releasePinned ?? false);
  const sessions = new Sessions(clock, o.sessionKey);
  const accounts = new AccountCache();
  const limiter = new LoginLimiter(clock, o.loginLimit ?? DEFAULT_LOGIN_LIMIT);
  const metrics = new DashboardMetrics(ctx);
  const assets = loadAssets();
  const closing = new AbortController();
  const log = o.log ?? (() => undefined);
  const secure = (c: Context): boolean => Boolean(o.secureCookies) || new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';

  const app = new Hono<ServeEnv>();

  // Outermost: one log line per request, after everything else has answered.
  app.use(async (c, next) => {
    const started = clock.monotonic();
    await next();
    const who = c.get('principal');
    log(ctx.redactor.text(`${c.req.method} ${c.req.path} ${c.res.status} ${Math.round(clock.monotonic() - started)}ms${who ? ` ${who.name}` : ''}`));
  });
  app.use(securityHeaders(secure));
  app.use(redactBodies(ctx.redactor));
  app.use(bodyLimit({ maxSize: MAX_BODY, onError: (c) => c.json({ error: `the body is larger than ${MAX_BODY} bytes` }, 413) }));
  // Who the request comes from; the routes decide whether they need anyone. Static files and the
  // health check serve everyone alike: no account is read for them.
  app.use(async (c, next) => {
    if (c.req.path === '/healthz' || c.req.path.startsWith('/assets/')) return next();
    const auth = await authenticate({ authorization: c.req.header('authorization'), sessionCookie: getCookie(c, SESSION_COOKIE) }, { sessions, store: o.store, gate: ctx.gate, cache: accounts });
    if (auth.principal) c.set('principal', auth.principal);
    else if (auth.badToken) return c.json({ error: 'the bearer token is not valid (unknown, revoked or malformed)' }, 401, { 'WWW-Authenticate': 'Bearer realm="gonogo", error="invalid_token"' });
    await next();
  });

  app.get('/healthz', async (c) => {
    // Whether the store answers; nothing about the gate.
    try {
      await o.store.auditHead(ctx.gate);
      return c.json({ status: 'ok' });
    } catch {
      return c.json({ status: 'store unavailable' }, 503);
    }
  });

  app.get('/assets/:name', (c) => {
    const asset = assets.get(c.req.param('name'));
    if (!asset) return c.text('not found', 404);
    if (c.req.header('if-none-match') === asset.etag) return c.body(null, 304, { ETag: asset.etag });
    return c.body(new Uint8Array(asset.body), 200, { 'Content-Type': asset.type, ETag: asset.etag });
  });

  app.get('/badge.svg', async (c, next) => {
    if (!o.publicBadge) return requirePrincipal(c, next);
    await next();
  }, async (c) => {
    const state = await ctx.state(c.req.query('env'), undefined);
    return c.body(badgeSvg(state.decision.verdict), 200, { 'Content-Type': 'image/svg+xml; charset=utf-8' });
  });

  app.get('/metrics', async (c, next) => {
    if (!o.publicMetrics) return requirePrincipal(c, next);
    await next();
  }, async (c) => c.body(await metrics.render(), 200, { 'Content-Type': metrics.contentType }));

  app.route('/api/v1', apiRoutes(ctx, o.events ?? DEFAULT_EVENTS, closing.signal));
  app.route('/api/v1', actionRoutes(ctx));
  app.route('/', actionRoutes(ctx));
  app.route('/', webRoutes(ctx, { sessions, limiter, secure }));

  app.notFound((c) => (fromBrowserPage(c) && c.req.method === 'GET' ? c.html(messagePage(ctx.gate, 'Not found', 'There is no such page.', c.get('principal')), 404) : c.json({ error: 'not found' }, 404)));

  // Errors never show a stack trace: a refusal names its rule, a bad request says what was wrong,
  // anything else is one line in the log and "internal error" to the client.
  app.onError((err, c) => {
    const user = c.get('principal');
    const answer = (status: 400 | 403 | 404 | 409 | 413 | 415 | 500 | 503, message: string, extra: Record<string, unknown> = {}): Response =>
      fromBrowserPage(c) ? c.html(messagePage(ctx.gate, status === 403 ? 'Refused' : status >= 500 ? 'Error' : 'Not done', message, user), status) : c.json({ error: message, ...extra }, status);
    if (err instanceof AuthorityError) return answer(403, err.message, { rule: err.rule });
    if (err instanceof DecideRollbackError) return answer(err.reason === 'unknown' ? 404 : 409, err.message);
    if (err instanceof BadRequest) return answer(400, err.message);
    if (err instanceof UnsupportedMedia) return answer(415, err.message);
    if (err instanceof HTTPException) return answer(err.status === 413 ? 413 : 400, err.message || 'bad request');
    if (err instanceof StoreError) {
      log(ctx.redactor.text(`store error on ${c.req.method} ${c.req.path}: ${err.message}`));
      return answer(503, 'the store is unavailable; nothing was recorded');
    }
    log(ctx.redactor.text(`internal error on ${c.req.method} ${c.req.path}: ${err instanceof Error ? err.message : String(err)}`));
    return answer(500, 'internal error');
  });

  return { app, ctx, close: () => closing.abort() };
}

/** A dashboard listening on a socket. */
export interface RunningDashboard {
  /** `http://host:port` as it listens. */
  url: string;
  port: number;
  dashboard: Dashboard;
  /** Stops listening, ends event streams and drops open connections. The store is the caller's to close. */
  close(): Promise<void>;
}

/** Starts the dashboard on `host:port` (port 0: any free port). */
export async function startDashboard(o: DashboardOptions & { host: string; port: number }): Promise<RunningDashboard> {
  const dashboard = createDashboard(o);
  let server: ServerType | undefined;
  const address = await new Promise<AddressInfo>((resolve, reject) => {
    server = serve({ fetch: dashboard.app.fetch, hostname: o.host, port: o.port }, resolve);
    server.once('error', reject);
  });
  const s = server;
  if (!s) throw new Error('the server did not start');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    dashboard,
    close: () =>
      new Promise<void>((resolve) => {
        dashboard.close();
        s.close(() => resolve());
        if ('closeAllConnections' in s) s.closeAllConnections();
      }),
  };
}
