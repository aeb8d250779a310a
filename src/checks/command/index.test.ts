import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import command from './index.js';
import { testContext } from '../../test-support/context.js';

const node = process.execPath;

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-command-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Alive and not a zombie (an orphan's zombie may linger where PID 1 does not reap). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return true;
  const state = readFileSync(stat, 'utf8').split(') ')[1]?.[0];
  return state !== 'Z' && state !== 'X';
}

/**
 * The kernel closes a dying process's pipes (which is what the kind waits for) a moment before it
 * becomes a zombie, so allow that moment; the sleeps here would otherwise run for 30 s.
 */
async function stopsSoon(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (!isRunning(pid)) return true;
    await delay(10);
  }
  return false;
}

async function waitForFile(path: string): Promise<string> {
  for (let i = 0; i < 500; i++) {
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8').trim();
      if (text !== '') return text;
    }
    await delay(10);
  }
  throw new Error(`${path} never appeared`);
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

test('stdout, stderr and the interleaved output are kept apart', async () => {
  const script = 'process.stdout.write("one\\n"); setTimeout(() => { process.stderr.write("two\\n"); setTimeout(() => process.stdout.write("three\\n"), 20); }, 20);';
  const { observations } = await command.run({ run: [node, '-e', script] }, testContext());
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

test('an abort kills the whole process group, grandchildren included', async (t) => {
  const dir = tempDir(t);
  const pidFile = join(dir, 'grandchild.pid');
  const controller = new AbortController();
  const ctx = { ...testContext({ configDir: dir }), signal: controller.signal };
  const running = command.run({ run: { sh: `sleep 30 & echo $! > ${pidFile}; wait` } }, ctx);
  const pid = Number(await waitForFile(pidFile));
  assert.ok(isRunning(pid), 'the grandchild runs before the abort');
  controller.abort(new Error('timed out after 5s'));
  await assert.rejects(running, /deadline \(timed out after 5s\): killed process group/);
  assert.ok(await stopsSoon(pid), `grandchild ${pid} outlived the abort`);
});

test('a grandchild ignoring SIGTERM is killed after the grace', async (t) => {
  const dir = tempDir(t);
  const pidFile = join(dir, 'stubborn.pid');
  const controller = new AbortController();
  const ctx = { ...testContext({ configDir: dir }), signal: controller.signal };
  const running = command.run({ run: { sh: `trap '' TERM; sleep 30 & echo $! > ${pidFile}; wait` }, killGraceMs: 200 }, ctx);
  const pid = Number(await waitForFile(pidFile));
  controller.abort(new Error('stop'));
  await assert.rejects(running, /killed process group/);
  assert.ok(await stopsSoon(pid), `stubborn grandchild ${pid} outlived the abort`);
});

test("the engine's timeout signal ends a hung command with an error", async () => {
  await assert.rejects(command.run({ run: ['sleep', '30'] }, testContext({ timeoutMs: 200 })), /deadline/);
});

test('a background process left behind by a finished command is ended too', async (t) => {
  const dir = tempDir(t);
  const pidFile = join(dir, 'leftover.pid');
  const { observations } = await command.run({ run: { sh: `sleep 30 & echo $! > ${pidFile}; echo started` } }, testContext({ configDir: dir }));
  assert.equal(observations.exit_code, 0);
  assert.equal(observations.stdout, 'started\n');
  assert.ok(await stopsSoon(Number(readFileSync(pidFile, 'utf8'))), 'the background sleep outlived the check');
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
