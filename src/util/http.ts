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

// A redirect's body is read and thrown away up to this many bytes (what undici's own dump() reads):
// past that, or announced larger, the connection is closed instead.
const DISCARD_BYTES = 128 * 1024;

/** What one exchange came back with: the answer's head, and its body as read. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  setCookies: string[];
  /** Where a followed redirect leads (its body was thrown away); undefined for the answer itself. */
  next?: URL;
  chunks: Buffer[];
  bytes: number;
  truncated: boolean;
}

/** What one exchange is for: the request as undici dispatches it, and how its answer is read. */
interface ExchangeSpec {
  url: URL;
  start: URL;
  policy: RedirectPolicy;
  method: string;
  headers: Record<string, string> | undefined;
  body: string | Buffer | undefined;
  signal: AbortSignal;
  maxBody: number;
  truncate: boolean;
}

/**
 * One request and its answer, as an undici dispatch handler: the body goes straight into a list of
 * chunks, up to the cap (past it the request is aborted, and the read either fails or, truncating,
 * keeps the first `maxBody` bytes); a redirect that is followed has its body thrown away. undici's
 * request() would add a stream per body, an async resource per request and a closure per abort
 * listener, which cost more than the engine's own work for a check. The caller's signal aborts the
 * request whenever it fires (this object is its listener, removed once the exchange settles).
 *
 * The handler speaks undici's first handler interface (onConnect ... onError), as its request()
 * does: every dispatcher takes it, the global one included when Node's own fetch installed it.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private abort: ((err?: Error) => void) | undefined;
  private answer: Answer | undefined;
  private settled = false;
  /** Thrown once the body of a redirect was dealt with (its location could not be read). */
  private failure: Error | undefined;

  constructor(
    private readonly spec: ExchangeSpec,
    private readonly parseHeaders: (raw: Buffer[]) => Record<string, string | string[]>,
    private readonly resolve: (a: Answer) => void,
    private readonly reject: (err: Error) => void,
  ) {}

  /** The signal fired: abort the request (before it started, as soon as it does). */
  handleEvent(): void {
    this.abort?.(this.spec.signal.reason);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    if (this.spec.signal.aborted) abort(this.spec.signal.reason);
  }

  onHeaders(status: number, raw: Buffer[]): boolean {
    // An informational answer (103 Early Hints) is not the answer: the real one follows.
    if (status < 200 || this.settled) return true;
    const { spec } = this;
    const { headers, setCookies } = flattenHeaders(this.parseHeaders(raw));
    const answer: Answer = { status, headers, setCookies, chunks: [], bytes: 0, truncated: false };
    this.answer = answer;
    try {
      answer.next = redirectTarget(status, headers['location'], spec.url, spec.start, spec.policy);
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
    }
    // A body thrown away that would be long to read is not read: the connection goes instead.
    if ((answer.next || this.failure) && Number(headers['content-length']) > DISCARD_BYTES) this.discardDone();
    return true;
  }

  onData(chunk: Buffer): boolean {
    const answer = this.answer;
    if (!answer || this.settled) return true;
    answer.bytes += chunk.length;
    if (answer.next || this.failure) {
      if (answer.bytes > DISCARD_BYTES) this.discardDone();
      return true;
    }
    const max = this.spec.maxBody;
    if (answer.bytes <= max) {
      answer.chunks.push(chunk);
      return true;
    }
    if (!this.spec.truncate) {
      this.fail(new HttpCheckError(`response body larger than ${max} bytes: stopped reading`));
    } else {
      answer.chunks.push(chunk.subarray(0, chunk.length - (answer.bytes - max)));
      answer.bytes = max;
      answer.truncated = true;
      this.succeed(answer);
    }
    this.abort?.(new HttpCheckError('body cap reached'));
    return true;
  }

  onComplete(): void {
    if (this.settled) return;
    if (this.failure) return this.fail(this.failure);
    if (this.answer) this.succeed(this.answer);
    else this.fail(new HttpCheckError(`no response from ${this.spec.url.host}`));
  }

  /** The exchange failed: the network, the peer, the signal, or undici refusing the request. */
  onError(err: Error): void {
    if (this.settled) return;
    const { answer, spec } = this;
    // A redirect's body is only thrown away: however its read ends, the redirect is the answer.
    if (answer && (answer.next || this.failure)) return this.onComplete();
    const step = answer ? `while reading the body (${answer.bytes} bytes received)` : 'while waiting for the response';
    this.fail(describeNetworkError(err, spec.signal, spec.url, step));
  }

  /** Enough of a redirect's body was thrown away: the connection goes, the redirect is the answer. */
  private discardDone(): void {
    this.onComplete();
    this.abort?.(new HttpCheckError('redirect body not read'));
  }

  private succeed(answer: Answer): void {
    this.settled = true;
    this.spec.signal.removeEventListener('abort', this);
    this.resolve(answer);
  }

  private fail(err: Error): void {
    this.settled = true;
    this.spec.signal.removeEventListener('abort', this);
    this.reject(err);
  }
}

/** Sends one request (no redirect followed) and reads its answer; see Exchange. */
function exchange(client: UndiciModule, dispatcher: Dispatcher, spec: ExchangeSpec): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const handler = new Exchange(spec, client.util.parseHeaders, resolve, reject);
    spec.signal.addEventListener('abort', handler);
    const { url } = spec;
    try {
      // A tunnel is no answer to judge: refused as undici's request() refuses it, with its error.
      if (spec.method === 'CONNECT') throw new client.errors.InvalidArgumentError('invalid method');
      // No undici timeouts: the caller's signal is the one deadline.
      dispatcher.dispatch(
        { origin: url.origin, path: url.search ? `${url.pathname}${url.search}` : url.pathname, method: spec.method, headers: spec.headers, body: spec.body, headersTimeout: 0, bodyTimeout: 0 },
        handler,
      );
    } catch (err) {
      // Refused before anything was sent (a header value undici will not write).
      handler.onError(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

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
  const redirects: string[] = [];
  // The requests that were answered with a redirect, for loop detection (most requests have none).
  let seen: Set<string> | undefined;
  const start = new URL(req.url);
  const spec: ExchangeSpec = {
    url: start,
    start,
    policy,
    method: (req.method ?? 'GET').toUpperCase(),
    headers: req.headers,
    body: req.body,
    signal: req.signal,
    maxBody: req.maxBodyBytes ?? 1024 * 1024,
    truncate: Boolean(req.truncateBody),
  };
  const started = performance.now();
  const client = loaded ?? (await undici());
  const dispatcher = req.dispatcher ?? client.getGlobalDispatcher();
  for (;;) {
    const { url } = spec;
    // undici would still open a connection for an already aborted signal: nothing is sent after an abort.
    if (req.signal.aborted) throw describeNetworkError(undefined, req.signal, url, 'before sending anything');
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new HttpCheckError(`unsupported URL scheme ${url.protocol} in ${url.href}`);
    }
    if (req.allowedOrigins && !isAllowedOrigin(url, req.allowedOrigins)) {
      throw new HttpCheckError(`refused to send a request to ${url.host}: not the configured target`);
    }
    const answer = await exchange(client, dispatcher, spec);
    const { next } = answer;
    if (next) {
      if (req.signal.aborted) throw describeNetworkError(undefined, req.signal, url, 'while reading a redirect');
      (seen ??= new Set()).add(`${spec.method} ${url.href}`);
      if (answer.status === 303 || ((answer.status === 301 || answer.status === 302) && spec.method === 'POST')) {
        spec.method = 'GET';
        spec.body = undefined;
      }
      if (seen.has(`${spec.method} ${next.href}`)) {
        throw new HttpCheckError(`redirect loop: ${[...redirects, url.href, next.href].join(' -> ')}`);
      }
      if (redirects.length >= max) {
        throw new HttpCheckError(`too many redirects (more than ${max}), last to ${answer.headers['location']}`);
      }
      // As browsers and curl do: the target chose where to send us, so the user's credentials stay
      // behind on the origin they were given for, for the rest of the chain, whatever the caller asked.
      if (next.origin !== url.origin) spec.headers = withoutCredentials(spec.headers);
      redirects.push(url.href);
      spec.url = next;
      continue;
    }
    const { chunks, bytes, truncated } = answer;
    return {
      url: url.href,
      status: answer.status,
      headers: answer.headers,
      setCookies: answer.setCookies,
      body: chunks.length === 0 ? '' : (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8'),
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
