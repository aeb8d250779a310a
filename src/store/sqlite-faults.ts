// What SQLite's failures mean for a gonogo store, and the one place that waits out a lock.
// better-sqlite3 is synchronous: its busy timeout blocks the whole process (checks, timers, the
// live view) while it waits. So SQLite waits only a short slice per attempt, and the longer wait is
// spent between attempts asleep on the clock, where the rest of the process keeps running.
import Database from 'better-sqlite3';
import type { Clock } from '../util/clock.js';
import { StoreError } from './errors.js';
import type { StoreFaultKind } from './errors.js';

/** What an operation was doing, for the first words of its error. */
export type Doing = 'open' | 'read' | 'record';

/** Where the store is and how long it waits for a lock. */
export interface FaultContext {
  location: string;
  clock: Clock;
  lockTimeoutMs: number;
}

/** The most SQLite's own busy handler may block the process at once. */
const MAX_SLICE_MS = 100;
/** Pauses between attempts; the last repeats until the bound is spent. */
const PAUSES_MS = [25, 50, 100, 200, 400, 800, 1000];

/** SQLite's busy timeout for one attempt: a tenth of the bound, at most MAX_SLICE_MS. */
export function busySliceMs(lockTimeoutMs: number): number {
  return Math.max(1, Math.min(MAX_SLICE_MS, Math.floor(lockTimeoutMs / 10)));
}

/** The words an error starts with. */
export function failed(doing: Doing, location: string): string {
  if (doing === 'record') return `could not record to ${location}`;
  if (doing === 'read') return `could not read ${location}`;
  return `could not open the store ${location}`;
}

/** The kind of fault behind a SQLite result code (extended codes included) or a Node system error code. */
export function faultKind(code: string | undefined): StoreFaultKind {
  if (code === undefined) return 'other';
  if (/^SQLITE_(BUSY|LOCKED)/.test(code)) return 'locked';
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') return 'full';
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO') return 'io';
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return 'corrupt';
  if (code.startsWith('SQLITE_READONLY') || code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return 'read-only';
  return 'other';
}

function codeOf(error: unknown): string | undefined {
  if (error instanceof Database.SqliteError) return error.code;
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

/** Seconds as a person reads them: "20 s", "0.3 s". */
function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(ms < 1000 ? 2 : 1))} s`;
}

/** Any failure inside a store operation as a StoreError with a one-line message (a StoreError passes through). */
export function storeError(doing: Doing, location: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  const code = codeOf(error);
  const kind = faultKind(code);
  const text = error instanceof Error ? error.message : String(error);
  let reason = text;
  if (kind === 'io') reason = `${text} (${code})`;
  else if (kind === 'corrupt') reason = `${text}: the file is damaged; restore it from a backup, or move it away and gonogo will start a new store there`;
  else if (kind === 'read-only' && code?.startsWith('SQLITE_')) reason = `${text} (this process may not write the file or its folder; status, history and report can still read it)`;
  return new StoreError(`${failed(doing, location)}: ${reason}`, { kind, location, cause: error });
}

/**
 * Runs `attempt` (one synchronous SQLite operation, a whole transaction at most) until it is not
 * stopped by another process's lock, for at most `lockTimeoutMs` in all; every failure rejects as
 * a StoreError. An attempt must be safe to repeat: a failed transaction has been rolled back.
 */
export async function withRetry<T>(ctx: FaultContext, doing: Doing, attempt: () => T): Promise<T> {
  const slice = busySliceMs(ctx.lockTimeoutMs);
  let spent = 0;
  for (let n = 0; ; n++) {
    try {
      return attempt();
    } catch (error) {
      if (faultKind(codeOf(error)) !== 'locked') throw storeError(doing, ctx.location, error);
      spent += slice;
      if (spent >= ctx.lockTimeoutMs) {
        const lock = doing === 'read' ? 'a lock on it' : 'the write lock';
        throw new StoreError(`${failed(doing, ctx.location)}: database is locked (another process held ${lock} for more than ${seconds(ctx.lockTimeoutMs)})`, {
          kind: 'locked',
          location: ctx.location,
          cause: error,
        });
      }
      const pause = Math.min(PAUSES_MS[Math.min(n, PAUSES_MS.length - 1)], ctx.lockTimeoutMs - spent);
      await ctx.clock.sleep(pause);
      spent += pause;
    }
  }
}
