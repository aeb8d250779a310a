// What a load run is asked and what it counts: shared by the kind, on the engine's thread, and the
// generator on its own thread (drive.ts), without the generator's code (autocannon stays on its thread).

/** The methods autocannon writes (its lib/httpMethods.js, less CONNECT, which opens a tunnel rather than asks a page). */
export const LOAD_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'PATCH'] as const;

/** One request of the cycle each connection goes through. */
export interface LoadRequest {
  method: (typeof LOAD_METHODS)[number];
  /** Path and query on the origin. */
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** What one run sends, and when it stops. */
export interface DriveSpec {
  /** `scheme://host:port`, already checked to be the target's. */
  origin: string;
  requests: readonly LoadRequest[];
  connections: number;
  durationMs: number;
  /** Stop after this many requests (autocannon's `amount`), or at `durationMs`, whichever comes first. */
  amount?: number;
  /** At most this many requests per second, all connections together (autocannon's `overallRate`). */
  rate?: number;
  /** A request unanswered for this long is an error (autocannon drops its connection and opens another). */
  requestTimeoutMs: number;
  /** Share of 429 answers above which the run stops early (after LIMITED_SAMPLE answers): it is measuring the limiter. */
  maxLimited: number;
}

export type StopReason = 'duration' | 'requests' | 'refused' | 'rate-limited' | 'aborted';

/** What a run counted. Latencies go to the caller's `record`, one call per answer. */
export interface Tally {
  answers: number;
  statuses: Record<string, number>;
  /** 429 answers. */
  limited: number;
  /** Connection errors and timeouts: requests that got no answer. */
  errors: number;
  timeouts: number;
  /** The first connection error's message (`connect ECONNREFUSED ...`), for the reason of an error. */
  firstError?: string;
  /** From the first request to the stop. */
  elapsedMs: number;
  stoppedBy: StopReason;
  /** Connections the run used (autocannon opens no more than `rate` of them). */
  connections: number;
}

/** Answers looked at before a run stops for too many 429s: a few early ones are not yet a share. */
export const LIMITED_SAMPLE = 100;

