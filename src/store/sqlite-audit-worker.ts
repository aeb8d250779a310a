// A thread sqlite-audit-thread.ts starts: auditRowDigests for shares of the rows, taken one after
// another until none is left, over its own read-only connection to the store, opened as any reader
// opens it; its batches posted (handed over, not copied) as they fill.
import { parentPort, workerData } from 'node:worker_threads';
import { systemClock } from '../util/clock.js';
import type { RowDigests } from './audit.js';
import { AUDIT_VERSION } from './schema.js';
import type { RowsMessage, RowsTask } from './sqlite-audit-thread.js';
import { sqliteAuditReads } from './sqlite-chain.js';
import { storeError, withRetry } from './sqlite-faults.js';
import { openReader } from './sqlite-file.js';

const task: RowsTask = workerData;
const post = (m: RowsMessage, transfer: ArrayBuffer[] = []): void => parentPort?.postMessage(m, transfer);
const send = (batch: RowDigests): void => post({ batch }, [batch.seqs.buffer, batch.digests.buffer].filter((b) => b instanceof ArrayBuffer));

try {
  const ctx = { location: task.location, clock: systemClock, lockTimeoutMs: task.lockTimeoutMs };
  const conn = await openReader(ctx, task.file);
  try {
    const taken = new Int32Array(task.taken);
    for (let k = Atomics.add(taken, 0, 1); k < task.shares.length; k = Atomics.add(taken, 0, 1)) {
      // A retry reads the same share again (a row given twice is harmless; one never given is not).
      await withRetry(ctx, 'read', () => {
        const { db, version } = conn.current();
        if (version >= AUDIT_VERSION) sqliteAuditReads(db, version).rowShare(task.gate, task.through, task.shares[k], send);
      });
    }
  } finally {
    conn.close();
  }
  post({ done: true });
} catch (error) {
  const e = storeError('read', task.location, error);
  post({ failed: { message: e.message, kind: e.kind } });
}
