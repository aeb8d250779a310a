import { requireProgram } from '../../test-support/programs.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import gitKind from './index.js';
import { testContext } from '../../test-support/context.js';

/** A real repository in a temp folder, with its own identity and no signing, whatever the machine's config. */
class TempRepo {
  constructor(readonly dir: string) {}

  static create(t: { after: (fn: () => void) => void }, name: string): TempRepo {
    const root = mkdtempSync(join(tmpdir(), 'gonogo-git-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const repo = new TempRepo(join(root, name));
    mkdirSync(repo.dir);
    repo.git('init', '--quiet', '-b', 'main');
    repo.configure();
    return repo;
  }

  configure(): void {
    this.git('config', 'user.name', 'Release Tester');
    this.git('config', 'user.email', 'release@example.test');
    this.git('config', 'commit.gpgsign', 'false');
    this.git('config', 'tag.gpgsign', 'false');
  }

  git(...args: string[]): string {
    return execFileSync('git', ['-C', this.dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  commit(file: string, content: string, message = `change ${file}`): void {
    mkdirSync(dirname(join(this.dir, file)), { recursive: true });
    writeFileSync(join(this.dir, file), content);
    this.git('add', file);
    this.git('commit', '--quiet', '-m', message);
  }

  /** A branch off main with one commit per file. */
  branch(name: string, files: Record<string, string>): void {
    this.git('switch', '--quiet', '-c', name, 'main');
    for (const [file, content] of Object.entries(files)) this.commit(file, content);
    this.git('switch', '--quiet', 'main');
  }
}

function ctxFor(repo: TempRepo): ReturnType<typeof testContext> {
  return testContext({ configDir: repo.dir });
}

/** main with: a merge-committed branch, a fast-forwarded one, a rebase-merged one, a squash-merged one, two open ones. */
function releaseRepo(t: { after: (fn: () => void) => void }): TempRepo {
  const repo = TempRepo.create(t, 'recipes-app');
  repo.commit('README.md', 'recipes\n');

  repo.branch('security/csrf-tokens', { 'src/csrf.ts': 'export const csrf = true;\n' });
  repo.commit('CHANGELOG.md', 'main moved on\n');
  repo.git('merge', '--quiet', '--no-ff', '-m', 'merge csrf', 'security/csrf-tokens');

  repo.branch('security/rate-limit', { 'src/limit.ts': 'export const limit = 5;\n' });
  repo.git('merge', '--quiet', '--ff-only', 'security/rate-limit');

  repo.branch('fix/rebased', { 'src/a.ts': 'a\n', 'src/b.ts': 'b\n' });
  repo.commit('CHANGELOG.md', 'main moved on again\n');
  for (const sha of repo.git('rev-list', '--reverse', 'main..fix/rebased').trim().split('\n')) repo.git('cherry-pick', sha);

  repo.branch('fix/squashed', { 'src/c.ts': 'c\n', 'src/d.ts': 'd\n' });
  repo.commit('CHANGELOG.md', 'and again\n');
  repo.git('merge', '--quiet', '--squash', 'fix/squashed');
  repo.git('commit', '--quiet', '-m', 'squash fix/squashed');

  repo.branch('security/session-fixation', { 'src/session.ts': 'export const rotate = false;\n' });
  repo.branch('fix/open', { 'src/e.ts': 'e\n' });
  return repo;
}

test('branches merged by merge commit, fast-forward, rebase and squash count; open ones do not', async (t) => {
  if (!requireProgram(t, 'git')) return;
  const repo = releaseRepo(t);
  const { observations, evidence } = await gitKind.run({ merged: ['security/*', 'fix/*'] }, ctxFor(repo));
  assert.deepEqual(observations.merged, ['security/csrf-tokens', 'security/rate-limit', 'fix/rebased', 'fix/squashed']);
  assert.deepEqual(observations.unmerged, ['security/session-fixation', 'fix/open']);
  assert.deepEqual(Reflect.get(Object(evidence), 'merged'), {
    'security/csrf-tokens': 'ancestor',
    'security/rate-limit': 'ancestor',
    'security/session-fixation': 'not merged',
    'fix/rebased': 'rebase',
    'fix/squashed': 'squash',
    'fix/open': 'not merged',
  });
});

test('a plain name means that branch only, not the branches below it', async (t) => {
  if (!requireProgram(t, 'git')) return;
  const repo = releaseRepo(t);
  const { observations } = await gitKind.run({ merged: ['fix/open'] }, ctxFor(repo));
  assert.deepEqual(observations.unmerged, ['fix/open']);
  // git's own ref matching would take `fix` for every `fix/...` branch.
  await assert.rejects(gitKind.run({ merged: ['fix'] }, ctxFor(repo)), /no branch matches "fix"/);
});

test('a name or glob matching no branch cannot be verified: an error, not a pass', async (t) => {
  if (!requireProgram(t, 'git')) return;
  const repo = releaseRepo(t);
  await assert.rejects(gitKind.run({ merged: ['release/*'] }, ctxFor(repo)), /no branch matches "release\/\*".*cannot verify/);
  await assert.rejects(gitKind.run({ merged: ['security/deleted-after-merge'] }, ctxFor(repo)), /no branch matches "security\/deleted-after-merge"/);
});

test('a missing target branch or a folder outside any repository is an error', async (t) => {
  if (!requireProgram(t, 'git')) return;
  const repo = releaseRepo(t);
  await assert.rejects(gitKind.run({ merged: ['fix/*'], target: 'trunk' }, ctxFor(repo)), /target branch trunk not found/);
  const outside = mkdtempSync(join(tmpdir(), 'gonogo-not-git-'));
  t.after(() => rmSync(outside, { recursive: true, force: true }));
  await assert.rejects(gitKind.run({}, testContext({ configDir: outside })), /cannot read a git repository at .*not a git repository/);
});

test('uncommitted changes: modified, staged, untracked (unless told not to count them)', async (t) => {
  if (!requireProgram(t, 'git')) return;
  const repo = TempRepo.create(t, 'dirty-tree');
  repo.commit('src/app.ts', 'v1\n');
  repo.commit('package.json', '{}\n');

  const clean = await gitKind.run({}, ctxFor(repo));
  assert.equal(clean.observations.clean, true);
  assert.deepEqual(clean.observations.dirty_files, []);

  writeFileSync(join(repo.dir, 'src/app.ts'), 'v2\n');
  writeFileSync(join(repo.dir, 'package.json'), '{"dirty": true}\n');
  repo.git('add', 'package.json');
  writeFileSync(join(repo.dir, 'notes with space.txt'), 'scratch\n');
  const dirty = await gitKind.run({}, ctxFor(repo));
  assert.equal(dirty.observations.clean, false);
  assert.deepEqual([...(Array.isArray(dirty.observations.dirty_files) ? dirty.observations.dirty_files : [])].sort(), ['notes with space.txt', 'package.json', 'src/app.ts']);
  assert.equal(dirty.observations.dirty_count, 3);

  repo.git('checkout', '--', 'src/app.ts');
  repo.git('reset', '--quiet', '--hard');
  const untrackedOnly = await gitKind.run({ untracked: false }, ctxFor(repo));
  assert.equal(untrackedOnly.observations.clean, true);
  assert.equal((await gitKind.run({}, ctxFor(repo))).observations.clean, false);
});

test('the repo option resolves against the config folder, from any folder inside the repository', async (t) => {
  if (!requireProgram(t, 'git')) return;
  const repo = TempRepo.create(t, 'nested');
  repo.commit('deploy/gonogo.yaml', 'items: []\n');
  const { observations } = await gitKind.run({ repo: '..' }, testContext({ configDir: join(repo.dir, 'deploy') }));
  assert.equal(observations.clean, true);
  assert.equal(observations.branch, 'main');
  assert.match(String(observations.head), /^[0-9a-f]{40}$/);
});

test('tags: a name or a glob', async (t) => {
  if (!requireProgram(t, 'git')) return;
  const repo = TempRepo.create(t, 'tagged');
  repo.commit('README.md', 'one\n');
  repo.git('tag', '-a', 'v1.4.0', '-m', 'release 1.4.0');
  repo.git('tag', 'v1.4.1');
  const cases = [
    { tag: 'v1.4.*', present: true, tags: ['v1.4.0', 'v1.4.1'] },
    { tag: 'v1.4.0', present: true, tags: ['v1.4.0'] },
    { tag: 'v1.4', present: false, tags: [] },
    { tag: 'v2.*', present: false, tags: [] },
  ];
  for (const c of cases) {
    const { observations } = await gitKind.run({ tag: c.tag }, ctxFor(repo));
    assert.equal(observations.tag_present, c.present, c.tag);
    assert.deepEqual(observations.tags, c.tags, c.tag);
  }
});

test('remote: branches read from tracking refs as last fetched, and the local target compared with it', async (t) => {
  if (!requireProgram(t, 'git')) return;
  const upstream = releaseRepo(t);
  const cloneDir = join(dirname(upstream.dir), 'laptop-clone');
  execFileSync('git', ['clone', '--quiet', upstream.dir, cloneDir]);
  const clone = new TempRepo(cloneDir);
  clone.configure();
  clone.commit('local.txt', 'not pushed\n');

  const { observations } = await gitKind.run({ merged: ['security/*'], remote: 'origin' }, ctxFor(clone));
  assert.deepEqual(observations.merged, ['security/csrf-tokens', 'security/rate-limit']);
  assert.deepEqual(observations.unmerged, ['security/session-fixation']);
  assert.equal(observations.ahead, 1);
  assert.equal(observations.behind, 0);

  // Local branches alone are not read when a remote is named.
  clone.git('branch', 'local-only');
  await assert.rejects(gitKind.run({ merged: ['local-only'], remote: 'origin' }, ctxFor(clone)), /no branch matches "local-only" on origin/);
  await assert.rejects(gitKind.run({ merged: ['fix/*'], remote: 'upstream' }, ctxFor(clone)), /target branch upstream\/main not found.*git fetch upstream/);
});

test('a detached HEAD has no branch', async (t) => {
  if (!requireProgram(t, 'git')) return;
  const repo = TempRepo.create(t, 'detached');
  repo.commit('a.txt', 'a\n');
  repo.commit('b.txt', 'b\n');
  repo.git('switch', '--quiet', '--detach', 'HEAD~1');
  const { observations } = await gitKind.run({}, ctxFor(repo));
  assert.equal(observations.branch, null);
  assert.equal(observations.head, repo.git('rev-parse', 'HEAD').trim());
});

test('an aborted signal stops the check with an error', async (t) => {
  if (!requireProgram(t, 'git')) return;
  const repo = TempRepo.create(t, 'aborted');
  repo.commit('a.txt', 'a\n');
  const ctx = { ...ctxFor(repo), signal: AbortSignal.abort(new Error('deadline passed')) };
  await assert.rejects(gitKind.run({}, ctx), /deadline passed/);
});

test('default expect follows what was asked', () => {
  const cases = [
    { options: {}, expect: ['clean == true'] },
    { options: { merged: ['security/*'] }, expect: ['len(unmerged) == 0'] },
    { options: { merged: ['security/*'], clean: true }, expect: ['len(unmerged) == 0', 'clean == true'] },
    { options: { tag: 'v*' }, expect: ['tag_present == true'] },
    { options: { tag: 'v*', clean: false }, expect: ['tag_present == true'] },
  ];
  for (const c of cases) assert.deepEqual(gitKind.defaultExpect(c.options), c.expect, JSON.stringify(c.options));
});
