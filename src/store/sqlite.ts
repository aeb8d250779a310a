// The SQLite store: one file, no set-up. WAL lets several gonogo processes (a CI job, a watcher,
// the dashboard) use the same file at once; a writer that finds it locked waits within a bound
// (sqlite-faults.ts), and every failure rejects as a StoreError.
import { availableParallelism } from 'node:os';
import type Database from 'better-sqlite3';
import type { Attestation, ItemResult, NewAttestation } from '../model.js';
import { systemClock } from '../util/clock.js';
import type { Clock } from '../util/clock.js';
import { StoreError } from './errors.js';
import { idGenerator } from './id.js';
import { DEFAULT_LEASE_MS, leaseLapsed } from './lease.js';
import { asOf, AUDIT_VERSION, checkRunQuery, EVENT_COLUMNS, EVENTS_VERSION, eventListing, eventValues, isoTime, latestResultsSql, leaseTimes, positive, resultColumns, runListing, storedEvent, WRITE_SQL, toAttestation, toEvent, toRecord, toResult, toSummary } from './schema.js';
import type { EventRow, ResultRow, RunRow } from './schema.js';
import { failed, withRetry } from './sqlite-faults.js';
import type { FaultContext } from './sqlite-faults.js';
import { openReader, openWriter } from './sqlite-file.js';
import type { RowDigests, VerifyVisit, VerifyWork } from './audit.js';
import { verifyOnThreads } from './sqlite-audit-thread.js';
import type { VerifyTask } from './sqlite-audit-thread.js';
import { sqliteAuditReads, sqliteChain } from './sqlite-chain.js';
import type { Connection } from './sqlite-file.js';
import type { EventQuery, LatestResult, NewEvent, NewRun, OpenStoreOptions, RunEnd, RunQuery, Store } from './types.js';

/** How long in all an operation waits for another process's lock, unless the opener says otherwise. */
export const DEFAULT_LOCK_TIMEOUT_MS = 20_000;

/** Options of a SQLite store beyond those every store has. */
export interface SqliteStoreOptions extends OpenStoreOptions {
  /**
   * Caps the file at this many pages (PRAGMA max_page_count): a write beyond it fails as it would
   * on a full disk. For tests of that failure, and for a store that must not grow past a size.
   */
  maxPageCount?: number;
  /**
   * From how many entries of a chain verify shares its work with other threads, each over a
   * connection of its own (default 50,000; 0: always).
   */
  verifyThreadsFrom?: number;
  /** How many threads besides this one (default: one per core the process may use, at most 3). */
  verifyThreads?: number;
}

/** Below this many entries a thread costs more to start than it saves. */
const VERIFY_THREADS_FROM = 50_000;

/**
 * One thread per core: the work is cut in tasks that every thread takes in turn, so another thread
 * costs nothing where cores are idle and wins a fairer share of them where other work keeps them
 * busy. At most 3 besides this one: past that the store's reads, not the cores, bound it.
 */
function verifyThreads(): number {
  return Math.min(3, availableParallelism());
}

/** Shares the rows are cut in for the threads: small enough that the last one taken ends soon after the others. */
const ROW_SHARES = 16;

/** The results columns as ResultRow names them; before schema version 3 there is no definition. */
function resultColumnList(version: number, prefix = ''): string {
  const base = ['item_id', 'tier', 'status', 'message', 'evidence', 'duration_ms', 'attempts'].map((c) => prefix + c).join(', ');
  return version >= 3 ? `${base}, ${prefix}definition` : `${base}, NULL AS definition`;
}

/** The runs columns as RunRow names them; older schema versions lack the newer columns. */
function runColumns(version: number): string {
  const base = 'id, gate, env, command, config_hash, status, started_at, finished_at, verdict, readiness, decision';
  const v2 = version >= 2 ? 'heartbeat_at' : 'NULL AS heartbeat_at';
  const v3 = version >= 3 ? 'release_id, selection, stages' : 'NULL AS release_id, NULL AS selection, NULL AS stages';
  return `${base}, ${v2}, ${v3}`;
}

/**
 * Opens the SQLite store at `file` (`':memory:'`: a private in-memory store). Read-write creates it
 * and its parent folders if needed, migrates it, and ends as aborted every running run whose lease
 * lapsed. A file that is not a gonogo store, or is damaged, is refused untouched.
 */
export async function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Promise<Store> {
  const leaseMs = positive('leaseMs', options.leaseMs, DEFAULT_LEASE_MS);
  const ctx: FaultContext = {
    location: file,
    clock: options.clock ?? systemClock,
    lockTimeoutMs: positive('lockTimeoutMs', options.lockTimeoutMs, DEFAULT_LOCK_TIMEOUT_MS, true),
  };
  // ':memory:' is this connection's own: no other connection can read it.
  const threads = file === ':memory:' ? undefined : { file, from: options.verifyThreadsFrom ?? VERIFY_THREADS_FROM, count: options.verifyThreads ?? verifyThreads() };
  if (options.readonly) return sqliteStore(await openReader(ctx, file), ctx, leaseMs, threads);
  const cache = options.pageCacheKiB;
  if (cache !== undefined && !(Number.isFinite(cache) && cache > 0)) throw new RangeError(`openStore: pageCacheKiB must be a positive number of KiB, got ${cache}`);
  const conn = await openWriter(ctx, file, { maxPageCount: options.maxPageCount, pageCacheKiB: cache });
  try {
    await endLapsedRuns(conn.current().db, ctx, leaseMs);
  } catch (error) {
    conn.close();
    throw error;
  }
  return sqliteStore(conn, ctx, leaseMs, threads);
}

/** Records as aborted, finished at their last heartbeat, the running runs whose lease lapsed: their process was killed. */
async function endLapsedRuns(db: Database.Database, ctx: FaultContext, leaseMs: number): Promise<void> {
  const chain = sqliteChain(db);
  const now = ctx.clock.now();
  const running = await withRetry(ctx, 'open', () =>
    db.prepare<[], { id: string; beat: string }>("SELECT id, COALESCE(heartbeat_at, started_at) AS beat FROM runs WHERE status = 'running'").all(),
  );
  const lapsed = running.filter((r) => leaseLapsed(r.beat, now, leaseMs));
  if (lapsed.length === 0) return;
  // Only if the heartbeat is still the one judged: a run renewed meanwhile is alive.
  const abort = db.prepare(
    WRITE_SQL.abortLapsed,
  );
  await withRetry(ctx, 'open', () =>
    db.transaction(() => {
      const at = new Date(now).toISOString();
      for (const r of lapsed) if (abort.run(r.beat, r.id, r.beat).changes === 1) chain.run(r.id, 'run-end', at, { lapsed: true });
    }).immediate(),
  );
}

/** The queries every store has, prepared for one database at one schema version. */
function prepareReads(db: Database.Database, version: number) {
  const columns = runColumns(version);
  const selectRun = db.prepare<[string], RunRow>(`SELECT ${columns} FROM runs WHERE id = ?`);
  const selectResults = db.prepare<[string], ResultRow>(`SELECT ${resultColumnList(version)} FROM results WHERE run_id = ? ORDER BY seq`);
  const listings = new Map<string, Database.Statement<string[], RunRow>>();
  return {
    // One read transaction: the run and its results as of one moment.
    getRun: db.transaction((id: string) => {
      const row = selectRun.get(id);
      return row === undefined ? undefined : { row, results: selectResults.all(id) };
    }),
    listRuns(q: RunQuery): RunRow[] {
      const { sql, params } = runListing(q, columns);
      let statement = listings.get(sql);
      if (statement === undefined) {
        statement = db.prepare<string[], RunRow>(sql);
        listings.set(sql, statement);
      }
      return statement.all(...params);
    },
    // The newest completed run of the release that holds a result of the item, for every item.
    latestResults:
      version >= 3
        ? db.prepare<[string, string, string], ResultRow & { run_id: string }>(latestResultsSql(resultColumnList(version, 'res.')))
        : undefined,
    attestations: db.prepare<[string], { id: string; body: string }>('SELECT id, body FROM attestations WHERE gate = ? ORDER BY id'),
    // Changes when another connection commits to the file (never for this connection's own commits).
    dataVersion: db.prepare<[], number>('PRAGMA data_version').pluck(),
    audit: version >= AUDIT_VERSION ? sqliteAuditReads(db, version) : undefined,
    events: version >= EVENTS_VERSION ? prepareEventReads(db) : undefined,
  };
}

/** The event log's and the leases' reads, on a database that has them. */
function prepareEventReads(db: Database.Database) {
  const listings = new Map<string, Database.Statement<unknown[], EventRow>>();
  const byKey = db.prepare<[string, string], EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE gate = ? AND key = ?`);
  const lease = db.prepare<[string], { holder: string; at: string }>(WRITE_SQL.leaseOf);
  return {
    listEvents(q: EventQuery): EventRow[] {
      const listing = eventListing(q);
      if (listing === undefined) return [];
      let statement = listings.get(listing.sql);
      if (statement === undefined) {
        statement = db.prepare<unknown[], EventRow>(listing.sql);
        listings.set(listing.sql, statement);
      }
      const rows = statement.all(...listing.params);
      return listing.newestFirst ? rows.reverse() : rows;
    },
    eventByKey: (gate: string, key: string): EventRow | undefined => byKey.get(gate, key),
    leaseOf: (name: string): { holder: string; at: string } | undefined => lease.get(name),
  };
}

/** The writes, as transactions that take the write lock up front. */
function prepareWrites(db: Database.Database, location: string, clock: Clock) {
  const chain = sqliteChain(db);
  const at = (): string => new Date(clock.now()).toISOString();
  const insertRun = db.prepare(
    WRITE_SQL.insertRun,
  );
  const runStatus = db.prepare<[string], { status: RunRow['status']; gate: string }>('SELECT status, gate FROM runs WHERE id = ?');
  // A result keeps the position of its first save; saving it again replaces its content.
  const upsertResult = db.prepare(
    WRITE_SQL.upsertResult,
  );
  const finishRun = db.prepare(
    WRITE_SQL.finishRun,
  );
  const renew = db.prepare(WRITE_SQL.renew);
  const insertAttestation = db.prepare(WRITE_SQL.insertAttestation);
  const insertEvent = db.prepare<unknown[], { seq: number }>(WRITE_SQL.insertEvent);
  const acquireLease = db.prepare<[string, string, string, string], { holder: string }>(WRITE_SQL.acquireLease);
  const releaseLease = db.prepare<[string, string]>(WRITE_SQL.releaseLease);

  const refused = (kind: 'run-ended' | 'unknown-run', reason: string): StoreError =>
    new StoreError(`${failed('record', location)}: ${reason}`, { kind, location });

  /** The run's status and gate, or a rejection naming the unknown run. */
  function runOf(runId: string): { status: RunRow['status']; gate: string } {
    const row = runStatus.get(runId);
    if (row === undefined) throw refused('unknown-run', `unknown run ${runId}`);
    return row;
  }
  const statusOf = (runId: string): RunRow['status'] => runOf(runId).status;

  // Writes take the write lock up front (IMMEDIATE): a deferred transaction that reads first and
  // then writes can fail at once with SQLITE_BUSY when another process committed in between,
  // without waiting for the busy timeout.
  return {
    beginRun: db.transaction((id: string, run: NewRun) => {
      insertRun.run(id, run.gate, run.env, run.command, run.release, JSON.stringify(run.selection), run.configHash, run.startedAt, run.startedAt, run.pid ?? null, run.host ?? null);
      chain.run(id, 'run-begin', at());
    }),
    heartbeat: db.transaction((runId: string, at: string) => {
      if (renew.run(at, runId).changes === 1) return;
      const status = statusOf(runId);
      throw refused('run-ended', `run ${runId} is ${status}: its lease can no longer be renewed`);
    }),
    saveResults: db.transaction((runId: string, results: readonly ItemResult[]) => {
      const { status, gate } = runOf(runId);
      if (status !== 'running') throw refused('run-ended', `run ${runId} is ${status}: its results can no longer change`);
      for (const result of results) {
        upsertResult.run(runId, result.id, runId, ...resultColumns(result));
        chain.result(gate, runId, result.id, at());
      }
    }),
    endRun: db.transaction((runId: string, end: RunEnd) => {
      const status = statusOf(runId);
      if (status !== 'running') {
        if (end.status === 'aborted') return;
        throw refused('run-ended', `run ${runId} has already ended (${status}): it cannot be completed again`);
      }
      const decision = end.status === 'completed' ? end.decision : undefined;
      const stages = end.stages ? JSON.stringify(end.stages) : null;
      finishRun.run(end.status, end.finishedAt, decision?.verdict ?? null, decision?.readiness ?? null, decision ? JSON.stringify(decision) : null, stages, runId);
      chain.run(runId, 'run-end', at());
    }),
    addAttestation: db.transaction((a: Attestation) => {
      insertAttestation.run(a.id, a.gate, a.kind, a.release, a.at, JSON.stringify(a));
      chain.attestation(a.id, at());
    }),
    // A key already held inserts nothing, so nothing is chained either: the event's seq, or none.
    addEvent: db.transaction((id: string, values: Array<string | null>): number | undefined => {
      const inserted = insertEvent.get(...values);
      if (inserted === undefined) return undefined;
      chain.event(id, at());
      return inserted.seq;
    }),
    // Single statements: each its own transaction, taking the write lock as it starts.
    acquireLease: (name: string, holder: string, at: string, cutoff: string): boolean => acquireLease.get(name, holder, at, cutoff) !== undefined,
    releaseLease: (name: string, holder: string): void => void releaseLease.run(name, holder),
  };
}

type Reads = ReturnType<typeof prepareReads>;
type Writes = ReturnType<typeof prepareWrites>;

function sqliteStore(conn: Connection, ctx: FaultContext, leaseMs: number, threads?: { file: string; from: number; count: number }): Store {
  const nextId = idGenerator();
  // A read-only connection may move to a fresher database between operations: statements per database.
  const prepared = new WeakMap<Database.Database, Reads>();
  const writes = conn.writable ? prepareWrites(conn.current().db, ctx.location, ctx.clock) : undefined;
  // The change token's parts besides data_version: which database a read-only store reads now (it
  // moves to a fresher copy, whose data_version starts again), and this store's own writes.
  const generations = new WeakMap<Database.Database, number>();
  let opened = 0;
  let ownWrites = 0;

  // Rows are mapped inside: a stored value that no longer parses is a store fault too.
  const read = <T>(fn: (r: Reads, db: Database.Database) => T): Promise<T> =>
    withRetry(ctx, 'read', () => {
      const { db, version } = conn.current();
      let reads = prepared.get(db);
      if (reads === undefined) {
        reads = prepareReads(db, version);
        prepared.set(db, reads);
      }
      return fn(reads, db);
    });

  const write = async <T>(fn: (w: Writes) => T): Promise<T> => {
    if (writes === undefined) throw new StoreError(`${failed('record', ctx.location)}: the store was opened read-only`, { kind: 'read-only', location: ctx.location });
    try {
      return await withRetry(ctx, 'record', () => fn(writes));
    } finally {
      // Counted whatever the outcome: a write that failed may still have committed.
      ownWrites++;
    }
  };

  // A run's results saved in one turn of the event loop (gate.ts saves them in batches) are written
  // in one transaction as the turn ends: a commit per result kept the process waiting on the disk
  // for most of a run's store time. Each save still resolves only once it is on disk.
  const queued = new Map<string, { results: ItemResult[]; settle: ((err?: unknown) => void)[] }>();
  const flush = (runId: string): Promise<void> => {
    const batch = queued.get(runId);
    if (batch === undefined) return Promise.resolve();
    queued.delete(runId);
    return write((w) => w.saveResults.immediate(runId, batch.results)).then(
      () => batch.settle.forEach((settle) => settle()),
      (err: unknown) => batch.settle.forEach((settle) => settle(err)),
    );
  };

  /** A row as it stands now: a lapsed lease reads as aborted. */
  const now = (row: RunRow): RunRow => asOf(row, ctx.clock.now(), leaseMs);

  return {
    async beginRun(run: NewRun) {
      isoTime('beginRun: startedAt', run.startedAt);
      const id = nextId();
      await write((w) => w.beginRun.immediate(id, run));
      return id;
    },

    async heartbeat(runId: string, at: string) {
      isoTime('heartbeat: at', at);
      await write((w) => w.heartbeat.immediate(runId, at));
    },

    saveResult(runId: string, result: ItemResult) {
      return new Promise<void>((resolve, reject) => {
        let batch = queued.get(runId);
        if (batch === undefined) {
          queued.set(runId, (batch = { results: [], settle: [] }));
          setImmediate(() => void flush(runId));
        }
        batch.results.push(result);
        batch.settle.push((err) => (err === undefined ? resolve() : reject(err)));
      });
    },

    async endRun(runId: string, end: RunEnd) {
      // Results saved before the end are written before it (their failures are their own saves').
      await flush(runId);
      await write((w) => w.endRun.immediate(runId, end));
    },

    async getRun(id: string) {
      return read((r) => {
        const found = r.getRun(id);
        return found === undefined ? undefined : toRecord(now(found.row), found.results);
      });
    },

    async listRuns(q: RunQuery) {
      checkRunQuery(q);
      return read((r) => r.listRuns(q).map((row) => toSummary(now(row))));
    },

    async latestResults(q: { gate: string; release: string; env: string }) {
      return read((r) => (r.latestResults?.all(q.gate, q.release, q.env) ?? []).map((row): LatestResult => ({ ...toResult(row), runId: row.run_id })));
    },

    async addAttestation(a: NewAttestation) {
      const stored: Attestation = { ...a, id: nextId() };
      await write((w) => w.addAttestation.immediate(stored));
      return stored;
    },

    async listAttestations(gate: string) {
      return read((r) => r.attestations.all(gate).map(toAttestation));
    },

    async addEvent(e: NewEvent) {
      const id = nextId();
      const values = eventValues(id, e);
      const seq = await write((w) => w.addEvent.immediate(id, values));
      return seq === undefined ? undefined : storedEvent(id, seq, e);
    },

    // A store from before the event log, read without migrating it, has no events and no leases.
    async listEvents(q: EventQuery) {
      eventListing(q);
      return read((r) => (r.events?.listEvents(q) ?? []).map(toEvent));
    },

    async eventByKey(gate: string, key: string) {
      return read((r) => {
        const row = r.events?.eventByKey(gate, key);
        return row === undefined ? undefined : toEvent(row);
      });
    },

    async acquireLease(name: string, holder: string, at: string, leaseMs: number) {
      const times = leaseTimes(name, holder, at, leaseMs);
      return write((w) => w.acquireLease(name, holder, times.at, times.cutoff));
    },

    async releaseLease(name: string, holder: string) {
      await write((w) => w.releaseLease(name, holder));
    },

    async leaseOf(name: string) {
      return read((r) => r.events?.leaseOf(name));
    },

    // A store from before the audit chain, read without migrating it, has no chain yet.
    async auditGates() {
      return read((r) => r.audit?.auditGates() ?? []);
    },

    async auditHead(gate: string) {
      return read((r) => r.audit?.auditHead(gate));
    },

    async auditEntries(gate: string, afterSeq: number, limit: number) {
      return read((r) => r.audit?.auditEntries(gate, afterSeq, limit) ?? []);
    },

    async auditRows(gate: string, visit: (ref: string, json: string) => void) {
      return read((r) => r.audit?.auditRows(gate, visit));
    },

    async auditRowDigests(gate: string, through: number, visit: (batch: RowDigests) => void) {
      return read((r) => r.audit?.auditRowDigests(gate, through, visit));
    },

    async auditVerifyWork(gate: string, work: VerifyWork, visit: VerifyVisit) {
      if (threads === undefined || work.through < threads.from) return false;
      const shares = await read((r) => r.audit?.rowShares(gate, ROW_SHARES));
      if (shares === undefined) return false;
      // The walk's pieces first: the rows are judged only once the chain is found intact.
      const tasks: VerifyTask[] = [...work.pieces.map((piece) => ({ piece })), ...shares.map((share) => ({ share }))];
      const job = { file: threads.file, location: ctx.location, lockTimeoutMs: ctx.lockTimeoutMs, gate, through: work.through, expectHead: work.expectHead, tasks, taken: new SharedArrayBuffer(4) };
      const here = async (task: VerifyTask, index: number): Promise<void> => {
        if ('piece' in task) {
          const walked = await read((r) => r.audit?.walkPiece(gate, task.piece, work.expectHead));
          if (walked === undefined) throw new StoreError(`${failed('read', ctx.location)}: the store has no audit chain`, { location: ctx.location });
          visit.piece(index, walked);
        } else await read((r) => r.audit?.rowShare(gate, work.through, task.share, visit.rows));
      };
      await verifyOnThreads(job, threads.count, here, visit);
      return true;
    },

    async auditRefCount(gate: string, through: number) {
      return read((r) => r.audit?.auditRefCount(gate, through) ?? 0);
    },

    async auditRecords(gate: string, refs: readonly string[]) {
      return read((r) => r.audit?.auditRecords(gate, refs) ?? []);
    },

    async auditOrphans(gate: string, prefix: string, from?: string) {
      return read((r) => r.audit?.auditOrphans(gate, prefix, from) ?? []);
    },

    async changeToken() {
      return read((r, db) => {
        let generation = generations.get(db);
        if (generation === undefined) generations.set(db, (generation = ++opened));
        return `${generation}.${r.dataVersion.get() ?? 0}.${ownWrites}`;
      });
    },

    async close() {
      await Promise.all([...queued.keys()].map(flush));
      conn.close();
    },
  };
}
