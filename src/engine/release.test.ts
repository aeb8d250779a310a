// What is being decided, from real git repositories in temp folders: a commit (and its author), a
// worktree, a bare repository's own folder, and a folder outside any repository, where git is not
// even started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mayBeInRepo, resolveRelease } from './release.js';
import { requireProgram } from '../test-support/programs.js';

function folder(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-release-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const git = (dir: string, ...args: string[]): string => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function repo(dir: string): void {
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'config', 'user.name', 'erin');
  git(dir, 'config', 'user.email', 'erin@example.test');
  git(dir, 'config', 'commit.gpgsign', 'false');
  writeFileSync(join(dir, 'gonogo.yaml'), 'version: 1\n');
  git(dir, 'add', 'gonogo.yaml');
  git(dir, 'commit', '-q', '-m', 'the gate');
}

test('release: in a repository, the commit names it and git names its author; an explicit id naming a tag gets the author too', async (t) => {
  if (!requireProgram(t, 'git')) return;
  const dir = folder(t);
  repo(dir);
  const head = git(dir, 'rev-parse', '--short', 'HEAD').trim();
  const nested = join(dir, 'gates', 'web');
  mkdirSync(nested, { recursive: true });
  for (const where of [dir, nested]) {
    const r = await resolveRelease({ dir: where, configHash: 'c'.repeat(64) });
    assert.deepEqual(r, { id: head, source: 'git', author: { name: 'erin', email: 'erin@example.test' } });
  }
  // Reached through a symlink from outside the repository: git finds the repository the folder is in.
  const outside = folder(t);
  symlinkSync(nested, join(outside, 'gate'));
  assert.equal((await resolveRelease({ dir: join(outside, 'gate'), configHash: 'c'.repeat(64) })).id, head);
  git(dir, 'tag', 'v1.0.0');
  assert.deepEqual(await resolveRelease({ dir: nested, explicit: 'v1.0.0', configHash: 'c'.repeat(64) }), { id: 'v1.0.0', source: 'option', author: { name: 'erin', email: 'erin@example.test' } });
});

test('release: a worktree (its .git is a file) and a bare repository are repositories', async (t) => {
  if (!requireProgram(t, 'git')) return;
  const dir = folder(t);
  const main = join(dir, 'main');
  mkdirSync(main);
  repo(main);
  git(main, 'worktree', 'add', '-q', join(dir, 'wt'));
  assert.equal(mayBeInRepo(join(dir, 'wt')), true);
  assert.equal((await resolveRelease({ dir: join(dir, 'wt'), configHash: 'c'.repeat(64) })).source, 'git');
  const bare = join(dir, 'bare.git');
  execFileSync('git', ['clone', '-q', '--bare', main, bare]);
  assert.equal(mayBeInRepo(bare), true);
});

test('release: outside any repository it is the config hash, and git is not started to learn that', async (t) => {
  const dir = folder(t);
  // A `git` first on PATH that leaves a mark when started: the release must not need it.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const mark = join(dir, 'git-started');
  writeFileSync(join(bin, 'git'), `#!/bin/sh\necho started >> '${mark}'\nexit 128\n`);
  chmodSync(join(bin, 'git'), 0o755);
  const work = join(dir, 'gate');
  mkdirSync(work);
  const path = process.env.PATH;
  process.env.PATH = `${bin}:${path ?? ''}`;
  t.after(() => {
    process.env.PATH = path;
  });
  assert.equal(mayBeInRepo(work, {}), false);
  assert.deepEqual(await resolveRelease({ dir: work, configHash: 'ab'.repeat(32) }), { id: 'config-abababababab', source: 'config' });
  assert.deepEqual(await resolveRelease({ dir: work, explicit: 'v2.0.0', configHash: 'ab'.repeat(32) }), { id: 'v2.0.0', source: 'option' });
  assert.throws(() => readFileSync(mark), /ENOENT/, 'git was started');
  // GIT_DIR points git anywhere: then only git can say.
  assert.equal(mayBeInRepo(work, { GIT_DIR: join(dir, 'elsewhere.git') }), true);
});
