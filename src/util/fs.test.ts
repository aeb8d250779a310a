import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileRefusedError, readRegularFile } from './fs.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-fs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a regular file is read whole, within the limit', async (t) => {
  const file = join(tempDir(t), '.env');
  writeFileSync(file, 'A=1\n'.repeat(50_000));
  assert.equal((await readRegularFile(file)).length, 200_000);
  assert.equal((await readRegularFile(file, 200_000)).length, 200_000);
  await assert.rejects(readRegularFile(file, 199_999), (err) => err instanceof FileRefusedError && /200000 bytes, over the limit of 199999 bytes/.test(err.message));
});

test('anything but a regular file is refused at once, never waited on', async (t) => {
  const dir = tempDir(t);
  const fifo = join(dir, 'named-pipe');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
  // A FIFO with no writer: opening it blocking, or reading it, would wait for ever.
  const cases = [
    { path: fifo, is: /is a FIFO \(named pipe\), not a regular file/ },
    { path: dir, is: /is a directory, not a regular file/ },
    { path: '/dev/zero', is: /is a device, not a regular file/ },
  ];
  for (const c of cases) await assert.rejects(readRegularFile(c.path), (err) => err instanceof FileRefusedError && c.is.test(err.message), c.path);
});

test('a missing file rejects with ENOENT, for callers that read it as empty', async (t) => {
  await assert.rejects(readRegularFile(join(tempDir(t), 'absent')), { code: 'ENOENT' });
});
