import { openSqliteStore } from './sqlite.js';
import type { CopyResult } from './copy.js';
import type { OpenStoreOptions, Store } from './types.js';

export type { NewRun, OpenStoreOptions, RunEnd, RunSummary, Store } from './types.js';
export { StoreError } from './errors.js';
export type { StoreFaultKind } from './errors.js';
export { DEFAULT_LEASE_MS, keepAlive } from './lease.js';
export type { KeepAlive } from './lease.js';
export { DEFAULT_LOCK_TIMEOUT_MS, openSqliteStore } from './sqlite.js';
export type { SqliteStoreOptions } from './sqlite.js';
export type { PostgresStoreOptions } from './postgres.js';
export { exportEntries, verifyChain } from './audit.js';
export type { CopyResult } from './copy.js';
export type { ChainProblem, ChainReport } from './audit.js';

/**
 * Opens the store a location names: `postgres://...` or `postgresql://...` for a team's
 * PostgreSQL, `sqlite:PATH` or a plain file path for SQLite (`:memory:` for a throwaway store).
 * `{ readonly: true }` for commands that only read (`status`, `history`, `report`): it works on a
 * file this process may not write and changes nothing.
 */
export async function openStore(location: string, options: OpenStoreOptions = {}): Promise<Store> {
  // The location is never echoed back when it is a URL: it may carry a password.
  if (/^postgres(ql)?:\/\//i.test(location)) {
    // Loaded only when used: a SQLite user never pays for the PostgreSQL client at start-up.
    const { openPostgresStore } = await import('./postgres.js');
    return openPostgresStore(location, options);
  }
  const file = location.startsWith('sqlite:') ? location.slice('sqlite:'.length) : location;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(file);
  if (scheme) throw new Error(`unsupported store location scheme "${scheme[1]}:": use a file path, sqlite:PATH or postgres://...`);
  if (file.trim() === '') throw new Error('the store location is empty: use a file path, sqlite:PATH or postgres://...');
  return openSqliteStore(file, options);
}

/** Copies a SQLite store's whole history (chains included) into an empty PostgreSQL database and verifies it there. */
export async function copyStore(from: string, to: string): Promise<CopyResult> {
  const copy = await import('./copy.js');
  return copy.copyStore(from, to);
}
