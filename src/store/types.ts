// The one store interface. SQLite and PostgreSQL implement it; both must pass the contract suites.
// Every method is async so that a networked store fits the same contract. A database fault
// rejects with a StoreError (errors.ts), never with the driver's own error.
import type { Attestation, Decision, ItemResult, NewAttestation, RunRecord, RunSelection, StageReport, Verdict } from '../model.js';
import type { Clock } from '../util/clock.js';
import type { AuditLog } from './audit.js';
import type { WatchEventKind } from '../watch/types.js';

export type { AuditEntry, AuditLog, ChainHead } from './audit.js';

/** What is known when a run starts. `pid` and `host` are kept for the record only: a killed run is found by its lapsed lease, not by them. */
export interface NewRun {
  gate: string;
  env: string;
  command: string;
  /** What is being decided (`--release`, the git commit, or the config hash). */
  release: string;
  /** What the run covers; `{}` for the whole checklist. */
  selection: RunSelection;
  configHash: string;
  /** ISO 8601; also the run's first heartbeat. */
  startedAt: string;
  pid?: number;
  host?: string;
}

/** How a store is opened. */
export interface OpenStoreOptions {
  /**
   * Reads without writing anything: no migration, no journal change, no run ended. Runs whose
   * lease lapsed are reported `aborted` without being written so. Writes reject with StoreError.
   */
  readonly?: boolean;
  /** How long a running run's last heartbeat holds before the run counts as killed (default 60 s). */
  leaseMs?: number;
  /** How long in all an operation waits for another process's lock before it rejects (default 20 s). */
  lockTimeoutMs?: number;
  /** The time leases are judged by, and the pauses between lock retries are slept on (default: the system clock). */
  clock?: Clock;
  /**
   * SQLite: the page cache of the read-write connection, in KiB (default better-sqlite3's 16 MB).
   * The cache fills as the file grows, so a long-lived writer (a watch) holds up to this much more
   * than it started with. PostgreSQL: ignored.
   */
  pageCacheKiB?: number;
  /**
   * PostgreSQL: the most connections this process holds at once (default 4: a gate writes from one
   * process, a little in parallel). Each is a server process started for it, so a command that
   * reads once and exits takes 1. SQLite: ignored.
   */
  maxConnections?: number;
}

/** A run without its results, for history listings; `verdict` and `readiness` only for a completed run with a decision. */
export interface RunSummary extends Omit<RunRecord, 'decision' | 'results'> {
  verdict?: Verdict;
  readiness?: number;
}

/** How a run ends: a decision is kept only for a completed run, never for an aborted one. */
export interface RunEnd {
  status: 'completed' | 'aborted';
  finishedAt: string;
  decision?: Decision;
  /** `validate` runs: how each stage went. */
  stages?: StageReport[];
}

/** Which runs to list: all gates, releases and environments unless named. */
export interface RunQuery {
  gate?: string;
  release?: string;
  env?: string;
  limit?: number;
}

/** A result as the latest of its item for one release and environment, with the run it came from. */
export interface LatestResult extends ItemResult {
  runId: string;
}

/** Runs with their results and decisions. */
export interface RunStore {
  /** Records a run as `running`, its heartbeat at `startedAt`; returns its id, which sorts by creation time. */
  beginRun(run: NewRun): Promise<string>;
  /**
   * Renews a running run's lease: `at` (ISO 8601) becomes its last heartbeat. A run whose last
   * heartbeat is older than the lease is ended `aborted` by the next read-write opener. Rejects
   * with a StoreError of kind `run-ended` once the run is no longer running.
   */
  heartbeat(runId: string, at: string): Promise<void>;
  /** Saves one item's result as soon as it is known (a killed run keeps what it had); saving an item again replaces it in place. Rejects for an unknown or ended run. */
  saveResult(runId: string, result: ItemResult): Promise<void>;
  /** Ends a running run. Completing an ended run rejects; aborting an ended run changes nothing (Ctrl-C may race the end). */
  endRun(runId: string, end: RunEnd): Promise<void>;
  /** The run with its results in the order they were first saved; a running run whose lease lapsed reads as `aborted`, finished at its last heartbeat. */
  getRun(id: string): Promise<RunRecord | undefined>;
  /** Newest first; narrowed by gate, release and environment when given; all runs unless `limit` is given. */
  listRuns(q: RunQuery): Promise<RunSummary[]>;
  /**
   * The newest result of each item among the completed runs of one gate, release and environment
   * (a partial run updates only the items it ran), in no particular order.
   */
  latestResults(q: { gate: string; release: string; env: string }): Promise<LatestResult[]>;
}

/** The append-only sign-offs, waivers and revocations of each gate. */
export interface AttestationLog {
  /** Appends a sign-off, a waiver or a revocation and returns it with its id; nothing is ever updated or deleted. */
  addAttestation(a: NewAttestation): Promise<Attestation>;
  /** The gate's attestations, oldest (first added) first. */
  listAttestations(gate: string): Promise<Attestation[]>;
}

/** An event to append: one step of a watch, a baseline, a rollback, a report by a person. */
export interface NewEvent {
  gate: string;
  env: string;
  release: string;
  /** The watch it belongs to; absent for a baseline or a report made outside any watch. */
  watchId?: string;
  kind: WatchEventKind;
  /** ISO 8601. */
  at: string;
  /**
   * At most one event per gate may hold a key: appending a second event with the same key appends
   * nothing and resolves `undefined` (a rollback is claimed exactly once, even by two watchers racing).
   */
  key?: string;
  /** What happened, with the observed values, thresholds and baseline behind it (JSON). */
  data: Record<string, unknown>;
}

/** An event as stored. */
export interface WatchEvent extends NewEvent {
  id: string;
  /** 1, 2, 3... within the gate, in append order. */
  seq: number;
}

/** Which events to list, oldest first: all of the gate unless narrowed. */
export interface EventQuery {
  gate: string;
  watchId?: string;
  env?: string;
  release?: string;
  kinds?: readonly WatchEventKind[];
  /** Only events with seq greater than this. */
  afterSeq?: number;
  /** The newest `limit` matching events (still returned oldest first). */
  limit?: number;
}

/** The watch's record: an append-only event log (audited like attestations) and leases (not audited). */
export interface EventLog {
  /** Appends an event and returns it, or `undefined` when `key` is already held by another event of the gate. */
  addEvent(e: NewEvent): Promise<WatchEvent | undefined>;
  listEvents(q: EventQuery): Promise<WatchEvent[]>;
  /** The event holding `key` in the gate, if any. */
  eventByKey(gate: string, key: string): Promise<WatchEvent | undefined>;
  /**
   * Takes or renews the lease `name` for `holder` at `at` (ISO 8601): succeeds when nobody holds it,
   * `holder` holds it, or its last renewal is older than `leaseMs`. Atomic across processes and hosts.
   */
  acquireLease(name: string, holder: string, at: string, leaseMs: number): Promise<boolean>;
  /** Gives the lease up if `holder` holds it. */
  releaseLease(name: string, holder: string): Promise<void>;
  /** Who holds the lease and when it was last renewed (as toISOString writes it), if anyone holds it. */
  leaseOf(name: string): Promise<{ holder: string; at: string } | undefined>;
}

/**
 * A store is composed of what it keeps: runs and results, the attestation log, the watch's event
 * log and leases, and the audit chain that covers runs, results, attestations and events (every
 * write to them appends to it in the same transaction). Each part has a contract suite
 * (contract.ts, audit-contract.ts, event-contract.ts) run against SQLite and PostgreSQL.
 */
export interface Store extends RunStore, AttestationLog, AuditLog, EventLog {
  /**
   * A token that changes whenever anything is committed to the store, by this store, another
   * connection or another process (a row changed by hand included); read in one cheap round trip.
   * Equal tokens read before two reads mean the store held the same data for both, so a result
   * computed from reads made after the token was read may be kept until the token changes. It may
   * change when nothing this store holds did (it is conservative), and means nothing across stores.
   */
  changeToken(): Promise<string>;
  close(): Promise<void>;
}
