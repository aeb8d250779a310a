// One error type for every way a store can fail, whatever the implementation: the CLI turns any of
// them into "could not record: no decision made" (exit 2), never a stack trace and never a verdict.

/** What went wrong, for callers that react differently (a retry later, a hint to the user). */
export type StoreFaultKind =
  /** Another process held a lock for longer than the store waits. */
  | 'locked'
  /** The disk, or the store's size cap, is full. */
  | 'full'
  /** The operating system failed a read or a write. */
  | 'io'
  /** The database is damaged. */
  | 'corrupt'
  /** The file exists but is not a gonogo store: empty, not SQLite, or another program's tables. */
  | 'not-a-store'
  /** Written by a newer gonogo. */
  | 'newer-schema'
  /** A write through a read-only store, or to a file or folder this process may not write. */
  | 'read-only'
  /** The run is no longer running: it ended, or another process ended it after its lease lapsed. */
  | 'run-ended'
  | 'unknown-run'
  /** A database server that cannot be reached: refused, unknown host, timed out, no such database. */
  | 'unreachable'
  /** The server refused the credentials. */
  | 'auth'
  | 'other';

/** A store could not do what was asked. `message` is one line: what failed, where, and why. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly kind: StoreFaultKind;
  /** The store's location as it may be shown (a file path; never a URL's password). */
  readonly location?: string;

  constructor(message: string, options: { kind?: StoreFaultKind; location?: string; cause?: unknown } = {}) {
    // A reason quoted from a driver may span lines; the message stays one line.
    super(message.replace(/\s*\n\s*/g, ' '), options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = options.kind ?? 'other';
    this.location = options.location;
  }
}
