import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { fakeClock } from '../test-support/clock.js';
import { StoreError } from './errors.js';
import { storeError, withRetry } from './sqlite-faults.js';

const location = '/srv/ci/.gonogo/gonogo.db';
const sqlite = (message: string, code: string) => new Database.SqliteError(message, code);

describe('SQLite failures as StoreErrors', () => {
  // What better-sqlite3 throws for each fault (the message is SQLite's own), and what the store says.
  const table = [
    { code: 'SQLITE_FULL', from: 'database or disk is full', kind: 'full', says: 'could not record to /srv/ci/.gonogo/gonogo.db: database or disk is full' },
    { code: 'SQLITE_IOERR_WRITE', from: 'disk I/O error', kind: 'io', says: 'could not record to /srv/ci/.gonogo/gonogo.db: disk I/O error (SQLITE_IOERR_WRITE)' },
    { code: 'SQLITE_IOERR_FSYNC', from: 'disk I/O error', kind: 'io', says: 'could not record to /srv/ci/.gonogo/gonogo.db: disk I/O error (SQLITE_IOERR_FSYNC)' },
    { code: 'SQLITE_CORRUPT', from: 'database disk image is malformed', kind: 'corrupt', says: 'could not record to /srv/ci/.gonogo/gonogo.db: database disk image is malformed: the file is damaged; restore it from a backup, or move it away and gonogo will start a new store there' },
    { code: 'SQLITE_NOTADB', from: 'file is not a database', kind: 'corrupt', says: 'could not record to /srv/ci/.gonogo/gonogo.db: file is not a database: the file is damaged; restore it from a backup, or move it away and gonogo will start a new store there' },
    { code: 'SQLITE_READONLY_DIRECTORY', from: 'attempt to write a readonly database', kind: 'read-only', says: 'could not record to /srv/ci/.gonogo/gonogo.db: attempt to write a readonly database (this process may not write the file or its folder; status, history and report can still read it)' },
    { code: 'SQLITE_CONSTRAINT_CHECK', from: 'CHECK constraint failed: status', kind: 'other', says: 'could not record to /srv/ci/.gonogo/gonogo.db: CHECK constraint failed: status' },
  ] as const;
  for (const row of table) {
    it(`${row.code} is a "${row.kind}" fault, reported at once`, async () => {
      const clock = fakeClock();
      let attempts = 0;
      const failing = withRetry({ location, clock, lockTimeoutMs: 20_000 }, 'record', () => {
        attempts += 1;
        throw sqlite(row.from, row.code);
      });
      await assert.rejects(failing, (error: unknown) => {
        assert.ok(error instanceof StoreError);
        assert.equal(error.kind, row.kind);
        assert.equal(error.message, row.says);
        assert.equal(error.location, location);
        return true;
      });
      assert.equal(attempts, 1, 'not retried');
      assert.equal(clock.waiting, 0);
    });
  }

  it('a disk full while creating the file (a Node error) is a StoreError too', () => {
    const error = storeError('open', location, Object.assign(new Error("ENOSPC: no space left on device, open '/srv/ci/.gonogo/x'"), { code: 'ENOSPC' }));
    assert.equal(error.kind, 'full');
    assert.equal(error.message, "could not open the store /srv/ci/.gonogo/gonogo.db: ENOSPC: no space left on device, open '/srv/ci/.gonogo/x'");
  });

  it('a value that no longer parses is a StoreError, on one line', () => {
    const error = storeError('read', location, new SyntaxError('Unexpected token\nin JSON at position 3'));
    assert.equal(error.kind, 'other');
    assert.equal(error.message, 'could not read /srv/ci/.gonogo/gonogo.db: Unexpected token in JSON at position 3');
  });

  it('a lost snapshot (SQLITE_BUSY_SNAPSHOT) is retried like a lock', async () => {
    const clock = fakeClock();
    let attempts = 0;
    const writing = withRetry({ location, clock, lockTimeoutMs: 20_000 }, 'record', () => {
      attempts += 1;
      if (attempts === 1) throw sqlite('database is locked', 'SQLITE_BUSY_SNAPSHOT');
      return 'written';
    });
    await clock.sleepers(1);
    await clock.next();
    assert.equal(await writing, 'written');
    assert.equal(attempts, 2);
  });

  it('a zero bound still tries once, then reports the lock', async () => {
    let attempts = 0;
    await assert.rejects(
      withRetry({ location, clock: fakeClock(), lockTimeoutMs: 0 }, 'read', () => {
        attempts += 1;
        throw sqlite('database is locked', 'SQLITE_BUSY');
      }),
      { message: 'could not read /srv/ci/.gonogo/gonogo.db: database is locked (another process held a lock on it for more than 0 s)' },
    );
    assert.equal(attempts, 1);
  });
});
