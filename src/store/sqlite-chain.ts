// The audit chain on SQLite. Appending runs inside the caller's write transaction: SQLite's write
// lock is held from its start (IMMEDIATE), so no other writer can read the same head and fork.
import type Database from 'better-sqlite3';
import { attestationRef, eventRef, GENESIS, nextEntry, parseRef, resultRef, runRef } from './audit.js';
import type { AuditEntry, AuditLog, AuditRecord, ChainHead, EntryKind } from './audit.js';
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

/** The chain's reads on one SQLite database, synchronous (the store wraps them in its retries). */
export type SyncAuditReads = { [K in keyof AuditLog]: (...args: Parameters<AuditLog[K]>) => Awaited<ReturnType<AuditLog[K]>> };

/** The chain's reads on a database at schema `version` (at least AUDIT_VERSION); before EVENTS_VERSION there are no events. */
export function sqliteAuditReads(db: Database.Database, version: number): SyncAuditReads {
  const events = version >= EVENTS_VERSION;
  const head = db.prepare<[string], ChainHead>(CHAIN_SQL.head);
  // Arrays, not objects: better-sqlite3 builds an object row by named property sets, slower than
  // building the same object here from the array.
  const entries = db.prepare<[string, number, number], [string, number, string, string, string, string]>(CHAIN_SQL.entries).raw();
  const gates = db.prepare<[], string>(CHAIN_SQL.gates).pluck();
  const digests = [
    [db.prepare<[string], unknown[]>(CHAIN_SQL.gateRuns).raw(), refOf.run],
    [db.prepare<[string], unknown[]>(CHAIN_SQL.gateResults).raw(), refOf.result],
    [db.prepare<[string], unknown[]>(CHAIN_SQL.gateAttestations).raw(), refOf.attestation],
    ...(events ? [[db.prepare<[string], unknown[]>(CHAIN_SQL.gateEvents).raw(), refOf.event] as const] : []),
  ] as const;
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
  const resultsJson = db.prepare<[string], [string, string, unknown, string]>(CHAIN_SQL.gateResultsJson).raw();
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
    auditOrphans(gate, prefix) {
      const q = orphanQuery(prefix);
      if (q === undefined) throw new RangeError(`auditOrphans: no table has refs starting ${JSON.stringify(prefix)}`);
      if (prefix === 'event:' && !events) return [];
      // BINARY collation compares bytes: a prefix's refs are one range of the (gate, ref, seq) index.
      return db.prepare<unknown[], string>(q.sql.replaceAll('{ref}', 'e.ref')).pluck().all(gate, prefix, prefixEnd(prefix), ...q.params);
    },
    auditGates() {
      return gates.all();
    },
    auditHead(gate) {
      const h = head.get(gate);
      return h === undefined || h.seq === 0 ? undefined : { seq: h.seq, hash: h.hash };
    },
    auditEntries(gate, afterSeq, limit) {
      return entries.all(gate, afterSeq, limit).map(([gate, seq, ref, body, prev, hash]): AuditEntry => ({ gate, seq, ref, body, prev, hash }));
    },
    auditRows(gate, visit) {
      // One read transaction: the tables as of one moment.
      db.transaction(() => {
        for (const [statement, ref] of digests) {
          if (ref === refOf.result) continue;
          for (const row of statement.iterate(gate)) visit(ref(row), JSON.stringify(row));
        }
        // A gate's results are most of its rows: rendered by SQLite, all but duration_ms (a REAL,
        // which SQLite writes as 12.0 where JSON.stringify writes 12).
        for (const [ref, head, duration, tail] of resultsJson.iterate(gate)) visit(ref, `${head.slice(0, -1)},${JSON.stringify(duration)},${tail.slice(1)}`);
      })();
    },
  };
}
