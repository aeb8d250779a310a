import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { runChecks } from './run.js';
import type { RunOptions } from './run.js';
import { defineKind } from '../checks/types.js';
import type { RegisteredKind } from '../checks/types.js';
import { parseCondition } from '../conditions/index.js';
import type { Condition } from '../conditions/index.js';
import type { ItemConfig } from '../config/schema.js';
import { systemClock } from '../util/clock.js';

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
  return { env: { name: 't', url: 'http://127.0.0.1:9', vars: { url: 'http://127.0.0.1:9' } }, configDir: '.', clock: systemClock, concurrency: 8, perHost: 8, defaultTimeoutMs: 2000, kinds, ...extra };
}

test('engine: a check that ignores its signal still ends as error at its timeout', async () => {
  const hung = fake('hung', () => new Promise(() => undefined));
  const items = [item('HUNG-1', 'hung', { timeout: '200ms' })];
  const [r] = await runChecks(items, conds(items), options({ hung }));
  assert.equal(r.status, 'error');
  assert.match(r.message, /timed out after 200 ms/);
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

test('engine: retries with backoff keep every attempt', async () => {
  let calls = 0;
  const flaky = fake('flaky', async () => ({ value: ++calls >= 3 ? 1 : 0 }));
  const items = [item('FLAKY-1', 'flaky', { retries: 3, backoff: '10ms' })];
  const [r] = await runChecks(items, conds(items), options({ flaky }));
  assert.equal(r.status, 'pass');
  assert.equal(r.attempts.length, 3);
  assert.deepEqual(r.attempts.map((a) => a.status), ['fail', 'fail', 'pass']);
});

test('engine: no retries unless asked', async () => {
  let calls = 0;
  const flaky = fake('flaky', async () => ({ value: ++calls >= 2 ? 1 : 0 }));
  const items = [item('ONCE-1', 'flaky')];
  const [r] = await runChecks(items, conds(items), options({ flaky }));
  assert.equal(r.status, 'fail');
  assert.equal(calls, 1);
});

test('engine: overall and per-host limits hold', async () => {
  let running = 0;
  let peak = 0;
  const perHost = new Map<string, number>();
  let peakHost = 0;
  const slow = fake('slow', async (o) => {
    running++;
    perHost.set(o.host, (perHost.get(o.host) ?? 0) + 1);
    peak = Math.max(peak, running);
    peakHost = Math.max(peakHost, perHost.get(o.host) ?? 0);
    await new Promise((r) => setTimeout(r, 20));
    running--;
    perHost.set(o.host, (perHost.get(o.host) ?? 0) - 1);
    return { value: 1 };
  });
  const items = Array.from({ length: 40 }, (_, i) => item(`S-${i}`, 'slow', { host: i % 2 ? 'a' : 'b' }));
  const results = await runChecks(items, conds(items), options({ slow }, { concurrency: 5, perHost: 2 }));
  assert.ok(results.every((r) => r.status === 'pass'));
  assert.ok(peak <= 4, `peak ${peak}`);
  assert.ok(peakHost <= 2, `peak per host ${peakHost}`);
  assert.ok(peakHost === 2, 'the per-host limit was reached at least once');
});

test('engine: an interrupted run ends every check as error, quickly', async () => {
  const hung = fake('hung', (_, signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))));
  const items = Array.from({ length: 5 }, (_, i) => item(`H-${i}`, 'hung', { timeout: '60s' }));
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('interrupted')), 50);
  const results = await runChecks(items, conds(items), options({ hung }, { signal: controller.signal, concurrency: 2 }));
  assert.equal(results.length, 5);
  for (const r of results) {
    assert.equal(r.status, 'error');
    assert.match(r.message, /interrupted|aborted/);
  }
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

test('engine: an exclusive check (one that disturbs the target) runs alone, after the others', async () => {
  const log: string[] = [];
  const normal = fake('normal', async (o) => {
    log.push(`start ${o.echo}`);
    await new Promise((r) => setTimeout(r, 30));
    log.push(`end ${o.echo}`);
    return { value: 1 };
  });
  const burst = { ...fake('burst', async () => {
    log.push('burst');
    return { value: 1 };
  }), exclusive: true };
  const items = [item('B', 'burst'), item('N1', 'normal', { echo: 'n1' }), item('N2', 'normal', { echo: 'n2' })];
  const results = await runChecks(items, conds(items), options({ normal, burst }));
  assert.deepEqual(results.map((r) => r.id), ['B', 'N1', 'N2'], 'results keep item order');
  assert.equal(log.at(-1), 'burst');
  assert.equal(log.filter((l) => l.startsWith('end')).length, 2);
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
