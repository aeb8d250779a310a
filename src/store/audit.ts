// The audit chain: every write to a gate's record (a run begun or ended, a result, an attestation)
// is also an entry in an append-only log per gate. An entry's body is canonical JSON naming the
// row it records and the SHA-256 of that row as stored; its hash covers the previous entry's hash
// and its body. So a row changed, deleted or inserted behind gonogo's back, or an entry changed,
// deleted or inserted, is found by walking the chain and comparing it with the tables.
import { createHash } from 'node:crypto';

/** The hash the first entry of every chain links to. */
export const GENESIS = '0'.repeat(64);

/** What an entry records. A decision is recorded by the end of its run. */
export type EntryKind = 'run-begin' | 'result' | 'run-end' | 'attestation';

/** One entry as stored. */
export interface AuditEntry {
  gate: string;
  /** 1, 2, 3... within the gate. */
  seq: number;
  /** The row recorded: `run:ID`, `result:RUN:ITEM` or `attestation:ID`. */
  ref: string;
  /** Canonical JSON of the entry's content (EntryBody). */
  body: string;
  /** The previous entry's hash (GENESIS for the first). */
  prev: string;
  /** SHA-256 of `prev`, a newline and `body`, in hex. */
  hash: string;
}

/** What an entry's body holds. */
export interface EntryBody {
  at: string;
  /** A few fields a person reads in an export; the row itself is bound by `row`. */
  data: Record<string, unknown>;
  gate: string;
  kind: EntryKind;
  ref: string;
  /** SHA-256 of the row's audited columns as stored. */
  row: string;
  seq: number;
}

/** The head of a gate's chain: its last entry. */
export interface ChainHead {
  seq: number;
  hash: string;
}

/**
 * The audit chain part of a store: the entries and heads, and what the tables hold now, so that
 * one verifier (verifyChain) judges every store alike.
 */
export interface AuditLog {
  /** The gates that have a chain. */
  auditGates(): Promise<string[]>;
  /** The last entry of the gate's chain as its head row records it; undefined for no chain. */
  auditHead(gate: string): Promise<ChainHead | undefined>;
  /** Up to `limit` entries of the gate with seq > `afterSeq`, in seq order. */
  auditEntries(gate: string, afterSeq: number, limit: number): Promise<AuditEntry[]>;
  /** The SHA-256 of every audited row of the gate now, by ref (runs, results, attestations). */
  rowDigests(gate: string): Promise<Map<string, string>>;
}

/** JSON with object keys sorted at every level, no spaces: one text for one value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const record: Record<string, unknown> = { ...value };
  const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The hash of an entry: its predecessor's hash, a newline, its body. */
export function entryHash(prev: string, body: string): string {
  return createHash('sha256').update(prev).update('\n').update(body).digest('hex');
}

/** The columns of each table the chain binds (heartbeats are not: they only renew a lease). */
export const AUDITED = {
  run: 'id, gate, env, command, config_hash, release_id, selection, status, started_at, finished_at, verdict, readiness, decision, stages',
  result: 'run_id, item_id, seq, tier, status, message, evidence, duration_ms, attempts, definition',
  attestation: 'id, gate, kind, release_id, at, body',
} as const;

/** The digest of a row: its audited column values, in AUDITED's order, as a JSON array. */
export function rowDigest(values: readonly unknown[]): string {
  return sha256(JSON.stringify(values));
}

export const runRef = (id: string): string => `run:${id}`;
export const resultRef = (runId: string, itemId: string): string => `result:${runId}:${itemId}`;
export const attestationRef = (id: string): string => `attestation:${id}`;

/** An entry to append, before it has a place in the chain. */
export interface NewEntry {
  gate: string;
  kind: EntryKind;
  ref: string;
  at: string;
  data: Record<string, unknown>;
  /** The row's values in AUDITED order, as read back after the write. */
  row: readonly unknown[];
}

/** The entry that follows `head` (undefined: the first). */
export function nextEntry(head: ChainHead | undefined, e: NewEntry): AuditEntry {
  const seq = (head?.seq ?? 0) + 1;
  const prev = head?.hash ?? GENESIS;
  const content: EntryBody = { at: e.at, data: e.data, gate: e.gate, kind: e.kind, ref: e.ref, row: rowDigest(e.row), seq };
  const body = canonicalJson(content);
  return { gate: e.gate, seq, ref: e.ref, body, prev, hash: entryHash(prev, body) };
}

/** The first thing found wrong; `seq` is the entry it concerns, when there is one. */
export interface ChainProblem {
  kind: 'entry-changed' | 'entry-deleted' | 'entry-inserted' | 'truncated' | 'row-changed' | 'row-deleted' | 'row-inserted';
  seq?: number;
  ref?: string;
  message: string;
}

/** What verifyChain found for one gate. */
export interface ChainReport {
  gate: string;
  /** Entries read. */
  entries: number;
  /** The hash of the last entry read (GENESIS for an empty chain). */
  head: string;
  intact: boolean;
  problem?: ChainProblem;
}

const BATCH = 20_000;

/** Which table row a ref names, for messages. */
function describeRef(ref: string): string {
  const [kind, ...rest] = ref.split(':');
  if (kind === 'result') return `result of ${rest[1]} in run ${rest[0]}`;
  return `${kind} ${rest.join(':')}`;
}

/**
 * Walks a gate's chain from its first entry and compares it with the tables: every entry's hash,
 * every link, the head row, then every row of the gate against the last entry that recorded it.
 * Returns the first problem found, as data; `expectHead` (a hash pinned earlier) must be in the
 * chain, so that a tail removed together with its rows is found too.
 */
export async function verifyChain(log: AuditLog, gate: string, options: { expectHead?: string } = {}): Promise<ChainReport> {
  let prev = GENESIS;
  let expected = 1;
  let sawExpected = options.expectHead === undefined || options.expectHead === GENESIS;
  const lastRow = new Map<string, { row: string; seq: number }>();
  const report = (problem: ChainProblem): ChainReport => ({ gate, entries: expected - 1, head: prev, intact: false, problem });

  for (;;) {
    const batch = await log.auditEntries(gate, expected - 1, BATCH);
    for (const e of batch) {
      if (e.seq !== expected) {
        return report({ kind: 'entry-deleted', seq: expected, message: `entry ${expected} was deleted (the chain goes from entry ${expected - 1} to entry ${e.seq})` });
      }
      let body: EntryBody;
      try {
        body = JSON.parse(e.body);
      } catch {
        return report({ kind: 'entry-changed', seq: e.seq, ref: e.ref, message: `entry ${e.seq} was changed: its body is not JSON` });
      }
      if (entryHash(e.prev, e.body) !== e.hash) {
        return report({ kind: 'entry-changed', seq: e.seq, ref: e.ref, message: `entry ${e.seq} (${describeRef(e.ref)}) was changed: its hash does not match its content` });
      }
      if (body.seq !== e.seq || body.gate !== gate || body.ref !== e.ref) {
        const what = body.seq < e.seq ? `an entry was inserted before it (it was entry ${body.seq})` : `it was moved (it was entry ${body.seq} of gate ${body.gate})`;
        return report({ kind: 'entry-inserted', seq: e.seq, ref: e.ref, message: `entry ${e.seq} is out of place: ${what}` });
      }
      if (e.prev !== prev) {
        // The entry is intact but does not follow its predecessor: that one was rewritten, or this one put in.
        return report({ kind: 'entry-changed', seq: e.seq - 1, message: `entry ${e.seq - 1} was changed or replaced: entry ${e.seq} links to another hash` });
      }
      prev = e.hash;
      if (!sawExpected && e.hash === options.expectHead) sawExpected = true;
      lastRow.set(e.ref, { row: body.row, seq: e.seq });
      expected++;
    }
    if (batch.length < BATCH) break;
  }
  const entries = expected - 1;

  const head = await log.auditHead(gate);
  if (head !== undefined && (head.seq !== entries || head.hash !== prev)) {
    if (head.seq > entries) return report({ kind: 'truncated', seq: entries + 1, message: `entries ${entries + 1} to ${head.seq} were deleted (the head records entry ${head.seq})` });
    return report({ kind: 'entry-inserted', seq: head.seq + 1, message: `the chain goes past its recorded head (entry ${head.seq}): entries from ${head.seq + 1} were inserted` });
  }
  if (!sawExpected) {
    return report({ kind: 'truncated', seq: entries + 1, message: `the expected head ${options.expectHead} is not in the chain: it was truncated or rewritten (it ends at entry ${entries}, ${prev})` });
  }

  // Every row against the entry that last recorded it, in chain order so the earliest is named.
  const rows = await log.rowDigests(gate);
  let first: ChainProblem | undefined;
  const consider = (p: ChainProblem): void => {
    if (first === undefined || (p.seq ?? Infinity) < (first.seq ?? Infinity)) first = p;
  };
  for (const [ref, recorded] of lastRow) {
    const now = rows.get(ref);
    if (now === undefined) consider({ kind: 'row-deleted', seq: recorded.seq, ref, message: `the ${describeRef(ref)} recorded by entry ${recorded.seq} was deleted` });
    else if (now !== recorded.row) consider({ kind: 'row-changed', seq: recorded.seq, ref, message: `the ${describeRef(ref)} was changed after entry ${recorded.seq} recorded it` });
  }
  for (const ref of rows.keys()) {
    if (!lastRow.has(ref)) consider({ kind: 'row-inserted', ref, message: `the ${describeRef(ref)} is in the store but not in the audit log: it was inserted` });
  }
  if (first !== undefined) return { gate, entries, head: prev, intact: false, problem: first };
  return { gate, entries, head: prev, intact: true };
}

/**
 * The gate's entries as JSON lines for an auditor: the stored fields with the body parsed, from
 * entry `since.seq` on, or from the first entry made at or after `since.at`.
 */
export async function* exportEntries(log: AuditLog, gate: string, since: { seq?: number; at?: string } = {}): AsyncGenerator<string> {
  let after = Math.max(0, (since.seq ?? 1) - 1);
  for (;;) {
    const batch = await log.auditEntries(gate, after, BATCH);
    for (const e of batch) {
      let entry: unknown;
      try {
        entry = JSON.parse(e.body);
      } catch {
        entry = e.body;
      }
      const at = typeof entry === 'object' && entry !== null && 'at' in entry ? String(entry.at) : '';
      if (since.at === undefined || at >= since.at) yield canonicalJson({ gate: e.gate, seq: e.seq, ref: e.ref, entry, prev: e.prev, hash: e.hash });
    }
    if (batch.length < BATCH) return;
    after = batch[batch.length - 1].seq;
  }
}
