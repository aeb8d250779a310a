// Opening a SQLite store file without ever harming one: a file that is there but is not a gonogo
// store (empty, another format, another program's tables) or is damaged is refused as it is, a new
// store appears at its path only complete, and a read-only open writes nothing at all.
import { closeSync, constants, copyFileSync, linkSync, mkdirSync, openSync, readFileSync, readSync, statSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type Database from 'better-sqlite3';
import { openDatabase } from './sqlite-database.js';
import { StoreError } from './errors.js';
import { AUDIT_VERSION, MIGRATIONS } from './schema.js';
import { adoptExisting } from './sqlite-chain.js';
import { busySliceMs, failed, storeError, withRetry } from './sqlite-faults.js';
import type { FaultContext } from './sqlite-faults.js';

/** An open database and the schema version it was found at. */
export interface Opened {
  db: Database.Database;
  version: number;
}

/** The database a store works on; a read-only one may move to a fresher copy between operations. */
export interface Connection {
  readonly writable: boolean;
  /** The database to use for the next operation (may throw a StoreError). */
  current(): Opened;
  close(): void;
}

const SQLITE_HEADER = 'SQLite format 3\0';

function refuse(ctx: FaultContext, reason: string, kind: 'not-a-store' | 'corrupt' | 'newer-schema' = 'not-a-store'): StoreError {
  return new StoreError(`${failed('open', ctx.location)}: ${reason}`, { kind, location: ctx.location });
}

function errorCode(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/**
 * Whether a store file is there, refusing at once one that cannot be a store: not a regular file,
 * empty, or without SQLite's header. Nothing is opened for writing.
 */
function examine(ctx: FaultContext, file: string): 'absent' | 'present' {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw refuse(ctx, `it is not a regular file; point the store location at a file`);
    size = st.size;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return 'absent';
    throw storeError('open', ctx.location, error);
  }
  const tellNew = 'move the file away and gonogo will create a new store there';
  if (size === 0) throw refuse(ctx, 'it is empty (0 bytes), not a gonogo store; if it is meant to be new, delete it and gonogo will create it');
  const header = Buffer.alloc(SQLITE_HEADER.length);
  try {
    const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      readSync(fd, header, 0, header.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    throw storeError('open', ctx.location, error);
  }
  if (header.toString('latin1') !== SQLITE_HEADER) throw refuse(ctx, `it is not an SQLite database, so not a gonogo store; check the store location, or ${tellNew}`);
  return 'present';
}

/**
 * The schema version of a database that passed `examine`: 0 for a database with no tables at all
 * (nothing to lose), a refusal for a damaged one or one holding another program's tables.
 */
function inspect(ctx: FaultContext, db: Database.Database, deep = true): number {
  const check = deep ? db.pragma('quick_check(1)', { simple: true }) : 'ok';
  if (check !== 'ok') {
    throw refuse(ctx, `it is corrupt (quick_check: ${String(check)}); restore it from a backup, or move it away and gonogo will start a new store there`, 'corrupt');
  }
  const tables = new Set(db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all());
  if (tables.size === 0) return 0;
  const foreign = (why: string): StoreError =>
    refuse(ctx, `it is an SQLite database but not a gonogo store (${why}); check the store location, or move the file away and gonogo will create a new store there`);
  const listed = [...tables].slice(0, 5).join(', ') + (tables.size > 5 ? ', ...' : '');
  if (!tables.has('schema_version')) throw foreign(`it has tables ${listed} but no schema_version`);
  const rows = db.prepare<[], { version: unknown }>('SELECT version FROM schema_version').all();
  const version = rows.length === 1 ? rows[0].version : undefined;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || !tables.has('runs')) {
    throw foreign(`its tables ${listed} are not gonogo's`);
  }
  if (version > MIGRATIONS.length) {
    throw refuse(
      ctx,
      `it has store schema version ${version}, but this gonogo knows versions up to ${MIGRATIONS.length}: it was written by a newer gonogo, upgrade to open it`,
      'newer-schema',
    );
  }
  return version;
}

/** Applies the schema steps a database lacks, in one transaction that holds the write lock. */
function migrate(ctx: FaultContext, db: Database.Database): void {
  // IMMEDIATE: two processes migrating one file at once must not both apply the steps.
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
    const row = db.prepare<[], { version: number }>('SELECT version FROM schema_version').get();
    const current = row?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw refuse(ctx, `it has store schema version ${current}, but this gonogo knows versions up to ${MIGRATIONS.length}: it was written by a newer gonogo, upgrade to open it`, 'newer-schema');
    }
    for (const step of MIGRATIONS.slice(current)) db.exec(step);
    // Runs and attestations recorded before the chain existed join it now, once.
    if (current > 0 && current < AUDIT_VERSION) adoptExisting(db, new Date(ctx.clock.now()).toISOString());
    if (row === undefined) db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(MIGRATIONS.length);
    else if (current < MIGRATIONS.length) db.prepare('UPDATE schema_version SET version = ?').run(MIGRATIONS.length);
  }).immediate();
}

/** A new, empty store in memory. */
function inMemory(ctx: FaultContext): Database.Database {
  const db = openDatabase(':memory:');
  db.pragma('foreign_keys = ON');
  migrate(ctx, db);
  return db;
}

/**
 * Creates the store at `file` complete or not at all: it is built under a temporary name beside it
 * and linked into place, which fails if a file appeared there meanwhile (another gonogo creating it
 * too: then that one is used). So an empty or half-made file is never ours to re-initialise.
 */
function create(ctx: FaultContext, file: string): void {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.new`);
  try {
    mkdirSync(dirname(file), { recursive: true });
    const db = openDatabase(temp);
    try {
      db.pragma('journal_mode = WAL');
      migrate(ctx, db);
    } finally {
      db.close(); // checkpoints: everything is in the main file, and its -wal is gone
    }
    try {
      linkSync(temp, file);
    } catch (error) {
      if (errorCode(error) === 'EEXIST') return;
      // A file system without hard links: an exclusive copy still never overwrites.
      try {
        copyFileSync(temp, file, constants.COPYFILE_EXCL);
      } catch (copyError) {
        if (errorCode(copyError) !== 'EEXIST') throw copyError;
      }
    }
  } catch (error) {
    throw storeError('open', ctx.location, error);
  } finally {
    for (const leftover of [temp, `${temp}-wal`, `${temp}-shm`]) {
      try {
        unlinkSync(leftover);
      } catch {
        // already gone
      }
    }
  }
}

/** Options of the read-write connection beyond those every store has. */
export interface WriterOptions {
  maxPageCount?: number;
  pageCacheKiB?: number;
}

/** Opens `file` for reading and writing: creates it when absent, refuses what is not a store, migrates. */
export async function openWriter(ctx: FaultContext, file: string, options: WriterOptions = {}): Promise<Connection> {
  let db: Database.Database;
  if (file === ':memory:') {
    db = inMemory(ctx);
  } else {
    if (examine(ctx, file) === 'absent') create(ctx, file);
    try {
      db = openDatabase(file, { fileMustExist: true, timeout: busySliceMs(ctx.lockTimeoutMs) });
    } catch (error) {
      throw storeError('open', ctx.location, error);
    }
    try {
      // Judged before anything is written: setting the journal mode would write another program's file.
      // Every page is checked up to WHOLE_CHECK_BYTES (see there); a bigger store's damaged page
      // shows as `corrupt` when a read or write reaches it, and the write then changes nothing.
      const version = await withRetry(ctx, 'open', () => inspect(ctx, db, statSync(file).size <= WHOLE_CHECK_BYTES));
      await withRetry(ctx, 'open', () => db.pragma('journal_mode = WAL'));
      // Under WAL, NORMAL syncs at checkpoints, not at every commit: a power cut may lose the last
      // commits, but never a commit without those before it (the log is replayed in order), so a
      // result is still on disk before the decision of its run.
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      if (version < MIGRATIONS.length) await withRetry(ctx, 'open', () => migrate(ctx, db));
    } catch (error) {
      db.close();
      throw storeError('open', ctx.location, error);
    }
  }
  // A cap on the file's size; SQLite then answers a write beyond it as it answers a full disk.
  if (options.maxPageCount !== undefined) db.pragma(`max_page_count = ${Math.floor(options.maxPageCount)}`);
  // Negative: a size in KiB rather than a count of pages.
  if (options.pageCacheKiB !== undefined) db.pragma(`cache_size = -${Math.ceil(options.pageCacheKiB)}`);
  const opened = { db, version: MIGRATIONS.length };
  return {
    writable: true,
    current: () => opened,
    close: () => {
      if (db.open) db.close();
    },
  };
}

/** What identifies the file's content without reading it: a write changes its size or its times. */
function fingerprint(file: string): string {
  const st = statSync(file, { bigint: true });
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** Bytes in the store's write-ahead log; 0 when it has none. */
function walBytes(file: string): number {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
}

/**
 * Up to this size a read-only open copies a store that has no log into memory and checks every
 * page (quick_check) before reading it. Both cost what the whole file weighs, on every `status`:
 * 6 s for a store of 10,000 runs (570 MB). A bigger store is read in place by SQLite, which makes
 * the empty -wal and -shm files any writer would (the store itself is not touched; where the
 * folder cannot be written, it is copied as before), and a damaged page shows as `corrupt` when a
 * read reaches it.
 */
export const READ_IN_PLACE_BYTES = 64 * 1024 * 1024;

/**
 * Up to this size an open (read-only or read-write) checks every page of the store (quick_check,
 * a few milliseconds) before using it. A bigger store is not read whole on every command: a sign-off
 * on a store of 10,000 runs spent 1.5 to 20 s (cold) in the check alone. SQLite checks each page it
 * reads or writes, so a damaged one still answers `corrupt`, with nothing recorded (the write's
 * transaction rolls back); `audit verify` reads every row.
 */
export const WHOLE_CHECK_BYTES = READ_IN_PLACE_BYTES;
const MMAP_BYTES = 4 * 1024 * 1024 * 1024;

/** A read-only database over `file`, and the file's fingerprint when it is a private copy. */
function openReadonlyOnce(file: string, timeout: number): { db: Database.Database; copyOf?: string } | undefined {
  if (walBytes(file) > 0) {
    // Committed writes may still sit in the log: read through SQLite's own locking, which uses
    // the -wal and -shm files already there (a reader never creates them).
    return { db: openDatabase(file, { readonly: true, fileMustExist: true, timeout }) };
  }
  if (statSync(file).size > READ_IN_PLACE_BYTES) {
    const db = openDatabase(file, { readonly: true, fileMustExist: true, timeout });
    try {
      // Pages read through a memory map, not a read() each: verify reads every page once.
      db.pragma(`mmap_size = ${MMAP_BYTES}`);
      db.prepare('SELECT 1 FROM sqlite_master LIMIT 1').get();
      return { db };
    } catch {
      // A folder it may not write: SQLite cannot make its -shm, so read a private copy.
      db.close();
    }
  }
  // No log: the main file is the whole store. SQLite would create -wal and -shm files beside it
  // to read it (impossible in a read-only folder, and a change to someone else's folder), so it is
  // read from a private copy in memory. A copy taken while the file changed is taken again.
  const before = fingerprint(file);
  const bytes = readFileSync(file);
  if (fingerprint(file) !== before || walBytes(file) > 0) return undefined;
  // Bytes 18-19 say "WAL"; an in-memory database must read as a plain one.
  if (bytes.length >= 20 && bytes[18] === 2 && bytes[19] === 2) bytes.fill(1, 18, 20);
  return { db: openDatabase(bytes, { readonly: true }), copyOf: before };
}

/**
 * Opens `file` for reading only. Nothing is written, created or migrated; an absent file reads as
 * an empty store. A private copy is taken again when the file changes, so a long-lived reader (the
 * dashboard) sees new runs.
 */
export async function openReader(ctx: FaultContext, file: string): Promise<Connection> {
  if (file === ':memory:' || examine(ctx, file) === 'absent') {
    const opened = { db: inMemory(ctx), version: MIGRATIONS.length };
    return { writable: false, current: () => opened, close: () => opened.db.close() };
  }
  const timeout = busySliceMs(ctx.lockTimeoutMs);

  const open = (): { opened: Opened; copyOf?: string } => {
    for (let tries = 0; tries < 5; tries++) {
      const got = openReadonlyOnce(file, timeout);
      if (got === undefined) continue;
      try {
        const version = inspect(ctx, got.db, statSync(file).size <= WHOLE_CHECK_BYTES);
        // A store with no tables yet reads as empty.
        const opened = version === 0 ? { db: inMemory(ctx), version: MIGRATIONS.length } : { db: got.db, version };
        if (version === 0) got.db.close();
        return { opened, copyOf: got.copyOf };
      } catch (error) {
        got.db.close();
        throw error;
      }
    }
    throw new StoreError(`${failed('read', ctx.location)}: it kept changing while it was being read; try again`, { kind: 'locked', location: ctx.location });
  };

  let state = await withRetry(ctx, 'open', open);
  return {
    writable: false,
    current() {
      // A private copy is stale once the file changed or writes appeared in its log.
      if (state.copyOf !== undefined && (walBytes(file) > 0 || fingerprint(file) !== state.copyOf)) {
        const fresher = open();
        state.opened.db.close();
        state = fresher;
      }
      return state.opened;
    },
    close: () => {
      if (state.opened.db.open) state.opened.db.close();
    },
  };
}
