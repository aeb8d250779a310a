// The audit chain: every write to a gate's record (a run begun or ended, a result, an attestation,
// a watch's event) is also an entry in an append-only log per gate. An entry's body is canonical JSON naming the
// row it records and the SHA-256 of that row as stored; its hash covers the previous entry's hash
// and its body. So a row changed, deleted or inserted behind gonogo's back, or an entry changed,
// deleted or inserted, is found by walking the chain and comparing it with the tables.
import { hash } from 'node:crypto';

/** The hash the first entry of every chain links to. */
export const GENESIS = '0'.repeat(64);

/** What an entry records. A decision is recorded by the end of its run. */
export type EntryKind = 'run-begin' | 'result' | 'run-end' | 'attestation' | 'event';

/** One entry as stored. */
export interface AuditEntry {
  gate: string;
  /** 1, 2, 3... within the gate. */
  seq: number;
  /** The row recorded: `run:ID`, `result:RUN:ITEM`, `attestation:ID` or `event:ID`. */
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
  /**
   * Every audited row of the gate as it is now (runs, results, attestations, events), each given to `visit`
   * with its ref and its values in AUDITED order as a JSON array, all from one snapshot. Streamed,
   * not returned. A store may render the JSON itself (SQLite's json_array, three times
   * JSON.stringify's speed on escaped text), so a value may read otherwise than JSON.stringify
   * writes it (a REAL as `12.0`).
   */
  auditRows(gate: string, visit: (ref: string, json: string) => void): Promise<void>;
  /**
   * Every audited row of the gate as it is now, hashed for verify, all from one snapshot: each row's
   * text as auditRows renders it, hashed, at the seq of the last entry in 1..`through` that records
   * its ref, or, when none does, its ref; given to `visit` a batch at a time. A row may be given
   * twice when the store had to read again (a busy database).
   */
  auditRowDigests(gate: string, through: number, visit: (batch: RowDigests) => void): Promise<void>;
  /**
   * Verify's work done by the store on threads of its own: the chain walked in `work.pieces` (each
   * by a PieceWalker) and the rows hashed as auditRowDigests hashes them, each piece and batch given
   * to `visit` when done. False when the store leaves the work to verify (it reads in this process,
   * or the chain is too short to share).
   */
  auditVerifyWork(gate: string, work: VerifyWork, visit: VerifyVisit): Promise<boolean>;
  /** How many rows (distinct refs) entries 1..`through` of the gate record. */
  auditRefCount(gate: string, through: number): Promise<number>;
  /**
   * For each ref: the last entry that records it (if any), the stored hash of the entry before that
   * one (GENESIS for entry 1; undefined when it is missing), and the row as it is now (undefined:
   * none). Empty for a store from before the chain.
   */
  auditRecords(gate: string, refs: readonly string[]): Promise<AuditRecord[]>;
  /**
   * The refs starting with `prefix` (`run:`, `attestation:`, `event:`, `result:RUN:`) that entries
   * record but whose row is gone; only those at or after `from` (a ref with that prefix) when given.
   */
  auditOrphans(gate: string, prefix: string, from?: string): Promise<string[]>;
}

/** A row as status checks it: the last entry that recorded it and what the tables hold now. */
export interface AuditRecord {
  ref: string;
  entry?: AuditEntry;
  /** The hash stored by the entry before `entry`. */
  before?: string;
  row?: readonly unknown[];
}

/** What auditVerifyWork is asked: the pieces of the walk, the pinned head, the entries the rows are hashed against. */
export interface VerifyWork {
  pieces: WalkPiece[];
  expectHead?: string;
  through: number;
}

/** Where auditVerifyWork gives what it did: each piece walked (by its index in the work), each batch of rows. */
export interface VerifyVisit {
  piece(index: number, walked: WalkedPiece): void;
  rows(batch: RowDigests): void;
}

/** A batch of auditRowDigests: rows found in an entry, and rows found in none. */
export interface RowDigests {
  /** Per row, the seq of the last entry that records it. */
  seqs: Float64Array;
  /** Per row, 32 bytes: the SHA-256 of its text. */
  digests: Uint8Array;
  /** The refs of the rows no entry records. */
  unrecorded: string[];
}

/** Rows per RowDigests batch: a few hundred kilobytes, handed over (or posted from a thread) at once. */
const ROW_BATCH = 4096;

/** Puts rows into RowDigests batches for `visit`, so that every store hashes its rows alike. */
export function rowDigester(visit: (batch: RowDigests) => void): { row(ref: string, seq: number | null, json: string): void; end(): void } {
  let seqs = new Float64Array(ROW_BATCH);
  let digests = Buffer.alloc(32 * ROW_BATCH);
  let unrecorded: string[] = [];
  let n = 0;
  const flush = (): void => {
    if (n === 0 && unrecorded.length === 0) return;
    // Fresh arrays for each batch: a thread hands them over (transfers them) as they are.
    visit({ seqs: seqs.subarray(0, n), digests: new Uint8Array(digests.buffer, digests.byteOffset, 32 * n), unrecorded });
    seqs = new Float64Array(ROW_BATCH);
    digests = Buffer.alloc(32 * ROW_BATCH);
    unrecorded = [];
    n = 0;
  };
  return {
    row(ref, seq, json) {
      if (seq === null) {
        unrecorded.push(ref);
        return;
      }
      seqs[n] = seq;
      // 'binary' (latin1): the digest's 32 bytes as they are, the cheapest string crypto.hash returns
      // (a Buffer per row cost more than the hashing).
      digests.write(hash('sha256', json, 'binary'), 32 * n, 32, 'latin1');
      if (++n === ROW_BATCH) flush();
    },
    end: flush,
  };
}

/** The tables a ref names, for the stores' lookups: `run:ID`, `result:RUN:ITEM`, `attestation:ID`, `event:ID`. */
export function parseRef(ref: string): { table: 'run' | 'attestation' | 'event'; id: string } | { table: 'result'; runId: string; itemId: string } | undefined {
  const colon = ref.indexOf(':');
  const kind = ref.slice(0, colon);
  const rest = ref.slice(colon + 1);
  if (kind === 'run' || kind === 'attestation' || kind === 'event') return { table: kind, id: rest };
  if (kind !== 'result') return undefined;
  // Run ids never hold a colon (id.ts); an item id may.
  const sep = rest.indexOf(':');
  return sep < 0 ? undefined : { table: 'result', runId: rest.slice(0, sep), itemId: rest.slice(sep + 1) };
}

/** JSON with object keys sorted at every level, no spaces: one text for one value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const record: Record<string, unknown> = { ...value };
  const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}

// One-shot crypto.hash, not createHash: verify hashes two values per entry, and a Hash object
// per value cost it more than the hashing.
export function sha256(text: string): string {
  return hash('sha256', text, 'hex');
}

/** The hash of an entry: its predecessor's hash, a newline, its body. */
export function entryHash(prev: string, body: string): string {
  return hash('sha256', `${prev}\n${body}`, 'hex');
}

/** The columns of each table the chain binds (heartbeats are not: they only renew a lease). */
export const AUDITED = {
  run: 'id, gate, env, command, config_hash, release_id, selection, status, started_at, finished_at, verdict, readiness, decision, stages',
  result: 'run_id, item_id, seq, tier, status, message, evidence, duration_ms, attempts, definition',
  attestation: 'id, gate, kind, release_id, at, body',
  event: 'id, gate, seq, env, release_id, watch_id, kind, at, key, body',
} as const;

/** The digest of a row: its audited column values, in AUDITED's order, as a JSON array. */
export function rowDigest(values: readonly unknown[]): string {
  return sha256(JSON.stringify(values));
}

export const runRef = (id: string): string => `run:${id}`;
export const resultRef = (runId: string, itemId: string): string => `result:${runId}:${itemId}`;
export const attestationRef = (id: string): string => `attestation:${id}`;
export const eventRef = (id: string): string => `event:${id}`;

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

// Entries read per round trip: a million entries take five hundred, and a batch stays small enough
// to die young (batches of 50,000 outlived the young generation: a third more CPU, the GC's).
const BATCH = 2000;

/** Rows whose rendered text did not match, looked up again per round trip. */
const SUSPECTS = 1000;

const KINDS: ReadonlySet<string> = new Set<EntryKind>(['run-begin', 'result', 'run-end', 'attestation', 'event']);

/** Which table row a ref names, for messages. */
function describeRef(ref: string): string {
  const [kind, ...rest] = ref.split(':');
  if (kind === 'result') return `result of ${rest[1]} in run ${rest[0]}`;
  return `${kind} ${rest.join(':')}`;
}

/** A ref JSON.stringify writes as it is, between quotes: printable ASCII but `"` and `\\`. */
const PLAIN_REF = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * The row digest an entry's body records, read from the body's tail when that tail is exactly what
 * canonical JSON of the entry's own gate, ref and seq ends with (`,"gate":G,"kind":K,"ref":R,
 * "row":H,"seq":N}`); undefined otherwise. Canonical JSON sorts its keys, so those are always the
 * last members, and a million JSON.parse calls were a fifth of verify. The body's hash is checked
 * apart, so the tail read here is the tail that was hashed. Compared in place, piece by piece: a
 * string built per entry to compare with cost verify a tenth of its time.
 */
function recordedRow(body: string, gatePrefix: string, e: AuditEntry): string | undefined {
  // `","seq":N}`, N read backwards digit by digit.
  let at = body.length - 1;
  if (body.charCodeAt(at) !== 0x7d || !Number.isSafeInteger(e.seq) || e.seq < 1) return undefined;
  for (let n = e.seq; n > 0; n = Math.floor(n / 10)) if (body.charCodeAt(--at) !== 0x30 + (n % 10)) return undefined;
  const rowEnd = at - '","seq":'.length;
  if (!body.startsWith('","seq":', rowEnd)) return undefined;
  // `","ref":R,"row":"` before the digest's 64 characters.
  const quoted = PLAIN_REF.test(e.ref) ? undefined : JSON.stringify(e.ref);
  const refLength = quoted?.length ?? e.ref.length + 2;
  const refAt = rowEnd - 64 - ',"row":"'.length - refLength;
  const midAt = refAt - '","ref":'.length;
  if (midAt < 0 || !body.startsWith('","ref":', midAt) || !body.startsWith(',"row":"', refAt + refLength)) return undefined;
  if (quoted !== undefined ? !body.startsWith(quoted, refAt) : body.charCodeAt(refAt) !== 0x22 || !body.startsWith(e.ref, refAt + 1) || body.charCodeAt(refAt + refLength - 1) !== 0x22) return undefined;
  // `,"gate":G,"kind":"K` right before it, K one of the kinds.
  for (const kind of KINDS) {
    const kindAt = midAt - kind.length;
    if (kindAt >= gatePrefix.length && body.startsWith(kind, kindAt) && body.startsWith(gatePrefix, kindAt - gatePrefix.length)) return body.slice(rowEnd - 64, rowEnd);
  }
  return undefined;
}

/**
 * The row digest each entry recorded, by seq: 32 bytes each in one buffer, so that a million of
 * them are not a million strings (each a slice holding its whole body alive).
 */
class RecordedDigests {
  private bytes = Buffer.alloc(32 * 1024);

  /** The digests of entries `first` on, 32 bytes each. */
  setAll(first: number, digests: Uint8Array): void {
    const end = first * 32 + digests.length;
    if (end > this.bytes.length) {
      const grown = Buffer.alloc(Math.max(end, this.bytes.length * 2));
      this.bytes.copy(grown);
      this.bytes = grown;
    }
    this.bytes.set(digests, first * 32);
  }

  /** Whether the 32 bytes of `digests` at `at` are the digest entry `seq` recorded. */
  matches(seq: number, digests: Uint8Array, at: number): boolean {
    return this.bytes.compare(digests, at, at + 32, seq * 32, seq * 32 + 32) === 0;
  }

  hex(seq: number): string {
    return this.bytes.toString('hex', seq * 32, seq * 32 + 32);
  }
}

/** A piece of the chain's walk: the entries after `after`, to `through` (to the end when absent). */
export interface WalkPiece {
  after: number;
  through?: number;
}

/** What walking one piece found: its entries found intact from its first on, then its first problem or its end. */
export interface WalkedPiece {
  after: number;
  /** Entries found intact, after+1 .. after+count, each linked to the one before but the first. */
  count: number;
  /** The hash the first of them links to, judged when the pieces are put together. */
  firstPrev?: string;
  /** The last one's hash. */
  lastHash?: string;
  /** Whether one of them has the pinned head's hash. */
  sawExpected: boolean;
  /** 32 bytes for each of them: the digest of the row it recorded. */
  digests: Uint8Array;
  /** The first problem after them. */
  problem?: ChainProblem;
  /** No entry followed them: the chain ends in this piece. */
  ended: boolean;
}

/**
 * Walks a piece of a gate's chain, entry by entry in seq order: each entry's place, its hash, its
 * body and its link to the entry before, as verify judges them, in that order. The first entry's
 * link is left to whoever puts the pieces together: pieces can be walked apart, on other threads.
 */
export class PieceWalker {
  private count = 0;
  private firstPrev?: string;
  private lastHash?: string;
  private sawExpected = false;
  private digests = Buffer.alloc(32 * 1024);
  private problem?: ChainProblem;
  private readonly gatePrefix: string;

  constructor(
    private readonly gate: string,
    private readonly piece: WalkPiece,
    private readonly expectHead?: string,
  ) {
    this.gatePrefix = `,"gate":${JSON.stringify(gate)},"kind":"`;
  }

  /** Takes the next entry; false once the piece is walked (its last entry, or a problem). */
  step(e: AuditEntry): boolean {
    const expected = this.piece.after + this.count + 1;
    if (e.seq !== expected) {
      return this.fail({ kind: 'entry-deleted', seq: expected, message: `entry ${expected} was deleted (the chain goes from entry ${expected - 1} to entry ${e.seq})` });
    }
    if (entryHash(e.prev, e.body) !== e.hash) {
      const what = isJson(e.body) ? `(${describeRef(e.ref)}) was changed: its hash does not match its content` : 'was changed: its body is not JSON';
      return this.fail({ kind: 'entry-changed', seq: e.seq, ref: e.ref, message: `entry ${e.seq} ${what}` });
    }
    const row = recordedRow(e.body, this.gatePrefix, e) ?? parsedRow(e, this.gate);
    if (typeof row !== 'string') return this.fail(row);
    if (this.count === 0) this.firstPrev = e.prev;
    else if (e.prev !== this.lastHash) {
      // The entry is intact but does not follow its predecessor: that one was rewritten, or this one put in.
      return this.fail(unlinked(e.seq));
    }
    this.lastHash = e.hash;
    if (e.hash === this.expectHead) this.sawExpected = true;
    if (32 * (this.count + 1) > this.digests.length) {
      const grown = Buffer.alloc(this.digests.length * 2);
      this.digests.copy(grown);
      this.digests = grown;
    }
    // A digest that is not 64 hex digits writes short and leaves zeros: it then matches no row.
    this.digests.write(row, 32 * this.count, 32, 'hex');
    this.count++;
    return this.piece.through === undefined || e.seq < this.piece.through;
  }

  /** What the piece holds; `ended` when no entry followed the last one taken. */
  done(ended: boolean): WalkedPiece {
    const { after } = this.piece;
    const digests = new Uint8Array(this.digests.buffer, this.digests.byteOffset, 32 * this.count);
    return { after, count: this.count, firstPrev: this.firstPrev, lastHash: this.lastHash, sawExpected: this.sawExpected, digests, problem: this.problem, ended: ended && this.problem === undefined };
  }

  private fail(problem: ChainProblem): false {
    this.problem = problem;
    return false;
  }
}

function unlinked(seq: number): ChainProblem {
  return { kind: 'entry-changed', seq: seq - 1, message: `entry ${seq - 1} was changed or replaced: entry ${seq} links to another hash` };
}

/** The chain cut in about `count` pieces up to `through` (its head, as recorded), and the rest after it. */
export function cutChain(through: number, count: number): WalkPiece[] {
  const cuts = Math.max(1, Math.min(count, through));
  const pieces: WalkPiece[] = [];
  for (let i = 0; i < cuts; i++) {
    const piece = { after: Math.floor((i * through) / cuts), through: Math.floor(((i + 1) * through) / cuts) };
    if (piece.through > piece.after) pieces.push(piece);
  }
  // Entries past the recorded head are walked too: verify names them.
  pieces.push({ after: through });
  return pieces;
}

/** The rows of a gate as auditRowDigests gave them, kept until the chain they are judged by is walked. */
interface HashedRows {
  through: number;
  batches: RowDigests[];
}

function hashRows(log: AuditLog, gate: string, through: number): Promise<HashedRows> {
  const batches: RowDigests[] = [];
  return log.auditRowDigests(gate, through, (b) => batches.push(b)).then(() => ({ through, batches }));
}

/** Pieces of the walk per verify: enough that threads taking them in turn end close together. */
const PIECES = 16;

/**
 * Walks a gate's chain from its first entry and compares it with the tables: every entry's hash,
 * every link, the head row, then every row of the gate against the last entry that recorded it.
 * Returns the first problem found, as data; `expectHead` (a hash pinned earlier) must be in the
 * chain, so that a tail removed together with its rows is found too. A store may do the walk, in
 * pieces, and the rows' hashing on threads of its own (auditVerifyWork); else the walk is done
 * here while the store reads the rows.
 */
export async function verifyChain(log: AuditLog, gate: string, options: { expectHead?: string } = {}): Promise<ChainReport> {
  const { expectHead } = options;
  // The rows are hashed up to the head the store records while the chain is walked; they are
  // judged only once the walk and the head are found intact.
  const hinted = await log.auditHead(gate);
  let pieces: WalkedPiece[];
  let ahead: Promise<HashedRows> | undefined;
  const walkedApart = hinted === undefined ? undefined : await walkApart(log, gate, hinted.seq, expectHead);
  if (walkedApart !== undefined) {
    pieces = walkedApart.pieces;
    ahead = Promise.resolve(walkedApart.rows);
  } else {
    ahead = hinted === undefined ? undefined : hashRows(log, gate, hinted.seq);
    ahead?.catch(() => undefined);
    pieces = [await walkInOrder(log, gate, expectHead)];
  }
  const walked = await endOfWalk(log, gate, joinPieces(gate, pieces), expectHead);
  if (walked.broken !== undefined) return walked.broken;
  const { entries, head, recorded } = walked;
  const rows = ahead !== undefined && hinted?.seq === entries ? await ahead : await hashRows(log, gate, entries);
  const problem = await judgeRows(log, gate, rows, recorded);
  return problem === undefined ? { gate, entries, head, intact: true } : { gate, entries, head, intact: false, problem };
}

/** The walk in pieces and the rows' hashing, as the store did them on its threads; undefined when it left them to verify. */
async function walkApart(log: AuditLog, gate: string, through: number, expectHead: string | undefined): Promise<{ pieces: WalkedPiece[]; rows: HashedRows } | undefined> {
  const work = cutChain(through, PIECES);
  const pieces: WalkedPiece[] = [];
  const rows: HashedRows = { through, batches: [] };
  const done = await log.auditVerifyWork(gate, { pieces: work, expectHead, through }, { piece: (i, walked) => (pieces[i] = walked), rows: (b) => rows.batches.push(b) });
  if (!done) return undefined;
  // Every piece is walked, or the store failed: never a pass.
  for (let i = 0; i < work.length; i++) if (pieces[i] === undefined) throw new Error(`auditVerifyWork left piece ${i} of the chain unwalked`);
  return { pieces, rows };
}

/** The whole chain walked here as one piece, a batch of entries at a time. */
async function walkInOrder(log: AuditLog, gate: string, expectHead: string | undefined): Promise<WalkedPiece> {
  const walker = new PieceWalker(gate, { after: 0 }, expectHead);
  for (let after = 0; ; ) {
    const batch = await log.auditEntries(gate, after, BATCH);
    for (const e of batch) if (!walker.step(e)) return walker.done(false);
    if (batch.length < BATCH) return walker.done(true);
    after = batch[batch.length - 1].seq;
  }
}

/** A chain walked intact: its length, its last hash, the row digest each entry recorded, whether the pinned head is in it. */
interface Walked {
  broken?: undefined;
  entries: number;
  head: string;
  recorded: RecordedDigests;
  sawExpected: boolean;
}

/**
 * The pieces, in order, put together: each one's first entry linked to the last of the one before,
 * and the first problem of all, reported as a walk from the first entry would have found it.
 */
function joinPieces(gate: string, pieces: readonly WalkedPiece[]): Walked | { broken: ChainReport } {
  let entries = 0;
  let head = GENESIS;
  let sawExpected = false;
  const recorded = new RecordedDigests();
  const broken = (problem: ChainProblem): { broken: ChainReport } => ({ broken: { gate, entries, head, intact: false, problem } });
  for (const p of pieces) {
    // A piece after one that ended read the store a moment later, while it was written: the walk ends there.
    if (p.after !== entries) break;
    if (p.count > 0) {
      if (p.firstPrev !== head) return broken(unlinked(p.after + 1));
      recorded.setAll(p.after + 1, p.digests);
      entries = p.after + p.count;
      head = p.lastHash ?? head;
      sawExpected ||= p.sawExpected;
    }
    if (p.problem !== undefined) return broken(p.problem);
    if (p.ended) break;
  }
  return { entries, head, recorded, sawExpected };
}

/** The walk against the head row and the pinned head. */
async function endOfWalk(log: AuditLog, gate: string, walked: Walked | { broken: ChainReport }, expectHead: string | undefined): Promise<Walked | { broken: ChainReport }> {
  if (walked.broken !== undefined) return walked;
  const { entries, head: last } = walked;
  const report = (problem: ChainProblem): { broken: ChainReport } => ({ broken: { gate, entries, head: last, intact: false, problem } });
  const head = await log.auditHead(gate);
  if (head !== undefined && (head.seq !== entries || head.hash !== last)) {
    if (head.seq > entries) return report({ kind: 'truncated', seq: entries + 1, message: `entries ${entries + 1} to ${head.seq} were deleted (the head records entry ${head.seq})` });
    return report({ kind: 'entry-inserted', seq: head.seq + 1, message: `the chain goes past its recorded head (entry ${head.seq}): entries from ${head.seq + 1} were inserted` });
  }
  if (!(walked.sawExpected || expectHead === undefined || expectHead === GENESIS)) {
    return report({ kind: 'truncated', seq: entries + 1, message: `the expected head ${expectHead} is not in the chain: it was truncated or rewritten (it ends at entry ${entries}, ${last})` });
  }
  return walked;
}

/**
 * Every row against the entry that last recorded it, the earliest problem first: a row no entry
 * records was inserted; one whose digest differs was changed (once judged again on its values, as
 * writers hash them: a store's rendering may differ); a recorded row no row answers was deleted.
 */
async function judgeRows(log: AuditLog, gate: string, rows: HashedRows, recorded: RecordedDigests): Promise<ChainProblem | undefined> {
  let first: ChainProblem | undefined;
  const consider = (p: ChainProblem): void => {
    if (first === undefined || (p.seq ?? Infinity) < (first.seq ?? Infinity)) first = p;
  };
  const seen = new Uint8Array(rows.through + 1);
  let seenCount = 0;
  const suspects: number[] = [];
  for (const b of rows.batches) {
    for (const ref of b.unrecorded) consider({ kind: 'row-inserted', ref, message: `the ${describeRef(ref)} is in the store but not in the audit log: it was inserted` });
    for (let i = 0; i < b.seqs.length; i++) {
      const seq = b.seqs[i];
      // The store found it among entries 1..through; anything else is a store's fault, never a pass.
      if (!(seq >= 1 && seq <= rows.through && Number.isInteger(seq))) throw new RangeError(`auditRowDigests gave entry ${seq}, outside entries 1 to ${rows.through}`);
      if (seen[seq] === 0) {
        seen[seq] = 1;
        seenCount++;
      }
      if (!recorded.matches(seq, b.digests, 32 * i)) suspects.push(seq);
    }
  }
  for (let i = 0; i < suspects.length; i += SUSPECTS) {
    // The entry names the row: the store found the row by that entry's ref.
    const bySeq = new Map<string, number>();
    for (const seq of suspects.slice(i, i + SUSPECTS)) {
      const [e] = await log.auditEntries(gate, seq - 1, 1);
      if (e?.seq === seq) bySeq.set(e.ref, seq);
      else consider({ kind: 'entry-deleted', seq, message: `entry ${seq} was deleted while the chain was verified` });
    }
    for (const r of await log.auditRecords(gate, [...bySeq.keys()])) {
      const seq = bySeq.get(r.ref) ?? 0;
      if (r.row === undefined || rowDigest(r.row) !== recorded.hex(seq)) consider({ kind: 'row-changed', seq, ref: r.ref, message: `the ${describeRef(r.ref)} was changed after entry ${seq} recorded it` });
    }
  }
  // Each row seen answers one recorded ref; fewer than the refs recorded, and some row is gone.
  if (seenCount < (await log.auditRefCount(gate, rows.through))) {
    for (const [ref, seq] of await lastEntries(log, gate, rows.through)) {
      if (seen[seq] !== 1) consider({ kind: 'row-deleted', seq, ref, message: `the ${describeRef(ref)} recorded by entry ${seq} was deleted` });
    }
  }
  return first;
}

/** The last entry in 1..`through` recording each ref: read again only when a row was found gone. */
async function lastEntries(log: AuditLog, gate: string, through: number): Promise<Map<string, number>> {
  const last = new Map<string, number>();
  for (let after = 0; after < through; ) {
    const batch = await log.auditEntries(gate, after, Math.min(BATCH, through - after));
    for (const e of batch) last.set(e.ref, e.seq);
    if (batch.length === 0) break;
    after = batch[batch.length - 1].seq;
  }
  return last;
}

/**
 * The chain check `status` can afford: the rows it reads (`refs`), each against the last entry that
 * recorded it, that entry's hash and its link to the entry before; the head against the entry it
 * names; and, for `orphanPrefixes`, every recorded row of that kind that is gone (from a ref on,
 * when one is given with the prefix). Its cost grows with what status reads, not with the log. It does not walk the chain: an entry rewritten in the
 * middle, with nothing status reads pointing at it, or the whole chain rewritten from some entry
 * on, are left to `audit verify` (and a pinned head).
 */
/** A kind of row whose recorded rows must all still be there: its ref prefix, and the ref to look from (default: all). */
export type OrphanScope = string | { prefix: string; from?: string };

export async function checkRecorded(log: AuditLog, gate: string, refs: readonly string[], orphanPrefixes: readonly OrphanScope[] = []): Promise<ChainReport> {
  const head = await log.auditHead(gate);
  const entries = head?.seq ?? 0;
  const headHash = head?.hash ?? GENESIS;
  const broken = (problem: ChainProblem): ChainReport => ({ gate, entries, head: headHash, intact: false, problem });
  if (head !== undefined) {
    const [last, past] = await log.auditEntries(gate, head.seq - 1, 2);
    if (last === undefined || last.seq !== head.seq) return broken({ kind: 'truncated', seq: head.seq, message: `entry ${head.seq} was deleted (the head records entry ${head.seq})` });
    if (past !== undefined) return broken({ kind: 'entry-inserted', seq: head.seq + 1, message: `the chain goes past its recorded head (entry ${head.seq}): entries from ${head.seq + 1} were inserted` });
    if (last.hash !== head.hash || entryHash(last.prev, last.body) !== last.hash) return broken({ kind: 'entry-changed', seq: head.seq, message: `entry ${head.seq} (${describeRef(last.ref)}) was changed: its hash does not match its content or the head` });
  }

  let first: ChainProblem | undefined;
  const consider = (p: ChainProblem): void => {
    if (first === undefined || (p.seq ?? Infinity) < (first.seq ?? Infinity)) first = p;
  };
  const gatePrefix = `,"gate":${JSON.stringify(gate)},"kind":"`;
  for (const r of await log.auditRecords(gate, refs)) {
    const e = r.entry;
    if (e === undefined) {
      if (r.row !== undefined) consider({ kind: 'row-inserted', ref: r.ref, message: `the ${describeRef(r.ref)} is in the store but not in the audit log: it was inserted` });
      continue;
    }
    if (entryHash(e.prev, e.body) !== e.hash) {
      consider({ kind: 'entry-changed', seq: e.seq, ref: e.ref, message: `entry ${e.seq} (${describeRef(e.ref)}) was changed: its hash does not match its content` });
      continue;
    }
    const recorded = recordedRow(e.body, gatePrefix, e) ?? parsedRow(e, gate);
    if (typeof recorded !== 'string') consider(recorded);
    else if (r.before === undefined) consider({ kind: 'entry-deleted', seq: e.seq - 1, message: `entry ${e.seq - 1} was deleted (entry ${e.seq} links to it)` });
    else if (r.before !== e.prev) consider({ kind: 'entry-changed', seq: e.seq - 1, message: `entry ${e.seq - 1} was changed or replaced: entry ${e.seq} links to another hash` });
    else if (r.row === undefined) consider({ kind: 'row-deleted', seq: e.seq, ref: r.ref, message: `the ${describeRef(r.ref)} recorded by entry ${e.seq} was deleted` });
    else if (rowDigest(r.row) !== recorded) consider({ kind: 'row-changed', seq: e.seq, ref: r.ref, message: `the ${describeRef(r.ref)} was changed after entry ${e.seq} recorded it` });
  }
  const gone = (await Promise.all(orphanPrefixes.map((p) => (typeof p === 'string' ? log.auditOrphans(gate, p) : log.auditOrphans(gate, p.prefix, p.from))))).flat();
  if (gone.length > 0) {
    // Named by the last entry that recorded it, so the earliest problem is the one shown.
    for (const r of await log.auditRecords(gate, gone)) {
      if (r.entry !== undefined && r.row === undefined) consider({ kind: 'row-deleted', seq: r.entry.seq, ref: r.ref, message: `the ${describeRef(r.ref)} recorded by entry ${r.entry.seq} was deleted` });
    }
  }
  return first === undefined ? { gate, entries, head: headHash, intact: true } : broken(first);
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * The row digest of an entry whose body's tail is not the canonical one: parsed, so that a body
 * out of place is named as such. A problem when the body is not JSON or names another place.
 */
function parsedRow(e: AuditEntry, gate: string): string | ChainProblem {
  let body: Partial<EntryBody>;
  try {
    body = JSON.parse(e.body);
  } catch {
    return { kind: 'entry-changed', seq: e.seq, ref: e.ref, message: `entry ${e.seq} was changed: its body is not JSON` };
  }
  if (body.seq !== e.seq || body.gate !== gate || body.ref !== e.ref) {
    const what = typeof body.seq === 'number' && body.seq < e.seq ? `an entry was inserted before it (it was entry ${body.seq})` : `it was moved (it was entry ${body.seq} of gate ${body.gate})`;
    return { kind: 'entry-inserted', seq: e.seq, ref: e.ref, message: `entry ${e.seq} is out of place: ${what}` };
  }
  return String(body.row);
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
