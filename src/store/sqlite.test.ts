import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { decision, itemResult, newRun, storeContract } from './contract.js';
import { MIGRATIONS } from './schema.js';
import { openSqliteStore } from './sqlite.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-store-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

storeContract('SQLite file', () => openSqliteStore(join(tempDir(), 'gonogo.db')));
storeContract('SQLite :memory:', () => openSqliteStore(':memory:'));

const childScript = fileURLToPath(new URL('./test-child.ts', import.meta.url));

/** Starts test-child.ts in its own node process; its stdout is read line by line. */
function child(...args: string[]): { proc: ChildProcessWithoutNullStreams; nextLine: () => Promise<string> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', childScript, ...args], { stdio: 'pipe' });
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

describe('SQLite store', () => {
  it('creates missing parent folders and keeps everything across reopening', async () => {
    const file = join(tempDir(), 'state', 'nested', 'gonogo.db');
    const first = await openSqliteStore(file);
    const id = await first.beginRun(newRun());
    await first.saveResult(id, itemResult('C-01'));
    await first.endRun(id, { status: 'completed', finishedAt: '2026-03-01T10:05:00.000Z', decision: decision() });
    await first.addAttestation({ kind: 'signoff', gate: 'web', target: { type: 'decision' }, by: 'ana', role: 'release-manager', at: '2026-03-01T10:06:00.000Z' });
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
  });

  it('uses WAL, a busy timeout, and records the schema version', async () => {
    const file = join(tempDir(), 'gonogo.db');
    await (await openSqliteStore(file)).close();
    const db = new Database(file);
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.deepEqual(db.prepare('SELECT version FROM schema_version').all(), [{ version: MIGRATIONS.length }]);
    } finally {
      db.close();
    }
  });

  it('refuses, with a clear message, a file written by a newer gonogo', async () => {
    const file = join(tempDir(), 'gonogo.db');
    await (await openSqliteStore(file)).close();
    const db = new Database(file);
    db.prepare('UPDATE schema_version SET version = ?').run(MIGRATIONS.length + 1);
    db.close();
    await assert.rejects(openSqliteStore(file), (error: Error) => {
      assert.match(error.message, new RegExp(`schema version ${MIGRATIONS.length + 1}.*knows versions up to ${MIGRATIONS.length}.*newer gonogo`));
      assert.ok(error.message.includes(file), 'names the file');
      return true;
    });
  });

  it('refuses a file that is not a store, naming it', async () => {
    const file = join(tempDir(), 'notes.db');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, 'these are not the tables you are looking for'.repeat(100));
    await assert.rejects(openSqliteStore(file), new RegExp(`cannot open the store ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: file is not a database`));
  });

  it('lands every write of two processes writing the same new file at once', async () => {
    const file = join(tempDir(), 'shared', 'gonogo.db');
    const count = 2000;
    const writers = [child('write', file, 'web', String(count)), child('write', file, 'api', String(count))];
    // Both processes are up before either opens the file, so opening and migrating race; then both
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

  it('marks a run aborted on open when its process was killed, keeping its results', async () => {
    const file = join(tempDir(), 'gonogo.db');
    const killed = child('hang', file, 'web', '5');
    const { runId } = JSON.parse(await killed.nextLine());
    // Another process opening the store meanwhile sees the run as running: its process is alive.
    const whileAlive = await openSqliteStore(file);
    assert.equal((await whileAlive.getRun(runId))?.status, 'running');
    await whileAlive.close();

    killed.proc.kill('SIGKILL');
    await exitCode(killed.proc);
    const before = new Date().toISOString();
    const store = await openSqliteStore(file);
    try {
      const run = await store.getRun(runId);
      assert.equal(run?.status, 'aborted');
      assert.ok(run?.finishedAt !== undefined && run.finishedAt >= before, `finishedAt ${run?.finishedAt} is the time of the open`);
      assert.equal(run !== undefined && 'decision' in run, false);
      assert.deepEqual(
        run?.results.map((r) => r.id),
        ['web-0000', 'web-0001', 'web-0002', 'web-0003', 'web-0004'],
      );
      await assert.rejects(store.endRun(runId, { status: 'completed', finishedAt: new Date().toISOString(), decision: decision('GO', 100) }), /already ended/);
    } finally {
      await store.close();
    }
  });

  it('leaves running the runs of live processes and of other hosts', async () => {
    const file = join(tempDir(), 'gonogo.db');
    const first = await openSqliteStore(file);
    const mine = await first.beginRun(newRun());
    const elsewhere = await first.beginRun(newRun({ pid: 999_999_999, host: 'ci-runner-7.example' }));
    await first.close();
    const second = await openSqliteStore(file);
    try {
      assert.equal((await second.getRun(mine))?.status, 'running');
      assert.equal((await second.getRun(elsewhere))?.status, 'running');
    } finally {
      await second.close();
    }
  });

  it('keeps an in-memory store private to its opener', async () => {
    const a = await openSqliteStore(':memory:');
    const b = await openSqliteStore(':memory:');
    try {
      await a.beginRun(newRun());
      assert.equal((await b.listRuns({})).length, 0);
      assert.equal(existsSync(':memory:'), false);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
