// Drives autocannon (the load generator) and times every request itself.
//
// Why not autocannon's own figures: its latency histogram keeps whole milliseconds, and the time it
// gives each response is taken from a queue of pending requests that a dropped connection leaves
// one entry out of step (every later response on that connection is then timed from the request
// before it). With one request in flight per connection (pipelining 1), the answer that arrives is
// always to the request written last, so each connection keeps that request's start and times its
// answer against it: process.hrtime, from the request being written to its last byte received.
//
// Why not autocannon's own stopping: it notices a stop only at its next sample tick and drops the
// sockets then. Here every stop (the duration, the request count, the check's signal, a target that
// refuses every connection or rate-limits most answers) destroys every connection at once, and the
// run is over only when autocannon has cleared its timers and every socket is closed.
import type { Socket } from 'node:net';
import autocannon from 'autocannon';
import type { CheckContext } from '../types.js';

/** The methods autocannon writes (its lib/httpMethods.js, less CONNECT, which opens a tunnel rather than asks a page). */
export const LOAD_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'PATCH'] as const;

/** One request of the cycle each connection goes through. */
export interface LoadRequest {
  method: (typeof LOAD_METHODS)[number];
  /** Path and query on the origin. */
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** What one run sends, and when it stops. */
export interface DriveSpec {
  /** `scheme://host:port`, already checked to be the target's. */
  origin: string;
  requests: readonly LoadRequest[];
  connections: number;
  durationMs: number;
  /** Stop after this many requests (autocannon's `amount`), or at `durationMs`, whichever comes first. */
  amount?: number;
  /** At most this many requests per second, all connections together (autocannon's `overallRate`). */
  rate?: number;
  /** A request unanswered for this long is an error (autocannon drops its connection and opens another). */
  requestTimeoutMs: number;
  /** Share of 429 answers above which the run stops early (after LIMITED_SAMPLE answers): it is measuring the limiter. */
  maxLimited: number;
}

export type StopReason = 'duration' | 'requests' | 'refused' | 'rate-limited' | 'aborted';

/** What a run counted. Latencies go to the caller's `record`, one call per answer. */
export interface Tally {
  answers: number;
  statuses: Record<string, number>;
  /** 429 answers. */
  limited: number;
  /** Connection errors and timeouts: requests that got no answer. */
  errors: number;
  timeouts: number;
  /** The first connection error's message (`connect ECONNREFUSED ...`), for the reason of an error. */
  firstError?: string;
  /** From the first request to the stop. */
  elapsedMs: number;
  stoppedBy: StopReason;
  /** Connections the run used (autocannon opens no more than `rate` of them). */
  connections: number;
}

/** Answers looked at before a run stops for too many 429s: a few early ones are not yet a share. */
export const LIMITED_SAMPLE = 100;

/** Connection errors, with no answer at all, after which a run stops: a closed port refuses in microseconds, and autocannon reconnects at once. */
const REFUSED_AFTER = 100;

/** How often autocannon looks whether it was stopped: the lag between a stop and its timers being cleared. */
const SAMPLE_MS = 50;

/**
 * What a connection offers beyond autocannon's typed surface (lib/httpClient.js of the pinned
 * version): its events (through addListener, which the typings leave untyped), its socket and
 * destroy(). Read once, checked, so a changed autocannon fails here rather than leaking sockets.
 */
interface Connection {
  destroy(): void;
  socket(): Socket | undefined;
}

function connectionOf(client: autocannon.Client): Connection {
  const destroy: unknown = Reflect.get(client, 'destroy');
  if (typeof destroy !== 'function') throw new Error('autocannon client has no destroy(): not the pinned autocannon version');
  return {
    destroy: () => Reflect.apply(destroy, client, []),
    socket: () => {
      const conn: unknown = Reflect.get(client, 'conn');
      return isSocket(conn) ? conn : undefined;
    },
  };
}

function isSocket(value: unknown): value is Socket {
  return typeof value === 'object' && value !== null && 'destroyed' in value && 'once' in value && typeof value.once === 'function';
}

/** One socket of a connection: whether a request written on it awaits its answer. */
interface Exchange {
  socket: Socket;
  waiting: boolean;
  /** The target announced it closes the socket (`Connection: close`). */
  closing: boolean;
}

function closed(socket: Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    socket.destroy();
  });
}

/**
 * One load run against `spec.origin`: resolves when it has stopped and every socket is closed.
 * Aborting `ctx.signal` stops it the same way and then rejects with the signal's reason.
 */
export async function drive(spec: DriveSpec, ctx: CheckContext, record: (micros: number) => void): Promise<Tally> {
  ctx.signal.throwIfAborted();
  const tally: Tally = { answers: 0, statuses: {}, limited: 0, errors: 0, timeouts: 0, elapsedMs: 0, stoppedBy: 'duration', connections: 0 };
  const connections: Connection[] = [];
  const deadline = new AbortController();
  let stopped = false;
  let instance: autocannon.Instance | undefined;
  let done = 0;
  const started = ctx.clock.monotonic();

  const stop = (why: StopReason): void => {
    if (stopped) return;
    stopped = true;
    tally.stoppedBy = why;
    tally.elapsedMs = ctx.clock.monotonic() - started;
    deadline.abort();
    instance?.stop();
    // Destroying a connection emits its `done`, which autocannon counts down to its own end.
    for (const c of connections) c.destroy();
  };

  const setupClient = (client: autocannon.Client): void => {
    const connection = connectionOf(client);
    connections.push(connection);
    // The socket the last request was written on, and the one before (a timeout replaces it before it is reported).
    let current: Exchange | undefined;
    let previous: Exchange | undefined;
    let sentAt = 0n;
    client.addListener('request', () => {
      sentAt = process.hrtime.bigint();
      const socket = connection.socket();
      if (socket !== undefined && socket !== current?.socket) {
        previous = current;
        current = watch(socket);
      }
      if (current) current.waiting = true;
    });
    client.addListener('headers', (info: unknown) => {
      // The target said it closes this connection: autocannon writes the next request on it all the same, and that loss is not the target's.
      if (current && typeof info === 'object' && info !== null && Reflect.get(info, 'shouldKeepAlive') === false) current.closing = true;
    });
    client.addListener('response', (status: unknown) => {
      if (stopped) return;
      record(Math.max(1, Math.round(Number(process.hrtime.bigint() - sentAt) / 1000)));
      if (current) current.waiting = false;
      tally.answers++;
      const code = String(status);
      tally.statuses[code] = (tally.statuses[code] ?? 0) + 1;
      if (code === '429') {
        tally.limited++;
        if (tally.answers >= LIMITED_SAMPLE && tally.limited > spec.maxLimited * tally.answers) stop('rate-limited');
      }
    });
    client.addListener('connError', (err: unknown) => {
      // Reported before autocannon opens the next socket: `current` is the failed one, counted here,
      // unless the target had said it would close it (a reset of the request written after that).
      const announced = current?.closing === true;
      if (current) current.waiting = false;
      if (!announced) failed(err instanceof Error ? err.message : String(err));
    });
    client.addListener('timeout', () => {
      if (previous) previous.waiting = false;
      if (stopped) return;
      tally.timeouts++;
      failed(`no answer within ${spec.requestTimeoutMs} ms`);
    });
    client.addListener('done', () => {
      // Every connection sent its share of `amount`.
      if (++done === connections.length) stop('requests');
    });
  };

  /** A request that got no answer: a connection refused, reset, closed or timed out. */
  const failed = (message: string): void => {
    if (stopped) return;
    tally.errors++;
    tally.firstError ??= message;
    if (tally.answers === 0 && tally.errors >= REFUSED_AFTER) stop('refused');
  };

  /**
   * A socket closed with a request on it and no error is a request lost: autocannon reconnects
   * without a word when the target closes a connection (wrk counts these as read errors).
   */
  const watch = (socket: Socket): Exchange => {
    const exchange: Exchange = { socket, waiting: false, closing: false };
    socket.once('close', () => {
      if (exchange.waiting && !exchange.closing) failed('the target closed the connection before answering');
      exchange.waiting = false;
    });
    return exchange;
  };

  const onAbort = (): void => stop('aborted');
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const finished = new Promise<void>((resolve, reject) => {
      // autocannon creates every connection before it returns (a bad option throws here).
      instance = autocannon(
        {
          url: spec.origin,
          requests: spec.requests.map((r) => ({ method: r.method, path: r.path, headers: r.headers, body: r.body })),
          connections: spec.connections,
          // Our own deadline stops the run; autocannon's is a backstop a second later.
          duration: spec.durationMs / 1000 + 1,
          amount: spec.amount,
          overallRate: spec.rate,
          timeout: spec.requestTimeoutMs / 1000,
          pipelining: 1,
          sampleInt: SAMPLE_MS,
          setupClient,
        },
        (err) => (err ? reject(err) : resolve()),
      );
    });
    tally.connections = connections.length;
    void ctx.clock.sleep(spec.durationMs, deadline.signal).then(
      () => stop('duration'),
      () => undefined,
    );
    await finished;
    stop('duration');
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
    stop('aborted');
    await Promise.all(connections.flatMap((c) => c.socket() ?? []).map(closed));
  }
  if (tally.stoppedBy === 'aborted') throw ctx.signal.reason;
  return tally;
}
