// The SQLite store: one file, no set-up. WAL and a busy timeout let several gonogo processes
// (a CI job, a watcher, the dashboard) write the same file at once.
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Attestation, ItemResult } from '../model.js';
import { idGenerator } from './id.js';
import { MIGRATIONS, resultColumns, toAttestation, toRecord, toSummary } from './schema.js';
import type { ResultRow, RunRow } from './schema.js';
import type { NewRun, RunEnd, Store } from './types.js';

/** How long a writer waits for another process's write transaction before giving up. */
const BUSY_TIMEOUT_MS = 5000;

const RUN_COLUMNS = 'id, gate, env, command, config_hash, status, started_at, finished_at, verdict, readiness, decision';
const RESULT_COLUMNS = 'item_id, tier, status, message, evidence, duration_ms, attempts';

/** Opens (creating it and its parent folders if needed) the SQLite store at `file`; `':memory:'` gives a private in-memory store. */
export async function openSqliteStore(file: string): Promise<Store> {
  const inMemory = file === ':memory:';
  if (!inMemory) mkdirSync(dirname(file), { recursive: true });
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    if (!inMemory) db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    migrate(db, file);
    abortOrphanedRuns(db, new Date().toISOString());
  } catch (error) {
    db?.close();
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot open the store ${file}: ${message}`, { cause: error });
  }
  return sqliteStore(db);
}

function migrate(db: Database.Database, file: string): void {
  // IMMEDIATE: two processes opening a new file at once must not both apply the steps.
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const row = db.prepare<[], { version: number }>('SELECT version FROM schema_version').get();
    const current = row?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new Error(
        `${file} has store schema version ${current}, but this gonogo knows versions up to ${MIGRATIONS.length}: it was written by a newer gonogo, upgrade to open it`,
      );
    }
    for (const step of MIGRATIONS.slice(current)) db.exec(step);
    if (row === undefined) db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(MIGRATIONS.length);
    else if (current < MIGRATIONS.length) db.prepare('UPDATE schema_version SET version = ?').run(MIGRATIONS.length);
  }).immediate();
}

/** Whether a process with this id exists (EPERM: it does, under another user). */
function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error instanceof Error && 'code' in error && error.code === 'EPERM';
  }
}

/** A run left `running` by a process of this host that no longer exists was killed: mark it aborted. */
function abortOrphanedRuns(db: Database.Database, now: string): void {
  const running = db
    .prepare<[string], { id: string; pid: number }>("SELECT id, pid FROM runs WHERE status = 'running' AND host = ? AND pid IS NOT NULL")
    .all(hostname());
  const dead = running.filter((r) => !isAlive(r.pid));
  if (dead.length === 0) return;
  const abort = db.prepare("UPDATE runs SET status = 'aborted', finished_at = ? WHERE id = ? AND status = 'running'");
  db.transaction(() => {
    for (const r of dead) abort.run(now, r.id);
  }).immediate();
}

function sqliteStore(db: Database.Database): Store {
  const nextId = idGenerator();
  const insertRun = db.prepare(
    "INSERT INTO runs (id, gate, env, command, config_hash, status, started_at, pid, host) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)",
  );
  const runStatus = db.prepare<[string], { status: RunRow['status'] }>('SELECT status FROM runs WHERE id = ?');
  // A result keeps the position of its first save; saving it again replaces its content.
  const upsertResult = db.prepare(
    `INSERT INTO results (run_id, item_id, seq, tier, status, message, evidence, duration_ms, attempts)
     VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM results WHERE run_id = ?), ?, ?, ?, ?, ?, ?)
     ON CONFLICT (run_id, item_id) DO UPDATE SET
       tier = excluded.tier, status = excluded.status, message = excluded.message,
       evidence = excluded.evidence, duration_ms = excluded.duration_ms, attempts = excluded.attempts`,
  );
  const finishRun = db.prepare(
    "UPDATE runs SET status = ?, finished_at = ?, verdict = ?, readiness = ?, decision = ? WHERE id = ? AND status = 'running'",
  );
  const selectRun = db.prepare<[string], RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`);
  const selectResults = db.prepare<[string], ResultRow>(`SELECT ${RESULT_COLUMNS} FROM results WHERE run_id = ? ORDER BY seq`);
  const listAll = db.prepare<[number], RunRow>(`SELECT ${RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?`);
  const listGate = db.prepare<[string, number], RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE gate = ? ORDER BY id DESC LIMIT ?`);
  const insertAttestation = db.prepare('INSERT INTO attestations (id, gate, kind, at, body) VALUES (?, ?, ?, ?, ?)');
  const selectAttestations = db.prepare<[string], { body: string }>('SELECT body FROM attestations WHERE gate = ? ORDER BY id');

  /** The run's status, or a rejection naming the unknown run. */
  function statusOf(runId: string): RunRow['status'] {
    const row = runStatus.get(runId);
    if (row === undefined) throw new Error(`unknown run ${runId}`);
    return row.status;
  }

  // Writes take the write lock up front (IMMEDIATE): a deferred transaction that reads first and
  // then writes can fail at once with SQLITE_BUSY when another process committed in between,
  // without waiting for the busy timeout.
  const saveResultTx = db.transaction((runId: string, result: ItemResult) => {
    const status = statusOf(runId);
    if (status !== 'running') throw new Error(`run ${runId} is ${status}: its results can no longer change`);
    upsertResult.run(runId, result.id, runId, ...resultColumns(result));
  });

  const endRunTx = db.transaction((runId: string, end: RunEnd) => {
    const status = statusOf(runId);
    if (status !== 'running') {
      if (end.status === 'aborted') return;
      throw new Error(`run ${runId} has already ended (${status}): it cannot be completed again`);
    }
    const decision = end.status === 'completed' ? end.decision : undefined;
    finishRun.run(end.status, end.finishedAt, decision?.verdict ?? null, decision?.readiness ?? null, decision ? JSON.stringify(decision) : null, runId);
  });

  const getRunTx = db.transaction((id: string) => {
    const row = selectRun.get(id);
    return row === undefined ? undefined : toRecord(row, selectResults.all(id));
  });

  return {
    async beginRun(run: NewRun) {
      const id = nextId();
      const pid = run.pid ?? process.pid;
      insertRun.run(id, run.gate, run.env, run.command, run.configHash, run.startedAt, pid, run.host ?? hostname());
      return id;
    },

    async saveResult(runId: string, result: ItemResult) {
      saveResultTx.immediate(runId, result);
    },

    async endRun(runId: string, end: RunEnd) {
      endRunTx.immediate(runId, end);
    },

    async getRun(id: string) {
      return getRunTx(id);
    },

    async listRuns(q: { gate?: string; limit?: number }) {
      if (q.limit !== undefined && !(Number.isInteger(q.limit) && q.limit >= 0)) {
        throw new Error(`listRuns: limit must be a whole number >= 0, got ${q.limit}`);
      }
      const limit = q.limit ?? -1; // SQLite: a negative LIMIT means none
      const rows = q.gate === undefined ? listAll.all(limit) : listGate.all(q.gate, limit);
      return rows.map(toSummary);
    },

    async addAttestation(a: Attestation) {
      insertAttestation.run(nextId(), a.gate, a.kind, a.at, JSON.stringify(a));
    },

    async listAttestations(gate: string) {
      return selectAttestations.all(gate).map((r) => toAttestation(r.body));
    },

    async close() {
      if (db.open) db.close();
    },
  };
}
