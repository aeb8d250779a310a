import { openSqliteStore } from './sqlite.js';
import type { Store } from './types.js';

export type { NewRun, RunEnd, RunSummary, Store } from './types.js';
export { openSqliteStore } from './sqlite.js';

/**
 * Opens the store a location names: `postgres://...` or `postgresql://...` for a team's
 * PostgreSQL, `sqlite:PATH` or a plain file path for SQLite (`:memory:` for a throwaway store).
 */
export async function openStore(location: string): Promise<Store> {
  // The location is never echoed back when it is a URL: it may carry a password.
  if (/^postgres(ql)?:\/\//i.test(location)) throw new Error('PostgreSQL store is not available yet');
  const file = location.startsWith('sqlite:') ? location.slice('sqlite:'.length) : location;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(file);
  if (scheme) throw new Error(`unsupported store location scheme "${scheme[1]}:": use a file path, sqlite:PATH or postgres://...`);
  if (file.trim() === '') throw new Error('the store location is empty: use a file path, sqlite:PATH or postgres://...');
  return openSqliteStore(file);
}
