import { after, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { fakeClock } from '../test-support/clock.js';
import { requireProgram } from '../test-support/programs.js';
import { tamperableSqlite } from '../test-support/tamper.js';
import { auditContract } from './audit-contract.js';
import { decision, itemResult, newRun, rejectsAsStoreError, storeContract, T0 } from './contract.js';
import { verifyChain } from './audit.js';
import { eventContract, newEvent } from './event-contract.js';
import { StoreError } from './errors.js';
import type { StoreFaultKind } from './errors.js';
import { DEFAULT_LEASE_MS } from './lease.js';
import { EVENTS_VERSION, MIGRATIONS } from './schema.js';
import { openSqliteStore } from './sqlite.js';
import { WHOLE_CHECK_BYTES } from './sqlite-file.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-store-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

// The file store, the one gonogo uses. (`:memory:` runs the same code without WAL: its own test
// below checks what differs.)
storeContract('SQLite file', async () => {
  const file = join(tempDir(), 'gonogo.db');
  return (options) => openSqliteStore(file, options);
});

auditContract('SQLite file', async () => tamperableSqlite(join(tempDir(), 'gonogo.db')));

eventContract('SQLite file', async () => tamperableSqlite(join(tempDir(), 'gonogo.db')));

const childScript = fileURLToPath(new URL('./test-child.ts', import.meta.url));

/** Starts test-child.ts in its own node process (under `wrap`, e.g. setpriv); its stdout is read line by line. */
function child(args: string[], wrap: string[] = []): { proc: ChildProcessWithoutNullStreams; nextLine: () => Promise<string> } {
  const command = [...wrap, process.execPath, '--import', 'tsx', childScript, ...args];
  const proc = spawn(command[0], command.slice(1), { stdio: 'pipe' });
  let stderr = '';
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  return {
    proc,
    async nextLine() {
      const next = await lines.next();
      if (next.done) throw new Error(`child ${args.join(' ')} ended without output; stderr:\n${stderr}`);
      return next.value;
    },
  };
}

async function exitCode(proc: ChildProcessWithoutNullStreams): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
  const [code] = await once(proc, 'exit');
  return typeof code === 'number' ? code : null;
}

/** Every file of a folder with a hash of its bytes: equal before and after means nothing was created, changed or removed. */
function contents(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((name) => [name, createHash('sha256').update(readFileSync(join(dir, name))).digest('hex')]));
}

/** A store with a completed run (two results) and a sign-off, closed. */
async function storeWithHistory(file: string): Promise<string> {
  const store = await openSqliteStore(file, { clock: fakeClock(T0) });
  const id = await store.beginRun(newRun());
  await store.saveResult(id, itemResult('C-01'));
  await store.saveResult(id, itemResult('C-02', 'fail'));
  await store.endRun(id, { status: 'completed', finishedAt: '2026-03-01T10:05:00.000Z', decision: decision() });
  await store.addAttestation({ kind: 'signoff', gate: 'web', release: 'r1', target: { type: 'decision' }, by: 'ana', role: 'release-manager', at: '2026-03-01T10:06:00.000Z' });
  await store.close();
  return id;
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('SQLite store', () => {
  it('creates missing parent folders and keeps everything across reopening', async () => {
    const file = join(tempDir(), 'state', 'nested', 'gonogo.db');
    const first = await openSqliteStore(file);
    const id = await first.beginRun(newRun({ startedAt: new Date().toISOString() }));
    await first.saveResult(id, itemResult('C-01'));
    await first.endRun(id, { status: 'completed', finishedAt: '2026-03-01T10:05:00.000Z', decision: decision() });
    await first.addAttestation({ kind: 'signoff', gate: 'web', release: 'r1', target: { type: 'decision' }, by: 'ana', role: 'release-manager', at: '2026-03-01T10:06:00.000Z' });
    await first.close();
    await first.close(); // closing twice is harmless

    const second = await openSqliteStore(file);
    try {
      const run = await second.getRun(id);
      assert.equal(run?.status, 'completed');
      assert.deepEqual(run?.results, [itemResult('C-01')]);
      assert.deepEqual(run?.decision, decision());
      assert.equal((await second.listAttestations('web')).length, 1);
    } finally {
      await second.close();
    }
    // The new file was built aside and linked into place: nothing of that is left behind.
    assert.deepEqual(readdirSync(join(file, '..')), ['gonogo.db']);
  });

  it('uses WAL and records the schema version, with a heartbeat per run', async () => {
    const file = join(tempDir(), 'gonogo.db');
    await (await openSqliteStore(file)).close();
    const db = new Database(file);
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.deepEqual(db.prepare('SELECT version FROM schema_version').all(), [{ version: MIGRATIONS.length }]);
      assert.ok(db.prepare<[], { name: string }>('PRAGMA table_info(runs)').all().some((c) => c.name === 'heartbeat_at'));
    } finally {
      db.close();
    }
  });

  it('upgrades a version 1 store, ending its runs left running long ago; read-only, it reads it as it is', async () => {
    const dir = tempDir();
    const file = join(dir, 'gonogo.db');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec(MIGRATIONS[0]);
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1)');
    // Left running by a process of this host that is still alive: the pid rule kept such a run running.
    const insert = db.prepare("INSERT INTO runs (id, gate, env, command, config_hash, status, started_at, finished_at, pid, host) VALUES (?, 'web', 'staging', 'check', 'h', ?, ?, ?, ?, 'this-host')");
    insert.run('01OLDRUNNING', 'running', '2026-03-01T09:00:00.000Z', null, process.pid);
    insert.run('01OLDDONE', 'completed', '2026-03-01T08:00:00.000Z', '2026-03-01T08:01:00.000Z', process.pid);
    db.close();
    const before = contents(dir);

    const reader = await openSqliteStore(file, { readonly: true, clock: fakeClock(T0) });
    try {
      assert.deepEqual((await reader.listRuns({})).map((r) => [r.id, r.status, r.finishedAt]), [
        ['01OLDRUNNING', 'aborted', '2026-03-01T09:00:00.000Z'],
        ['01OLDDONE', 'completed', '2026-03-01T08:01:00.000Z'],
      ]);
    } finally {
      await reader.close();
    }
    assert.deepEqual(contents(dir), before, 'a read-only open of an old store migrates nothing');

    const store = await openSqliteStore(file, { clock: fakeClock(T0) });
    await store.close();
    const after = new Database(file, { readonly: true });
    try {
      assert.deepEqual(after.prepare('SELECT version FROM schema_version').all(), [{ version: MIGRATIONS.length }]);
      assert.deepEqual(after.prepare('SELECT id, status, finished_at, heartbeat_at FROM runs ORDER BY id').all(), [
        { id: '01OLDDONE', status: 'completed', finished_at: '2026-03-01T08:01:00.000Z', heartbeat_at: null },
        { id: '01OLDRUNNING', status: 'aborted', finished_at: '2026-03-01T09:00:00.000Z', heartbeat_at: '2026-03-01T09:00:00.000Z' },
      ]);
    } finally {
      after.close();
    }
  });

  it('reads a store from before the event log (version 5) read-only as one without events, and migrates it read-write', async () => {
    const dir = tempDir();
    const file = join(dir, 'gonogo.db');
    const id = await storeWithHistory(file);
    sqliteFile(file, `DROP TABLE events; DROP TABLE leases; UPDATE schema_version SET version = ${EVENTS_VERSION - 1}`);
    const before = contents(dir);
    const reader = await openSqliteStore(file, { readonly: true, clock: fakeClock(T0) });
    try {
      assert.deepEqual(await reader.listEvents({ gate: 'web' }), []);
      assert.equal(await reader.eventByKey('web', 'rollback:W1'), undefined);
      assert.equal(await reader.leaseOf('watch:web'), undefined);
      assert.deepEqual(await reader.auditOrphans('web', 'event:'), []);
      assert.deepEqual(await verifyChain(reader, 'web').then((r) => [r.intact, r.entries]), [true, 5]);
    } finally {
      await reader.close();
    }
    assert.deepEqual(contents(dir), before, 'a read-only open migrates nothing');
    const store = await openSqliteStore(file, { clock: fakeClock(T0) });
    try {
      assert.equal((await store.addEvent(newEvent()))?.seq, 1);
      assert.equal(await store.acquireLease('watch:web', 'watcher-a', new Date(T0).toISOString(), 30_000), true);
      assert.equal((await store.getRun(id))?.status, 'completed');
      assert.deepEqual(await verifyChain(store, 'web').then((r) => [r.intact, r.entries]), [true, 6]);
    } finally {
      await store.close();
    }
  });

  it('lands every write of two processes writing the same new file at once', async () => {
    const file = join(tempDir(), 'shared', 'gonogo.db');
    const count = 2000;
    const writers = [child(['write', file, 'web', String(count)]), child(['write', file, 'api', String(count)])];
    // Both processes are up before either opens the file, so creating and opening race; then both
    // save half their results before either saves the rest, so the writes interleave by construction.
    for (const w of writers) assert.equal(await w.nextLine(), 'ready');
    for (const w of writers) w.proc.stdin.write('go\n');
    for (const w of writers) assert.equal(await w.nextLine(), 'half');
    for (const w of writers) w.proc.stdin.end('on\n');
    const reports: { runId: string }[] = [];
    for (const w of writers) {
      reports.push(JSON.parse(await w.nextLine()));
      assert.equal(await exitCode(w.proc), 0);
    }
    const [web, api] = reports;

    const store = await openSqliteStore(file);
    try {
      for (const [gate, report] of [['web', web], ['api', api]] as const) {
        const run = await store.getRun(report.runId);
        assert.equal(run?.gate, gate);
        assert.equal(run?.status, 'completed');
        assert.equal(run?.decision?.verdict, 'GO');
        assert.deepEqual(
          run?.results,
          Array.from({ length: count }, (_, i) => itemResult(`${gate}-${String(i).padStart(4, '0')}`)),
        );
      }
      assert.deepEqual((await store.listRuns({})).map((r) => r.status), ['completed', 'completed']);
    } finally {
      await store.close();
    }
  });

  it('ends a killed process\'s run once its lease lapsed, keeping its results; not while its lease holds', async () => {
    const file = join(tempDir(), 'gonogo.db');
    const killed = child(['hang', file, 'web', '5']);
    const { runId } = JSON.parse(await killed.nextLine());
    killed.proc.kill('SIGKILL');
    await exitCode(killed.proc);

    // Within the lease: the run may be alive on some host, it stays running.
    const soon = await openSqliteStore(file);
    const startedAt = (await soon.getRun(runId))?.startedAt;
    assert.equal((await soon.getRun(runId))?.status, 'running');
    await soon.close();

    const later = await openSqliteStore(file, { clock: fakeClock(Date.now() + DEFAULT_LEASE_MS + 1000) });
    try {
      const run = await later.getRun(runId);
      assert.equal(run?.status, 'aborted');
      assert.equal(run?.finishedAt, startedAt, 'finished at its last heartbeat');
      assert.equal(run !== undefined && 'decision' in run, false);
      assert.deepEqual(
        run?.results.map((r) => r.id),
        ['web-0000', 'web-0001', 'web-0002', 'web-0003', 'web-0004'],
      );
    } finally {
      await later.close();
    }
    // Recorded, not only reported: a reader at the same time as the killed run finds it ended.
    const reader = await openSqliteStore(file, { readonly: true });
    try {
      assert.equal((await reader.getRun(runId))?.status, 'aborted');
    } finally {
      await reader.close();
    }
  });

  it('keeps an in-memory store private to its opener', async () => {
    const a = await openSqliteStore(':memory:');
    const b = await openSqliteStore(':memory:');
    try {
      const id = await a.beginRun(newRun({ startedAt: new Date().toISOString() }));
      assert.equal((await a.getRun(id))?.status, 'running');
      assert.equal((await b.listRuns({})).length, 0);
      assert.equal(existsSync(':memory:'), false);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

/** A file at `file` that is not a gonogo store, made by `make`. */
interface NotAStore {
  name: string;
  make(file: string): Promise<void> | void;
  kind: StoreFaultKind;
  says: RegExp;
}

function sqliteFile(file: string, sql: string): void {
  const db = new Database(file);
  db.exec(sql);
  db.close();
}

const notStores: NotAStore[] = [
  {
    name: 'an empty file',
    make: (file) => writeFileSync(file, ''),
    kind: 'not-a-store',
    says: /it is empty \(0 bytes\), not a gonogo store; if it is meant to be new, delete it and gonogo will create it$/,
  },
  {
    name: 'a text file',
    make: (file) => writeFileSync(file, 'these are not the tables you are looking for\n'.repeat(100)),
    kind: 'not-a-store',
    says: /it is not an SQLite database, so not a gonogo store; check the store location, or move the file away/,
  },
  {
    name: 'a file shorter than the SQLite header',
    make: (file) => writeFileSync(file, 'SQLite'),
    kind: 'not-a-store',
    says: /it is not an SQLite database/,
  },
  {
    name: "another program's SQLite database",
    make: (file) => sqliteFile(file, 'CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES (\'keep me\')'),
    kind: 'not-a-store',
    says: /it is an SQLite database but not a gonogo store \(it has tables notes but no schema_version\)/,
  },
  {
    name: 'an SQLite database with a schema_version of its own',
    make: (file) => sqliteFile(file, 'CREATE TABLE schema_version (version TEXT); CREATE TABLE things (x)'),
    kind: 'not-a-store',
    says: /it is an SQLite database but not a gonogo store \(its tables schema_version, things are not gonogo's\)/,
  },
  {
    name: 'a damaged store',
    async make(file) {
      await storeWithHistory(file);
      const bytes = readFileSync(file);
      bytes.fill(0xff, 4096, 4096 + 16); // page 2: a table's b-tree page header
      writeFileSync(file, bytes);
    },
    kind: 'corrupt',
    says: /it is corrupt \(quick_check: .*page 2.*\); restore it from a backup, or move it away/,
  },
  {
    name: 'a store written by a newer gonogo',
    async make(file) {
      await storeWithHistory(file);
      sqliteFile(file, `UPDATE schema_version SET version = ${MIGRATIONS.length + 1}`);
    },
    kind: 'newer-schema',
    says: new RegExp(`it has store schema version ${MIGRATIONS.length + 1}, but this gonogo knows versions up to ${MIGRATIONS.length}: it was written by a newer gonogo, upgrade to open it`),
  },
];

describe('a store file that is not a gonogo store is refused, untouched', () => {
  for (const c of notStores) {
    for (const readonly of [false, true]) {
      it(`${c.name}${readonly ? ' (read-only)' : ''}`, async () => {
        const dir = tempDir();
        const file = join(dir, 'gonogo.db');
        await c.make(file);
        const before = contents(dir);
        await rejectsAsStoreError(openSqliteStore(file, { readonly }), c.kind, new RegExp(`^could not open the store ${escape(file)}: ${c.says.source}`));
        assert.deepEqual(contents(dir), before, 'no byte changed, no file created');
      });
    }
  }

  it('a store bigger than the whole-file check opens without reading every page; a damaged page a write reaches still answers corrupt', async () => {
    const file = join(tempDir(), 'gonogo.db');
    const id = await storeWithHistory(file);
    // Past WHOLE_CHECK_BYTES, then the results table's root page damaged.
    sqliteFile(file, `CREATE TABLE padding (x BLOB); INSERT INTO padding VALUES (zeroblob(${WHOLE_CHECK_BYTES + 1024 * 1024}))`);
    const db = new Database(file, { readonly: true });
    const pageSize = Number(db.pragma('page_size', { simple: true }));
    const root = Number(db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'results'").pluck().get());
    db.close();
    const bytes = readFileSync(file);
    bytes.fill(0xff, (root - 1) * pageSize, (root - 1) * pageSize + 16);
    writeFileSync(file, bytes);
    const store = await openSqliteStore(file, { clock: fakeClock(T0) });
    try {
      assert.equal((await store.listRuns({}))[0]?.id, id, 'the pages the open and the listing read are sound');
      const run = await store.beginRun(newRun());
      await rejectsAsStoreError(store.saveResult(run, itemResult('C-09')), 'corrupt', /database disk image is malformed: the file is damaged/);
    } finally {
      await store.close();
    }
  });

  it('a folder where the file should be', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'gonogo.db'));
    await rejectsAsStoreError(openSqliteStore(join(dir, 'gonogo.db')), 'not-a-store', /it is not a regular file/);
  });

  it('an SQLite file with no tables at all is made a store (it holds nothing to lose)', async () => {
    const file = join(tempDir(), 'gonogo.db');
    sqliteFile(file, 'PRAGMA user_version = 0');
    const store = await openSqliteStore(file);
    try {
      assert.deepEqual(await store.listRuns({}), []);
      const id = await store.beginRun(newRun({ startedAt: new Date().toISOString() }));
      assert.equal((await store.getRun(id))?.status, 'running');
    } finally {
      await store.close();
    }
  });
});

describe('a store locked by another process', () => {
  /** A store file, and a second connection to it holding the write lock as another gonogo would. */
  async function lockedStore(lockTimeoutMs?: number) {
    const file = join(tempDir(), 'gonogo.db');
    const clock = fakeClock(T0);
    const store = await openSqliteStore(file, { clock, lockTimeoutMs });
    const runId = await store.beginRun(newRun());
    const holder = new Database(file);
    holder.exec('BEGIN IMMEDIATE');
    return { file, clock, store, runId, holder };
  }

  it('waits for the lock and then writes', async () => {
    const { clock, store, runId, holder } = await lockedStore();
    try {
      const saving = store.saveResult(runId, itemResult('C-01'));
      // The first attempt found the lock taken and the store now sleeps before retrying.
      await clock.sleepers(1);
      holder.exec('COMMIT');
      await clock.next();
      await saving;
      assert.deepEqual((await store.getRun(runId))?.results, [itemResult('C-01')]);
    } finally {
      holder.close();
      await store.close();
    }
  });

  it('rejects with a one-line StoreError once the bound is spent, and works again when the lock is gone', async () => {
    const { file, clock, store, runId, holder } = await lockedStore(2000);
    try {
      let settled = false;
      const ending = store.endRun(runId, { status: 'completed', finishedAt: '2026-03-01T10:05:00.000Z', decision: decision() });
      ending.then(() => (settled = true), () => (settled = true));
      let retries = 0;
      while (!settled && (await clock.next())) retries += 1;
      await assert.rejects(ending, (error: unknown) => {
        assert.ok(error instanceof StoreError);
        assert.equal(error.kind, 'locked');
        assert.equal(error.message, `could not record to ${file}: database is locked (another process held the write lock for more than 2 s)`);
        return true;
      });
      assert.ok(retries >= 3, `retried ${retries} times`);
      assert.ok(clock.now() - T0 <= 2000, `gave up within the bound (${clock.now() - T0} ms of waiting)`);

      holder.exec('ROLLBACK');
      await store.endRun(runId, { status: 'completed', finishedAt: '2026-03-01T10:05:00.000Z', decision: decision() });
      assert.equal((await store.getRun(runId))?.status, 'completed');
    } finally {
      holder.close();
      await store.close();
    }
  });

  it('opening waits for the lock too when there is something to write', async () => {
    const file = join(tempDir(), 'gonogo.db');
    const first = await openSqliteStore(file, { clock: fakeClock(T0) });
    const id = await first.beginRun(newRun());
    await first.close();
    const holder = new Database(file);
    holder.exec('BEGIN IMMEDIATE');
    const clock = fakeClock(T0 + DEFAULT_LEASE_MS + 1); // the run's lease lapsed: the opener ends it
    try {
      const opening = openSqliteStore(file, { clock });
      await clock.sleepers(1);
      holder.exec('COMMIT');
      await clock.next();
      const store = await opening;
      assert.equal((await store.getRun(id))?.status, 'aborted');
      await store.close();
    } finally {
      holder.close();
    }
  });
});

describe('a full disk', () => {
  it('rejects the write with a StoreError and leaves the store consistent, the run\'s earlier rows intact', async () => {
    const file = join(tempDir(), 'gonogo.db');
    const first = await openSqliteStore(file, { clock: fakeClock(T0) });
    const id = await first.beginRun(newRun());
    await first.saveResult(id, itemResult('C-01'));
    await first.close();
    const probe = new Database(file, { readonly: true });
    const pages = Number(probe.pragma('page_count', { simple: true }));
    probe.close();

    // SQLite answers a write past max_page_count exactly as it answers a full disk: SQLITE_FULL.
    const store = await openSqliteStore(file, { clock: fakeClock(T0), maxPageCount: pages + 2 });
    const big = (n: number) => ({ ...itemResult(`C-1${n}`), evidence: { body: String(n).repeat(20_000) } });
    let saved = 0;
    let failure: unknown;
    for (; saved < 20; saved++) {
      try {
        await store.saveResult(id, big(saved));
      } catch (error) {
        failure = error;
        break;
      }
    }
    assert.ok(failure instanceof StoreError, `a write failed with a StoreError (got ${String(failure)} after ${saved} writes)`);
    assert.equal(failure.kind, 'full');
    assert.equal(failure.message, `could not record to ${file}: database or disk is full`);

    // The failed transaction left nothing half-written; the store still reads and ends the run.
    const expected = [itemResult('C-01'), ...Array.from({ length: saved }, (_, n) => big(n))];
    assert.deepEqual((await store.getRun(id))?.results, expected);
    await store.endRun(id, { status: 'aborted', finishedAt: '2026-03-01T10:01:00.000Z' });
    await store.close();
    const reopened = await openSqliteStore(file, { clock: fakeClock(T0) }); // quick_check runs on open
    try {
      const run = await reopened.getRun(id);
      assert.equal(run?.status, 'aborted');
      assert.deepEqual(run?.results, expected);
    } finally {
      await reopened.close();
    }
  });
});

describe('a read-only store', () => {
  it('changes no byte of the store, creates no file beside it, and refuses writes', async () => {
    const dir = tempDir();
    const file = join(dir, 'gonogo.db');
    const id = await storeWithHistory(file);
    const before = contents(dir);
    assert.deepEqual(Object.keys(before), ['gonogo.db']);

    const reader = await openSqliteStore(file, { readonly: true, clock: fakeClock(T0) });
    try {
      const run = await reader.getRun(id);
      assert.equal(run?.status, 'completed');
      assert.deepEqual(run?.results, [itemResult('C-01'), itemResult('C-02', 'fail')]);
      assert.equal((await reader.listAttestations('web')).length, 1);
      await rejectsAsStoreError(reader.beginRun(newRun()), 'read-only', new RegExp(`^could not record to ${escape(file)}: the store was opened read-only$`));
      assert.deepEqual(contents(dir), before, 'while open');
    } finally {
      await reader.close();
    }
    assert.deepEqual(contents(dir), before, 'after closing');
  });

  it('reads a store another process holds open, through its log, changing neither the file nor the log', async () => {
    const dir = tempDir();
    const file = join(dir, 'gonogo.db');
    const writer = child(['hang', file, 'web', '3']);
    try {
      const { runId } = JSON.parse(await writer.nextLine());
      assert.ok(existsSync(`${file}-wal`) && existsSync(`${file}-shm`));
      const { 'gonogo.db': db, 'gonogo.db-wal': wal } = contents(dir);

      const reader = await openSqliteStore(file, { readonly: true });
      try {
        const run = await reader.getRun(runId);
        assert.equal(run?.status, 'running');
        assert.deepEqual(run?.results.map((r) => r.id), ['web-0000', 'web-0001', 'web-0002']);
      } finally {
        await reader.close();
      }
      // The -shm is SQLite's shared-memory index: every reader records its read position there.
      const now = contents(dir);
      assert.equal(now['gonogo.db'], db);
      assert.equal(now['gonogo.db-wal'], wal);
    } finally {
      writer.proc.kill('SIGKILL');
      await exitCode(writer.proc);
    }
  });

  it('sees what is written after it opened', async () => {
    const file = join(tempDir(), 'gonogo.db');
    await storeWithHistory(file);
    const reader = await openSqliteStore(file, { readonly: true, clock: fakeClock(T0) });
    try {
      assert.equal((await reader.listRuns({})).length, 1);
      const writer = await openSqliteStore(file, { clock: fakeClock(T0) });
      const id = await writer.beginRun(newRun({ gate: 'api' }));
      assert.deepEqual((await reader.listRuns({ gate: 'api' })).map((r) => r.id), [id], 'while the writer is open');
      await writer.endRun(id, { status: 'aborted', finishedAt: '2026-03-01T10:01:00.000Z' });
      await writer.close();
      assert.equal((await reader.getRun(id))?.status, 'aborted', 'after the writer closed');
    } finally {
      await reader.close();
    }
  });

  it('reads a missing store as empty, creating nothing', async () => {
    const dir = tempDir();
    const file = join(dir, 'not', 'yet', 'gonogo.db');
    const reader = await openSqliteStore(file, { readonly: true });
    try {
      assert.deepEqual(await reader.listRuns({}), []);
      assert.equal(await reader.getRun('01ANY'), undefined);
      await rejectsAsStoreError(reader.addAttestation({ kind: 'signoff', gate: 'web', release: 'r1', target: { type: 'decision' }, by: 'ana', role: 'qa', at: '2026-03-01T10:00:00.000Z' }), 'read-only', /opened read-only/);
    } finally {
      await reader.close();
    }
    assert.deepEqual(readdirSync(dir), []);
  });

  /** Runs test-child.ts `read` as the unprivileged user nobody (65534). */
  async function readAsNobody(t: TestContext, file: string): Promise<unknown> {
    const reader = child(['read', file], ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    const line = await reader.nextLine();
    assert.equal(await exitCode(reader.proc), 0);
    t.diagnostic(line);
    return JSON.parse(line);
  }

  /** A folder nobody may write holding a store file nobody may write; its parent lets nobody in. */
  function lockDown(dir: string): void {
    for (const name of readdirSync(dir)) chmodSync(join(dir, name), 0o444);
    chmodSync(dir, 0o555);
    chmodSync(join(dir, '..'), 0o755);
  }

  it('reads a store the process may not write (as an unprivileged user): 0444 file in a 0555 folder', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root, to run the reader as an unprivileged user (root can write any file, so only another user shows the permission is honoured)');
    if (!requireProgram(t, 'setpriv', 'util-linux')) return;
    const dir = join(tempDir(), 'store');
    mkdirSync(dir);
    const file = join(dir, 'gonogo.db');
    const id = await storeWithHistory(file);
    lockDown(dir);
    const before = contents(dir);
    assert.deepEqual(await readAsNobody(t, file), { runs: [[id, 'completed', 2]], write: 'read-only' });
    assert.deepEqual(contents(dir), before);
  });

  it('reads, as an unprivileged user, a store whose writer was killed (its -wal and -shm left behind)', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root, to run the reader as an unprivileged user');
    if (!requireProgram(t, 'setpriv', 'util-linux')) return;
    const dir = join(tempDir(), 'store');
    mkdirSync(dir);
    const file = join(dir, 'gonogo.db');
    const writer = child(['hang', file, 'web', '2']);
    const { runId } = JSON.parse(await writer.nextLine());
    writer.proc.kill('SIGKILL');
    await exitCode(writer.proc);
    lockDown(dir);
    const before = contents(dir);
    assert.ok('gonogo.db-wal' in before);
    assert.deepEqual(await readAsNobody(t, file), { runs: [[runId, 'running', 2]], write: 'read-only' });
    assert.deepEqual(contents(dir), before);
  });
});
