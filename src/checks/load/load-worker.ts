// The load generator's thread (thread.ts starts it): the warm-up, then the measured run, each answer
// timed into a histogram allocated once, up front; then every latency posted in HdrHistogram's
// compressed form. The stop message ends the load at once, as the check's signal would.
import { parentPort, workerData } from 'node:worker_threads';
import { build, encodeIntoCompressedBase64 } from 'hdr-histogram-js';
import { systemClock } from '../../util/clock.js';
import { drive } from './drive.js';
import { STOP } from './thread.js';
import type { LoadJob, LoadMessage } from './thread.js';

const job: LoadJob = workerData;
const stop = new AbortController();
parentPort?.on('message', (m: unknown) => {
  if (m === STOP) stop.abort(new Error('the load was stopped'));
});
const post = (m: LoadMessage): void => parentPort?.postMessage(m);
// The thread keeps the load's time on the system clock: a load test sends real requests for real.
const ctx = { signal: stop.signal, clock: systemClock };

// Values in µs, up to an hour (a request waits at most requestTimeout); it grows past that if it must (autoResize).
const histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
try {
  if (job.warmupMs > 0) await drive({ ...job.spec, durationMs: job.warmupMs, amount: undefined }, ctx, () => undefined);
  const expectedUs = job.expectedUs;
  const record = expectedUs > 0 ? (micros: number) => histogram.recordValueWithExpectedInterval(micros, expectedUs) : (micros: number) => histogram.recordValue(micros);
  const tally = await drive(job.spec, ctx, record);
  post({ done: { tally, ...(histogram.totalCount > 0 ? { histogramUs: encodeIntoCompressedBase64(histogram) } : {}) } });
} catch (error) {
  post(stop.signal.aborted ? { aborted: true } : { failed: error instanceof Error ? error.message : String(error) });
} finally {
  histogram.destroy();
}
