// The audit chain on SQLite. Appending runs inside the caller's write transaction: SQLite's write
// lock is held from its start (IMMEDIATE), so no other writer can read the same head and fork.
import type Database from 'better-sqlite3';
import { attestationRef, eventRef, GENESIS, nextEntry, parseRef, PieceWalker, resultRef, rowDigester, runRef } from './audit.js';
import type { AuditEntry, AuditLog, AuditRecord, ChainHead, EntryKind, RowDigests, WalkedPiece, WalkPiece } from './audit.js';
import { attestationData, CHAIN_SQL, EVENTS_VERSION, eventData, orphanQuery, prefixEnd, refOf, resultData, runData, toAttestation } from './schema.js';

/** Appends entries for the rows a write just made, reading each row back as stored. */
export interface SqliteChain {
  run(runId: string, kind: 'run-begin' | 'run-end', at: string, extra?: Record<string, unknown>): void;
  result(gate: string, runId: string, itemId: string, at: string): void;
  attestation(id: string, at: string): void;
  event(id: string, at: string): void;
}

export function sqliteChain(db: Database.Database): SqliteChain {
  const initHead = db.prepare(CHAIN_SQL.initHead);
  const head = db.prepare<[string], ChainHead>(CHAIN_SQL.head);
  const insert = db.prepare(CHAIN_SQL.insertEntry);
  const move = db.prepare(CHAIN_SQL.moveHead);
  const runRow = db.prepare<[string], unknown[]>(CHAIN_SQL.runRow).raw();
  const resultRow = db.prepare<[string, string], unknown[]>(CHAIN_SQL.resultRow).raw();
  const attestationRow = db.prepare<[string], unknown[]>(CHAIN_SQL.attestationRow).raw();
  // Prepared on first use: a store migrated in this transaction has no events table before it.
  let eventRow: Database.Statement<[string], unknown[]> | undefined;

  function append(gate: string, kind: EntryKind, ref: string, at: string, data: Record<string, unknown>, row: unknown[]): void {
    initHead.run(gate);
    const current = head.get(gate);
    const entry = nextEntry(current, { gate, kind, ref, at, data, row });
    insert.run(entry.gate, entry.seq, entry.ref, entry.body, entry.prev, entry.hash);
    move.run(entry.seq, entry.hash, gate);
  }

  function must<T>(row: T | undefined, what: string): T {
    if (row === undefined) throw new Error(`${what} vanished inside its own transaction`);
    return row;
  }

  return {
    run(runId, kind, at, extra = {}) {
      const row = must(runRow.get(runId), `run ${runId}`);
      append(String(row[1]), kind, runRef(runId), at, { ...runData(row), ...extra }, row);
    },
    result(gate, runId, itemId, at) {
      const row = must(resultRow.get(runId, itemId), `result ${itemId}`);
      append(gate, 'result', resultRef(runId, itemId), at, resultData(row), row);
    },
    attestation(id, at) {
      const row = must(attestationRow.get(id), `attestation ${id}`);
      append(String(row[1]), 'attestation', attestationRef(id), at, attestationData(toAttestation({ id, body: String(row[5]) })), row);
    },
    event(id, at) {
      eventRow ??= db.prepare<[string], unknown[]>(CHAIN_SQL.eventRow).raw();
      const row = must(eventRow.get(id), `event ${id}`);
      append(String(row[1]), 'event', eventRef(id), at, eventData(row), row);
    },
  };
}

/**
 * Puts the rows a store held before the chain existed into it (one entry each, marked adopted), in
 * the migration's transaction: from then on they are covered like any other.
 */
export function adoptExisting(db: Database.Database, at: string): void {
  const chain = sqliteChain(db);
  const runs = db.prepare<[], { id: string; gate: string; status: string }>('SELECT id, gate, status FROM runs ORDER BY id').all();
  const results = db.prepare<[string], { item_id: string }>('SELECT item_id FROM results WHERE run_id = ? ORDER BY seq');
  for (const r of runs) {
    chain.run(r.id, r.status === 'running' ? 'run-begin' : 'run-end', at, { adopted: true });
    for (const res of results.all(r.id)) chain.result(r.gate, r.id, res.item_id, at);
  }
  for (const a of db.prepare<[], { id: string }>('SELECT id FROM attestations ORDER BY id').all()) chain.attestation(a.id, at);
}

/**
 * A share of a gate's rows, for the threads that hash them together: the results of the gate's
 * runs whose ids lie from `runs[0]` to `runs[1]` (as SQLite orders them), and, with `rest`, every
 * run, attestation and event of the gate.
 */
export interface RowShare {
  runs?: [unknown, unknown];
  rest: boolean;
}

/** Verify's work a piece or a share at a time, on any connection to the store: this thread's or another's. */
export interface VerifyReads {
  /** One piece of the chain walked. */
  walkPiece(gate: string, piece: WalkPiece, expectHead: string | undefined): WalkedPiece;
  /** The gate's rows cut into about `count` shares of as many runs each; one share holds the rest. */
  rowShares(gate: string, count: number): RowShare[];
  /** auditRowDigests of one share. */
  rowShare(gate: string, through: number, share: RowShare, visit: (batch: RowDigests) => void): void;
}

type RowVisit = (ref: string, seq: number | null, json: string) => void;

/**
 * A gate's rows, all or a share: each with its ref ('' for a result an entry records, unless
 * `named`), the last entry in 1..`through` recording it, its JSON. One read transaction each: the
 * tables as of one moment.
 */
function sqliteRows(db: Database.Database, events: boolean) {
  const tables = [
    [db.prepare<[number, string], unknown[]>(CHAIN_SQL.gateRuns).raw(), refOf.run],
    [db.prepare<[number, string], unknown[]>(CHAIN_SQL.gateAttestations).raw(), refOf.attestation],
    ...(events ? [[db.prepare<[number, string], unknown[]>(CHAIN_SQL.gateEvents).raw(), refOf.event] as const] : []),
  ] as const;
  const results = db.prepare<[number, string], [string, number | null]>(CHAIN_SQL.gateResultsJson).raw();
  // gateResultsJson ends with its WHERE clause: a share is one more condition, a range of the
  // (gate, id) index of runs (with both ends: SQLite takes BETWEEN's upper one for a filter).
  const someResults = db.prepare<[number, string, unknown, unknown], [string, number | null]>(`${CHAIN_SQL.gateResultsJson} AND r.id >= ? AND r.id <= ?`).raw();
  const runIds = db.prepare<[string], unknown>('SELECT id FROM runs WHERE gate = ? AND id IS NOT NULL ORDER BY id').pluck();

  const rest = (gate: string, through: number, visit: RowVisit): void => {
    for (const [statement, ref] of tables) {
      for (const row of statement.iterate(through, gate)) {
        const seq = row.pop() as number | null;
        visit(ref(row), seq, JSON.stringify(row));
      }
    }
  };
  // A gate's results are most of its rows: rendered by SQLite, three times JSON.stringify's speed
  // on escaped text, and named by their first two values only when a caller needs the ref.
  const each = (rows: Iterable<[string, number | null]>, named: boolean, visit: RowVisit): void => {
    for (const [json, seq] of rows) visit(seq === null || named ? resultRefOf(json) : '', seq, json);
  };
  return {
    all: db.transaction((gate: string, through: number, named: boolean, visit: RowVisit) => {
      rest(gate, through, visit);
      each(results.iterate(through, gate), named, visit);
    }),
    share: db.transaction((gate: string, through: number, share: RowShare, visit: RowVisit) => {
      if (share.rest) rest(gate, through, visit);
      if (share.runs !== undefined) each(someResults.iterate(through, gate, ...share.runs), false, visit);
    }),
    shares(gate: string, count: number): RowShare[] {
      // Ids as SQLite returned them, bound back as they were: the ranges meet exactly, whatever their type.
      const ids = runIds.all(gate);
      if (ids.length === 0) return [{ rest: true }];
      const cut = Math.min(count, ids.length);
      return Array.from({ length: cut }, (_, i): RowShare => {
        const first = ids[Math.floor((i * ids.length) / cut)];
        const last = ids[Math.floor(((i + 1) * ids.length) / cut) - 1];
        return { runs: [first, last], rest: i === 0 };
      });
    },
  };
}

/** Feeds a share's or all rows to a RowDigests batcher. */
function digested(visit: (batch: RowDigests) => void, read: (row: RowVisit) => void): void {
  const digester = rowDigester(visit);
  read(digester.row);
  digester.end();
}

/** The ref of a result row rendered as JSON (its run and item are its first two values). */
function resultRefOf(json: string): string {
  const [runId, itemId] = JSON.parse(json);
  return resultRef(String(runId), String(itemId));
}

/** The chain's reads on one SQLite database, synchronous (the store wraps them in its retries). */
export type SyncAuditReads = { [K in Exclude<keyof AuditLog, 'auditVerifyWork'>]: (...args: Parameters<AuditLog[K]>) => Awaited<ReturnType<AuditLog[K]>> };

/** The chain's reads on a database at schema `version` (at least AUDIT_VERSION); before EVENTS_VERSION there are no events. */
export function sqliteAuditReads(db: Database.Database, version: number): SyncAuditReads & VerifyReads {
  const events = version >= EVENTS_VERSION;
  const head = db.prepare<[string], ChainHead>(CHAIN_SQL.head);
  // Arrays, not objects: better-sqlite3 builds an object row by named property sets, slower than
  // building the same object here from the array; and without the gate, which the caller named.
  const entries = db.prepare<[string, number, number], [number, string, string, string, string]>('SELECT seq, ref, body, prev, hash FROM audit_entries WHERE gate = ? AND seq > ? ORDER BY seq LIMIT ?').raw();
  const walkFrom = db.prepare<[string, number], [number, string, string, string, string]>('SELECT seq, ref, body, prev, hash FROM audit_entries WHERE gate = ? AND seq > ? ORDER BY seq').raw();
  const gates = db.prepare<[], string>(CHAIN_SQL.gates).pluck();
  const refCount = db.prepare<[string, number], number>(CHAIN_SQL.refCount).pluck();
  const lastEntry = db.prepare<[string, string], [string, number, string, string, string, string, string | null]>(CHAIN_SQL.lastEntry).raw();
  const runRow = db.prepare<[string], unknown[]>(CHAIN_SQL.runRow).raw();
  const resultRow = db.prepare<[string, string], unknown[]>(CHAIN_SQL.resultRow).raw();
  const attestationRow = db.prepare<[string], unknown[]>(CHAIN_SQL.attestationRow).raw();
  const eventRow = events ? db.prepare<[string], unknown[]>(CHAIN_SQL.eventRow).raw() : undefined;
  const rowOf = (ref: string): unknown[] | undefined => {
    const at = parseRef(ref);
    if (at === undefined) return undefined;
    if (at.table === 'result') return resultRow.get(at.runId, at.itemId);
    if (at.table === 'event') return eventRow?.get(at.id);
    return (at.table === 'run' ? runRow : attestationRow).get(at.id);
  };
  const rows = sqliteRows(db, events);
  return {
    auditRecords(gate, refs) {
      const out: AuditRecord[] = [];
      db.transaction(() => {
        for (const ref of refs) {
          const found = lastEntry.get(gate, ref);
          const row = rowOf(ref);
          if (found === undefined) {
            out.push({ ref, ...(row !== undefined ? { row } : {}) });
            continue;
          }
          const [g, seq, r, body, prev, hash, before] = found;
          const linked = seq === 1 ? GENESIS : (before ?? undefined);
          out.push({ ref, entry: { gate: g, seq, ref: r, body, prev, hash }, ...(linked !== undefined ? { before: linked } : {}), ...(row !== undefined ? { row } : {}) });
        }
      })();
      return out;
    },
    auditOrphans(gate, prefix, from) {
      const q = orphanQuery(prefix, from);
      if (q === undefined) throw new RangeError(`auditOrphans: no table has refs starting ${JSON.stringify(prefix)}${from === undefined ? '' : ` from ${JSON.stringify(from)}`}`);
      if (prefix === 'event:' && !events) return [];
      // BINARY collation compares bytes: a prefix's refs are one range of the (gate, ref, seq) index.
      return db.prepare<unknown[], string>(q.sql.replaceAll('{ref}', 'e.ref')).pluck().all(gate, from ?? prefix, prefixEnd(prefix), ...q.params);
    },
    auditGates() {
      return gates.all();
    },
    auditHead(gate) {
      const h = head.get(gate);
      return h === undefined || h.seq === 0 ? undefined : { seq: h.seq, hash: h.hash };
    },
    auditEntries(gate, afterSeq, limit) {
      return entries.all(gate, afterSeq, limit).map(([seq, ref, body, prev, hash]): AuditEntry => ({ gate, seq, ref, body, prev, hash }));
    },
    auditRows(gate, visit) {
      rows.all(gate, 0, true, (ref, _seq, json) => visit(ref, json));
    },
    auditRowDigests(gate, through, visit) {
      digested(visit, (row) => rows.all(gate, through, false, row));
    },
    walkPiece(gate, piece, expectHead) {
      const walker = new PieceWalker(gate, piece, expectHead);
      for (const [seq, ref, body, prev, hash] of walkFrom.iterate(gate, piece.after)) {
        // Leaving the loop ends the statement's read.
        if (!walker.step({ gate, seq, ref, body, prev, hash })) return walker.done(false);
      }
      return walker.done(true);
    },
    rowShares: rows.shares,
    rowShare(gate, through, share, visit) {
      digested(visit, (row) => rows.share(gate, through, share, row));
    },
    auditRefCount(gate, through) {
      return refCount.get(gate, through) ?? 0;
    },
  };
}
