import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'gonogo-open-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const locations = [
  { name: 'a plain file path opens SQLite', location: join(dir, 'plain.db'), file: join(dir, 'plain.db') },
  { name: 'sqlite:PATH opens SQLite at PATH', location: `sqlite:${join(dir, 'prefixed.db')}`, file: join(dir, 'prefixed.db') },
  { name: ':memory: opens a throwaway SQLite store', location: ':memory:' },
  { name: 'sqlite::memory: opens a throwaway SQLite store', location: 'sqlite::memory:' },
];
for (const { name, location, file } of locations) {
  test(name, async () => {
    const store = await openStore(location);
    await store.close();
    if (file) assert.ok(existsSync(file), `${file} was created`);
  });
}

test('a PostgreSQL URL is refused clearly, without echoing its password', async () => {
  for (const url of ['postgres://gonogo:s3cret@db.example/gonogo', 'postgresql://gonogo:s3cret@db.example/gonogo', 'POSTGRES://db']) {
    await assert.rejects(openStore(url), (error: Error) => {
      assert.equal(error.message, 'PostgreSQL store is not available yet');
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
