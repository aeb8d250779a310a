// Verify's row hashing for a large SQLite store, on other threads: there the gate's rows are read
// and hashed over connections of their own while this thread walks the chain (sqlite-audit-worker.ts
// is such a thread). The rows are cut in shares that each thread, this one too once its walk is
// done, takes in turn from one counter: whichever has time left hashes more.
import { Worker } from 'node:worker_threads';
import type { RowDigests } from './audit.js';
import { StoreError } from './errors.js';
import type { StoreFaultKind } from './errors.js';
import type { RowShare } from './sqlite-chain.js';

/** What a thread is asked: auditRowDigests of `gate` against entries 1..`through` of the store at `file`, share by share. */
export interface RowsTask {
  file: string;
  /** The store's location as it may be shown. */
  location: string;
  lockTimeoutMs: number;
  gate: string;
  through: number;
  shares: RowShare[];
  /** An Int32Array's memory: the next share to take, counted up by every thread that takes one. */
  taken: SharedArrayBuffer;
}

/** What a thread posts: batches, then that it is done or what failed. */
export type RowsMessage = { batch: RowDigests } | { done: true } | { failed: { message: string; kind: StoreFaultKind } };

/** The thread's module beside this one: TypeScript under tsx, JavaScript once built (dist/ and the bundle, where it is an entry point of its own). */
function startWorker(task: RowsTask): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './sqlite-audit-worker.ts' : './sqlite-audit-worker.js', import.meta.url);
  if (!fromSource) return new Worker(entry, { workerData: task });
  // Node 20 gives a worker none of its parent's loader hooks: it registers tsx's before it imports
  // its module. (Throws where tsx cannot be found: the rows are then hashed on this thread.)
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`, { eval: true, workerData: task });
}

/**
 * Hashes shares of the rows `task` names on `threads` worker threads, giving their batches to
 * `visit` as they come, until none is left. 'unavailable' when no thread could be started (the
 * caller then takes every share itself); a failed read rejects as the StoreError it was, a thread
 * that died as one too, and `signal` ends the threads (rejecting with its reason).
 */
export function rowDigestsInThreads(task: RowsTask, threads: number, visit: (batch: RowDigests) => void, signal?: AbortSignal): Promise<'done' | 'unavailable'> {
  signal?.throwIfAborted();
  const workers: Worker[] = [];
  try {
    for (let i = 0; i < threads; i++) workers.push(startWorker(task));
  } catch {
    for (const w of workers) void w.terminate();
    return Promise.resolve('unavailable');
  }
  return new Promise((resolve, reject) => {
    let running = workers.length;
    let settled = false;
    const settle = (end: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', abort);
      for (const w of workers) void w.terminate();
      end();
    };
    const abort = (): void => settle(() => reject(signal?.reason));
    signal?.addEventListener('abort', abort, { once: true });
    for (const worker of workers) {
      let done = false;
      worker.on('message', (m: RowsMessage) => {
        if (settled) return;
        if ('batch' in m) visit(m.batch);
        else if ('done' in m) {
          done = true;
          if (--running === 0) settle(() => resolve('done'));
        } else settle(() => reject(new StoreError(m.failed.message, { kind: m.failed.kind, location: task.location })));
      });
      // A thread that died (its module missing, out of memory) leaves its share unread: never a pass.
      const died = (why: string): void => settle(() => reject(new StoreError(`could not verify ${task.location}: a thread hashing its rows ${why}`, { location: task.location })));
      worker.on('error', (error) => died(`failed: ${error.message}`));
      worker.on('exit', (code) => {
        if (!done) died(`exited (${code}) before it was done`);
      });
    }
  });
}
