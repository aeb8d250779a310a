import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import fileKind, { parseSize } from './index.js';
import { testContext } from '../../test-support/context.js';
import type { CheckContext } from '../types.js';
import { systemClock } from '../../util/clock.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const HOUR = 3600;

/** A folder of files, each `[content, hours old at NOW]`, and a context whose clock stands at NOW. */
function fixture(t: { after: (fn: () => void) => void }, files: Record<string, [string, number]>, folderName = 'backup-host'): { dir: string; ctx: CheckContext } {
  const root = mkdtempSync(join(tmpdir(), 'gonogo-file-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, folderName);
  mkdirSync(dir);
  for (const [name, [content, hoursOld]] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    const when = (NOW - hoursOld * HOUR * 1000) / 1000;
    utimesSync(path, when, when);
  }
  return { dir, ctx: { ...testContext({ configDir: dir }), clock: { ...systemClock, now: () => NOW } } };
}

test('a single file: exists, size, age by the injected clock', async (t) => {
  const { ctx } = fixture(t, { 'exports/users.csv': ['id,name\n1,Ada\n', 5] });
  const { observations } = await fileKind.run({ path: 'exports/users.csv' }, ctx);
  assert.deepEqual(observations, {
    exists: true,
    path: join(ctx.configDir, 'exports/users.csv'),
    type: 'file',
    age_s: 5 * HOUR,
    size: 14,
    matches: 1,
  });
});

test('a missing file is observed as missing, not an error', async (t) => {
  const { ctx } = fixture(t, {});
  const { observations } = await fileKind.run({ path: 'backups/latest.sql.gz' }, ctx);
  assert.deepEqual(observations, { exists: false, path: null, type: null, age_s: null, size: null, matches: 0 });
});

test('a glob looks at the newest match', async (t) => {
  const { ctx } = fixture(t, {
    'backups/recipes-2026-02-27.sql.gz': ['x'.repeat(100), 48],
    'backups/recipes-2026-02-28.sql.gz': ['x'.repeat(300), 26],
    'backups/recipes-2026-03-01.sql.gz': ['x'.repeat(200), 2],
    'backups/notes.txt': ['newer but not a backup', 1],
    'backups/.hidden.sql.gz': ['old hidden', 100],
  });
  const { observations } = await fileKind.run({ path: 'backups/*.sql.gz' }, ctx);
  assert.deepEqual(observations, {
    exists: true,
    path: join(ctx.configDir, 'backups/recipes-2026-03-01.sql.gz'),
    type: 'file',
    age_s: 2 * HOUR,
    size: 200,
    matches: 4,
  });
});

test('globs: nested folders, no match, a base folder that does not exist', async (t) => {
  const { ctx } = fixture(t, {
    'backups/2026/02/db.sql.gz': ['feb', 400],
    'backups/2026/03/db.sql.gz': ['march', 3],
  });
  const cases = [
    { path: 'backups/**/*.sql.gz', exists: true, matches: 2, newest: 'backups/2026/03/db.sql.gz' },
    { path: 'backups/*/0[2]/db.sql.gz', exists: true, matches: 1, newest: 'backups/2026/02/db.sql.gz' },
    { path: 'backups/*.tar', exists: false, matches: 0, newest: undefined },
    { path: 'no-such-folder/*.sql.gz', exists: false, matches: 0, newest: undefined },
  ];
  for (const c of cases) {
    const { observations } = await fileKind.run({ path: c.path }, ctx);
    assert.equal(observations.exists, c.exists, c.path);
    assert.equal(observations.matches, c.matches, c.path);
    assert.equal(observations.path, c.newest === undefined ? null : join(ctx.configDir, c.newest), c.path);
  }
});

test('glob characters in the config folder itself are not read as a pattern', async (t) => {
  const { ctx } = fixture(t, { 'dumps/a.sql': ['a', 1], 'dumps/b.sql': ['b', 3] }, 'release (copy) [2]');
  const { observations } = await fileKind.run({ path: 'dumps/*.sql' }, ctx);
  assert.equal(observations.path, join(ctx.configDir, 'dumps/a.sql'));
  assert.equal((await fileKind.run({ path: 'dumps/b.sql' }, ctx)).observations.exists, true);
});

test('an absolute path ignores the config folder', async (t) => {
  const { dir } = fixture(t, { 'artefact.tgz': ['tgz', 0] });
  const elsewhere = { ...testContext({ configDir: tmpdir() }), clock: { ...systemClock, now: () => NOW } };
  const { observations } = await fileKind.run({ path: join(dir, '*.tgz') }, elsewhere);
  assert.equal(observations.path, join(dir, 'artefact.tgz'));
  assert.equal(observations.age_s, 0);
});

test('a FIFO is observed as a FIFO, never opened; a glob counts regular files only', async (t) => {
  const { dir, ctx } = fixture(t, { 'backups/recipes-2026-02-28.sql.gz': ['x'.repeat(300), 26] });
  const fifo = join(dir, 'backups/recipes-2026-03-01.sql.gz');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
  symlinkSync(fifo, join(dir, 'backups/latest.sql.gz'));
  t.after(() => {
    // Should a reader be stuck on the FIFO (the defect this guards), give it end-of-file so the process can exit.
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // no reader: nothing is stuck
    }
  });
  const single = await fileKind.run({ path: 'backups/recipes-2026-03-01.sql.gz' }, ctx);
  assert.equal(single.observations.exists, true);
  assert.equal(single.observations.type, 'fifo');
  assert.equal(Reflect.get(Object(single.evidence), 'type'), 'fifo');
  const glob = await fileKind.run({ path: 'backups/*.sql.gz' }, ctx);
  assert.equal(glob.observations.path, join(dir, 'backups/recipes-2026-02-28.sql.gz'), 'the FIFO (and a link to it) is not a backup');
  assert.equal(glob.observations.matches, 1);
});

test('an aborted signal stops the check', async (t) => {
  const { ctx } = fixture(t, { 'a.txt': ['a', 1] });
  await assert.rejects(fileKind.run({ path: '*.txt' }, { ...ctx, signal: AbortSignal.abort(new Error('deadline')) }), /deadline/);
});

test('default expect follows the options', () => {
  assert.deepEqual(fileKind.defaultExpect({ path: 'backups/*.sql.gz' }), ['exists == true']);
  assert.deepEqual(fileKind.defaultExpect({ path: 'backups/*.sql.gz', maxAge: '25h', minSize: '1KB' }), [
    'exists == true',
    'age_s <= 90000',
    'size >= 1000',
  ]);
  assert.deepEqual(fileKind.defaultExpect({ path: 'x', maxAge: '7 days', minSize: 2048 }), ['exists == true', 'age_s <= 604800', 'size >= 2048']);
});

test('durations and sizes are validated at load', () => {
  const valid = (o: Record<string, unknown>): boolean => fileKind.options.safeParse({ path: 'x', ...o }).success;
  assert.equal(valid({ maxAge: '25h' }), true);
  assert.equal(valid({ maxAge: '30 Minutes' }), true);
  assert.equal(valid({ maxAge: '90' }), false, 'a bare number would be milliseconds');
  assert.equal(valid({ maxAge: 'soon' }), false);
  assert.equal(valid({ maxAge: '0h' }), false);
  assert.equal(valid({ minSize: '1.5 MiB' }), true);
  assert.equal(valid({ minSize: '1 parsec' }), false);
  assert.equal(valid({ minSize: -1 }), false);
  assert.equal(valid({ size: 1 }), false, 'unknown options are refused');
});

test('sizes: SI and binary units', () => {
  const cases: [string | number, number | undefined][] = [
    [512, 512],
    ['512', 512],
    ['1KB', 1000],
    ['1kib', 1024],
    ['1.5 MiB', 1572864],
    ['2 GB', 2e9],
    ['1 K', undefined],
    ['', undefined],
  ];
  for (const [input, bytes] of cases) assert.equal(parseSize(input), bytes, String(input));
});
