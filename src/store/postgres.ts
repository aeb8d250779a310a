// The PostgreSQL store: one database for a team (CI jobs, laptops, the watcher, the dashboard).
// Same tables and migrations as SQLite (schema.ts); each write is one transaction that holds its
// run's row and its gate's chain head (SELECT ... FOR UPDATE) until it commits, so concurrent
// writers on many hosts never interleave a run's results or fork a gate's audit chain.
import pg from 'pg';
import type { PoolClient } from 'pg';
import type { Attestation, ItemResult, NewAttestation } from '../model.js';
import { systemClock } from '../util/clock.js';
import type { Clock } from '../util/clock.js';
import { attestationRef, AUDITED, eventRef, GENESIS, nextEntry, parseRef, resultRef, rowDigester, runRef } from './audit.js';
import type { AuditEntry, AuditRecord, ChainHead, EntryKind, RowDigests } from './audit.js';
import { StoreError } from './errors.js';
import type { StoreFaultKind } from './errors.js';
import { idGenerator } from './id.js';
import { DEFAULT_LEASE_MS, leaseLapsed } from './lease.js';
import { asOf, attestationData, CHAIN_SQL, EVENT_COLUMNS, EVENTS_VERSION, eventData, eventListing, eventValues, isoTime, leaseTimes, MIGRATIONS, orphanQuery, positive, prefixEnd, refOf, resultColumns, resultData, runData, runListing, storedEvent, toAttestation, toEvent, toRecord, toResult, toSummary, WRITE_SQL } from './schema.js';
import type { EventRow, ResultRow, RunRow } from './schema.js';
import type { Doing } from './sqlite-faults.js';
import { failed } from './sqlite-faults.js';
import type { EventQuery, LatestResult, NewEvent, NewRun, OpenStoreOptions, RunQuery, RunEnd, Store } from './types.js';

const DEFAULT_LOCK_TIMEOUT_MS = 20_000;
/** Any key, the same in every gonogo: migrations hold it so that two openers never both migrate. */
const MIGRATION_LOCK = 7_460_611;

/** `?` placeholders numbered as PostgreSQL wants them ($1, $2...); the shared SQL has no `?` in literals. */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** The URL as it may be shown: never its password. */
export function safeLocation(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '';
    return u.toString().replace(/^(postgres(?:ql)?:\/\/[^:@/]*):?@/i, '$1@');
  } catch {
    return 'the PostgreSQL URL (unparseable)';
  }
}

const RUN_COLUMNS = 'id, gate, env, command, config_hash, status, started_at, finished_at, verdict, readiness, decision, heartbeat_at, release_id, selection, stages';
const RESULT_COLUMNS = 'item_id, tier, status, message, evidence, duration_ms, attempts, definition';

/** What a PostgreSQL error (SQLSTATE) or a network error means for a store. */
function classify(error: unknown): { kind: StoreFaultKind; reason: string } {
  const text = error instanceof Error ? error.message : String(error);
  const code = error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  switch (code) {
    case 'ECONNREFUSED':
      return { kind: 'unreachable', reason: 'connection refused (is PostgreSQL running and listening at that host and port?)' };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { kind: 'unreachable', reason: `host not found (${text})` };
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ECONNRESET':
    case 'ENOENT': // a unix socket that is not there
      return { kind: 'unreachable', reason: `${text} (is PostgreSQL running there?)` };
    case '28P01':
    case '28000':
      return { kind: 'auth', reason: `${text} (check the user and password in the URL, or PGPASSWORD)` };
    case '3D000':
      return { kind: 'unreachable', reason: `${text} (create it first: createdb)` };
    case '55P03':
    case '40P01':
    case '40001':
      return { kind: 'locked', reason: `${text} (another writer held the lock too long)` };
    case '53100':
      return { kind: 'full', reason: text };
    case '25006':
    case '42501':
      return { kind: 'read-only', reason: text };
    case 'XX001':
    case 'XX002':
      return { kind: 'corrupt', reason: text };
    default:
      break;
  }
  if (/timeout exceeded when trying to connect|Connection terminated/i.test(text)) return { kind: 'unreachable', reason: `${text} (is PostgreSQL reachable?)` };
  return { kind: 'other', reason: text };
}

function pgError(doing: Doing, location: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  const { kind, reason } = classify(error);
  return new StoreError(`${failed(doing, location)}: ${reason}`, { kind, location, cause: error });
}

type Query = <R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]) => Promise<R[]>;
type RawQuery = (sql: string, params?: unknown[]) => Promise<unknown[][]>;

function queries(client: PoolClient | pg.Pool): { q: Query; raw: RawQuery } {
  return {
    q: async (sql, params = []) => (await client.query(numbered(sql), params)).rows,
    raw: async (sql, params = []) => (await client.query({ text: numbered(sql), values: params, rowMode: 'array' })).rows,
  };
}

/** Takes the gate's head row (created empty on first use) for the rest of the transaction: the gate's writers queue here. */
async function lockHead(c: { q: Query }, gate: string): Promise<ChainHead | undefined> {
  await c.q(CHAIN_SQL.initHead, [gate]);
  const [head] = await c.q<ChainHead>(`${CHAIN_SQL.head} FOR UPDATE`, [gate]);
  return head;
}

/**
 * Appends the entry for a row a write just made, holding the gate's head row until the commit
 * (`locked`: the head as lockHead returned it earlier in this transaction).
 */
async function appendEntry(c: { q: Query; raw: RawQuery }, gate: string, kind: EntryKind, ref: string, at: string, data: Record<string, unknown>, row: unknown[], locked?: { head: ChainHead | undefined }): Promise<void> {
  const head = locked ? locked.head : await lockHead(c, gate);
  const entry = nextEntry(head, { gate, kind, ref, at, data, row });
  await c.q(CHAIN_SQL.insertEntry, [entry.gate, entry.seq, entry.ref, entry.body, entry.prev, entry.hash]);
  await c.q(CHAIN_SQL.moveHead, [entry.seq, entry.hash, gate]);
}

async function chainRun(c: { q: Query; raw: RawQuery }, runId: string, kind: 'run-begin' | 'run-end', at: string, extra: Record<string, unknown> = {}): Promise<void> {
  const [row] = await c.raw(CHAIN_SQL.runRow, [runId]);
  await appendEntry(c, String(row[1]), kind, runRef(runId), at, { ...runData(row), ...extra }, row);
}

/** Every audited row of the gate: its ref, the last entry in 1..`through` recording it (null: none), its values as JSON. */
async function eachRow(c: { raw: RawQuery }, gate: string, through: number, hasEvents: boolean, visit: (ref: string, seq: number | null, json: string) => void): Promise<void> {
  const tables = [[CHAIN_SQL.gateRuns, refOf.run], [CHAIN_SQL.gateResults, refOf.result], [CHAIN_SQL.gateAttestations, refOf.attestation]] as const;
  for (const [sql, ref] of hasEvents ? [...tables, [CHAIN_SQL.gateEvents, refOf.event] as const] : tables) {
    for (const row of await c.raw(sql, [through, gate])) {
      const seq = row.pop();
      visit(ref(row), seq === null ? null : Number(seq), JSON.stringify(row));
    }
  }
}

/** The audited rows `refs` name, as they are now, by ref (values in AUDITED order). */
async function rowsOf(c: { raw: RawQuery }, refs: readonly string[], hasEvents: boolean): Promise<Map<string, unknown[]>> {
  const runs: string[] = [];
  const attestations: string[] = [];
  const events: string[] = [];
  const resultRuns: string[] = [];
  const resultItems: string[] = [];
  for (const ref of refs) {
    const at = parseRef(ref);
    if (at?.table === 'run') runs.push(at.id);
    else if (at?.table === 'attestation') attestations.push(at.id);
    else if (at?.table === 'event') events.push(at.id);
    else if (at?.table === 'result') {
      resultRuns.push(at.runId);
      resultItems.push(at.itemId);
    }
  }
  const out = new Map<string, unknown[]>();
  if (runs.length > 0) for (const row of await c.raw(`SELECT ${AUDITED.run} FROM runs WHERE id = ANY(?)`, [runs])) out.set(refOf.run(row), row);
  if (attestations.length > 0) for (const row of await c.raw(`SELECT ${AUDITED.attestation} FROM attestations WHERE id = ANY(?)`, [attestations])) out.set(refOf.attestation(row), row);
  if (events.length > 0 && hasEvents) for (const row of await c.raw(`SELECT ${AUDITED.event} FROM events WHERE id = ANY(?)`, [events])) out.set(refOf.event(row), row);
  if (resultRuns.length > 0) {
    const sql = `SELECT ${AUDITED.result} FROM results WHERE (run_id, item_id) IN (SELECT * FROM unnest(?::text[], ?::text[]))`;
    for (const row of await c.raw(sql, [resultRuns, resultItems])) out.set(refOf.result(row), row);
  }
  return out;
}

/** Options of a PostgreSQL store (maxConnections is PostgreSQL's own). */
export type PostgresStoreOptions = OpenStoreOptions;

/**
 * Opens the PostgreSQL store at `url`. Read-write applies the migrations it lacks (one
 * transaction each, under an advisory lock) and ends as aborted every running run whose lease
 * lapsed, wherever it ran. Read-only changes nothing; a database without gonogo's tables reads as
 * an empty store.
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<Store> {
  const location = safeLocation(url);
  const leaseMs = positive('leaseMs', options.leaseMs, DEFAULT_LEASE_MS);
  const lockTimeoutMs = positive('lockTimeoutMs', options.lockTimeoutMs, DEFAULT_LOCK_TIMEOUT_MS, true);
  const clock = options.clock ?? systemClock;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 4,
    connectionTimeoutMillis: Math.max(1000, lockTimeoutMs),
    application_name: 'gonogo',
    // A writer waits this long for another's row lock, then fails as `locked`.
    lock_timeout: Math.max(1, lockTimeoutMs),
  });
  // An idle connection that the server drops must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  try {
    const found = await inspect(pool);
    // A writer migrates only when the schema is behind: a store already current costs one round trip.
    const version = options.readonly || found.version >= MIGRATIONS.length ? found.version : await migrate(pool);
    if (version > MIGRATIONS.length) {
      throw new StoreError(`${failed('open', location)}: it has store schema version ${version}, but this gonogo knows versions up to ${MIGRATIONS.length}: it was written by a newer gonogo, upgrade to open it`, { kind: 'newer-schema', location });
    }
    if (!options.readonly) await endLapsedRuns(pool, clock, leaseMs);
    return postgresStore(pool, { location, clock, leaseMs, readonly: options.readonly ?? false, empty: version === 0, events: version >= EVENTS_VERSION, bytewise: found.bytewise });
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw pgError('open', location, error);
  }
}

/** Whether the database's default collation orders text byte-wise (PostgreSQL 15 may use ICU instead of libc). */
const BYTEWISE_SQL = "SELECT datcollate IN ('C', 'POSIX') AND COALESCE(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c' FROM pg_database d WHERE datname = current_database()";

/** PostgreSQL's SQLSTATE for a table that does not exist. */
const UNDEFINED_TABLE = '42P01';

/**
 * The schema version (0 for a database without gonogo's tables) and, when the tables are there,
 * whether text compares byte-wise: one round trip for a store in use.
 */
async function inspect(pool: pg.Pool): Promise<{ version: number; bytewise?: boolean }> {
  try {
    const { rows } = await pool.query<{ version: number | null; bytewise: boolean }>(`SELECT (SELECT version FROM schema_version) AS version, (${BYTEWISE_SQL}) AS bytewise`);
    return { version: rows[0]?.version ?? 0, bytewise: rows[0]?.bytewise === true };
  } catch (error) {
    if ((error as { code?: unknown }).code === UNDEFINED_TABLE) return { version: 0 };
    throw error;
  }
}

/** Applies each missing step in a transaction of its own, under an advisory lock held by that transaction. */
async function migrate(pool: pg.Pool): Promise<number> {
  for (;;) {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_version');
      const current = rows[0]?.version ?? 0;
      if (current >= MIGRATIONS.length) {
        await client.query('COMMIT');
        return current;
      }
      await client.query(MIGRATIONS[current]);
      if (rows.length === 0) await client.query('INSERT INTO schema_version (version) VALUES ($1)', [current + 1]);
      else await client.query('UPDATE schema_version SET version = $1', [current + 1]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}

/** One transaction on one connection; rolled back on any failure. */
async function inTransaction<T>(pool: pg.Pool, begin: string, fn: (c: { q: Query; raw: RawQuery }) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const result = await fn(queries(client));
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

async function endLapsedRuns(pool: pg.Pool, clock: Clock, leaseMs: number): Promise<void> {
  const now = clock.now();
  const { rows } = await pool.query<{ id: string; beat: string }>("SELECT id, COALESCE(heartbeat_at, started_at) AS beat FROM runs WHERE status = 'running'");
  const at = new Date(now).toISOString();
  for (const r of rows.filter((row) => leaseLapsed(row.beat, now, leaseMs))) {
    await inTransaction(pool, 'BEGIN', async (c) => {
      const changed = await c.q(`${WRITE_SQL.abortLapsed} RETURNING id`, [r.beat, r.id, r.beat]);
      if (changed.length === 1) await chainRun(c, r.id, 'run-end', at, { lapsed: true });
    });
  }
}

interface Ctx {
  location: string;
  clock: Clock;
  leaseMs: number;
  readonly: boolean;
  /** A read-only store over a database without gonogo's tables: every read is empty. */
  empty: boolean;
  /** Whether the database has the event log and leases (a read-only store over an older schema has not). */
  events: boolean;
  /** Whether text compares byte-wise, when known at open. */
  bytewise?: boolean;
}

function postgresStore(pool: pg.Pool, ctx: Ctx): Store {
  const nextId = idGenerator();
  let bytewise = ctx.bytewise;
  const { location } = ctx;
  const at = (): string => new Date(ctx.clock.now()).toISOString();
  const now = (row: RunRow): RunRow => asOf(row, ctx.clock.now(), ctx.leaseMs);

  const refused = (kind: 'run-ended' | 'unknown-run', reason: string): StoreError => new StoreError(`${failed('record', location)}: ${reason}`, { kind, location });

  // This process's writes go one at a time, in the order they were asked for, as on SQLite: a
  // run's results keep the order they were saved in, whichever connection is free first.
  let queue: Promise<unknown> = Promise.resolve();
  const write = async <T>(fn: (c: { q: Query; raw: RawQuery }) => Promise<T>): Promise<T> => {
    if (ctx.readonly) throw new StoreError(`${failed('record', location)}: the store was opened read-only`, { kind: 'read-only', location });
    const done = queue.then(async () => {
      try {
        return await inTransaction(pool, 'BEGIN', fn);
      } catch (error) {
        throw pgError('record', location, error);
      }
    });
    queue = done.catch(() => undefined);
    return done;
  };

  const read = async <T>(fn: (c: { q: Query; raw: RawQuery }) => Promise<T>, empty: T): Promise<T> => {
    if (ctx.empty) return empty;
    try {
      // One snapshot for every statement of the read.
      return await inTransaction(pool, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', fn);
    } catch (error) {
      throw pgError('read', location, error);
    }
  };

  // A read of one statement sees one snapshot without a transaction around it: two round trips fewer.
  const readOne = async <T>(fn: (c: { q: Query; raw: RawQuery }) => Promise<T>, empty: T): Promise<T> => {
    if (ctx.empty) return empty;
    try {
      return await fn(queries(pool));
    } catch (error) {
      throw pgError('read', location, error);
    }
  };

  /** Locks the run's row for the rest of the transaction; rejects for an unknown run. */
  async function lockRun(c: { q: Query }, runId: string): Promise<{ status: RunRow['status']; gate: string }> {
    const [row] = await c.q<{ status: RunRow['status']; gate: string }>('SELECT status, gate FROM runs WHERE id = ? FOR UPDATE', [runId]);
    if (row === undefined) throw refused('unknown-run', `unknown run ${runId}`);
    return row;
  }

  return {
    async beginRun(run: NewRun) {
      isoTime('beginRun: startedAt', run.startedAt);
      const id = nextId();
      await write(async (c) => {
        await c.q(WRITE_SQL.insertRun, [id, run.gate, run.env, run.command, run.release, JSON.stringify(run.selection), run.configHash, run.startedAt, run.startedAt, run.pid ?? null, run.host ?? null]);
        await chainRun(c, id, 'run-begin', at());
      });
      return id;
    },

    async heartbeat(runId: string, beat: string) {
      isoTime('heartbeat: at', beat);
      await write(async (c) => {
        const renewed = await c.q(`${WRITE_SQL.renew} RETURNING id`, [beat, runId]);
        if (renewed.length === 1) return;
        const { status } = await lockRun(c, runId);
        throw refused('run-ended', `run ${runId} is ${status}: its lease can no longer be renewed`);
      });
    },

    async saveResult(runId: string, result: ItemResult) {
      await write(async (c) => {
        const { status, gate } = await lockRun(c, runId);
        if (status !== 'running') throw refused('run-ended', `run ${runId} is ${status}: its results can no longer change`);
        await c.q(WRITE_SQL.upsertResult, [runId, result.id, runId, ...resultColumns(result)]);
        const [row] = await c.raw(CHAIN_SQL.resultRow, [runId, result.id]);
        await appendEntry(c, gate, 'result', resultRef(runId, result.id), at(), resultData(row), row);
      });
    },

    async endRun(runId: string, end: RunEnd) {
      await write(async (c) => {
        const { status } = await lockRun(c, runId);
        if (status !== 'running') {
          if (end.status === 'aborted') return;
          throw refused('run-ended', `run ${runId} has already ended (${status}): it cannot be completed again`);
        }
        const decision = end.status === 'completed' ? end.decision : undefined;
        const stages = end.stages ? JSON.stringify(end.stages) : null;
        await c.q(WRITE_SQL.finishRun, [end.status, end.finishedAt, decision?.verdict ?? null, decision?.readiness ?? null, decision ? JSON.stringify(decision) : null, stages, runId]);
        await chainRun(c, runId, 'run-end', at());
      });
    },

    async getRun(id: string) {
      return read(async (c) => {
        const [row] = await c.q<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`, [id]);
        if (row === undefined) return undefined;
        const results = await c.q<ResultRow>(`SELECT ${RESULT_COLUMNS} FROM results WHERE run_id = ? ORDER BY seq`, [id]);
        return toRecord(now(row), results);
      }, undefined);
    },

    async listRuns(q: RunQuery) {
      const { sql, params } = runListing(q, RUN_COLUMNS);
      return readOne(async (c) => (await c.q<RunRow>(sql, params)).map((row) => toSummary(now(row))), []);
    },

    async latestResults(q: { gate: string; release: string; env: string }) {
      return readOne(async (c) => {
        // The release's completed runs by index first; then, from the primary key's index alone, the
        // newest run of each item; then only those results' rows. Written as one join with NOT EXISTS
        // (SQLite's form), the planner scanned every result of the store; sorting the whole rows of
        // every run of the release to keep one per item read and sorted a hundred times too much.
        const rows = await c.q<ResultRow & { run_id: string }>(
          `SELECT res.run_id, ${RESULT_COLUMNS.split(', ').map((col) => `res.${col}`).join(', ')}
             FROM (SELECT DISTINCT ON (item_id) run_id, item_id FROM results
                    WHERE run_id = ANY(ARRAY(SELECT r.id FROM runs r WHERE r.gate = ? AND r.release_id = ? AND r.env = ? AND r.status = 'completed'))
                    ORDER BY item_id, run_id COLLATE "C" DESC) newest
             JOIN results res ON res.run_id = newest.run_id AND res.item_id = newest.item_id
             ORDER BY res.item_id`,
          [q.gate, q.release, q.env],
        );
        return rows.map((row): LatestResult => ({ ...toResult(row), runId: row.run_id }));
      }, []);
    },

    async addAttestation(a: NewAttestation) {
      const stored: Attestation = { ...a, id: nextId() };
      await write(async (c) => {
        await c.q(WRITE_SQL.insertAttestation, [stored.id, stored.gate, stored.kind, stored.release, stored.at, JSON.stringify(stored)]);
        const [row] = await c.raw(CHAIN_SQL.attestationRow, [stored.id]);
        await appendEntry(c, stored.gate, 'attestation', attestationRef(stored.id), at(), attestationData(stored), row);
      });
      return stored;
    },

    async listAttestations(gate: string) {
      return readOne(async (c) => (await c.q<{ id: string; body: string }>('SELECT id, body FROM attestations WHERE gate = ? ORDER BY id', [gate])).map(toAttestation), []);
    },

    async addEvent(e: NewEvent) {
      const id = nextId();
      const values = eventValues(id, e);
      const seq = await write(async (c) => {
        // The gate's head first: appends of one gate (and claims of one key) queue on it, so the
        // seq is read by one writer at a time, and a key's second claimant finds the first's row
        // committed and inserts nothing (ON CONFLICT DO NOTHING).
        const head = await lockHead(c, e.gate);
        const [inserted] = await c.q<{ seq: number }>(WRITE_SQL.insertEvent, values);
        if (inserted === undefined) return undefined;
        const [row] = await c.raw(CHAIN_SQL.eventRow, [id]);
        await appendEntry(c, e.gate, 'event', eventRef(id), at(), eventData(row), row, { head });
        return inserted.seq;
      });
      return seq === undefined ? undefined : storedEvent(id, seq, e);
    },

    async listEvents(q: EventQuery) {
      const listing = eventListing(q);
      if (listing === undefined || !ctx.events) return [];
      return read(async (c) => {
        const rows = await c.q<EventRow>(listing.sql, listing.params);
        return (listing.newestFirst ? rows.reverse() : rows).map(toEvent);
      }, []);
    },

    async eventByKey(gate: string, key: string) {
      if (!ctx.events) return undefined;
      return read(async (c) => {
        const [row] = await c.q<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE gate = ? AND key = ?`, [gate, key]);
        return row === undefined ? undefined : toEvent(row);
      }, undefined);
    },

    async acquireLease(name: string, holder: string, leaseAt: string, leaseMs: number) {
      const times = leaseTimes(name, holder, leaseAt, leaseMs);
      return write(async (c) => (await c.q(WRITE_SQL.acquireLease, [name, holder, times.at, times.cutoff])).length === 1);
    },

    async releaseLease(name: string, holder: string) {
      await write(async (c) => {
        await c.q(WRITE_SQL.releaseLease, [name, holder]);
      });
    },

    async leaseOf(name: string) {
      if (!ctx.events) return undefined;
      return read(async (c) => {
        const [row] = await c.q<{ holder: string; at: string }>(WRITE_SQL.leaseOf, [name]);
        return row === undefined ? undefined : { holder: row.holder, at: row.at };
      }, undefined);
    },

    async auditGates() {
      return readOne(async (c) => (await c.q<{ gate: string }>(CHAIN_SQL.gates)).map((r) => r.gate), []);
    },

    async auditHead(gate: string) {
      return readOne(async (c) => {
        const [h] = await c.q<ChainHead>(CHAIN_SQL.head, [gate]);
        return h === undefined || h.seq === 0 ? undefined : { seq: h.seq, hash: h.hash };
      }, undefined);
    },

    async auditEntries(gate: string, afterSeq: number, limit: number) {
      return readOne(async (c) => c.q<AuditEntry>(CHAIN_SQL.entries, [gate, afterSeq, limit]), []);
    },

    async auditRows(gate: string, visit: (ref: string, json: string) => void) {
      await read((c) => eachRow(c, gate, 0, ctx.events, (ref, _seq, json) => visit(ref, json)), undefined);
    },

    async auditRowDigests(gate: string, through: number, visit: (batch: RowDigests) => void) {
      const digester = rowDigester(visit);
      await read((c) => eachRow(c, gate, through, ctx.events, digester.row), undefined);
      digester.end();
    },

    // The server reads and renders the rows while this process walks the chain: nothing to share.
    async auditVerifyWork() {
      return false;
    },

    async auditRefCount(gate: string, through: number) {
      return readOne(async (c) => Number((await c.raw(CHAIN_SQL.refCount, [gate, through]))[0]?.[0] ?? 0), 0);
    },

    async auditRecords(gate: string, refs: readonly string[]) {
      if (refs.length === 0) return [];
      return read(async (c) => {
        // One round trip per table, not per ref: status names hundreds of rows.
        const entries = await c.raw(
          `SELECT DISTINCT ON (e.ref) e.gate, e.seq, e.ref, e.body, e.prev, e.hash, p.hash FROM audit_entries e
           LEFT JOIN audit_entries p ON p.gate = e.gate AND p.seq = e.seq - 1
           WHERE e.gate = ? AND e.ref = ANY(?) ORDER BY e.ref, e.seq DESC`,
          [gate, refs],
        );
        const byRef = new Map(entries.map((r) => [String(r[2]), r]));
        const rows = await rowsOf(c, refs, ctx.events);
        return refs.map((ref): AuditRecord => {
          const found = byRef.get(ref);
          const row = rows.get(ref);
          if (found === undefined) return { ref, ...(row !== undefined ? { row } : {}) };
          const [g, seq, r, body, prev, hash, before] = found.map((v) => (v === null ? undefined : v));
          const entry: AuditEntry = { gate: String(g), seq: Number(seq), ref: String(r), body: String(body), prev: String(prev), hash: String(hash) };
          const linked = entry.seq === 1 ? GENESIS : before === undefined ? undefined : String(before);
          return { ref, entry, ...(linked !== undefined ? { before: linked } : {}), ...(row !== undefined ? { row } : {}) };
        });
      }, []);
    },

    async auditOrphans(gate: string, prefix: string, from?: string) {
      const q = orphanQuery(prefix, from);
      if (q === undefined) throw new RangeError(`auditOrphans: no table has refs starting ${JSON.stringify(prefix)}${from === undefined ? '' : ` from ${JSON.stringify(from)}`}`);
      if (prefix === 'event:' && !ctx.events) return [];
      return readOne(async (c) => {
        // A prefix is one range of the (gate, ref, seq) index only where the database compares
        // text byte-wise (collation C or POSIX); elsewhere COLLATE "C" keeps the range right, at the
        // cost of reading the gate's whole index. Known from the open, unless the tables came later.
        bytewise ??= (await c.raw(BYTEWISE_SQL))[0]?.[0] === true;
        const sql = q.sql.replaceAll('{ref}', bytewise ? 'e.ref' : 'e.ref COLLATE "C"');
        return (await c.raw(sql, [gate, from ?? prefix, prefixEnd(prefix), ...q.params])).map((r) => String(r[0]));
      }, []);
    },

    // The snapshot a statement would read under: which transactions are committed, cluster-wide.
    // Any commit, from any connection to any database, changes it; two equal snapshots see the same
    // rows. One statement, no transaction around it; PUBLIC may call it (PostgreSQL 13 and later).
    async changeToken() {
      if (ctx.empty) return 'empty';
      try {
        const { rows } = await pool.query<{ token: string }>('SELECT pg_current_snapshot()::text AS token');
        return String(rows[0]?.token);
      } catch (error) {
        throw pgError('read', location, error);
      }
    },

    async close() {
      if (!pool.ended) await pool.end();
    },
  };
}
