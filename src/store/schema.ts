// The data model every store shares: migrations in portable SQL (TEXT, INTEGER, DOUBLE PRECISION;
// JSON kept as TEXT, no engine-specific types or functions) and the mapping between rows and the
// model's plain objects.
import type { Attempt, Attestation, Decision, ItemResult, RunRecord, RunSelection, RunStatus, StageReport, Status, Tier, Verdict } from '../model.js';
import { leaseLapsed } from './lease.js';
import type { RunSummary } from './types.js';

/**
 * Schema steps in order: a database at version N has had the first N applied. A released step is
 * never edited; a change is a new step appended here.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE runs (
     id TEXT PRIMARY KEY,
     gate TEXT NOT NULL,
     env TEXT NOT NULL,
     command TEXT NOT NULL,
     config_hash TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'aborted')),
     started_at TEXT NOT NULL,
     finished_at TEXT,
     pid INTEGER,
     host TEXT,
     verdict TEXT,
     readiness DOUBLE PRECISION,
     decision TEXT,
     CHECK (decision IS NULL OR status = 'completed')
   );
   CREATE INDEX runs_by_gate ON runs (gate, id);
   CREATE INDEX runs_by_status ON runs (status, host);
   CREATE TABLE results (
     run_id TEXT NOT NULL REFERENCES runs (id),
     item_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     tier TEXT NOT NULL,
     status TEXT NOT NULL,
     message TEXT NOT NULL,
     evidence TEXT,
     duration_ms DOUBLE PRECISION NOT NULL,
     attempts TEXT NOT NULL,
     PRIMARY KEY (run_id, item_id),
     UNIQUE (run_id, seq)
   );
   CREATE TABLE attestations (
     id TEXT PRIMARY KEY,
     gate TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('signoff', 'waiver')),
     at TEXT NOT NULL,
     body TEXT NOT NULL
   );
   CREATE INDEX attestations_by_gate ON attestations (gate, id);`,
  // Killed runs are found by a heartbeat lease, not by pid and host (those columns stay for old
  // rows). A run left running by an older gonogo starts its lease from when it started.
  `ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;
   UPDATE runs SET heartbeat_at = started_at WHERE status = 'running';`,
  // Runs, results and attestations are bound to a release; a run keeps what it selected and its
  // stages; revocations join the attestation log (the kind check is rebuilt with the table).
  // Rows from before have no release: they never count for one.
  `ALTER TABLE runs ADD COLUMN release_id TEXT;
   ALTER TABLE runs ADD COLUMN selection TEXT;
   ALTER TABLE runs ADD COLUMN stages TEXT;
   CREATE INDEX runs_by_release ON runs (gate, release_id, env, id);
   ALTER TABLE results ADD COLUMN definition TEXT;
   CREATE TABLE attestations_v3 (
     id TEXT PRIMARY KEY,
     gate TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('signoff', 'waiver', 'revocation')),
     release_id TEXT,
     at TEXT NOT NULL,
     body TEXT NOT NULL
   );
   INSERT INTO attestations_v3 (id, gate, kind, release_id, at, body) SELECT id, gate, kind, NULL, at, body FROM attestations;
   DROP TABLE attestations;
   ALTER TABLE attestations_v3 RENAME TO attestations;
   CREATE INDEX attestations_by_gate ON attestations (gate, id);`,
];

/** A row of `runs`. */
export interface RunRow {
  id: string;
  gate: string;
  env: string;
  command: string;
  config_hash: string;
  status: RunStatus;
  started_at: string;
  finished_at: string | null;
  verdict: Verdict | null;
  readiness: number | null;
  decision: string | null;
  /** NULL for runs that ended before schema version 2. */
  heartbeat_at: string | null;
  /** NULL before schema version 3. */
  release_id: string | null;
  selection: string | null;
  stages: string | null;
}

/**
 * The row as it stands at `now`: a running run whose lease lapsed was killed, so it reads as
 * aborted, finished at its last heartbeat (the last moment it was known alive). A read-only store
 * reports it so without writing; a read-write opener also records it.
 */
export function asOf(row: RunRow, now: number, leaseMs: number): RunRow {
  if (row.status !== 'running') return row;
  const beat = row.heartbeat_at ?? row.started_at;
  return leaseLapsed(beat, now, leaseMs) ? { ...row, status: 'aborted', finished_at: beat } : row;
}

/** A row of `results`, without its keys. */
export interface ResultRow {
  item_id: string;
  tier: Tier;
  status: Status;
  message: string;
  evidence: string | null;
  duration_ms: number;
  attempts: string;
  definition: string | null;
}

// The JSON columns only ever hold text this store serialized from typed values.
function parseJson<T>(text: string): T {
  return JSON.parse(text);
}

/** Evidence as stored: SQL NULL when absent, so that an absent value and a JSON `null` stay distinct. */
export function evidenceText(evidence: unknown): string | null {
  return evidence === undefined ? null : (JSON.stringify(evidence) ?? null);
}

/** The columns of a result besides its keys, in the order `ResultRow` lists them. */
export function resultColumns(r: ItemResult): [string, string, string, string | null, number, string, string | null] {
  return [r.tier, r.status, r.message, evidenceText(r.evidence), r.durationMs, JSON.stringify(r.attempts), r.definition ?? null];
}

/** A result row back to the model's ItemResult (absent evidence stays absent). */
export function toResult(row: ResultRow): ItemResult {
  return {
    id: row.item_id,
    tier: row.tier,
    status: row.status,
    message: row.message,
    ...(row.evidence !== null ? { evidence: parseJson<unknown>(row.evidence) } : {}),
    durationMs: row.duration_ms,
    attempts: parseJson<Attempt[]>(row.attempts),
    ...(row.definition !== null ? { definition: row.definition } : {}),
  };
}

/** What a run row says of the run itself, shared by its summary and its record. */
function toRun(row: RunRow): Omit<RunRecord, 'decision' | 'results'> {
  return {
    id: row.id,
    gate: row.gate,
    env: row.env,
    command: row.command,
    release: row.release_id ?? '',
    selection: row.selection !== null ? parseJson<RunSelection>(row.selection) : {},
    status: row.status,
    startedAt: row.started_at,
    ...(row.finished_at !== null ? { finishedAt: row.finished_at } : {}),
    configHash: row.config_hash,
    ...(row.stages !== null ? { stages: parseJson<StageReport[]>(row.stages) } : {}),
  };
}

/** A run row to its listing summary. */
export function toSummary(row: RunRow): RunSummary {
  return {
    ...toRun(row),
    ...(row.verdict !== null ? { verdict: row.verdict } : {}),
    ...(row.readiness !== null ? { readiness: row.readiness } : {}),
  };
}

/** A run row and its result rows, in order, to the model's RunRecord. */
export function toRecord(row: RunRow, results: ResultRow[]): RunRecord {
  return {
    ...toRun(row),
    ...(row.decision !== null ? { decision: parseJson<Decision>(row.decision) } : {}),
    results: results.map(toResult),
  };
}

/**
 * An attestation row back to the model: the row's id is the attestation's. Rows written before
 * releases and roles were recorded read with an empty release and role, so they never count.
 */
export function toAttestation(row: { id: string; body: string }): Attestation {
  const body = parseJson<Attestation>(row.body);
  return { ...body, id: row.id, release: body.release ?? '', role: body.role ?? '', by: body.by ?? '' };
}
