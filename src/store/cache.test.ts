import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeClock } from '../test-support/clock.js';
import { StoreCache } from './cache.js';
import { newRun, T0 } from './contract.js';
import { openSqliteStore } from './sqlite.js';

// StoreCache against a real store: what it keeps, for how long, and what it never keeps. (Commits by
// other connections and by hand are the change token's contract, audit-contract.ts.)

test('a value is kept while nothing is committed, read again after a commit, and a failed read is not kept', async () => {
  const store = await openSqliteStore(':memory:', { clock: fakeClock(T0) });
  try {
    const cache = new StoreCache<number>(2);
    let reads = 0;
    const read = async (): Promise<number> => ++reads;
    assert.equal(await cache.get(store, 'a', read), 1);
    assert.equal(await cache.get(store, 'a', read), 1, 'nothing committed: kept');
    await store.beginRun(newRun());
    assert.equal(await cache.get(store, 'a', read), 2, 'a commit: read again');

    await assert.rejects(cache.get(store, 'b', () => Promise.reject(new Error('store down'))), /store down/);
    assert.equal(await cache.get(store, 'b', read), 3, 'the failure was not kept');

    // Two keys at most: 'a' was used least recently once 'b' and 'c' are read.
    assert.equal(await cache.get(store, 'c', read), 4);
    assert.equal(await cache.get(store, 'b', read), 3);
    assert.equal(await cache.get(store, 'a', read), 5, 'dropped for the newer keys');
  } finally {
    await store.close();
  }
});

test('a value is kept for its own store only', async () => {
  const [one, two] = [await openSqliteStore(':memory:', { clock: fakeClock(T0) }), await openSqliteStore(':memory:', { clock: fakeClock(T0) })];
  try {
    const cache = new StoreCache<string>();
    assert.equal(await cache.get(one, 'k', async () => 'one'), 'one');
    assert.equal(await cache.get(two, 'k', async () => 'two'), 'two', 'the same token of another store is another value');
  } finally {
    await one.close();
    await two.close();
  }
});
