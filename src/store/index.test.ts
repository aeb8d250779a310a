import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newRun } from './contract.js';
import { openStore, StoreError } from './index.js';
import { runListing } from './schema.js';

const dir = mkdtempSync(join(tmpdir(), 'gonogo-open-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const startedNow = () => newRun({ startedAt: new Date().toISOString() });

// Each location is opened, written and reopened: a file store keeps the run, a throwaway one does
// not and leaves no file behind (a `sqlite:` prefix not stripped would make a file of that name).
const locations = [
  { name: 'a plain file path opens SQLite', location: join(dir, 'plain.db'), file: join(dir, 'plain.db') },
  { name: 'sqlite:PATH opens SQLite at PATH', location: `sqlite:${join(dir, 'prefixed.db')}`, file: join(dir, 'prefixed.db') },
  { name: ':memory: opens a throwaway SQLite store', location: ':memory:' },
  { name: 'sqlite::memory: opens a throwaway SQLite store', location: 'sqlite::memory:' },
];
for (const { name, location, file } of locations) {
  test(name, async () => {
    const cwdBefore = readdirSync(process.cwd());
    const store = await openStore(location);
    const id = await store.beginRun(startedNow());
    assert.equal((await store.getRun(id))?.status, 'running');
    await store.close();
    const again = await openStore(location);
    try {
      assert.deepEqual((await again.listRuns({})).map((r) => r.id), file ? [id] : []);
    } finally {
      await again.close();
    }
    if (file) assert.ok(existsSync(file), `${file} was created`);
    assert.deepEqual(readdirSync(process.cwd()), cwdBefore, 'no file appeared in the working folder');
  });
}

test('options reach the store: read-only refuses writes, a bad lease is refused', async () => {
  const file = join(dir, 'options.db');
  await (await openStore(file)).close();
  const reader = await openStore(`sqlite:${file}`, { readonly: true });
  try {
    await assert.rejects(reader.beginRun(startedNow()), (error: unknown) => error instanceof StoreError && error.kind === 'read-only');
  } finally {
    await reader.close();
  }
  await assert.rejects(openStore(file, { leaseMs: 0 }), /leaseMs must be a positive number/);
  await assert.rejects(openStore(file, { pageCacheKiB: 0 }), /pageCacheKiB must be a positive number/);
  const small = await openStore(file, { pageCacheKiB: 2000 });
  await small.beginRun(startedNow());
  await small.close();
});

test('a PostgreSQL URL opens the PostgreSQL store: a server that is not there is one line, without the password', async () => {
  for (const url of ['postgres://gonogo:s3cret@127.0.0.1:1/gonogo', 'postgresql://gonogo:s3cret@127.0.0.1:1/gonogo', 'POSTGRES://gonogo:s3cret@127.0.0.1:1/gonogo']) {
    await assert.rejects(openStore(url), (error: Error) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.kind, 'unreachable');
      assert.match(error.message, /^could not open the store postgres(ql)?:\/\/gonogo@127\.0\.0\.1:1\/gonogo: connection refused/i);
      assert.doesNotMatch(error.message, /s3cret/);
      return true;
    });
  }
});

test('another URL scheme is refused rather than taken for a file name', async () => {
  await assert.rejects(openStore('mysql://root:s3cret@db.example/gonogo'), (error: Error) => {
    assert.match(error.message, /unsupported store location scheme "mysql:"/);
    assert.doesNotMatch(error.message, /s3cret/);
    return true;
  });
  assert.equal(existsSync('mysql:'), false);
});

test('an empty location is refused', async () => {
  await assert.rejects(openStore(''), /empty/);
  await assert.rejects(openStore('sqlite:'), /empty/);
});

test('a run listing reads summaries: the decision column (every item\'s result, kilobytes a run) is not selected', () => {
  const columns = 'id, gate, verdict, readiness, decision, heartbeat_at';
  const { sql, params } = runListing({ gate: 'web', release: 'r1', limit: 5 }, columns);
  assert.equal(sql, 'SELECT id, gate, verdict, readiness, NULL AS decision, heartbeat_at FROM runs WHERE gate = ? AND release_id = ? ORDER BY id DESC LIMIT 5');
  assert.deepEqual(params, ['web', 'r1']);
  assert.match(runListing({}, 'decision, id').sql, /^SELECT NULL AS decision, id FROM runs/);
});
