import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Agent } from 'undici';
import { z } from 'zod';
import { runChecks } from './run.js';
import type { RunOptions } from './run.js';
import { defineKind, markValidated } from '../checks/types.js';
import type { RegisteredKind } from '../checks/types.js';
import { parseCondition } from '../conditions/index.js';
import type { Condition } from '../conditions/index.js';
import type { ItemConfig } from '../config/schema.js';
import { fakeClock } from '../test-support/clock.js';

// The engine's guarantees are tested with small kinds defined here (a hung kind that ignores its
// signal cannot be built from a real kind that behaves); the real kinds have their own tests.
const fields = ['value', 'echo'];
const fake = (name: string, run: (o: { value: number; echo: string; host: string }, signal: AbortSignal) => Promise<Record<string, unknown>>): RegisteredKind =>
  defineKind({
    name,
    description: name,
    options: z.strictObject({ value: z.number().default(1), echo: z.string().default(''), host: z.string().default('a') }),
    fields,
    defaultExpect: () => ['value == 1'],
    host: (o) => o.host,
    run: async (o, ctx) => ({ observations: await run(o, ctx.signal), evidence: { echo: o.echo } }),
  });

function item(id: string, kind: string, extra: Record<string, unknown> = {}): ItemConfig {
  const check = { ...extra, kind };
  return { id, title: id, tier: 'high', check } as unknown as ItemConfig;
}

function conds(items: ItemConfig[], src = 'value == 1'): Map<string, Condition[]> {
  const r = parseCondition(src, fields);
  assert.ok(r.ok);
  return new Map(items.map((i) => [i.id, [r.condition]]));
}

function options(kinds: Record<string, RegisteredKind>, extra: Partial<RunOptions> = {}): RunOptions {
  // Time moves only when a test advances it: no test here waits on the wall clock.
  return { env: { name: 't', url: 'http://127.0.0.1:9', vars: { url: 'http://127.0.0.1:9' } }, configDir: '.', clock: fakeClock(), concurrency: 8, perHost: 8, defaultTimeoutMs: 2000, kinds, ...extra };
}

/**
 * Lets every pending promise callback run (a few turns of the event loop, never the clock): what
 * the engine will do without time passing, it has done when this resolves.
 */
async function idle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Whether `p` settles once pending callbacks have run, without any time passing. */
async function settlesNow(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await idle();
  return settled;
}

/** A check of the `gated` kind under way: it ends when the test releases it. */
interface Running {
  host: string;
  echo: string;
  release(): void;
}

/**
 * A kind whose runs wait until the test releases them, so a test sees exactly which checks run at
 * once and decides when each ends.
 */
function gated(): { kind: RegisteredKind; running: Running[]; started: string[] } {
  const running: Running[] = [];
  const started: string[] = [];
  const kind = fake('gated', (o) => {
    started.push(o.echo);
    return new Promise((resolve) => {
      const entry: Running = {
        host: o.host,
        echo: o.echo,
        release: () => {
          running.splice(running.indexOf(entry), 1);
          resolve({ value: 1 });
        },
      };
      running.push(entry);
    });
  });
  return { kind, running, started };
}

test('engine: a check that ignores its signal still ends as error at its timeout, not before', async () => {
  const clock = fakeClock();
  const hung = fake('hung', () => new Promise(() => undefined));
  const items = [item('HUNG-1', 'hung', { timeout: '200ms' })];
  const run = runChecks(items, conds(items), options({ hung }, { clock }));
  await clock.sleepers(1);
  await clock.advance(199);
  assert.equal(await settlesNow(run), false, 'still running 1 ms before its timeout');
  await clock.advance(1);
  assert.equal(await settlesNow(run), true, 'ended at its timeout although the check never returns');
  const [r] = await run;
  assert.equal(r.status, 'error');
  assert.match(r.message, /timed out after 200 ms/);
  assert.equal(r.durationMs, 200);
});

test('engine: a throw becomes error with its message; nothing escapes', async () => {
  const boom = fake('boom', async () => {
    throw new Error('connection reset by peer');
  });
  const items = [item('BOOM-1', 'boom')];
  const [r] = await runChecks(items, conds(items), options({ boom }));
  assert.equal(r.status, 'error');
  assert.equal(r.message, 'connection reset by peer');
});

test('engine: conditions judge observations: pass and fail name the observed values', async () => {
  const k = fake('val', async (o) => ({ value: o.value }));
  const items = [item('OK', 'val', { value: 1 }), item('BAD', 'val', { value: 7 })];
  const [ok, bad] = await runChecks(items, conds(items), options({ val: k }));
  assert.equal(ok.status, 'pass');
  assert.equal(bad.status, 'fail');
  assert.match(bad.message, /value was 7/);
});

test('engine: retries wait their backoff on the clock, doubling each time, and keep every attempt', async () => {
  const clock = fakeClock();
  let calls = 0;
  const flaky = fake('flaky', async () => ({ value: ++calls >= 3 ? 1 : 0 }));
  const retries: number[] = [];
  const items = [item('FLAKY-1', 'flaky', { retries: 3, backoff: '10ms' })];
  const run = runChecks(items, conds(items), options({ flaky }, { clock, onEvent: (e) => e.type === 'retry' && retries.push(e.delayMs) }));
  // Each retry sleeps its backoff on the clock: 10 ms after the first failure, 20 ms after the second.
  for (const [delay, before] of [[10, 1], [20, 2]]) {
    await clock.sleepers(1);
    await clock.advance(delay - 1);
    assert.equal(calls, before, `no retry before ${delay} ms`);
    await clock.advance(1);
    await idle();
    assert.equal(calls, before + 1, `retried at ${delay} ms`);
  }
  const [r] = await run;
  assert.equal(r.status, 'pass');
  assert.deepEqual(retries, [10, 20]);
  assert.deepEqual(r.attempts.map((a) => a.status), ['fail', 'fail', 'pass']);
  const t0 = Date.parse(r.attempts[0].startedAt);
  assert.deepEqual(r.attempts.map((a) => Date.parse(a.startedAt) - t0), [0, 10, 30]);
  assert.match(r.message, /\(attempt 3 of 4\)/);
});

test('engine: no retries unless asked', async () => {
  let calls = 0;
  const flaky = fake('flaky', async () => ({ value: ++calls >= 2 ? 1 : 0 }));
  const items = [item('ONCE-1', 'flaky')];
  const [r] = await runChecks(items, conds(items), options({ flaky }));
  assert.equal(r.status, 'fail');
  assert.equal(calls, 1);
});

// Each limit is tested where it alone binds, and observed at its exact value after every release:
// the queue must fill the freed place at once, and never run one more.
const limits: { name: string; hosts: (i: number) => string; concurrency: number; perHost: number; expect: (remaining: number) => Record<string, number> }[] = [
  {
    name: 'the overall limit, with a host per check (the per-host limit cannot bind)',
    hosts: (i) => `host-${i}`,
    concurrency: 5,
    perHost: 20,
    expect: (remaining) => ({ all: Math.min(5, remaining) }),
  },
  {
    name: 'the per-host limit, with one host (the overall limit cannot bind)',
    hosts: () => 'a',
    concurrency: 20,
    perHost: 3,
    expect: (remaining) => ({ all: Math.min(3, remaining), a: Math.min(3, remaining) }),
  },
];

for (const limit of limits) {
  test(`engine: ${limit.name} holds exactly`, async () => {
    const g = gated();
    const items = Array.from({ length: 12 }, (_, i) => item(`S-${i}`, 'gated', { host: limit.hosts(i), echo: `S-${i}` }));
    const run = runChecks(items, conds(items), options({ gated: g.kind }, { concurrency: limit.concurrency, perHost: limit.perHost }));
    for (let done = 0; done < items.length; done++) {
      await idle();
      const want = limit.expect(items.length - done);
      assert.equal(g.running.length, want.all, `running with ${done} done`);
      if (want.a !== undefined) assert.equal(g.running.filter((r) => r.host === 'a').length, want.a);
      g.running[0].release();
    }
    const results = await run;
    assert.ok(results.every((r) => r.status === 'pass'));
    assert.equal(g.started.length, items.length, 'each check ran once');
  });
}

test('engine: the per-host limit is per host: two hosts each run up to it at once', async () => {
  const g = gated();
  const items = Array.from({ length: 8 }, (_, i) => item(`S-${i}`, 'gated', { host: i % 2 ? 'a' : 'b', echo: `S-${i}` }));
  const run = runChecks(items, conds(items), options({ gated: g.kind }, { concurrency: 20, perHost: 2 }));
  await idle();
  assert.deepEqual(g.running.map((r) => r.host).sort(), ['a', 'a', 'b', 'b']);
  // Freeing a place on host a starts the next check of host a, never one more of b.
  g.running.find((r) => r.host === 'a')?.release();
  await idle();
  assert.deepEqual(g.running.map((r) => r.host).sort(), ['a', 'a', 'b', 'b']);
  while (g.running.length > 0) {
    for (const r of [...g.running]) r.release();
    await idle();
  }
  assert.ok((await run).every((r) => r.status === 'pass'));
});

test('engine: what a check leaves listening on its signal is aborted when it ends; no check starts with a used-up signal', async () => {
  // One at a time, so that each check's signal is free for the next when the engine reuses it.
  const seen: { id: string; signal: AbortSignal; abortedAtStart: boolean }[] = [];
  const leaky = fake('leaky', async (o, signal) => {
    seen.push({ id: o.echo, signal, abortedAtStart: signal.aborted });
    // A request it did not wait for: still listening once the check has answered.
    if (o.echo === 'leaves') signal.addEventListener('abort', () => undefined);
    return { value: 1 };
  });
  const items = ['clean', 'leaves', 'after', 'last'].map((id) => item(id, 'leaky', { echo: id }));
  const results = await runChecks(items, conds(items), options({ leaky }, { concurrency: 1, perHost: 1 }));
  assert.deepEqual(results.map((r) => r.status), ['pass', 'pass', 'pass', 'pass']);
  assert.deepEqual(seen.map((s) => s.abortedAtStart), [false, false, false, false]);
  const at = seen.findIndex((s) => s.id === 'leaves');
  const left = seen[at].signal;
  assert.ok(left.aborted, 'the listener left behind was told the check is over');
  assert.ok(seen.slice(at + 1).every((s) => s.signal !== left), 'a signal that was aborted is never handed out again');
});

test('engine: an interrupted run ends every check as error at once, the running and the waiting', async () => {
  const clock = fakeClock();
  let started = 0;
  const hung = fake('hung', (_, signal) => {
    started++;
    return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
  });
  const items = Array.from({ length: 5 }, (_, i) => item(`H-${i}`, 'hung', { timeout: '60s' }));
  const controller = new AbortController();
  const run = runChecks(items, conds(items), options({ hung }, { clock, signal: controller.signal, concurrency: 2 }));
  await idle();
  assert.equal(started, 2);
  controller.abort(new Error('interrupted'));
  // No time passes: the checks end on the abort, not at their 60 s timeout.
  assert.equal(await settlesNow(run), true, 'the run ended on the abort');
  const results = await run;
  assert.equal(started, 2, 'the waiting checks never started');
  assert.deepEqual(
    results.map((r) => r.status),
    ['error', 'error', 'error', 'error', 'error'],
  );
  assert.deepEqual(
    results.map((r) => r.message),
    ['aborted: the run was interrupted', 'aborted: the run was interrupted', 'aborted before it started', 'aborted before it started', 'aborted before it started'],
  );
});

test('engine: ${VAR} secrets are expanded for the check and redacted from messages and evidence', async () => {
  const echo = fake('echo', async (o) => ({ value: 0, echo: o.echo }));
  const items = [item('SECRET-1', 'echo', { echo: 'token=${GONOGO_TEST_TOKEN}' })];
  const [r] = await runChecks(items, conds(items, 'echo == "nope"'), options({ echo }, { processEnv: { GONOGO_TEST_TOKEN: 'hunter2-very-secret' } }));
  assert.equal(r.status, 'fail');
  const all = JSON.stringify(r);
  assert.ok(!all.includes('hunter2-very-secret'), all);
  assert.match(all, /token=\*\*\*/);
});

test('engine: an unset ${VAR} is an error naming the variable, not a pass', async () => {
  const echo = fake('echo', async () => ({ value: 1 }));
  const items = [item('ENV-1', 'echo', { echo: '${GONOGO_NOT_SET_ANYWHERE}' })];
  const [r] = await runChecks(items, conds(items), options({ echo }, { processEnv: {} }));
  assert.equal(r.status, 'error');
  assert.match(r.message, /GONOGO_NOT_SET_ANYWHERE is not set/);
});

/**
 * A kind counting how often its options are parsed: `port` accepts a placeholder at load and must
 * be digits once expanded; `note` is never expanded.
 */
function counted(): { kind: RegisteredKind; parses: { port: number; note: number } } {
  const parses = { port: 0, note: 0 };
  const kind = defineKind({
    name: 'counted',
    description: 'counted',
    options: z.strictObject({
      port: z.string().regex(/^(\d+|\{\{env\.\w+\}\})$/, 'a port number').transform((v) => {
        parses.port++;
        return v;
      }),
      note: z.string().default('').transform((v) => {
        parses.note++;
        return v;
      }),
    }),
    fields,
    defaultExpect: () => ['value == 1'],
    run: async (o) => ({ observations: { value: 1, echo: `${o.port} ${o.note}` } }),
  });
  return { kind, parses };
}

test('engine: options the loader validated are parsed again only where placeholders changed them', async () => {
  const { kind, parses } = counted();
  const items = [item('AS-WRITTEN', 'counted', { port: '8080', note: 'n' }), item('EXPANDED', 'counted', { port: '{{env.port}}', note: 'n' })];
  for (const i of items) if (i.check) markValidated(i.check, kind.options);
  const results = await runChecks(items, conds(items), options({ counted: kind }, { env: { name: 't', vars: { port: '9090' } } }));
  assert.deepEqual(results.map((r) => [r.status, (r.evidence as { echo?: string } | undefined)?.echo]), [['pass', '8080 n'], ['pass', '9090 n']]);
  assert.deepEqual(parses, { port: 1, note: 0 }, 'only the expanded port was parsed again');
});

test('engine: a validated option that expands to an invalid value is an error naming the problem, not a pass', async () => {
  const { kind } = counted();
  const items = [item('BAD-PORT', 'counted', { port: '{{env.port}}', note: '' })];
  for (const i of items) if (i.check) markValidated(i.check, kind.options);
  const [r] = await runChecks(items, conds(items), options({ counted: kind }, { env: { name: 't', vars: { port: 'eighty' } } }));
  assert.equal(r.status, 'error');
  assert.match(r.message, /a port number/);
  assert.match(r.message, /port/);
});

test('engine: options not marked as validated by this kind are parsed in full', async () => {
  const { kind, parses } = counted();
  const other = counted().kind;
  const items = [item('UNMARKED', 'counted', { port: '1', note: 'x' }), item('OTHER-SCHEMA', 'counted', { port: '2', note: 'y' }), item('INVALID', 'counted', { port: 'nope' })];
  if (items[1].check) markValidated(items[1].check, other.options);
  const results = await runChecks(items, conds(items), options({ counted: kind }));
  assert.deepEqual(results.map((r) => r.status), ['pass', 'pass', 'error']);
  assert.equal(parses.note, 3, 'every check parsed whole');
});

test('engine: an exclusive check (one that disturbs the target) runs alone, after the others', async () => {
  const g = gated();
  const log: string[] = [];
  const burst = {
    ...fake('burst', async () => {
      log.push(`burst while ${g.running.length} ran`);
      return { value: 1 };
    }),
    exclusive: true,
  };
  const items = [item('B', 'burst'), item('N1', 'gated', { echo: 'n1' }), item('N2', 'gated', { echo: 'n2' })];
  const run = runChecks(items, conds(items), options({ gated: g.kind, burst }));
  await idle();
  assert.deepEqual(g.started, ['n1', 'n2']);
  g.running[0].release();
  await idle();
  assert.deepEqual(log, [], 'not while another check runs');
  g.running[0].release();
  const results = await run;
  assert.deepEqual(log, ['burst while 0 ran']);
  assert.deepEqual(results.map((r) => r.id), ['B', 'N1', 'N2'], 'results keep item order');
  assert.ok(results.every((r) => r.status === 'pass'));
});

test('engine: an unset password fails only the checks that log in as that user, naming the variable', async () => {
  const local = fake('local', async () => ({ value: 1 }));
  const prober = defineKind({
    name: 'prober',
    description: 'logs in',
    options: z.strictObject({ as: z.string() }),
    fields,
    defaultExpect: () => ['value == 1'],
    run: async (o, ctx) => {
      const problem = ctx.authProblems?.[o.as];
      if (problem) throw new Error(problem);
      return { observations: { value: ctx.auth?.users[o.as]?.password === 'alice-password' ? 1 : 0 } };
    },
  });
  const items = [item('LOCAL-1', 'local'), item('AS-ALICE', 'prober', { as: 'alice' }), item('AS-BOB', 'prober', { as: 'bob' })];
  const auth = {
    login: { url: '/api/login', method: 'POST', csrfHeader: 'X-CSRF-Token', headers: {} },
    users: { alice: { username: 'alice', password: '${GONOGO_T_ALICE}' }, bob: { username: 'bob', password: '${GONOGO_T_BOB_UNSET}' } },
  } as unknown as RunOptions['auth'];
  const results = await runChecks(items, conds(items), options({ local, prober }, { auth, processEnv: { GONOGO_T_ALICE: 'alice-password' } }));
  const by = Object.fromEntries(results.map((r) => [r.id, r]));
  assert.equal(by['LOCAL-1'].status, 'pass');
  assert.equal(by['AS-ALICE'].status, 'pass');
  assert.equal(by['AS-BOB'].status, 'error');
  assert.match(by['AS-BOB'].message, /auth\.users\.bob: environment variable GONOGO_T_BOB_UNSET is not set/);
});

test('engine: 64 checks at once under one run signal add no listener per check: no MaxListenersExceededWarning', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  try {
    const controller = new AbortController();
    // Each check holds its slot until every one has started, so 64 are under way together.
    let started = 0;
    let releaseAll: () => void = () => undefined;
    const allStarted = new Promise<void>((resolve) => (releaseAll = resolve));
    const held = fake('held', async () => {
      started += 1;
      if (started === 64) releaseAll();
      await allStarted;
      return { value: 1 };
    });
    const items = Array.from({ length: 64 }, (_, i) => item(`H${i}`, 'held', { host: `h${i}` }));
    const results = await runChecks(items, conds(items), options({ held }, { concurrency: 64, perHost: 1, signal: controller.signal }));
    assert.equal(started, 64);
    assert.ok(results.every((r) => r.status === 'pass'));
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings.map((w) => w.name), []);
  } finally {
    process.off('warning', onWarning);
  }
});

test('engine: a local kind is never throttled by perHost, whatever host() says; a remote one is', async () => {
  for (const reach of ['local', 'remote'] as const) {
    let started = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const kind = defineKind({
      name: 'k',
      description: 'k',
      options: z.strictObject({ echo: z.string().default('') }),
      fields,
      defaultExpect: () => ['value == 1'],
      reach,
      host: () => 'same-host',
      run: async () => {
        started += 1;
        await gate;
        return { observations: { value: 1 } };
      },
    });
    const items = [item('A', 'k', { echo: 'a' }), item('B', 'k', { echo: 'b' })];
    const run = runChecks(items, conds(items), options({ k: kind }, { perHost: 1 }));
    await idle();
    assert.equal(started, reach === 'local' ? 2 : 1, `${reach}: checks under way with perHost 1`);
    release();
    assert.ok((await run).every((r) => r.status === 'pass'));
  }
});

test('engine: checks with different timeouts each end at their own on one timer for the run; no timer is left once it ends', async () => {
  const clock = fakeClock();
  const hung = fake('hung', (_, signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))));
  // The later deadline starts first: the nearer one must take the timer over.
  const items = [item('SLOW', 'hung', { timeout: '300ms', echo: 'slow' }), item('QUICK', 'hung', { timeout: '100ms', echo: 'quick' })];
  const ended: string[] = [];
  const run = runChecks(items, conds(items), options({ hung }, { clock, onEvent: (e) => e.type === 'end' && ended.push(e.result.id) }));
  await idle();
  assert.equal(clock.waiting, 1, 'one timer for both attempts');
  await clock.advance(99);
  await idle();
  assert.deepEqual(ended, []);
  await clock.advance(1);
  await idle();
  assert.deepEqual(ended, ['QUICK'], 'the nearer deadline ended its check, the other goes on');
  await clock.advance(199);
  await idle();
  assert.deepEqual(ended, ['QUICK']);
  await clock.advance(1);
  const results = await run;
  assert.deepEqual(
    results.map((r) => [r.id, r.status, r.message, r.durationMs]),
    [
      ['SLOW', 'error', 'timed out after 300 ms', 300],
      ['QUICK', 'error', 'timed out after 100 ms', 100],
    ],
  );
  assert.equal(clock.waiting, 0, 'no timer outlives the run');
});

/** A kind that reports the HTTP pool its context carries. */
function poolWatcher(reach: 'local' | 'remote', seen: unknown[]): RegisteredKind {
  return defineKind({
    name: 'pool',
    description: 'pool',
    options: z.strictObject({}),
    fields,
    defaultExpect: () => ['value == 1'],
    reach,
    run: async (_, ctx) => {
      seen.push(ctx.dispatcher);
      return { observations: { value: 1 } };
    },
  });
}

test("engine: checks get the run's HTTP pool: the caller's, kept open; or for a remote kind one of the run's own, closed at its end", async () => {
  const items = [item('P1', 'pool'), item('P2', 'pool')];
  const given = new Agent();
  try {
    const seen: unknown[] = [];
    await runChecks(items, conds(items), options({ pool: poolWatcher('remote', seen) }, { dispatcher: given }));
    assert.deepEqual(seen, [given, given]);
    assert.equal(given.destroyed, false, "the caller's pool is the caller's to close");
  } finally {
    await given.destroy();
  }
  const own: unknown[] = [];
  await runChecks(items, conds(items), options({ pool: poolWatcher('remote', own) }));
  assert.ok(own[0] instanceof Agent, 'a pool made for the run');
  assert.equal(own[1], own[0], 'one pool for every check of the run');
  assert.equal((own[0] as Agent).destroyed, true, 'closed when the run ends');
  const local: unknown[] = [];
  await runChecks(items, conds(items), options({ pool: poolWatcher('local', local) }));
  assert.deepEqual(local, [undefined, undefined], 'a run of local checks makes no pool');
});

test('engine: a run loads only the kinds its checks use', () => {
  // In a process of its own: what this one loaded for other tests must not count.
  const at = (file: string): string => JSON.stringify(pathToFileURL(join(import.meta.dirname, file)).href);
  const script = `
    const { runChecks } = await import(${at('run.ts')});
    const { loadedKinds } = await import(${at('../checks/kinds.ts')});
    const { systemClock } = await import(${at('../util/clock.ts')});
    const items = [{ id: 'E', title: 'E', tier: 'high', check: { kind: 'env', required: ['HOME'] } }];
    const env = { name: 't', url: 'http://127.0.0.1:9', vars: {} };
    await runChecks(items, new Map(), { env, configDir: '.', clock: systemClock, concurrency: 1, perHost: 1, defaultTimeoutMs: 5000 });
    process.stdout.write(JSON.stringify(Object.keys(loadedKinds())));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), ['env']);
});
