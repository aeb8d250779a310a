// The data model every store shares: migrations in portable SQL (TEXT, INTEGER, DOUBLE PRECISION;
// JSON kept as TEXT, no engine-specific types or functions) and the mapping between rows and the
// model's plain objects.
import type { Attempt, Attestation, Decision, ItemResult, RunRecord, RunSelection, RunStatus, StageReport, Status, Tier, Verdict } from '../model.js';
import { WATCH_EVENT_KINDS } from '../watch/types.js';
import type { WatchEventKind } from '../watch/types.js';
import { attestationRef, AUDITED, eventRef, GENESIS, parseRef, resultRef, runRef } from './audit.js';
import { leaseLapsed } from './lease.js';
import type { EventQuery, NewEvent, RunQuery, RunSummary, WatchEvent } from './types.js';

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
  // The audit chain (audit.ts): entries per gate, and each gate's head, the row a writer locks to
  // append (so two writers never fork a chain). Rows from before are adopted by the opener.
  `CREATE TABLE audit_entries (
     gate TEXT NOT NULL,
     seq INTEGER NOT NULL,
     ref TEXT NOT NULL,
     body TEXT NOT NULL,
     prev TEXT NOT NULL,
     hash TEXT NOT NULL,
     PRIMARY KEY (gate, seq)
   );
   CREATE TABLE audit_heads (
     gate TEXT PRIMARY KEY,
     seq INTEGER NOT NULL,
     hash TEXT NOT NULL
   );`,
  // status checks the rows it reads against the last entry recording each (audit.ts checkRecorded):
  // an entry found by its row, not by a walk of the whole chain.
  `CREATE INDEX audit_entries_by_ref ON audit_entries (gate, ref, seq);`,
  // The watch's record (types.ts EventLog): events, audited like attestations, numbered per gate;
  // a key is held by at most one event of a gate (a rollback claimed once). Leases say which
  // watcher acts for a gate now; like a run's heartbeat, they are not audited.
  `CREATE TABLE events (
     id TEXT PRIMARY KEY,
     gate TEXT NOT NULL,
     seq INTEGER NOT NULL,
     env TEXT NOT NULL,
     release_id TEXT NOT NULL,
     watch_id TEXT,
     kind TEXT NOT NULL,
     at TEXT NOT NULL,
     key TEXT,
     body TEXT NOT NULL,
     UNIQUE (gate, seq)
   );
   CREATE UNIQUE INDEX events_by_key ON events (gate, key) WHERE key IS NOT NULL;
   CREATE INDEX events_by_watch ON events (gate, watch_id, seq);
   CREATE INDEX events_by_release ON events (gate, env, release_id, kind, seq);
   CREATE TABLE leases (
     name TEXT PRIMARY KEY,
     holder TEXT NOT NULL,
     at TEXT NOT NULL
   );`,
];

/** The schema version that brought the audit chain: rows of a store migrated past it are adopted into the chain. */
export const AUDIT_VERSION = 4;

/** The schema version that brought the event log and leases: an older store read without migrating has none. */
export const EVENTS_VERSION = 6;

/** A result's ref (resultRef) in SQL, over `results res`. */
const RESULT_REF = "'result:' || res.run_id || ':' || res.item_id";

/** duration_ms as JSON.stringify would write it for a whole number (below 1e15, where it writes no exponent). */
const WHOLE_DURATION = 'CASE WHEN res.duration_ms = CAST(res.duration_ms AS INTEGER) AND abs(res.duration_ms) < 1e15 THEN CAST(res.duration_ms AS INTEGER) ELSE res.duration_ms END';

/** The last entry in 1..? of the row's gate recording `ref` (an SQL expression): the (gate, ref, seq) index answers it. */
const lastSeq = (ref: string, gate: string): string => `(SELECT max(e.seq) FROM audit_entries e WHERE e.gate = ${gate} AND e.ref = ${ref} AND e.seq BETWEEN 1 AND ?)`;

/**
 * The chain's statements, shared by every store (`?` placeholders; PostgreSQL numbers them). The
 * head row is created empty on first use; reading it is where PostgreSQL takes the row lock.
 */
export const CHAIN_SQL = {
  initHead: `INSERT INTO audit_heads (gate, seq, hash) VALUES (?, 0, '${GENESIS}') ON CONFLICT (gate) DO NOTHING`,
  head: 'SELECT seq, hash FROM audit_heads WHERE gate = ?',
  insertEntry: 'INSERT INTO audit_entries (gate, seq, ref, body, prev, hash) VALUES (?, ?, ?, ?, ?, ?)',
  moveHead: 'UPDATE audit_heads SET seq = ?, hash = ? WHERE gate = ?',
  entries: 'SELECT gate, seq, ref, body, prev, hash FROM audit_entries WHERE gate = ? AND seq > ? ORDER BY seq LIMIT ?',
  gates: 'SELECT gate FROM audit_heads WHERE seq > 0 ORDER BY gate',
  // The refs under a prefix whose row is gone, by table (parameters: gate, the prefix range, then
  // the ref's length before the key; results also the run). {ref} is where a store puts the ref
  // column as it compares byte-wise.
  orphanRuns: 'SELECT DISTINCT e.ref FROM audit_entries e WHERE e.gate = ? AND {ref} >= ? AND {ref} < ? AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = substr(e.ref, ?))',
  orphanAttestations: 'SELECT DISTINCT e.ref FROM audit_entries e WHERE e.gate = ? AND {ref} >= ? AND {ref} < ? AND NOT EXISTS (SELECT 1 FROM attestations a WHERE a.id = substr(e.ref, ?))',
  orphanResults: 'SELECT DISTINCT e.ref FROM audit_entries e WHERE e.gate = ? AND {ref} >= ? AND {ref} < ? AND NOT EXISTS (SELECT 1 FROM results res WHERE res.run_id = ? AND res.item_id = substr(e.ref, ?))',
  orphanEvents: 'SELECT DISTINCT e.ref FROM audit_entries e WHERE e.gate = ? AND {ref} >= ? AND {ref} < ? AND NOT EXISTS (SELECT 1 FROM events ev WHERE ev.id = substr(e.ref, ?))',
  // The last entry recording a ref, with the hash stored by the entry before it.
  lastEntry: `SELECT e.gate, e.seq, e.ref, e.body, e.prev, e.hash, p.hash FROM audit_entries e
    LEFT JOIN audit_entries p ON p.gate = e.gate AND p.seq = e.seq - 1
    WHERE e.gate = ? AND e.ref = ? ORDER BY e.seq DESC LIMIT 1`,
  runRow: `SELECT ${AUDITED.run} FROM runs WHERE id = ?`,
  resultRow: `SELECT ${AUDITED.result} FROM results WHERE run_id = ? AND item_id = ?`,
  attestationRow: `SELECT ${AUDITED.attestation} FROM attestations WHERE id = ?`,
  eventRow: `SELECT ${AUDITED.event} FROM events WHERE id = ?`,
  // Every audited row of a gate with the seq of the last entry in 1..? recording it (NULL: none);
  // parameters: that bound, then the gate.
  gateRuns: `SELECT ${AUDITED.run}, ${lastSeq("'run:' || r.id", 'r.gate')} FROM runs r WHERE r.gate = ?`,
  gateResults: `SELECT ${AUDITED.result.split(', ').map((c) => `res.${c}`).join(', ')}, ${lastSeq(RESULT_REF, 'r.gate')} FROM results res JOIN runs r ON r.id = res.run_id WHERE r.gate = ?`,
  gateAttestations: `SELECT ${AUDITED.attestation}, ${lastSeq("'attestation:' || a.id", 'a.gate')} FROM attestations a WHERE a.gate = ?`,
  gateEvents: `SELECT ${AUDITED.event}, ${lastSeq("'event:' || ev.id", 'ev.gate')} FROM events ev WHERE ev.gate = ?`,
  // SQLite: gateResults as JSON rendered by SQLite, then the last entry's seq. A REAL duration_ms
  // that is a whole number is rendered as an integer, as JSON.stringify writes it (SQLite: 12.0).
  gateResultsJson: `SELECT json_array(${AUDITED.result.split(', ').map((c) => (c === 'duration_ms' ? WHOLE_DURATION : `res.${c}`)).join(', ')}), ${lastSeq(RESULT_REF, 'r.gate')}
    FROM results res JOIN runs r ON r.id = res.run_id WHERE r.gate = ?`,
  // How many refs entries 1..? of a gate record (parameters: the gate, the bound). `+seq`: the
  // bound is no index key, so SQLite groups along the (gate, ref, seq) index instead of sorting
  // every ref of the (gate, seq) range (a fifth of the time).
  refCount: 'SELECT count(*) FROM (SELECT 1 FROM audit_entries WHERE gate = ? AND +seq BETWEEN 1 AND ? GROUP BY ref) refs',
} as const;

/**
 * The orphan query for a prefix (`run:`, `attestation:`, `event:` or `result:RUN:`) and its
 * parameters after the gate and the range; undefined for any other prefix.
 */
export function orphanQuery(prefix: string, from?: string): { sql: string; params: Array<string | number> } | undefined {
  // A lower bound outside the prefix's range would read refs of another table.
  if (from !== undefined && !from.startsWith(prefix)) return undefined;
  const key = prefix.length + 1;
  if (prefix === 'run:') return { sql: CHAIN_SQL.orphanRuns, params: [key] };
  if (prefix === 'attestation:') return { sql: CHAIN_SQL.orphanAttestations, params: [key] };
  if (prefix === 'event:') return { sql: CHAIN_SQL.orphanEvents, params: [key] };
  const at = parseRef(`${prefix}x`);
  if (at?.table === 'result' && prefix.endsWith(':')) return { sql: CHAIN_SQL.orphanResults, params: [at.runId, key] };
  return undefined;
}

/** The first string after every string that starts with `prefix`, byte-wise: the end of its range. */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/** The ref of a row read with CHAIN_SQL's gateRuns, gateResults, gateAttestations or gateEvents (values in AUDITED order). */
export const refOf = {
  run: (row: readonly unknown[]): string => runRef(String(row[0])),
  result: (row: readonly unknown[]): string => resultRef(String(row[0]), String(row[1])),
  attestation: (row: readonly unknown[]): string => attestationRef(String(row[0])),
  event: (row: readonly unknown[]): string => eventRef(String(row[0])),
};

/** What an entry shows a reader of the log about a run row (AUDITED.run order). */
export function runData(row: readonly unknown[]): Record<string, unknown> {
  const [id, , env, command, , release, , status, , , verdict] = row;
  return { run: id, env, command, release, status, ...(verdict !== null ? { verdict } : {}) };
}

/** What an entry shows about a result row (AUDITED.result order). */
export function resultData(row: readonly unknown[]): Record<string, unknown> {
  const [run, item, , tier, status] = row;
  return { run, item, tier, status };
}

/** What an entry shows about an attestation. */
export function attestationData(a: Attestation): Record<string, unknown> {
  const base = { id: a.id, kind: a.kind, release: a.release, by: a.by, role: a.role };
  if (a.kind === 'signoff') return { ...base, target: a.target };
  if (a.kind === 'waiver') return { ...base, item: a.itemId, expires: a.expires };
  return { ...base, revokes: a.attestationId };
}

/** What an entry shows about an event row (AUDITED.event order). */
export function eventData(row: readonly unknown[]): Record<string, unknown> {
  const [id, , seq, env, release, watch, kind, at, key] = row;
  return { id, seq, event: kind, env, release, at, ...(watch !== null ? { watch } : {}), ...(key !== null ? { key } : {}) };
}

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

/**
 * The attempts as stored: the last attempt's evidence is the result's own (the engine keeps both),
 * so it is stored once, with the result, and the attempt says so.
 */
function attemptsText(attempts: readonly Attempt[], evidence: string | null): string {
  const last = attempts.at(-1);
  if (evidence === null || last === undefined || last.evidence === undefined || evidenceText(last.evidence) !== evidence) return JSON.stringify(attempts);
  const { evidence: _same, ...rest } = last;
  return JSON.stringify([...attempts.slice(0, -1), { ...rest, evidenceOfResult: true }]);
}

/** The attempts as the model has them: the last one gets the result's evidence back. */
function attemptsOf(text: string, evidence: string | null): Attempt[] {
  const attempts = parseJson<Array<Attempt & { evidenceOfResult?: boolean }>>(text);
  const last = attempts.at(-1);
  if (last?.evidenceOfResult && evidence !== null) {
    delete last.evidenceOfResult;
    last.evidence = parseJson<unknown>(evidence);
  }
  return attempts;
}

/** The columns of a result besides its keys, in the order `ResultRow` lists them. */
export function resultColumns(r: ItemResult): [string, string, string, string | null, number, string, string | null] {
  const evidence = evidenceText(r.evidence);
  return [r.tier, r.status, r.message, evidence, r.durationMs, attemptsText(r.attempts, evidence), r.definition ?? null];
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
    attempts: attemptsOf(row.attempts, row.evidence),
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

/**
 * The writes every store makes (`?` placeholders). A result's seq is MAX + 1 within its run: safe
 * because every write holds its run's row (SQLite's write lock; PostgreSQL's FOR UPDATE) until it
 * commits, so two saves of one run never read the same MAX.
 */
export const WRITE_SQL = {
  insertRun: "INSERT INTO runs (id, gate, env, command, release_id, selection, config_hash, status, started_at, heartbeat_at, pid, host) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
  // A result keeps the position of its first save; saving it again replaces its content.
  upsertResult: `INSERT INTO results (run_id, item_id, seq, tier, status, message, evidence, duration_ms, attempts, definition)
     VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM results WHERE run_id = ?), ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (run_id, item_id) DO UPDATE SET
       tier = excluded.tier, status = excluded.status, message = excluded.message,
       evidence = excluded.evidence, duration_ms = excluded.duration_ms, attempts = excluded.attempts,
       definition = excluded.definition`,
  finishRun: "UPDATE runs SET status = ?, finished_at = ?, verdict = ?, readiness = ?, decision = ?, stages = ? WHERE id = ? AND status = 'running'",
  renew: "UPDATE runs SET heartbeat_at = ? WHERE id = ? AND status = 'running'",
  insertAttestation: 'INSERT INTO attestations (id, gate, kind, release_id, at, body) VALUES (?, ?, ?, ?, ?, ?)',
  // Only if the heartbeat is still the one judged: a run renewed meanwhile is alive.
  abortLapsed: "UPDATE runs SET status = 'aborted', finished_at = ? WHERE id = ? AND status = 'running' AND COALESCE(heartbeat_at, started_at) = ?",
  // Parameters: id, gate, gate, env, release, watch, kind, at, key, body. Safe to number by MAX + 1
  // because the writer holds its gate's chain (SQLite's write lock; PostgreSQL's head row) until it
  // commits; a key held by an earlier event of the gate inserts nothing and returns no row.
  insertEvent: `INSERT INTO events (id, gate, seq, env, release_id, watch_id, kind, at, key, body)
     VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE gate = ?), ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (gate, key) WHERE key IS NOT NULL DO NOTHING
     RETURNING seq`,
  // One statement, so atomic on both engines: taken when free, renewed by its holder, taken over
  // once its last renewal is older than the cutoff (parameters: name, holder, at, cutoff). ISO
  // times written by toISOString compare as text in time order.
  acquireLease: `INSERT INTO leases (name, holder, at) VALUES (?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, at = excluded.at
     WHERE leases.holder = excluded.holder OR leases.at < ?
     RETURNING holder`,
  releaseLease: 'DELETE FROM leases WHERE name = ? AND holder = ?',
  leaseOf: 'SELECT holder, at FROM leases WHERE name = ?',
} as const;

/** The events columns as EventRow names them. */
export const EVENT_COLUMNS = 'id, gate, seq, env, release_id, watch_id, kind, at, key, body';

/** A row of `events`. */
export interface EventRow {
  id: string;
  gate: string;
  seq: number;
  env: string;
  release_id: string;
  watch_id: string | null;
  kind: WatchEventKind;
  at: string;
  key: string | null;
  body: string;
}

/** An event row back to the model (absent watch and key stay absent). */
export function toEvent(row: EventRow): WatchEvent {
  return {
    id: row.id,
    seq: row.seq,
    gate: row.gate,
    env: row.env,
    release: row.release_id,
    ...(row.watch_id !== null ? { watchId: row.watch_id } : {}),
    kind: row.kind,
    at: row.at,
    ...(row.key !== null ? { key: row.key } : {}),
    data: parseJson<Record<string, unknown>>(row.body),
  };
}

const EVENT_KINDS: ReadonlySet<string> = new Set(WATCH_EVENT_KINDS);

/** An event's values for WRITE_SQL.insertEvent, once it is known to be one the store can keep. */
export function eventValues(id: string, e: NewEvent): Array<string | null> {
  if (!EVENT_KINDS.has(e.kind)) throw new RangeError(`addEvent: kind must be one of ${WATCH_EVENT_KINDS.join(', ')}, got ${JSON.stringify(e.kind)}`);
  isoTime('addEvent: at', e.at);
  if (e.key === '') throw new RangeError('addEvent: key must not be empty (leave it out for an event anyone may append)');
  if (typeof e.data !== 'object' || e.data === null || Array.isArray(e.data)) throw new RangeError('addEvent: data must be a JSON object');
  return [id, e.gate, e.gate, e.env, e.release, e.watchId ?? null, e.kind, e.at, e.key ?? null, JSON.stringify(e.data)];
}

/** The event an append of `e` as `id` stored, numbered `seq`: as listEvents will read it back. */
export function storedEvent(id: string, seq: number, e: NewEvent): WatchEvent {
  const row: EventRow = { id, gate: e.gate, seq: Number(seq), env: e.env, release_id: e.release, watch_id: e.watchId ?? null, kind: e.kind, at: e.at, key: e.key ?? null, body: JSON.stringify(e.data) };
  return toEvent(row);
}

/**
 * An event listing as SQL (placeholders `?`), oldest first; with a limit, the newest matching
 * events in reverse (the caller turns them back). Undefined when nothing can match (no kinds).
 */
export function eventListing(q: EventQuery): { sql: string; params: Array<string | number>; newestFirst: boolean } | undefined {
  for (const [name, value] of [['limit', q.limit], ['afterSeq', q.afterSeq]] as const) {
    if (value !== undefined && !(Number.isInteger(value) && value >= 0)) throw new RangeError(`listEvents: ${name} must be a whole number >= 0, got ${value}`);
  }
  if (q.kinds !== undefined && q.kinds.length === 0) return undefined;
  const clauses = ['gate = ?'];
  const params: Array<string | number> = [q.gate];
  for (const [column, value] of [['watch_id', q.watchId], ['env', q.env], ['release_id', q.release]] as const) {
    if (value === undefined) continue;
    clauses.push(`${column} = ?`);
    params.push(value);
  }
  if (q.kinds !== undefined) {
    clauses.push(`kind IN (${q.kinds.map(() => '?').join(', ')})`);
    params.push(...q.kinds);
  }
  if (q.afterSeq !== undefined) {
    clauses.push('seq > ?');
    params.push(q.afterSeq);
  }
  const newestFirst = q.limit !== undefined;
  const sql = `SELECT ${EVENT_COLUMNS} FROM events WHERE ${clauses.join(' AND ')} ORDER BY seq${newestFirst ? ` DESC LIMIT ${q.limit}` : ''}`;
  return { sql, params, newestFirst };
}

/** The cutoff a lease taken at `at` is judged by: a renewal older than it has lapsed. Both times normalised to toISOString's form. */
export function leaseTimes(name: string, holder: string, at: string, leaseMs: number): { at: string; cutoff: string } {
  isoTime('acquireLease: at', at);
  if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw new RangeError(`acquireLease: leaseMs must be a positive number of milliseconds, got ${leaseMs}`);
  if (name === '' || holder === '') throw new RangeError('acquireLease: name and holder must not be empty');
  const ms = Date.parse(at);
  return { at: new Date(ms).toISOString(), cutoff: new Date(ms - leaseMs).toISOString() };
}

/** An opener's duration option in milliseconds: `fallback` when absent, refused when not a positive (or, with `allowZero`, non-negative) number. */
export function positive(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) throw new RangeError(`openStore: ${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds, got ${value}`);
  return value;
}

/** A time the store keeps must be one the lease can be judged by. */
export function isoTime(what: string, value: string): void {
  if (!Number.isFinite(Date.parse(value))) throw new RangeError(`${what} must be an ISO 8601 date-time, got ${JSON.stringify(value)}`);
}

/** Refuses a limit that is not a whole number >= 0 (it is written into the SQL text). */
export function checkRunQuery(q: RunQuery): void {
  if (q.limit !== undefined && !(Number.isInteger(q.limit) && q.limit >= 0)) {
    throw new RangeError(`listRuns: limit must be a whole number >= 0, got ${q.limit}`);
  }
}

/**
 * A run listing as SQL over `columns` (placeholders `?`), newest first: narrowed by the query's
 * named fields, limited only when asked.
 */
export function runListing(q: RunQuery, columns: string): { sql: string; params: string[] } {
  checkRunQuery(q);
  // A listing is of summaries, which carry the verdict, not the decision: the decision (a document
  // of every item's result, kilobytes a run) is not read.
  const read = columns.replace(/(^|, )decision(?=,|$)/, '$1NULL AS decision');
  const clauses: string[] = [];
  const params: string[] = [];
  for (const [column, value] of [['gate', q.gate], ['release_id', q.release], ['env', q.env]] as const) {
    if (value === undefined) continue;
    clauses.push(`${column} = ?`);
    params.push(value);
  }
  const where = clauses.length > 0 ? ` WHERE ${clauses.join(' AND ')}` : '';
  return { sql: `SELECT ${read} FROM runs${where} ORDER BY id DESC${q.limit !== undefined ? ` LIMIT ${q.limit}` : ''}`, params };
}

/**
 * The newest result of each item among the completed runs of one gate, release and environment
 * (parameters: gate, release, env), `resultColumns` prefixed `res.`, with the run id first.
 */
export function latestResultsSql(resultColumns: string): string {
  return `SELECT res.run_id, ${resultColumns}
     FROM results res JOIN runs r ON r.id = res.run_id
     WHERE r.gate = ? AND r.release_id = ? AND r.env = ? AND r.status = 'completed'
       AND NOT EXISTS (
         SELECT 1 FROM results res2 JOIN runs r2 ON r2.id = res2.run_id
         WHERE res2.item_id = res.item_id AND r2.gate = r.gate AND r2.release_id = r.release_id
           AND r2.env = r.env AND r2.status = 'completed' AND r2.id > r.id)`;
}
