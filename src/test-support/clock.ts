// A clock for tests: time moves only when the test says so. Sleepers wake in deadline order as
// `advance()` passes their deadlines, so a 30-second timeout or a 24-hour window is tested in
// microseconds and never depends on how busy the machine is.
import type { Clock } from '../util/clock.js';

interface Sleeper {
  at: number;
  resolve(): void;
  reject(reason: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** A Clock whose time only moves with `advance()`, plus helpers to wait for sleepers. */
export interface FakeClock extends Clock {
  /** Moves time forward by `ms`, waking every sleeper whose deadline is reached, in order. */
  advance(ms: number): Promise<void>;
  /** Moves time to the next sleeper's deadline (waking it); false when nobody sleeps. */
  next(): Promise<boolean>;
  /** Resolves once at least `n` sleepers are waiting (polls the microtask and I/O queues, never the clock). */
  sleepers(n?: number): Promise<void>;
  /** How many sleepers are waiting now. */
  readonly waiting: number;
  /** How long each waiting sleeper has left, in milliseconds. */
  remaining(): number[];
}

/** Lets pending promise callbacks and I/O callbacks run. */
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function fakeClock(start = Date.parse('2026-01-01T00:00:00Z')): FakeClock {
  let now = start;
  let mono = 0;
  const sleepers: Sleeper[] = [];

  const wake = (s: Sleeper): void => {
    const i = sleepers.indexOf(s);
    if (i >= 0) sleepers.splice(i, 1);
    if (s.onAbort) s.signal?.removeEventListener('abort', s.onAbort);
  };

  const clock: FakeClock = {
    now: () => now,
    monotonic: () => mono,
    sleep(ms, signal) {
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const s: Sleeper = { at: mono + Math.max(0, ms), resolve, reject, signal };
        if (signal) {
          s.onAbort = () => {
            wake(s);
            reject(signal.reason);
          };
          signal.addEventListener('abort', s.onAbort, { once: true });
        }
        sleepers.push(s);
      });
    },
    async advance(ms) {
      const target = mono + ms;
      for (;;) {
        await tick();
        const due = sleepers.filter((s) => s.at <= target).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        now += due.at - mono;
        mono = due.at;
        wake(due);
        due.resolve();
      }
      now += target - mono;
      mono = target;
      await tick();
    },
    async next() {
      await tick();
      const first = [...sleepers].sort((a, b) => a.at - b.at)[0];
      if (!first) return false;
      await clock.advance(first.at - mono);
      return true;
    },
    async sleepers(n = 1) {
      // Bounded by count, not time: a test waiting for a sleeper that never comes fails instead of hanging.
      for (let i = 0; i < 100_000 && sleepers.length < n; i++) await tick();
      if (sleepers.length < n) throw new Error(`expected ${n} sleeper(s) on the fake clock, found ${sleepers.length}`);
    },
    get waiting() {
      return sleepers.length;
    },
    remaining() {
      return sleepers.map((s) => s.at - mono);
    },
  };
  return clock;
}
