// The watch after a deploy, as plain data: what one evaluation observed, what the triggers made of
// it, and the events a watch leaves in the store. The engine (watch.ts) produces them, the trigger
// evaluator (triggers.ts) and the replay judge them, the store keeps them, the reports and the
// dashboard show them. No classes, no methods.
import type { Status } from '../model.js';

/** The metrics a trigger or a window criterion can name. Latencies in milliseconds; rates 0..1. */
export const METRICS = ['error_rate', 'p50_ms', 'p95_ms', 'p99_ms'] as const;
export type MetricName = (typeof METRICS)[number];

/** One request or check the watch made (a synthetic sample): when, how long, and whether it answered right. */
export interface Sample {
  /** Milliseconds since the epoch (the watch's clock). */
  at: number;
  latencyMs: number;
  ok: boolean;
}

/** Metric values over a span; a metric that could not be measured is absent, never 0. */
export interface MetricValues {
  error_rate?: number;
  p50_ms?: number;
  p95_ms?: number;
  p99_ms?: number;
  /**
   * How many samples the values stand on (synthetic: requests; Prometheus: the source's own count when
   * known). Infinity when the source gives no count at all (a replayed recording without one): the
   * minSamples guard cannot apply then.
   */
  samples: number;
}

/** A stored baseline: the values a later deploy of the same environment is compared with. */
export interface BaselineValues extends MetricValues {
  release: string;
  env: string;
  at: string;
  /** Where the values came from: `probes`, `prometheus`, or both. */
  source: string;
}

/** Everything one evaluation saw. */
export interface Observation {
  /** Milliseconds since the epoch. */
  at: number;
  /** Sliding-window metrics (synthetic, or Prometheus when configured; Prometheus wins per metric). */
  metrics: MetricValues;
  /** The status of each item checked in this evaluation (items not checked this time are absent). */
  items: Record<string, Status>;
  /** Issues reported by people (`gonogo report-issue`) since the watch began and not yet decided. */
  reports: number;
  /** The baseline in force, if any. */
  baseline?: MetricValues;
}

/** How a trigger treats an evaluation with no data for what it watches. */
export type NoDataPolicy = 'breach' | 'unknown' | 'ok';

export type TriggerSeverity = 'immediate' | 'conditional';

/** A trigger as configured (config/watch-schema.ts), with defaults applied. Exactly one of `items`, `metric`, `reports` says what it watches. */
export interface TriggerConfig {
  id: string;
  /** immediate: rolls back at once; conditional: notifies and waits for a person. */
  severity: TriggerSeverity;
  /** What it is, in words, for notifications and reports. */
  title?: string;
  /** Fires when any of these items is not passing (fail or error). */
  items?: string[];
  /** Fires when this metric is above `above`, or above `aboveBaseline` x the baseline's value. */
  metric?: MetricName;
  above?: number;
  aboveBaseline?: number;
  /** Fires when at least one issue reported by a person is open. */
  reports?: boolean;
  /** Consecutive breaching evaluations before it fires (default `watch.consecutive`, 2). */
  consecutive: number;
  /** Samples a rate or percentile needs to count (default `watch.minSamples`, 10); fewer is no-data. */
  minSamples: number;
  /** What an evaluation with no data counts as (default: breach for items, unknown for metrics). */
  noData: NoDataPolicy;
}

/** What one trigger made of one evaluation. */
export interface TriggerVerdict {
  id: string;
  severity: TriggerSeverity;
  /** ok; breach (over the threshold); no-data (nothing to judge: counted as the policy says); unknown (no-data under the `unknown` policy: the streak neither grows nor resets). */
  state: 'ok' | 'breach' | 'no-data' | 'unknown';
  /** The observed value (a metric's value; for items, the number not passing). */
  value?: number;
  /** The threshold it was compared with, after the baseline was applied. */
  threshold?: number;
  /** Consecutive breaching evaluations so far (including this one). */
  streak: number;
  /** True on the evaluation where the streak reached `consecutive` (fires once per streak). */
  fired: boolean;
  /** One line a person reads: what was seen against what. */
  message: string;
}

/** A trigger's running streak, carried from one evaluation to the next (and rebuilt from the store on resume). */
export interface TriggerState {
  streak: number;
  /** Whether the current streak has fired already (a streak fires once). */
  fired: boolean;
}

/** The kinds of event the event log holds (each one also an audit-chain entry): the watch's, baselines', and accounts'. */
export const WATCH_EVENT_KINDS = [
  'watch-begin',
  'window-begin',
  'evaluation',
  'trigger',
  'window-end',
  'rollback-claim',
  'rollback-step',
  'rollback-end',
  'decide-rollback',
  'issue-report',
  'notification',
  'watch-end',
  'baseline',
  'baseline-invalidate',
  // The dashboard's accounts (src/auth/): a person's role and password hash, a CI job's token; the
  // newest event of a name wins, and each is audited like every other event.
  'account',
  'token',
] as const;
export type WatchEventKind = (typeof WATCH_EVENT_KINDS)[number];

/** How a watch ended. */
export type WatchOutcome = 'passed' | 'failed' | 'rolled-back' | 'aborted';
