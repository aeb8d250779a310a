// The one store interface. SQLite implements it now, PostgreSQL later; both must pass contract.ts.
// Every method is async so that a networked store fits the same contract.
import type { Attestation, Decision, ItemResult, RunRecord, Verdict } from '../model.js';

/** What is known when a run starts; `pid` and `host` default to the calling process (they let a killed run be found later). */
export interface NewRun {
  gate: string;
  env: string;
  command: string;
  configHash: string;
  startedAt: string;
  pid?: number;
  host?: string;
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
}

/** Runs with their results and decisions, and the append-only sign-offs and waivers of each gate. */
export interface Store {
  /** Records a run as `running`; returns its id, which sorts by creation time. */
  beginRun(run: NewRun): Promise<string>;
  /** Saves one item's result as soon as it is known (a killed run keeps what it had); saving an item again replaces it in place. Rejects for an unknown or ended run. */
  saveResult(runId: string, result: ItemResult): Promise<void>;
  /** Ends a running run. Completing an ended run rejects; aborting an ended run changes nothing (Ctrl-C may race the end). */
  endRun(runId: string, end: RunEnd): Promise<void>;
  /** The run with its results in the order they were first saved. */
  getRun(id: string): Promise<RunRecord | undefined>;
  /** Newest first; all gates unless `gate` is given; all runs unless `limit` is given. */
  listRuns(q: { gate?: string; limit?: number }): Promise<RunSummary[]>;
  /** Appends a sign-off or a waiver; nothing is ever updated or deleted. */
  addAttestation(a: Attestation): Promise<void>;
  /** The gate's attestations, oldest (first added) first. */
  listAttestations(gate: string): Promise<Attestation[]>;
  close(): Promise<void>;
}
