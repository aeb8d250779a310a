// The load runs on a thread of its own (load-worker.ts): autocannon and the timing of every answer
// get an event loop and a heap that nothing else uses. On the engine's thread, whatever else runs
// there (its timers, the live view, a store's writes) would hold answers unread, and that wait would
// be timed as the target's latency; every scavenge of the process's young objects would stop the load
// with it. (Its young generation is V8's default: with the load's few survivors V8 never grows it to
// the default's limit, and a larger one set from the start made fewer scavenges, each one longer, for
// the same time in all.)
import { Worker } from 'node:worker_threads';
import type { Clock } from '../../util/clock.js';
import type { DriveSpec, Tally } from './plan.js';

/** What the thread is asked: a warm-up (not measured) if any, then the measured run. */
export interface LoadJob {
  spec: DriveSpec;
  warmupMs: number;
  /** With a rate, the interval (µs) each connection should keep: longer waits are corrected for coordinated omission. 0 without. */
  expectedUs: number;
}

/** The measured run: what it counted, and every latency (µs) in HdrHistogram's compressed base64 form, none when nothing was answered. */
export interface LoadOutcome {
  tally: Tally;
  histogramUs?: string;
}

/** What the thread posts, once. */
export type LoadMessage = { done: LoadOutcome } | { aborted: true } | { failed: string };

/** What this thread posts to stop the load at once (the check's signal was aborted). */
export const STOP = 'stop';

/** How long a stopped thread has to close its sockets and answer before it is ended (its sockets close with it). */
const STOP_GRACE_MS = 2000;

/** The thread's module beside this one: TypeScript under tsx, JavaScript once built (dist/ and the bundle, where it is an entry point of its own). */
function startWorker(job: LoadJob): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './load-worker.ts' : './load-worker.js', import.meta.url);
  const options = { workerData: job };
  if (!fromSource) return new Worker(entry, options);
  // Node 20 gives a worker none of its parent's loader hooks: it registers tsx's before it imports its module.
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`, { ...options, eval: true });
}

/**
 * Runs `job` on a thread of its own. Resolves with the measured run once every socket is closed;
 * aborting `ctx.signal` stops the thread's load at once and rejects with the signal's reason when
 * its sockets are closed (or the thread, not answering within STOP_GRACE_MS, is ended).
 */
export async function runOnThread(job: LoadJob, ctx: { signal: AbortSignal; clock: Clock }): Promise<LoadOutcome> {
  ctx.signal.throwIfAborted();
  const worker = startWorker(job);
  const grace = new AbortController();
  try {
    return await new Promise<LoadOutcome>((resolve, reject) => {
      const onAbort = (): void => {
        worker.postMessage(STOP);
        ctx.clock.sleep(STOP_GRACE_MS, grace.signal).then(
          () => reject(ctx.signal.reason),
          () => undefined,
        );
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      grace.signal.addEventListener('abort', () => ctx.signal.removeEventListener('abort', onAbort), { once: true });
      worker.on('message', (m: LoadMessage) => {
        if ('done' in m) resolve(m.done);
        else if ('aborted' in m) reject(ctx.signal.reason);
        else reject(new Error(m.failed));
      });
      worker.on('error', (err) => reject(new Error(`the load generator's thread failed: ${err.message}`)));
      worker.on('exit', (code) => reject(new Error(`the load generator's thread exited (${code}) before it was done`)));
    });
  } finally {
    grace.abort();
    await worker.terminate();
  }
}
