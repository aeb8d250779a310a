import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import command from './index.js';
import type { CheckContext } from '../types.js';
import { testContext } from '../../test-support/context.js';
import { fakeClock } from '../../test-support/clock.js';
import { isRunning, waitForPidFile } from '../../test-support/processes.js';
import { createReaper } from '../../util/reaper.js';
import type { ReapedProcess, Reaper } from '../../util/reaper.js';

const node = process.execPath;

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-command-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Kills `pid` however the test ends, so a failing test leaves nothing running. */
function cleanup(t: { after: (fn: () => void) => void }, pid: number): void {
  t.after(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone: what the test wanted
    }
  });
}

/** A reaper that shows the test each process the kind starts, before the kind attaches its own listeners. */
function watchingReaper(onSpawn: (proc: ReapedProcess) => void): Reaper {
  const reaper = createReaper();
  return {
    spawn(file, args, options) {
      const proc = reaper.spawn(file, args, options);
      onSpawn(proc);
      return proc;
    },
    killAll: (signal) => reaper.killAll(signal),
  };
}

/** A context whose signal the test aborts itself, once it knows the command is under way. */
function abortableContext(configDir: string, extra: Partial<CheckContext> = {}): { ctx: CheckContext; controller: AbortController } {
  const controller = new AbortController();
  return { ctx: { ...testContext({ configDir }), signal: controller.signal, ...extra }, controller };
}

test('exit codes and output are observed, not judged', async (t) => {
  const cases = [
    { name: 'success', run: [node, '-e', 'console.log("ok")'], exit: 0, stdout: 'ok\n' },
    { name: 'failure with a code', run: [node, '-e', 'process.exit(3)'], exit: 3, stdout: '' },
    { name: 'stderr only', run: [node, '-e', 'console.error("bad"); process.exit(1)'], exit: 1, stdout: '' },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const { observations } = await command.run({ run: c.run }, testContext());
      assert.equal(observations.exit_code, c.exit);
      assert.equal(observations.signal, null);
      assert.equal(observations.stdout, c.stdout);
      assert.equal(typeof observations.duration_ms, 'number');
    });
  }
});

test('stdout, stderr and the interleaved output are kept apart', async (t) => {
  // The command writes its next line only once the kind has read the previous one (the test hears
  // each chunk just before the kind does and then opens the FIFO the command waits on): the order
  // is made, not hoped for.
  const fifo = join(tempDir(t), 'next');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
  const script = 'const next = () => require("fs").readFileSync(process.argv[1]); process.stdout.write("one\\n"); next(); process.stderr.write("two\\n"); next(); process.stdout.write("three\\n");';
  let releases = 2;
  const release = (): void => {
    if (releases-- > 0) void writeFile(fifo, 'go');
  };
  const reaper = watchingReaper(({ child }) => {
    child.stdout?.on('data', release);
    child.stderr?.on('data', release);
  });
  const { observations } = await command.run({ run: [node, '-e', script, fifo] }, { ...testContext(), reaper });
  assert.equal(observations.stdout, 'one\nthree\n');
  assert.equal(observations.stderr, 'two\n');
  assert.equal(observations.output, 'one\ntwo\nthree\n');
});

test('argv runs with no shell: metacharacters stay literal', async () => {
  const { observations } = await command.run({ run: ['echo', '$HOME && echo injected; `id`'] }, testContext());
  assert.equal(observations.stdout, '$HOME && echo injected; `id`\n');
});

test('a shell is used when asked for with { sh }', async () => {
  const { observations } = await command.run({ run: { sh: 'echo build && echo test; exit 4' } }, testContext());
  assert.equal(observations.stdout, 'build\ntest\n');
  assert.equal(observations.exit_code, 4);
});

test('env is added to the inherited environment; cwd resolves against the config folder', async (t) => {
  const configDir = tempDir(t);
  mkdirSync(join(configDir, 'app'));
  const script = 'console.log(process.env.GONOGO_TEST_VALUE, process.env.PATH ? "has-path" : "no-path", process.cwd())';
  const { observations } = await command.run(
    { run: [node, '-e', script], cwd: 'app', env: { GONOGO_TEST_VALUE: 'from-config' } },
    testContext({ configDir }),
  );
  assert.equal(observations.stdout, `from-config has-path ${join(configDir, 'app')}\n`);
});

test('input is written to stdin; without it stdin is empty', async () => {
  const cat = [node, '-e', 'process.stdin.pipe(process.stdout)'];
  const withInput = await command.run({ run: cat, input: 'hello\n' }, testContext());
  assert.equal(withInput.observations.stdout, 'hello\n');
  const without = await command.run({ run: cat }, testContext());
  assert.equal(without.observations.stdout, '');
  assert.equal(without.observations.exit_code, 0);
});

test('captured output is capped and keeps the tail', async () => {
  const script = 'for (let i = 0; i < 2000; i++) process.stdout.write("x".repeat(1023) + "\\n"); process.stdout.write("THE END\\n")';
  const { observations, evidence } = await command.run({ run: [node, '-e', script], maxOutputBytes: 4096 }, testContext());
  assert.equal(typeof observations.stdout, 'string');
  assert.equal(Buffer.byteLength(String(observations.stdout)), 4096);
  assert.ok(String(observations.stdout).endsWith('THE END\n'));
  assert.ok(String(observations.output).endsWith('THE END\n'));
  assert.deepEqual(
    { bytes: Reflect.get(Object(evidence), 'stdoutBytes'), truncated: Reflect.get(Object(evidence), 'truncated') },
    { bytes: 2000 * 1024 + 8, truncated: true },
  );
});

test('a process killed by a signal reports the signal and no exit code', async () => {
  const { observations } = await command.run({ run: { sh: 'kill -KILL $$' } }, testContext());
  assert.equal(observations.exit_code, null);
  assert.equal(observations.signal, 'SIGKILL');
});

test('an abort ends the whole tree: a background job, and a grandchild that left with setsid', async (t) => {
  const dir = tempDir(t);
  const { ctx, controller } = abortableContext(dir);
  const script = `sleep 300 & echo $! > job.pid; setsid sh -c 'echo $$ > escaped.pid; exec sleep 300' & wait`;
  const running = command.run({ run: { sh: script } }, ctx);
  const job = await waitForPidFile(join(dir, 'job.pid'));
  const escaped = await waitForPidFile(join(dir, 'escaped.pid'));
  cleanup(t, job);
  cleanup(t, escaped);
  assert.ok(isRunning(job) && isRunning(escaped), 'both run before the abort');
  controller.abort(new Error('timed out after 5s'));
  await assert.rejects(running, /deadline \(timed out after 5s\): killed the process tree/);
  // The check settles only once nothing of the tree is alive.
  assert.equal(isRunning(job), false, 'the background job outlived the abort');
  assert.equal(isRunning(escaped), false, "the setsid'd grandchild outlived the abort");
});

test('a grandchild ignoring SIGTERM has the grace on the clock, then SIGKILL', async (t) => {
  const dir = tempDir(t);
  const clock = fakeClock();
  const { ctx, controller } = abortableContext(dir, { clock });
  const running = command.run({ run: { sh: `trap '' TERM; sleep 300 & echo $! > stubborn.pid; wait` }, killGraceMs: 2000 }, ctx);
  const stubborn = await waitForPidFile(join(dir, 'stubborn.pid'));
  cleanup(t, stubborn);
  controller.abort(new Error('stop'));
  // Judged from now on: the check may end while the clock is being moved.
  const ended = assert.rejects(running, /killed the process tree/);
  await clock.sleepers(1);
  assert.ok(isRunning(stubborn), 'SIGTERM is ignored and the grace has not passed');
  await clock.advance(2000);
  await ended;
  assert.equal(isRunning(stubborn), false, 'SIGKILL after the grace');
});

test("the engine's timeout ends a hung command (no shell) with an error", async () => {
  const controller = new AbortController();
  // Aborted once the process is known to run: what a timeout firing mid-command looks like.
  const reaper = watchingReaper(({ child }) => child.once('spawn', () => controller.abort(new Error('timed out after 200 ms'))));
  await assert.rejects(command.run({ run: ['sleep', '300'] }, { ...testContext(), signal: controller.signal, reaper }), /deadline \(timed out after 200 ms\)/);
});

test('what a finished command left running is ended with it', async (t) => {
  const waitForPid = 'until [ -s left.pid ]; do sleep 0.01; done; echo started';
  const leftovers = [
    { name: 'a background job holding the output pipes', script: `sh -c 'echo $$ > left.pid; exec sleep 300' &` },
    { name: 'a background job writing elsewhere', script: `sh -c 'echo $$ > left.pid; exec sleep 300' > /dev/null 2>&1 &` },
    { name: "a setsid'd daemon holding the output pipes", script: `setsid sh -c 'echo $$ > left.pid; exec sleep 300' &` },
    { name: "a setsid'd daemon writing elsewhere", script: `setsid sh -c 'echo $$ > left.pid; exec sleep 300' > /dev/null 2>&1 &` },
  ];
  for (const c of leftovers) {
    await t.test(c.name, async (t) => {
      const dir = tempDir(t);
      const { observations } = await command.run({ run: { sh: `${c.script} ${waitForPid}` } }, testContext({ configDir: dir }));
      const left = await waitForPidFile(join(dir, 'left.pid'));
      cleanup(t, left);
      assert.equal(observations.exit_code, 0);
      assert.equal(observations.stdout, 'started\n');
      assert.equal(isRunning(left), false, `${left} outlived the check`);
    });
  }
});

test('the check settles even when a process it cannot find holds its output pipe', async (t) => {
  // `env -i` drops the marker and setsid leaves the group: nothing can find this one, and it holds
  // stdout. The check stops waiting for the pipe once the tree it can see is gone.
  const dir = tempDir(t);
  const clock = fakeClock();
  let exited: Promise<unknown> = Promise.resolve();
  const reaper = watchingReaper(({ child }) => (exited = new Promise((done) => child.once('exit', done))));
  const script = `setsid env -i sh -c 'echo $$ > hidden.pid; exec sleep 300' & until [ -s hidden.pid ]; do sleep 0.01; done; echo started`;
  const running = command.run({ run: { sh: script } }, { ...testContext({ configDir: dir }), clock, reaper });
  cleanup(t, await waitForPidFile(join(dir, 'hidden.pid')));
  await exited;
  await clock.sleepers(1);
  await clock.advance(500);
  const { observations } = await running;
  assert.equal(observations.exit_code, 0);
  assert.equal(observations.stdout, 'started\n');
});

test('values reach a script only as environment variables: a hostile URL stays data', async (t) => {
  const dir = tempDir(t);
  const url = 'http://127.0.0.1:3000/;touch PWNED;#';
  const hostile = '$(touch PWNED2); touch PWNED3 `touch PWNED4`';
  process.env.GONOGO_T_HOSTILE = hostile;
  t.after(() => delete process.env.GONOGO_T_HOSTILE);
  // Quoted, unquoted, and `${VAR}` as gonogo.yaml would have it (the engine passes `run.sh` verbatim).
  const script = 'printf "%s|" "$GONOGO_URL" "${GONOGO_T_HOSTILE}"; echo $GONOGO_URL';
  const { observations } = await command.run({ run: { sh: script } }, testContext({ configDir: dir, url }));
  assert.equal(observations.stdout, `${url}|${hostile}|${url}\n`);
  assert.deepEqual(readdirSync(dir), [], 'nothing was created: no value ran as code');
  assert.deepEqual(command.verbatim, ['run.sh'], 'the engine is told to pass the script as written');
});

test('the environment reaches the command as GONOGO_URL, GONOGO_ENV and GONOGO_ENV_<FIELD>', async (t) => {
  process.env.GONOGO_ENV_FROM_OUTSIDE = 'another environment';
  t.after(() => delete process.env.GONOGO_ENV_FROM_OUTSIDE);
  const print = 'const e = Object.entries(process.env).filter(([k]) => /^GONOGO_(URL|ENV)/.test(k)); console.log(JSON.stringify(Object.fromEntries(e.sort())))';
  const ctx = testContext({ url: 'https://staging.example.com', vars: { 'api-base': 'https://api.example.com', region: 'eu-west-1' } });
  const { observations } = await command.run({ run: [node, '-e', print], env: { GONOGO_ENV_REGION: 'overridden' } }, ctx);
  assert.deepEqual(JSON.parse(String(observations.stdout)), {
    GONOGO_ENV: 'test',
    GONOGO_ENV_API_BASE: 'https://api.example.com',
    GONOGO_ENV_REGION: 'overridden',
    GONOGO_ENV_URL: 'https://staging.example.com',
    GONOGO_URL: 'https://staging.example.com',
  });
});

test('a missing executable or folder is an error, not a failed exit code', async () => {
  await assert.rejects(command.run({ run: ['gonogo-no-such-program', '--version'] }, testContext()), {
    message: 'command not found: gonogo-no-such-program',
  });
  await assert.rejects(command.run({ run: ['true'], cwd: '/nonexistent/gonogo' }, testContext()), {
    message: 'working directory not found: /nonexistent/gonogo',
  });
});

test('an already aborted signal runs nothing', async (t) => {
  const dir = tempDir(t);
  const ctx = { ...testContext({ configDir: dir }), signal: AbortSignal.abort(new Error('cancelled')) };
  await assert.rejects(command.run({ run: ['touch', join(dir, 'ran')] }, ctx), /cancelled/);
  assert.equal(existsSync(join(dir, 'ran')), false);
});

test('options: argv or { sh }, never a bare string; default expect is exit_code == 0', () => {
  assert.equal(command.options.safeParse({ run: 'npm test' }).success, false);
  assert.equal(command.options.safeParse({ run: [] }).success, false);
  assert.equal(command.options.safeParse({ run: { sh: 'npm test', extra: 1 } }).success, false);
  assert.equal(command.options.safeParse({ run: { sh: 'npm test' } }).success, true);
  assert.deepEqual(command.defaultExpect({ run: ['true'] }), ['exit_code == 0']);
});
