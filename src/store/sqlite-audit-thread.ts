// Verify's work on a large SQLite store, shared between threads: the chain walked in pieces and the
// gate's rows hashed in shares, each thread over its own connection (sqlite-audit-worker.ts is such
// a thread; this one takes its part too). Every thread takes the next task from one counter, so
// whichever has time left does more: a machine's other work slows threads unevenly.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { RowDigests, VerifyVisit, WalkedPiece, WalkPiece } from './audit.js';
import { StoreError } from './errors.js';
import type { StoreFaultKind } from './errors.js';
import type { RowShare } from './sqlite-chain.js';

/** One task: a piece of the chain to walk, or a share of the rows to hash. */
export type VerifyTask = { piece: WalkPiece } | { share: RowShare };

/** What the threads are asked: `tasks` of verify over the store at `file`, for `gate`. */
export interface VerifyJob {
  file: string;
  /** The store's location as it may be shown. */
  location: string;
  lockTimeoutMs: number;
  gate: string;
  /** The rows are hashed against entries 1..through. */
  through: number;
  expectHead?: string;
  tasks: VerifyTask[];
  /** An Int32Array's memory: the next task to take, counted up by every thread that takes one. */
  taken: SharedArrayBuffer;
}

/** What a thread posts: each piece walked (by its task's index), each batch of rows, then that it is done or what failed. */
export type VerifyMessage = { piece: number; walked: WalkedPiece } | { batch: RowDigests } | { done: true } | { failed: { message: string; kind: StoreFaultKind } };

/** Does one task on a connection of this thread (the store's, or a worker's own). */
export type DoTask = (task: VerifyTask, index: number) => Promise<void>;

/** The thread's module beside this one: TypeScript under tsx, JavaScript once built (dist/ and the bundle, where it is an entry point of its own). */
function startWorker(job: VerifyJob): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './sqlite-audit-worker.ts' : './sqlite-audit-worker.js', import.meta.url);
  if (!fromSource) return new Worker(entry, { workerData: job });
  // Node 20 gives a worker none of its parent's loader hooks: it registers tsx's before it imports
  // its module. (Throws where tsx cannot be found: this thread then does every task.)
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`, { eval: true, workerData: job });
}

/** Takes tasks from the job's counter and does them, until none is left or `signal` ends it. */
export async function takeTasks(job: VerifyJob, doTask: DoTask, signal?: AbortSignal): Promise<void> {
  const taken = new Int32Array(job.taken);
  for (;;) {
    signal?.throwIfAborted();
    const index = Atomics.add(taken, 0, 1);
    if (index >= job.tasks.length) return;
    await doTask(job.tasks[index], index);
  }
}

/**
 * Does `job` on `threads` worker threads and on this one (`here` does a task on it; without it, this
 * thread does none), each taking tasks in turn, and gives each piece walked and batch of rows to
 * `visit`. This thread takes its first task in the event loop's next turn. A failed read rejects as
 * the StoreError it was, and a thread that died as one too: what no thread did is never taken as done.
 */
export async function verifyOnThreads(job: VerifyJob, threads: number, here: DoTask | undefined, visit: VerifyVisit): Promise<void> {
  const stop = new AbortController();
  const workers: Worker[] = [];
  try {
    for (let i = 0; i < threads; i++) workers.push(startWorker(job));
  } catch {
    // No thread could be started (no tsx under the sources): this one does the rest.
  }
  try {
    const mine = here === undefined ? [] : [nextTurn().then(() => takeTasks(job, here, stop.signal))];
    await Promise.all([...workers.map((w) => finished(w, job.location, visit, stop.signal)), ...mine]);
  } finally {
    stop.abort();
    for (const w of workers) void w.terminate();
  }
}

/** A worker's messages until it is done; a rejection when it failed, died or was stopped. */
function finished(worker: Worker, location: string, visit: VerifyVisit, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (end: () => void): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', abort);
      end();
    };
    const abort = (): void => settle(() => reject(signal.reason));
    signal.addEventListener('abort', abort, { once: true });
    worker.on('message', (m: VerifyMessage) => {
      if (settled) return;
      if ('piece' in m) visit.piece(m.piece, m.walked);
      else if ('batch' in m) visit.rows(m.batch);
      else if ('done' in m) settle(resolve);
      else settle(() => reject(new StoreError(m.failed.message, { kind: m.failed.kind, location })));
    });
    // A thread that died (its module missing, out of memory) may have taken tasks it never did.
    const died = (why: string): void => settle(() => reject(new StoreError(`could not verify ${location}: a thread verifying it ${why}`, { location })));
    worker.on('error', (error) => died(`failed: ${error.message}`));
    worker.on('exit', (code) => died(`exited (${code}) before it was done`));
  });
}
