// Verify with the rows hashed on other threads, as it does for a chain of 50,000 entries and more:
// the audit and event contracts again with threads from the first entry on (every forgery still
// found and named as on one thread), the rows the threads and this one hash together exactly those
// one thread hashes, and a thread that cannot read the store failing, never passing what it did not hash.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fakeClock } from '../test-support/clock.js';
import { verifyChain } from './audit.js';
import type { RowDigests } from './audit.js';
import { auditContract } from './audit-contract.js';
import { decision, itemResult, newRun, rejectsAsStoreError, T0 } from './contract.js';
import { eventContract, newEvent } from './event-contract.js';
import { MIGRATIONS } from './schema.js';
import { openSqliteStore } from './sqlite.js';
import { rowDigestsInThreads } from './sqlite-audit-thread.js';
import { sqliteAuditReads } from './sqlite-chain.js';
import type { SqliteStoreOptions } from './sqlite.js';
import type { Store } from './types.js';

const dirs: string[] = [];
function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-threads-'));
  dirs.push(dir);
  return join(dir, 'gonogo.db');
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const THREADED: SqliteStoreOptions = { rowThreadFrom: 0 };

function exec(file: string, sql: string): void {
  const db = new Database(file);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

auditContract('SQLite file, rows hashed on threads', async () => {
  const file = tempFile();
  return { open: (options) => openSqliteStore(file, { ...options, ...THREADED }), exec: async (sql) => exec(file, sql) };
});

eventContract('SQLite file, rows hashed on threads', async () => {
  const file = tempFile();
  return { location: file, open: (options) => openSqliteStore(file, { ...options, ...THREADED }), exec: async (sql) => exec(file, sql) };
});

/** Runs of results, an attestation and an event, and a result no entry records. */
async function history(file: string): Promise<void> {
  const store = await openSqliteStore(file, { clock: fakeClock(T0) });
  try {
    for (let r = 0; r < 20; r++) {
      const run = await store.beginRun(newRun());
      for (let i = 0; i < 7; i++) await store.saveResult(run, itemResult(`C-${i}`, i % 3 === 0 ? 'fail' : 'pass'));
      await store.endRun(run, { status: 'completed', finishedAt: '2026-03-01T10:05:00.000Z', decision: decision('NO_GO', 50) });
    }
    await store.addAttestation({ kind: 'signoff', gate: 'web', release: 'r1', target: { type: 'stage', id: 'security' }, by: 'ana', role: 'security-lead', at: '2026-03-01T10:07:00.000Z' });
    await store.addEvent(newEvent());
  } finally {
    await store.close();
  }
  exec(file, "INSERT INTO results (run_id, item_id, seq, tier, status, message, duration_ms, attempts) SELECT id, 'FORGED', 99, 'high', 'pass', 'ok', 1, '[]' FROM runs LIMIT 1");
}

/** What auditRowDigests gives, as sorted lines: each row's entry and digest, and the refs no entry records. */
async function digests(store: Store, through: number): Promise<string[]> {
  const lines: string[] = [];
  await store.auditRowDigests('web', through, (b: RowDigests) => {
    for (let i = 0; i < b.seqs.length; i++) lines.push(`${b.seqs[i]} ${Buffer.from(b.digests.subarray(32 * i, 32 * i + 32)).toString('hex')}`);
    for (const ref of b.unrecorded) lines.push(`unrecorded ${ref}`);
  });
  return lines.sort();
}

describe('SQLite store: verify\'s rows hashed on threads', () => {
  it('hashes every row once between the threads and this one, as this one alone does', async () => {
    const file = tempFile();
    await history(file);
    const alone = await openSqliteStore(file, { readonly: true, rowThreadFrom: Infinity });
    const shared = await openSqliteStore(file, { readonly: true, rowThreadFrom: 0, rowThreads: 2 });
    try {
      const through = (await alone.auditHead('web'))?.seq ?? 0;
      const expected = await digests(alone, through);
      // 20 runs of 8 rows and 7 results, an attestation, an event, a forged result.
      assert.equal(expected.length, 20 * 8 + 2 + 1);
      assert.equal(expected.filter((l) => l.startsWith('unrecorded result:')).length, 1);
      assert.deepEqual(await digests(shared, through), expected);
      assert.equal((await verifyChain(shared, 'web')).problem?.kind, 'row-inserted');
    } finally {
      await alone.close();
      await shared.close();
    }
  });

  it('hashes every share on a thread of its own, and a thread that cannot read the store fails', async () => {
    const file = tempFile();
    await history(file);
    const alone = await openSqliteStore(file, { readonly: true, rowThreadFrom: Infinity });
    const through = (await alone.auditHead('web'))?.seq ?? 0;
    const expected = await digests(alone, through);
    await alone.close();
    const db = new Database(file, { readonly: true });
    const shares = sqliteAuditReads(db, MIGRATIONS.length).rowShares('web', 4);
    db.close();
    assert.equal(shares.length, 4);
    const task = () => ({ file, location: file, lockTimeoutMs: 1000, gate: 'web', through, shares, taken: new SharedArrayBuffer(4) });
    const lines: string[] = [];
    const collect = (b: RowDigests): void => {
      for (let i = 0; i < b.seqs.length; i++) lines.push(`${b.seqs[i]} ${Buffer.from(b.digests.subarray(32 * i, 32 * i + 32)).toString('hex')}`);
      for (const ref of b.unrecorded) lines.push(`unrecorded ${ref}`);
    };
    assert.equal(await rowDigestsInThreads(task(), 1, collect), 'done');
    assert.deepEqual(lines.sort(), expected);
    // What it did not hash is never taken as hashed: the read's failure is verify's.
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.from('not a database!!'), 0, 16, 0);
    closeSync(fd);
    await rejectsAsStoreError(rowDigestsInThreads(task(), 1, () => undefined), 'not-a-store', /is not an SQLite database/);
  });
});
