// What a long-lived reader (the dashboard) may keep between requests: values read from a store,
// each kept while the store's change token stays what it was when the value was read.
import type { Store } from './types.js';

/**
 * Values read from a store, by key, each kept while the store's change token is unchanged: any
 * commit, by anyone (a run, a sign-off, a row changed by hand), makes the next `get` read again.
 * The token is read before the value, so a value read while a commit landed is read again at the
 * next `get`, never kept past it. At most `max` keys, the least recently used dropped first.
 */
export class StoreCache<T> {
  private readonly entries = new Map<string, { store: Store; token: string; value: Promise<T> }>();

  constructor(private readonly max = 32) {}

  /** The value of `key` in `store`: the kept one while the token is unchanged, else `read()`'s. */
  async get(store: Store, key: string, read: () => Promise<T>): Promise<T> {
    const token = await store.changeToken();
    const kept = this.entries.get(key);
    if (kept !== undefined && kept.store === store && kept.token === token) {
      this.entries.delete(key);
      this.entries.set(key, kept);
      return kept.value;
    }
    const entry = { store, token, value: read() };
    // Newest last: the first key is the one used least recently.
    this.entries.delete(key);
    this.entries.set(key, entry);
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    // A failed read is not kept: the next call reads again.
    entry.value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return entry.value;
  }
}
