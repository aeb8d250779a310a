// Synthetic metrics: the error rate and latency percentiles of the watch's own samples over a
// sliding window. Samples are counted into per-interval buckets (a count, an error count and an HDR
// histogram of latencies in microseconds); a bucket that has left the window is dropped whole, so the
// memory of a 24-hour watch is that of `buckets` histograms, however many samples it takes.
import { build } from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import type { MetricValues, Sample } from './types.js';

/** Latencies above this (an hour) are counted as this: a sample that slow is a failure whatever its value. */
export const MAX_LATENCY_MS = 3_600_000;

/** Three significant digits: a percentile is within 0.1% of the true value (1 µs at the bottom of the range). */
const SIGNIFICANT_DIGITS = 3;

function histogram(): Histogram {
  // Int32 counts: an interval would need 2^31 samples of one value to overflow. `packed` saves memory
  // but merges 70 times slower, and a merge happens at every evaluation.
  return build({ bitBucketSize: 32, autoResize: false, lowestDiscernibleValue: 1, highestTrackableValue: MAX_LATENCY_MS * 1000, numberOfSignificantValueDigits: SIGNIFICANT_DIGITS });
}

interface Bucket {
  /** Index of the interval: floor(at / bucketMs). */
  index: number;
  count: number;
  errors: number;
  /** Latencies of the interval in microseconds; created with the first latency. */
  latency?: Histogram;
}

/** Options of a SampleWindow. */
export interface SampleWindowOptions {
  /** The span the values are computed over, in milliseconds (the watch's `metrics.window`, or a whole stage window for its criteria). */
  windowMs: number;
  /** Intervals the window is cut into (default 30): the window is exact to one interval, and memory is this many histograms at most. */
  buckets?: number;
}

/**
 * A stage window's samples, read by its criteria at its end. Nothing ever leaves it, so it needs no
 * intervals of its own: one (two where the window straddles an interval's edge) gives the same
 * values as thirty, and a 24-hour window holds two or three histograms (some 94 KB each) instead of
 * gaining one every 48 minutes.
 */
export function wholeWindow(windowMs: number): SampleWindow {
  return new SampleWindow({ windowMs, buckets: 1 });
}

/**
 * The samples of the last `windowMs`, bucketed. A bucket counts while any part of it is inside the
 * window, so the values cover between `windowMs` and `windowMs` plus one interval.
 */
export class SampleWindow {
  readonly windowMs: number;
  readonly bucketMs: number;
  /** Oldest first; at most `buckets + 2` (the window cut into intervals, the ones it is part-way into at each end). */
  private readonly kept: Bucket[] = [];
  /** A dropped bucket's histogram, reset and kept for the next interval (no allocation per interval). */
  private spare?: Histogram;
  /** Built once and reset before each merge. */
  private readonly merged = histogram();
  /** The latest time seen (a sample's, or a `values` call's): the window never moves back. */
  private horizon = Number.NEGATIVE_INFINITY;
  /** Samples refused because they were older than the window when they arrived. */
  late = 0;

  constructor(opts: SampleWindowOptions) {
    const buckets = opts.buckets ?? 30;
    if (!(opts.windowMs > 0) || !Number.isInteger(buckets) || buckets < 1) throw new Error(`a sample window needs a window > 0 ms and a whole number of buckets >= 1 (got ${opts.windowMs} ms, ${buckets})`);
    this.windowMs = opts.windowMs;
    this.bucketMs = Math.max(1, Math.ceil(opts.windowMs / buckets));
  }

  /** How many intervals are held now (at most the bucket count plus two). */
  get bucketCount(): number {
    return this.kept.length;
  }

  /** The first interval index still (partly) inside a window ending at `now`. */
  private firstIndex(now: number): number {
    return Math.floor((now - this.windowMs) / this.bucketMs);
  }

  /** Drops the intervals wholly before a window ending at `now`, keeping one histogram for reuse. */
  private dropBefore(now: number): void {
    const first = this.firstIndex(now);
    while (this.kept.length > 0 && this.kept[0].index < first) {
      const old = this.kept.shift();
      if (old?.latency) {
        old.latency.reset();
        this.spare ??= old.latency;
      }
    }
  }

  /** The interval `index`'s bucket, made when needed; undefined when it has already left the window. */
  private bucketFor(index: number): Bucket | undefined {
    if (index < this.firstIndex(this.horizon)) return undefined;
    const newest = this.kept.at(-1);
    if (newest === undefined || index > newest.index) {
      const bucket = { index, count: 0, errors: 0 };
      this.kept.push(bucket);
      return bucket;
    }
    // Out of order (a slow probe finishing after a quicker one): its own interval.
    const found = this.kept.find((b) => b.index === index);
    if (found) return found;
    const bucket = { index, count: 0, errors: 0 };
    this.kept.splice(this.kept.findIndex((b) => b.index > index), 0, bucket);
    return bucket;
  }

  /** Counts a sample; one older than the window (measured from the latest time seen) is refused and counted in `late`. */
  add(sample: Sample): void {
    if (sample.at > this.horizon) {
      this.horizon = sample.at;
      this.dropBefore(this.horizon);
    }
    const bucket = this.bucketFor(Math.floor(sample.at / this.bucketMs));
    if (!bucket) {
      this.late += 1;
      return;
    }
    bucket.count += 1;
    if (!sample.ok) bucket.errors += 1;
    if (Number.isFinite(sample.latencyMs)) {
      if (!bucket.latency) {
        bucket.latency = this.spare ?? histogram();
        this.spare = undefined;
      }
      bucket.latency.recordValue(Math.min(MAX_LATENCY_MS * 1000, Math.max(0, Math.round(sample.latencyMs * 1000))));
    }
  }

  /**
   * The error rate and p50/p95/p99 (milliseconds) of the samples in the window ending at `now` (which
   * moves forward only: intervals it has left are gone). With no sample, every metric is absent (never
   * 0) and `samples` is 0.
   */
  values(now: number): MetricValues {
    this.horizon = Math.max(this.horizon, now);
    this.dropBefore(this.horizon);
    const first = this.firstIndex(now);
    const last = Math.floor(now / this.bucketMs);
    let count = 0;
    let errors = 0;
    let latencies = 0;
    this.merged.reset();
    for (const b of this.kept) {
      if (b.index < first || b.index > last) continue;
      count += b.count;
      errors += b.errors;
      if (b.latency) {
        this.merged.add(b.latency);
        latencies += b.latency.totalCount;
      }
    }
    if (count === 0) return { samples: 0 };
    const values: MetricValues = { error_rate: errors / count, samples: count };
    if (latencies > 0) {
      values.p50_ms = this.merged.getValueAtPercentile(50) / 1000;
      values.p95_ms = this.merged.getValueAtPercentile(95) / 1000;
      values.p99_ms = this.merged.getValueAtPercentile(99) / 1000;
    }
    return values;
  }
}
