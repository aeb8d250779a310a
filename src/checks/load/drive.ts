// Drives autocannon (the load generator) and times every request itself.
//
// Why not autocannon's own figures: its latency histogram keeps whole milliseconds, and the time it
// gives each response is taken from a queue of pending requests that a dropped connection leaves
// one entry out of step (every later response on that connection is then timed from the request
// before it). With one request in flight per connection (pipelining 1), the answer that arrives is
// always to the request written last, so each connection keeps that request's start and times its
// answer against it: performance.now(), from the request being written to its answer being read.
//
// What is timed is the target's part, not the generator's. The event loop reads, in one turn, every
// answer that had arrived when it woke, one socket after another, and autocannon parses each one and
// writes the next request inside that answer's callback: timed where autocannon reports it, the last
// answer of a turn carried the parsing and the write system calls of all those read before it (and
// the target, woken by each write, took the other core meanwhile). So
//   - each answer is timed to the start of the turn that read it: the first read of a load socket in
//     the turn (every answer read in that turn had arrived by then, but for bytes that came while the
//     turn was reading, which the next turn would otherwise have read);
//   - a request is corked as autocannon writes it, and sent with the turn's others once its answers
//     are read (setImmediate), its clock started then: as wrk does, which writes when the socket is
//     next found writable and starts the clock at that write.
// Nothing is allocated per answer: each connection keeps its start in a Float64Array slot (a number in
// a closure variable is a fresh heap object at every write) and the statuses are counted in an array.
//
// Why not autocannon's own stopping: it notices a stop only at its next sample tick and drops the
// sockets then. Here every stop (the duration, the request count, the check's signal, a target that
// refuses every connection or rate-limits most answers) destroys every connection at once, and the
// run is over only when autocannon has cleared its timers and every socket is closed.
import type { Socket } from 'node:net';
import autocannon from 'autocannon';
import type { Clock } from '../../util/clock.js';
import { LIMITED_SAMPLE } from './plan.js';
import type { DriveSpec, StopReason, Tally } from './plan.js';

/** What stops a run early, and its clock (the load thread's: the system clock). */
export interface DriveContext {
  signal: AbortSignal;
  clock: Clock;
}

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

/** A connection's request on its way out: the corked socket it waits on, and the slot of its start. */
interface Outgoing {
  socket: Socket | undefined;
  sentAt: Float64Array;
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
export async function drive(spec: DriveSpec, ctx: DriveContext, record: (micros: number) => void): Promise<Tally> {
  ctx.signal.throwIfAborted();
  const tally: Tally = { answers: 0, statuses: {}, limited: 0, errors: 0, timeouts: 0, elapsedMs: 0, stoppedBy: 'duration', connections: 0 };
  // Answers by status code (the parser reads three digits); `statuses` is filled from it at the stop.
  const byStatus = new Float64Array(1000);
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
    for (let code = 0; code < byStatus.length; code++) if (byStatus[code] > 0) tally.statuses[String(code)] = byStatus[code];
    deadline.abort();
    instance?.stop();
    // Destroying a connection emits its `done`, which autocannon counts down to its own end.
    for (const c of connections) c.destroy();
  };

  // This loop turn: when it first read a load socket (`reading`), and the connections whose request
  // was written during it, corked: sent, and their clocks started, once its answers are read.
  const turnStart = new Float64Array(1);
  let reading = false;
  const corked: Outgoing[] = [];
  let turnEnding = false;
  const endTurn = (): void => {
    turnEnding = false;
    reading = false;
    for (const out of corked) {
      out.sentAt[0] = performance.now();
      out.socket?.uncork();
      out.socket = undefined;
    }
    corked.length = 0;
  };
  const atTurnEnd = (): void => {
    if (turnEnding) return;
    turnEnding = true;
    setImmediate(endTurn);
  };
  const onRead = (): void => {
    if (reading) return;
    reading = true;
    turnStart[0] = performance.now();
    atTurnEnd();
  };

  const setupClient = (client: autocannon.Client): void => {
    const connection = connectionOf(client);
    connections.push(connection);
    // The socket the last request was written on, and the one before (a timeout replaces it before it is reported).
    let current: Exchange | undefined;
    let previous: Exchange | undefined;
    const sentAt = new Float64Array(1);
    const out: Outgoing = { socket: undefined, sentAt };
    client.addListener('request', () => {
      sentAt[0] = performance.now();
      const socket = connection.socket();
      if (socket !== undefined && socket !== current?.socket) {
        previous = current;
        current = watch(socket);
      }
      if (current) current.waiting = true;
      // A socket still connecting holds the request until it connects anyway; one already corked this turn keeps it.
      if (socket !== undefined && socket !== out.socket && !socket.connecting && !socket.destroyed && !stopped) {
        if (out.socket === undefined) corked.push(out);
        else out.socket.uncork();
        socket.cork();
        out.socket = socket;
        atTurnEnd();
      }
    });
    client.addListener('headers', (info: unknown) => {
      // The target said it closes this connection: autocannon writes the next request on it all the same, and that loss is not the target's.
      if (current && typeof info === 'object' && info !== null && Reflect.get(info, 'shouldKeepAlive') === false) current.closing = true;
    });
    client.addListener('response', (status: unknown) => {
      if (stopped) return;
      record(Math.max(1, Math.round(((reading ? turnStart[0] : performance.now()) - sentAt[0]) * 1000)));
      if (current) current.waiting = false;
      tally.answers++;
      byStatus[Number.isInteger(status) && Number(status) >= 0 && Number(status) < byStatus.length ? Number(status) : 0]++;
      if (status === 429) {
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
    // Ahead of autocannon's parser: the turn's start is taken before any answer of the turn is parsed.
    socket.prependListener('data', onRead);
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
