// The process boundary itself: what a shell sees when gonogo's stdout is closed early or cannot be
// written, and that gonogo exits once its decision is printed whatever a check left running. These
// tests spawn the real entry point; everything else tests the CLI in-process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../test-support/server.js';
import type { TestServer } from '../test-support/server.js';
import { runCli } from '../test-support/cli.js';

const BIN = join(import.meta.dirname, 'bin.ts');
const TSX = import.meta.resolve('tsx');
let server: TestServer;

before(async () => {
  server = await serve((_, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'));
});
after(() => server.close());

function workspace(extraItems = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-proc-'));
  writeFileSync(
    join(dir, 'gonogo.yaml'),
    `version: 1
environments:
  staging: { url: ${server.url} }
items:
  - id: HEALTH-01
    title: Health answers
    tier: critical
    check: { kind: http, url: "{{env.url}}/health", expect: ['status == 200'] }
${extraItems}`,
  );
  return dir;
}

/** Spawns `gonogo ...args` in `cwd`; `stdout` is 'close' (closed by the reader at once), a file descriptor, or 'pipe'. */
function spawnGonogo(cwd: string, args: string[], stdout: 'close' | 'pipe' | number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, BIN, ...args], { cwd, env: { ...process.env, CI: '1' }, stdio: ['ignore', typeof stdout === 'number' ? stdout : 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    if (stdout === 'close') child.stdout?.destroy();
    else child.stdout?.on('data', (d: Buffer) => (out += d));
    child.stderr?.on('data', (d: Buffer) => (err += d));
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
}

test('process: a reader that closes the pipe early (gonogo status | head) ends quietly with the command\'s own code', async () => {
  const dir = workspace();
  assert.equal((await runCli(['--config', join(dir, 'gonogo.yaml'), 'check', '-q'])).code, 0);
  const r = await spawnGonogo(dir, ['status'], 'close');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
});

test('process: an unwritable stdout (> /dev/full) is one line on stderr and exit 2, even on GO', async (t) => {
  if (!existsSync('/dev/full')) return t.skip('no /dev/full on this system');
  const dir = workspace();
  const full = openSync('/dev/full', 'w');
  try {
    const r = await spawnGonogo(dir, ['check', '-q'], full);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^gonogo: could not write to stdout: ENOSPC/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    closeSync(full);
  }
});

test('process: gonogo exits once the decision is printed, though a check left a process holding its pipe', async () => {
  const dir = workspace(`  - id: BG-01
    title: leaves a setsid background process behind
    tier: high
    check: { kind: command, run: { sh: 'setsid sleep 300 & echo $! > bg.pid; echo started' }, timeout: 5s }
`);
  const r = await spawnGonogo(dir, ['check', '--format', 'json'], 'pipe');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).decision, 'GO');
  const pid = Number(readFileSync(join(dir, 'bg.pid'), 'utf8'));
  // A killed process may linger as a zombie until its new parent reaps it: that one is dead too.
  const alive = (): boolean => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  // The reaper kills synchronously before gonogo exits; a few turns for the kernel to deliver SIGKILL.
  for (let i = 0; i < 1000 && alive(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(alive(), false, `the background process ${pid} outlived gonogo`);
});

/** Starts `gonogo watch` in a process group of its own on a window that outlasts the test; resolves once its window began. */
async function startWatch(release: string): Promise<{ pid: number; ended: Promise<{ code: number | null; stderr: string }> }> {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-proc-watch-'));
  writeFileSync(
    join(dir, 'gonogo.yaml'),
    `version: 1
environments:
  production: { url: ${server.url} }
stages:
  production:
    - { id: live, title: Live, budget: 10m, window: 10m, every: 1s, items: [HEALTH-01] }
items:
  - { id: HEALTH-01, title: health answers, tier: high, check: { kind: http, url: "{{env.url}}/health", expect: ["status == 200"] } }
`,
  );
  const child = spawn(process.execPath, ['--import', TSX, BIN, 'watch', 'production', '--release', release], { cwd: dir, detached: true, env: { ...process.env, CI: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  // Bounded: whatever happens, the whole group is gone after 60 s.
  const guard = setTimeout(() => process.kill(-(child.pid ?? 0), 'SIGKILL'), 60_000);
  let stderr = '';
  let began: () => void = () => undefined;
  const beginning = new Promise<void>((resolve) => (began = resolve));
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d;
    if (stderr.includes('window live: begins')) began();
  });
  const ended = new Promise<{ code: number | null; stderr: string }>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(guard);
      began();
      resolve({ code, stderr });
    });
  });
  await beginning;
  return { pid: child.pid ?? 0, ended };
}

test('process: gonogo watch runs in a node of its own with the watch\'s settings; SIGTERM to gonogo ends it with 130', async (t) => {
  if (!existsSync('/proc/self/task')) return t.skip('no /proc on this system');
  const { pid, ended } = await startWatch('v-term');
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((c) => c !== '');
  assert.equal(children.length, 1, `gonogo started ${children.length} processes`);
  const args = readFileSync(`/proc/${children[0]}/cmdline`, 'utf8').split('\0');
  const env = readFileSync(`/proc/${children[0]}/environ`, 'utf8').split('\0');
  process.kill(pid, 'SIGTERM');
  const r = await ended;
  assert.ok(args.includes('--max-semi-space-size=2') && args.includes('--max-old-space-size=512'), args.join(' '));
  assert.ok(env.includes('GONOGO_WATCH_PROCESS=1') && env.includes('MALLOC_TRIM_THRESHOLD_=1048576'), 'the watch\'s environment');
  assert.equal(r.code, 130, r.stderr);
  assert.equal(r.stderr.match(/interrupted: the watch stops here/g)?.length, 1, r.stderr);
});

test('process: Ctrl-C (SIGINT to the whole group: gonogo and its watch) stops the watch once, exit 130', async () => {
  const { pid, ended } = await startWatch('v-int');
  process.kill(-pid, 'SIGINT');
  const r = await ended;
  assert.equal(r.code, 130, r.stderr);
  assert.equal(r.stderr.match(/interrupted: the watch stops here/g)?.length, 1, r.stderr);
});
