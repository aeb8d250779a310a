import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createReaper, MARKER_VARIABLE } from './reaper.js';
import { fakeClock } from '../test-support/clock.js';
import { dies, isRunning, processGroup, waitForPidFile } from '../test-support/processes.js';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-reaper-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Kills `pids` however the test ends, so a failing test leaves nothing running. */
function cleanup(t: { after: (fn: () => void) => void }, pids: number[]): void {
  t.after(() => {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone: what the test wanted
      }
    }
  });
}

/** A shell that starts a grandchild in a session of its own (setsid) and waits for it; both pids are written. */
const ESCAPING = `echo $$ > leader.pid; setsid sh -c 'echo $$ > escaped.pid; exec sleep 300' & wait`;

async function startEscaping(t: { after: (fn: () => void) => void }, reaper = createReaper()) {
  const dir = tempDir(t);
  const proc = reaper.spawn('sh', ['-c', ESCAPING], { cwd: dir, stdio: 'ignore' });
  const leader = await waitForPidFile(join(dir, 'leader.pid'));
  const escaped = await waitForPidFile(join(dir, 'escaped.pid'));
  cleanup(t, [leader, escaped]);
  // What the test is about: the grandchild really left the command's process group.
  assert.notEqual(processGroup(escaped), processGroup(leader), 'the grandchild left the group');
  return { reaper, proc, leader, escaped };
}

test('end() ends the group and a descendant that left it with setsid', async (t) => {
  const { proc, leader, escaped } = await startEscaping(t);
  assert.ok(proc.alive());
  await proc.end(2000);
  // end() resolves only once no process of the tree is alive: no waiting needed here.
  assert.equal(isRunning(leader), false, 'the leader is dead');
  assert.equal(isRunning(escaped), false, 'the escaped grandchild is dead');
  assert.equal(proc.alive(), false);
});

test('a tree that ignores SIGTERM has its grace on the clock, then SIGKILL', async (t) => {
  const dir = tempDir(t);
  const clock = fakeClock();
  const proc = createReaper().spawn('sh', ['-c', `trap '' TERM; setsid sh -c 'echo $$ > stubborn.pid; exec sleep 300' & wait`], { cwd: dir, stdio: 'ignore' });
  const stubborn = await waitForPidFile(join(dir, 'stubborn.pid'));
  cleanup(t, [stubborn]);
  const ending = proc.end(5000, clock);
  await clock.sleepers(1);
  assert.ok(isRunning(stubborn), 'SIGTERM is ignored, and the grace has not passed');
  await clock.advance(4000);
  assert.ok(isRunning(stubborn), 'still within the grace');
  await clock.advance(1000);
  await ending;
  assert.equal(isRunning(stubborn), false, 'SIGKILL after the grace');
});

test('a command that left nothing is ended at once, with no wait on the clock', async () => {
  const clock = fakeClock();
  const proc = createReaper().spawn('true', [], { stdio: 'ignore' });
  await once(proc.child, 'exit');
  await proc.end(5000, clock);
  assert.equal(clock.waiting, 0);
});

test('killAll kills every tracked tree synchronously, escaped descendants included', async (t) => {
  const reaper = createReaper();
  const first = await startEscaping(t, reaper);
  const second = await startEscaping(t, reaper);
  const result: unknown = reaper.killAll();
  assert.equal(result, undefined, 'nothing to await: usable in an exit handler');
  for (const pid of [first.leader, first.escaped, second.leader, second.escaped]) assert.ok(await dies(pid), `${pid} outlived killAll`);
});

test("a reaper ends only its own trees: another run's processes are left alone", async (t) => {
  const mine = await startEscaping(t);
  const theirs = await startEscaping(t);
  mine.reaper.killAll();
  assert.ok(await dies(mine.escaped));
  assert.ok(isRunning(theirs.leader) && isRunning(theirs.escaped), "the other reaper's tree still runs");
  await theirs.proc.end(0);
});

test("the marker keeps an outer run's marker, so a gonogo inside a command is ended with it", async () => {
  const reaper = createReaper();
  const env = { PATH: process.env.PATH, [MARKER_VARIABLE]: 'outer-token' };
  const proc = reaper.spawn('sh', ['-c', `printf %s "$${MARKER_VARIABLE}"`], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  let seen = '';
  proc.child.stdout?.on('data', (chunk: Buffer) => (seen += chunk.toString()));
  await once(proc.child, 'close');
  assert.match(seen, /^outer-token,[0-9a-f]{32}$/);
});

test('gonogo killed with SIGTERM ends the command it runs, grandchild included', async (t) => {
  const dir = tempDir(t);
  const script = fileURLToPath(new URL('./reaper.test-child.ts', import.meta.url));
  const gonogo = spawn(process.execPath, ['--import', 'tsx', script, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  gonogo.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(gonogo, 'exit');
  t.after(() => gonogo.kill('SIGKILL'));
  const leader = await waitForPidFile(join(dir, 'leader.pid'));
  const grandchild = await waitForPidFile(join(dir, 'grandchild.pid'));
  cleanup(t, [leader, grandchild]);
  assert.ok(isRunning(grandchild), 'the grandchild runs before gonogo is killed');

  gonogo.kill('SIGTERM');
  const [code] = await exited;
  assert.equal(code, 143, stderr);
  assert.ok(await dies(leader), `the command's shell ${leader} outlived gonogo`);
  assert.ok(await dies(grandchild), `the setsid'd grandchild ${grandchild} outlived gonogo`);
});
