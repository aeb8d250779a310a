// A thread sqlite-audit-thread.ts starts: verify's tasks taken one after another until none is
// left, over its own read-only connection to the store, opened as any reader opens it; each piece
// walked and each batch of rows posted (its bytes handed over, not copied) as it is done.
import { parentPort, workerData } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { systemClock } from '../util/clock.js';
import { AUDIT_VERSION } from './schema.js';
import { takeTasks } from './sqlite-audit-thread.js';
import type { VerifyJob, VerifyMessage } from './sqlite-audit-thread.js';
import { sqliteAuditReads } from './sqlite-chain.js';
import { storeError, withRetry } from './sqlite-faults.js';
import { openReader } from './sqlite-file.js';

const job: VerifyJob = workerData;
// Statements prepared once per database (a read-only connection may move to a fresher copy).
const prepared = new WeakMap<Database.Database, ReturnType<typeof sqliteAuditReads>>();
function readsOf(db: Database.Database, version: number): ReturnType<typeof sqliteAuditReads> {
  let reads = prepared.get(db);
  if (reads === undefined) prepared.set(db, (reads = sqliteAuditReads(db, version)));
  return reads;
}
const post = (m: VerifyMessage, transfer: ArrayBuffer[] = []): void => parentPort?.postMessage(m, transfer);
const bytes = (...views: ArrayBufferView[]): ArrayBuffer[] => views.map((v) => v.buffer).filter((b) => b instanceof ArrayBuffer);

try {
  const ctx = { location: job.location, clock: systemClock, lockTimeoutMs: job.lockTimeoutMs };
  const conn = await openReader(ctx, job.file);
  try {
    // A retry does the same task again (a row given twice is harmless; one never given is not).
    await takeTasks(job, (task, index) =>
      withRetry(ctx, 'read', () => {
        const { db, version } = conn.current();
        if (version < AUDIT_VERSION) throw new Error('the store has no audit chain');
        const reads = readsOf(db, version);
        if ('piece' in task) {
          const walked = reads.walkPiece(job.gate, task.piece, job.expectHead);
          post({ piece: index, walked }, bytes(walked.digests));
        } else reads.rowShare(job.gate, job.through, task.share, (batch) => post({ batch }, bytes(batch.seqs, batch.digests)));
      }),
    );
  } finally {
    conn.close();
  }
  post({ done: true });
} catch (error) {
  const e = storeError('read', job.location, error);
  post({ failed: { message: e.message, kind: e.kind } });
}
