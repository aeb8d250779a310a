import type { Dispatcher } from 'undici';

/**
 * Which redirects a request follows: only those that stay on the origin of its URL (scheme, host
 * and port), every one, or none. A redirect that is not followed is the answer.
 */
export const REDIRECT_POLICIES = ['same-origin', 'any', 'none'] as const;
export type RedirectPolicy = (typeof REDIRECT_POLICIES)[number];

/** Which redirects to follow, and how many at most (more is an error, not an answer). */
export interface Redirects {
  policy: RedirectPolicy;
  max: number;
}

/** What a request follows unless told otherwise: its own origin, at most 10 hops. */
export const DEFAULT_REDIRECTS: Readonly<Redirects> = { policy: 'same-origin', max: 10 };

/** A request made by a check; bounded in size, redirects and time (through the signal). */
export interface HttpRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal: AbortSignal;
  /** Which redirects are followed. Default `DEFAULT_REDIRECTS`: same origin only, at most 10. */
  redirects?: Redirects;
  /** Larger bodies end the request with an error (an endless body must not stall or exhaust us). Default 1 MiB. */
  maxBodyBytes?: number;
  /** Keep the first `maxBodyBytes` of a larger body and stop reading, instead of the error (`truncated` says so). */
  truncateBody?: boolean;
  /** When given (`URL.origin` strings), a request or a redirect to any other origin is refused before it is sent. */
  allowedOrigins?: ReadonlySet<string>;
  /** The connection pool (the run's, from CheckContext.dispatcher); absent, undici's own global one. */
  dispatcher?: Dispatcher;
}

/** What came back; plain data, safe to keep as evidence. */
export interface HttpResponse {
  url: string;
  status: number;
  headers: Record<string, string>;
  /** Every `set-cookie` header, which `headers` would otherwise fold into one. */
  setCookies: string[];
  body: string;
  bytes: number;
  latencyMs: number;
  redirects: string[];
  /** The body was longer than `maxBodyBytes` and is only its first part (`truncateBody`). */
  truncated?: boolean;
}

export class HttpCheckError extends Error {}

/**
 * A connection pool for one run (keep-alive connections across its checks, no pipelining
 * surprises): its owner (runGate, a watcher, a test) hands it to checks in their context and closes
 * it. Loading the HTTP client waits for the first run that needs it, so commands that send nothing
 * never load it.
 */
export async function createHttpAgent(): Promise<Dispatcher> {
  const { Agent } = await undici();
  return new Agent({ connections: 256, pipelining: 1, connect: { timeout: 10_000 } });
}

// The client's module, imported once: a dynamic import() per request costs a round trip through
// the module loader (and its hooks thread under a loader such as tsx) every time. This is a cache of
// what the module loader holds, not state of ours: the connection pools are the callers'.
let client: Promise<typeof import('undici')> | undefined;
const undici = (): Promise<typeof import('undici')> => (client ??= import('undici').then(namedExports).then((m) => (loaded = m)));
/** The module once loaded: a request then costs no await for it. */
let loaded: typeof import('undici') | undefined;

type UndiciModule = typeof import('undici');

/**
 * undici is CommonJS: Node gives its exports by name, but the bundled CLI (dist/bundle) gets a
 * split-out CommonJS module as its default export only.
 */
function namedExports(m: UndiciModule | { default: UndiciModule }): UndiciModule {
  return 'request' in m ? m : m.default;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A body as read so far: what a failure in the middle reports, and what a capped read keeps. */
interface BodyRead {
  chunks: Buffer[];
  bytes: number;
  truncated: boolean;
}

/**
 * Reads a body up to `max` bytes into `into`: past the cap the stream is destroyed and the read
 * either fails or (truncate) keeps the first `max` bytes. Events, not an async iterator: this runs
 * once per request, and the iterator's machinery cost more than the read itself. The listeners are
 * left on the stream, which is over once the read settles (a settled promise ignores the rest),
 * and are not named closures (each would cost a defineProperty under a loader that keeps names).
 */
function readBody(body: Dispatcher.ResponseData['body'], max: number, truncate: boolean, into: BodyRead): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let over = false;
    body.on('data', (chunk: Buffer | string) => {
      if (over) return;
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      into.bytes += buf.length;
      if (into.bytes <= max) {
        into.chunks.push(buf);
        return;
      }
      // An error after this (the socket torn down) is no news: the read is over.
      over = true;
      body.on('error', ignoreError);
      body.destroy();
      if (!truncate) return reject(new HttpCheckError(`response body larger than ${max} bytes: stopped reading`));
      into.chunks.push(buf.subarray(0, buf.length - (into.bytes - max)));
      into.bytes = max;
      into.truncated = true;
      resolve();
    });
    body.once('end', resolve);
    body.once('error', reject);
  });
}

function ignoreError(): void {}

/**
 * Is the URL's origin (scheme, host and port, the default port normalised away) one of `allowed`?
 * Opaque origins (`file:`, `data:`) never are.
 */
export function isAllowedOrigin(url: URL, allowed: ReadonlySet<string>): boolean {
  return url.origin !== 'null' && allowed.has(url.origin);
}

// Headers that carry the user's identity: never sent to an origin the request did not start on.
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

function withoutCredentials(headers: Record<string, string> | undefined): Record<string, string> | undefined {
  if (headers === undefined) return undefined;
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !CREDENTIAL_HEADERS.has(name.toLowerCase())));
}

/**
 * The answer's headers as one string each (a repeated header joined with `, `), and every
 * `set-cookie` apart. undici's names are lower-case already; a name that is not is lower-cased.
 */
function flattenHeaders(raw: Record<string, string | string[] | undefined>): {
  headers: Record<string, string>;
  setCookies: string[];
} {
  const headers: Record<string, string> = {};
  let setCookies: string[] = [];
  for (const name in raw) {
    const value = raw[name];
    if (value === undefined) continue;
    const key = name.toLowerCase();
    if (key === 'set-cookie') setCookies = Array.isArray(value) ? value : [value];
    headers[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return { headers, setCookies };
}

/**
 * Where a redirect answer leads, when the policy follows it; undefined when the answer is kept as
 * it is (not a redirect, no `Location`, or a target the policy does not follow).
 */
function redirectTarget(status: number, location: string | undefined, url: URL, start: URL, policy: RedirectPolicy): URL | undefined {
  if (!REDIRECTS.has(status) || !location || policy === 'none') return undefined;
  let next: URL;
  try {
    next = new URL(location, url);
  } catch {
    throw new HttpCheckError(`redirect to an invalid location ${JSON.stringify(location)} from ${url.href}`);
  }
  if (policy === 'same-origin' && next.origin !== start.origin) return undefined;
  return next;
}

/**
 * One HTTP exchange with every bound a hostile target needs: the caller's signal (the engine's
 * timeout), a body cap, a redirect policy and cap with loop detection, an origin allow-list checked
 * on every hop, and credentials that never follow a redirect off the origin they were given for.
 */
export async function httpRequest(req: HttpRequest): Promise<HttpResponse> {
  const { policy, max } = req.redirects ?? DEFAULT_REDIRECTS;
  const maxBody = req.maxBodyBytes ?? 1024 * 1024;
  const redirects: string[] = [];
  // The requests that were answered with a redirect, for loop detection (most requests have none).
  let seen: Set<string> | undefined;
  const start = new URL(req.url);
  let url = start;
  let method = (req.method ?? 'GET').toUpperCase();
  let headers = req.headers;
  let body = req.body;
  const started = performance.now();
  const { request: undiciRequest } = loaded ?? (await undici());
  const { dispatcher } = req;
  for (;;) {
    // undici would still open a connection for an already aborted signal: nothing is sent after an abort.
    if (req.signal.aborted) throw describeNetworkError(undefined, req.signal, url, 'before sending anything');
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new HttpCheckError(`unsupported URL scheme ${url.protocol} in ${url.href}`);
    }
    if (req.allowedOrigins && !isAllowedOrigin(url, req.allowedOrigins)) {
      throw new HttpCheckError(`refused to send a request to ${url.host}: not the configured target`);
    }
    let res: Dispatcher.ResponseData<unknown>;
    try {
      // No undici timeouts: the caller's signal is the one deadline. Redirects are followed below, by hand.
      res = await undiciRequest(url, {
        method,
        headers,
        body,
        signal: req.signal,
        dispatcher,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
    } catch (err) {
      throw describeNetworkError(err, req.signal, url, 'while waiting for the response');
    }
    const received = flattenHeaders(res.headers);
    const location = received.headers['location'];
    let next: URL | undefined;
    try {
      next = redirectTarget(res.statusCode, location, url, start, policy);
    } catch (err) {
      await res.body.dump().catch(() => undefined);
      throw err;
    }
    if (next) {
      await res.body.dump().catch(() => undefined);
      if (req.signal.aborted) throw describeNetworkError(undefined, req.signal, url, 'while reading a redirect');
      (seen ??= new Set()).add(`${method} ${url.href}`);
      if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      if (seen.has(`${method} ${next.href}`)) {
        throw new HttpCheckError(`redirect loop: ${[...redirects, url.href, next.href].join(' -> ')}`);
      }
      if (redirects.length >= max) {
        throw new HttpCheckError(`too many redirects (more than ${max}), last to ${location}`);
      }
      // As browsers and curl do: the target chose where to send us, so the user's credentials stay
      // behind on the origin they were given for, for the rest of the chain, whatever the caller asked.
      if (next.origin !== url.origin) headers = withoutCredentials(headers);
      redirects.push(url.href);
      url = next;
      continue;
    }
    const read: BodyRead = { chunks: [], bytes: 0, truncated: false };
    try {
      await readBody(res.body, maxBody, Boolean(req.truncateBody), read);
    } catch (err) {
      if (err instanceof HttpCheckError) throw err;
      throw describeNetworkError(err, req.signal, url, `while reading the body (${read.bytes} bytes received)`);
    }
    const { chunks, bytes, truncated } = read;
    return {
      url: url.href,
      status: res.statusCode,
      headers: received.headers,
      setCookies: received.setCookies,
      body: (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8'),
      bytes,
      latencyMs: Math.round((performance.now() - started) * 10) / 10,
      redirects,
      ...(truncated ? { truncated } : {}),
    };
  }
}

// What a failed exchange means, by the error codes undici and Node give; the code is kept for searching.
const NETWORK_ERRORS: Record<string, (host: string) => string> = {
  ECONNRESET: (host) => `connection reset by ${host}`,
  ECONNREFUSED: (host) => `connection refused by ${host}`,
  EPIPE: (host) => `connection closed by ${host}`,
  ENOTFOUND: (host) => `host not found: ${host}`,
  EAI_AGAIN: (host) => `host name lookup failed for ${host}`,
  ETIMEDOUT: (host) => `connection to ${host} timed out`,
  EHOSTUNREACH: (host) => `host unreachable: ${host}`,
  UND_ERR_CONNECT_TIMEOUT: (host) => `could not connect to ${host} in time`,
  UND_ERR_SOCKET: (host) => `${host} closed the connection`,
  UND_ERR_HEADERS_OVERFLOW: (host) => `response headers from ${host} are too large`,
};

/** One readable sentence: what went wrong, with whom, at which step; the signal's reason wins when aborted. */
function describeNetworkError(err: unknown, signal: AbortSignal, url: URL, step: string): Error {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    const why = reason instanceof Error ? reason.message : 'aborted';
    return new HttpCheckError(`${why}: gave up on ${url.host} ${step}`);
  }
  const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  const known = code === undefined ? undefined : NETWORK_ERRORS[code];
  if (known) return new HttpCheckError(`${known(url.host)} ${step} (${code})`);
  // The peer answered, but not in HTTP (an SSH banner, a TLS port spoken to in plain text...).
  if (err instanceof Error && (err.name === 'HTTPParserError' || code?.startsWith('HPE_'))) {
    const data = 'data' in err && typeof err.data === 'string' ? `, starting ${JSON.stringify(err.data.slice(0, 40))}` : '';
    return new HttpCheckError(`not an HTTP response from ${url.host}${data}: ${message}`);
  }
  return new HttpCheckError(`${code ? `${code}: ` : ''}${message} (${url.host}, ${step})`);
}
