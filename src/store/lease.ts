// A running run holds a lease: it renews its heartbeat, and a run whose heartbeat is older than
// the lease was killed (on this host or any other) and is ended `aborted` by the next opener. This
// replaces finding killed runs by pid and hostname, which cannot see another host's processes and
// fits no shared database.
import type { Clock } from '../util/clock.js';
import { StoreError } from './errors.js';
import type { Store } from './types.js';

/** How long a heartbeat holds unless the opener says otherwise. */
export const DEFAULT_LEASE_MS = 60_000;

/**
 * Whether a heartbeat (ISO 8601) is older than the lease at `now`. One that cannot be read counts
 * as lapsed: a run must not stay `running` for ever because of a bad timestamp.
 */
export function leaseLapsed(heartbeatAt: string, now: number, leaseMs: number): boolean {
  const at = Date.parse(heartbeatAt);
  return !Number.isFinite(at) || now - at > leaseMs;
}

/** A lease being renewed; `stop()` ends the renewals and waits for one in flight. */
export interface KeepAlive {
  stop(): Promise<void>;
}

/**
 * Renews `runId`'s heartbeat every `everyMs` (default a quarter of the default lease, so three
 * renewals can fail before the run counts as killed) until `stop()`. A failed renewal never
 * rejects anywhere: it goes to `onError`, and renewals go on, except once the run is no longer
 * running, when no renewal can succeed again.
 */
export function keepAlive(
  store: Pick<Store, 'heartbeat'>,
  runId: string,
  clock: Clock,
  options: { everyMs?: number; onError?: (error: unknown) => void } = {},
): KeepAlive {
  const everyMs = options.everyMs ?? DEFAULT_LEASE_MS / 4;
  if (!(Number.isFinite(everyMs) && everyMs > 0)) throw new RangeError(`keepAlive: everyMs must be a positive number of milliseconds, got ${everyMs}`);
  const stopped = new AbortController();

  const report = (error: unknown): void => {
    try {
      options.onError?.(error);
    } catch {
      // A throwing callback must not turn a failed renewal into a crash.
    }
  };

  const renewals = (async () => {
    for (;;) {
      try {
        await clock.sleep(everyMs, stopped.signal);
      } catch {
        return; // stopped
      }
      try {
        await store.heartbeat(runId, new Date(clock.now()).toISOString());
      } catch (error) {
        report(error);
        if (error instanceof StoreError && (error.kind === 'run-ended' || error.kind === 'unknown-run')) return;
      }
    }
  })();

  return {
    async stop() {
      stopped.abort();
      await renewals;
    },
  };
}
