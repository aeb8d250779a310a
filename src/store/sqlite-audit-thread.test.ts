// Verify's work shared between threads, as it is for a chain of 50,000 entries and more: the audit
// and event contracts again with threads from the first entry on (the chain walked in pieces of an
// entry or two, every forgery still found and named as in one walk), a thread doing the tasks alone
// exactly as this one does them, and a thread that cannot read the store failing, never passing
// what it did not do.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fakeClock } from '../test-support/clock.js';
import { canonicalJson, cutChain, entryHash, verifyChain } from './audit.js';
import type { RowDigests, VerifyVisit, WalkedPiece } from './audit.js';
import { auditContract, lit } from './audit-contract.js';
import { decision, itemResult, newRun, rejectsAsStoreError, T0 } from './contract.js';
import { eventContract, newEvent } from './event-contract.js';
import { MIGRATIONS } from './schema.js';
import { openSqliteStore } from './sqlite.js';
import type { SqliteStoreOptions } from './sqlite.js';
import { verifyOnThreads } from './sqlite-audit-thread.js';
import type { VerifyJob, VerifyTask } from './sqlite-audit-thread.js';
import { sqliteAuditReads } from './sqlite-chain.js';

const dirs: string[] = [];
function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-threads-'));
  dirs.push(dir);
  return join(dir, 'gonogo.db');
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// One thread besides this one: the pieces and shares are still split between two threads, and each
// verify starts one thread instead of two (under tsx a thread costs about half a second of CPU to
// start: two per verify made this file a fifth of the whole suite's CPU).
const THREADED: SqliteStoreOptions = { verifyThreadsFrom: 0, verifyThreads: 1 };

function exec(file: string, sql: string): void {
  const db = new Database(file);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

auditContract('SQLite file, verified on threads', async () => {
  const file = tempFile();
  return { open: (options) => openSqliteStore(file, { ...options, ...THREADED }), exec: async (sql) => exec(file, sql) };
});

eventContract('SQLite file, verified on threads', async () => {
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

/** What verify's tasks gave, as sorted lines: each piece walked, each row's entry and digest, the refs no entry records. */
function collector(): { visit: VerifyVisit; lines: string[] } {
  const lines: string[] = [];
  const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
  return {
    lines,
    visit: {
      piece(index: number, w: WalkedPiece) {
        lines.push(`piece ${index}: ${w.after} ${w.count} ${w.firstPrev} ${w.lastHash} ${w.sawExpected} ${w.ended} ${w.problem?.message} ${hex(w.digests)}`);
      },
      rows(b: RowDigests) {
        for (let i = 0; i < b.seqs.length; i++) lines.push(`${b.seqs[i]} ${hex(b.digests.subarray(32 * i, 32 * i + 32))}`);
        for (const ref of b.unrecorded) lines.push(`unrecorded ${ref}`);
      },
    },
  };
}

describe('SQLite store: verify on threads', () => {
  it('a thread walks the pieces and hashes the rows exactly as this one does', async () => {
    const file = tempFile();
    await history(file);
    const db = new Database(file, { readonly: true });
    const reads = sqliteAuditReads(db, MIGRATIONS.length);
    const through = reads.auditHead('web')?.seq ?? 0;
    const expectHead = reads.auditEntries('web', 5, 1)[0].hash;
    const tasks: VerifyTask[] = [...cutChain(through, 4).map((piece) => ({ piece })), ...reads.rowShares('web', 4).map((share) => ({ share }))];
    assert.equal(tasks.length, 5 + 4);
    const here = collector();
    tasks.forEach((task, index) => ('piece' in task ? here.visit.piece(index, reads.walkPiece('web', task.piece, expectHead)) : reads.rowShare('web', through, task.share, here.visit.rows)));
    db.close();
    // 20 runs of 8 rows and 7 results, an attestation, an event, a forged result; the five pieces.
    assert.equal(here.lines.length, 20 * 8 + 2 + 1 + 5);
    assert.equal(here.lines.filter((l) => l.startsWith('unrecorded result:')).length, 1);

    const job: VerifyJob = { file, location: file, lockTimeoutMs: 1000, gate: 'web', through, expectHead, tasks, taken: new SharedArrayBuffer(4) };
    const there = collector();
    // No task here: the thread does them all.
    await verifyOnThreads(job, 1, undefined, there.visit);
    assert.deepEqual(there.lines.sort(), here.lines.sort());

    // What it did not do is never taken as done: a thread that cannot read the store fails.
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.from('not a database!!'), 0, 16, 0);
    closeSync(fd);
    await rejectsAsStoreError(verifyOnThreads({ ...job, taken: new SharedArrayBuffer(4) }, 1, undefined, collector().visit), 'not-a-store', /is not an SQLite database/);
  });

  it('finds an entry rewritten with its hash made anew by the next entry\'s link, wherever the walk is cut', async () => {
    const file = tempFile();
    await history(file);
    const db = new Database(file);
    const entries = sqliteAuditReads(db, MIGRATIONS.length).auditEntries('web', 0, 1000);
    db.close();
    // Entries but the last (whose hash the head row holds): a link inside a piece and between two.
    // The first and last few and every 9th: each start of a thread costs most of a verify under tsx,
    // and every position took 30 s of the suite's 90.
    const candidates = entries.slice(0, -1);
    const sample = candidates.filter((_, i) => i < 3 || i >= candidates.length - 3 || i % 9 === 0);
    for (const e of sample) {
      const body = canonicalJson({ ...JSON.parse(e.body), data: { forged: true } });
      const hash = entryHash(e.prev, body);
      exec(file, `UPDATE audit_entries SET body = ${lit(body)}, hash = ${lit(hash)} WHERE gate = 'web' AND seq = ${e.seq}`);
      for (const options of [THREADED, { verifyThreadsFrom: Infinity }]) {
        const store = await openSqliteStore(file, { readonly: true, ...options });
        try {
          const report = await verifyChain(store, 'web');
          assert.equal(report.problem?.message, `entry ${e.seq} was changed or replaced: entry ${e.seq + 1} links to another hash`);
          // Verified up to the rewritten entry, which is intact in itself.
          assert.deepEqual([report.entries, report.head], [e.seq, hash]);
        } finally {
          await store.close();
        }
      }
      exec(file, `UPDATE audit_entries SET body = ${lit(e.body)}, hash = ${lit(e.hash)} WHERE gate = 'web' AND seq = ${e.seq}`);
    }
  });

  it('finds a forged row when the threads and this one share the work', async () => {
    const file = tempFile();
    await history(file);
    const store = await openSqliteStore(file, { readonly: true, ...THREADED });
    try {
      assert.equal((await verifyChain(store, 'web')).problem?.kind, 'row-inserted');
    } finally {
      await store.close();
    }
  });
});
