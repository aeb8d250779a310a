// What makes the dashboard a secure app by itself, whatever a route does: the security headers on
// every answer (a strict CSP, no framing, no sniffing, no referrer), no-store on data, no CORS, the
// config's secrets redacted from every body served, errors without stack traces, and the login
// limit per client.
import type { Context, MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import type { Clock } from '../util/clock.js';
import type { Redactor } from '../util/redact.js';

/** The policy of every page: only this origin's own scripts, styles, images and fetches; no inline code, no framing, no plugins. */
export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Features a release dashboard never uses: denied to it and to anything it could embed. */
const PERMISSIONS = {
  camera: false,
  microphone: false,
  geolocation: false,
  payment: false,
  usb: false,
  serial: false,
  bluetooth: false,
  hid: false,
  midi: false,
  fullscreen: false,
  displayCapture: false,
  browsingTopics: false,
};

/**
 * The security headers of every answer, errors and 404s included. HSTS only when the request came
 * over HTTPS (browsers ignore it otherwise, and a dashboard on plain loopback must not pin HTTPS).
 * No Access-Control-* header is ever set: no other origin may read the API.
 */
export function securityHeaders(isHttps: (c: Context) => boolean): MiddlewareHandler {
  const headers = secureHeaders({
    xFrameOptions: 'DENY',
    referrerPolicy: 'no-referrer',
    strictTransportSecurity: false,
    permissionsPolicy: PERMISSIONS,
    removePoweredBy: true,
  });
  return async (c, next) => {
    await headers(c, async () => {
      await next();
      const res = c.res.headers;
      res.set('Content-Security-Policy', CSP);
      if (isHttps(c)) res.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
      // Assets carry no data: a browser may keep them and ask again; everything else is never stored.
      res.set('Cache-Control', c.req.path.startsWith('/assets/') && c.res.status === 200 ? 'no-cache' : 'no-store');
      for (const name of [...res.keys()]) if (name.startsWith('access-control-')) res.delete(name);
    });
  };
}

const TEXT = /^(?:text\/(?!event-stream)|application\/(?:json|xml|x-ndjson)|image\/svg\+xml)/i;

/**
 * Every text body served goes through the config's redactor: a `${VAR}` value that reached a result's
 * evidence, a note or an error message is never served, in any encoding. Server-sent events are
 * redacted message by message where they are written.
 */
export function redactBodies(redactor: Redactor): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (redactor.empty || c.res.body === null) return;
    const type = c.res.headers.get('content-type') ?? '';
    if (!TEXT.test(type)) return;
    const text = await c.res.text();
    const clean = redactor.text(text);
    const headers = new Headers(c.res.headers);
    headers.delete('content-length');
    c.res = new Response(clean, { status: c.res.status, statusText: c.res.statusText, headers });
  };
}

/** The login limit: failed sign-ins per client within a window. */
export interface LoginLimit {
  /** Failed attempts allowed per client per window (default 5). */
  max: number;
  /** The window, in milliseconds (default 1 minute). */
  windowMs: number;
}

export const DEFAULT_LOGIN_LIMIT: LoginLimit = { max: 5, windowMs: 60_000 };

/** Clients tracked at most: past it, expired entries go first, then the oldest. */
const MAX_CLIENTS = 10_000;

/**
 * Failed sign-ins counted per client address in fixed windows, on the injected clock. A client
 * with `max` failures in its window is refused, without its password being checked, until the
 * window ends (Retry-After says when). A successful sign-in neither counts nor resets: a team
 * behind one address signs in freely, a guesser gets `max` guesses a window. Memory is bounded:
 * at most MAX_CLIENTS addresses are remembered.
 */
export class LoginLimiter {
  private readonly clients = new Map<string, { failures: number; resetAt: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly limit: LoginLimit = DEFAULT_LOGIN_LIMIT,
  ) {}

  /** Whole seconds until `client` may try again, or undefined when it may try now. */
  retryAfter(client: string): number | undefined {
    const entry = this.clients.get(client);
    const now = this.clock.now();
    if (!entry || entry.resetAt <= now || entry.failures < this.limit.max) return undefined;
    return Math.max(1, Math.ceil((entry.resetAt - now) / 1000));
  }

  /** Counts a failed sign-in of `client`. */
  failed(client: string): void {
    const now = this.clock.now();
    const entry = this.clients.get(client);
    if (entry && entry.resetAt > now) {
      entry.failures++;
      return;
    }
    this.clients.delete(client);
    if (this.clients.size >= MAX_CLIENTS) this.prune(now);
    this.clients.set(client, { failures: 1, resetAt: now + this.limit.windowMs });
  }

  /** How many clients are remembered (for tests of the bound). */
  get size(): number {
    return this.clients.size;
  }

  private prune(now: number): void {
    for (const [client, e] of this.clients) if (e.resetAt <= now) this.clients.delete(client);
    while (this.clients.size >= MAX_CLIENTS) {
      const oldest = this.clients.keys().next().value;
      if (oldest === undefined) break;
      this.clients.delete(oldest);
    }
  }
}
