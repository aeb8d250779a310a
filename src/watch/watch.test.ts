// The watch after a deploy, end to end: the real reference app (faults switched on live), a real
// SQLite store, real rollback commands (a node process calling a control server on loopback that
// "restores the good version"), and the fake clock, so a 26-hour watch runs in a second. The
// clock is moved only while the watch sleeps between evaluations ('pause'), never under a check.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp } from '../../examples/recipes-app/src/app.js';
import type { RunningApp } from '../../examples/recipes-app/src/app.js';
import { loadConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/load.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { fakeClock } from '../test-support/clock.js';
import type { FakeClock } from '../test-support/clock.js';
import { serve } from '../test-support/server.js';
import type { TestServer } from '../test-support/server.js';
import { performRollback } from './rollback.js';
import { rollbackKey } from './state.js';
import { runWatch, WatchBusyError } from './watch.js';
import type { WatchOptions, WatchProgress, WatchResult } from './watch.js';

let app: RunningApp;
let control: TestServer;
/** What the rollback command told the control server: one entry per rollback that ran. */
const rollbacks: string[] = [];

before(async () => {
  app = await startApp({});
  control = await serve((req, res) => {
    rollbacks.push(new URL(req.url ?? '/', 'http://x').searchParams.get('previous') ?? '');
    // The rollback "deploys the previous version": the faults are gone.
    app.setFaults({});
    res.writeHead(200).end('rolled back');
  });
});
after(async () => {
  await app.close();
  await control.close();
});

const ROLLBACK = `if (!process.env.CONTROL) { console.error("CONTROL is not set"); process.exit(2) } fetch(process.env.CONTROL + "/?previous=" + process.env.GONOGO_PREVIOUS).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(2))`;

/** A gate watching production in the seed's three windows (every: coarse, to keep the test short). */
function config(windows: 'seed' | 'short', extra = ''): string {
  const stages =
    windows === 'seed'
      ? `    - { id: immediate, title: Immediate, budget: 15m, every: 5m, items: [HEALTH, HOME], signoff: [release-manager] }
    - { id: short-term, title: Short-term, budget: 2h, every: 30m, items: [HEALTH, HOME] }
    - { id: 24-hour, title: 24-hour, budget: 24h, every: 4h, items: [HEALTH, HOME] }`
      : `    - { id: immediate, title: Immediate, budget: 1h, every: 5m, items: [HEALTH, HOME] }`;
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-watch-'));
  const file = join(dir, 'gonogo.yaml');
  writeFileSync(
    file,
    `version: 1
name: watched
roles: { release-manager: [stage, rollback] }
environments:
  production: { url: "${app.url}" }
stages:
  production:
${stages}
watch:
  consecutive: 2
  minSamples: 2
  metrics: { window: 1h }
  triggers:
    - { id: app-down, severity: immediate, items: [HEALTH] }
    - { id: reported-issue, severity: conditional, reports: true }
  rollback:
    run: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(ROLLBACK)}]
    timeout: 1m
    validate: [HEALTH]
${extra}items:
  - { id: HEALTH, title: the app answers its health check, tier: critical, check: { kind: http, url: "{{env.url}}/health" } }
  - { id: HOME, title: the home page answers, tier: high, check: { kind: http, url: "{{env.url}}/" } }
`,
  );
  return file;
}

interface Harness {
  loaded: LoadedConfig;
  store: Store;
  clock: FakeClock;
  progress: WatchProgress[];
  watch(o?: Partial<WatchOptions> & { onEvaluation?: (n: number) => void | Promise<void>; onPause?: (ms: number) => Promise<void> }): Promise<WatchResult>;
}

async function harness(file: string): Promise<Harness> {
  const loaded = await loadConfig(file);
  const clock = fakeClock();
  const store = await openStore(join(loaded.dir, '.gonogo', 'gonogo.db'), { clock });
  const progress: WatchProgress[] = [];
  let evaluations = 0;
  return {
    loaded,
    store,
    clock,
    progress,
    watch: (o = {}) =>
      runWatch({
        loaded,
        store,
        clock,
        stageSet: 'production',
        envName: 'production',
        release: { id: 'v2', source: 'option' },
        previous: 'v1',
        processEnv: { ...process.env, CONTROL: control.url },
        ...o,
        onProgress: (p) => {
          progress.push(p);
          // The clock moves only while the watch sleeps: nothing else is waiting on it then.
          if (p.type === 'pause') setImmediate(() => void clock.sleepers(1).then(() => (o.onPause ? o.onPause(p.ms) : clock.advance(p.ms))));
          if (p.type === 'evaluation') void o.onEvaluation?.(++evaluations);
          o.onProgress?.(p);
        },
      }),
  };
}

const kinds = async (store: Store, gate = 'watched'): Promise<string[]> => (await store.listEvents({ gate })).map((e) => e.kind);

describe('watch', () => {
  test('a healthy release is watched through the seed\'s three windows (26 h on the fake clock) and passes; no rollback', async () => {
    app.setFaults({});
    const before = rollbacks.length;
    const h = await harness(config('seed'));
    try {
      const r = await h.watch();
      assert.equal(r.outcome, 'passed', r.state.reasons.join('; '));
      assert.deepEqual(r.state.windows.map((w) => [w.id, w.passed, w.evaluations]), [
        ['immediate', true, 3],
        ['short-term', true, 4],
        ['24-hour', true, 6],
      ]);
      assert.equal(rollbacks.length, before, 'no rollback ran');
      assert.equal(h.clock.now() - Date.parse('2026-01-01T00:00:00Z'), (15 + 120 + 24 * 60) * 60_000, 'the watch took the windows\' length on its clock');
      const ks = await kinds(h.store);
      assert.equal(ks.filter((k) => k === 'window-end').length, 3);
      assert.ok(!ks.includes('rollback-claim'));
      // Each evaluation is a run of the release the stage's sign-off binds to.
      const runs = await h.store.listRuns({ gate: 'watched', release: 'v2' });
      assert.equal(runs.length, 13);
      assert.match(runs[0].command, /^watch:production\//);
      // Ran again, the finished watch is reported, not repeated.
      const again = await h.watch();
      assert.equal(again.outcome, 'passed');
      assert.equal((await h.store.listRuns({ gate: 'watched', release: 'v2' })).length, 13);
    } finally {
      await h.store.close();
    }
  });

  test('an items trigger is judged only in windows that run its items: a window without them never rolls back for want of data', async () => {
    app.setFaults({});
    const before = rollbacks.length;
    const file = config('seed');
    writeFileSync(file, readFileSync(file, 'utf8').replace('{ id: 24-hour, title: 24-hour, budget: 24h, every: 4h, items: [HEALTH, HOME] }', '{ id: 24-hour, title: 24-hour, budget: 24h, every: 4h, items: [HOME] }'));
    const h = await harness(file);
    try {
      const r = await h.watch();
      assert.equal(r.outcome, 'passed', r.state.reasons.join('; '));
      assert.equal(rollbacks.length, before);
      const last = (await h.store.listEvents({ gate: 'watched', kinds: ['evaluation'] })).at(-1);
      assert.deepEqual(((last?.data.verdicts ?? []) as { id: string }[]).map((v) => v.id), ['reported-issue'], 'app-down (HEALTH) is not judged in the 24-hour window');
    } finally {
      await h.store.close();
    }
  });

  test('the app goes down in the short-term window: the immediate trigger fires on the 2nd failing evaluation, the rollback runs once with the previous release, the validation passes', async () => {
    app.setFaults({});
    const before = rollbacks.length;
    const h = await harness(config('seed'));
    try {
      const r = await h.watch({ onEvaluation: (n) => (n === 4 ? app.setFaults({ down: true }) : undefined) });
      assert.equal(r.outcome, 'rolled-back', r.state.reasons.join('; '));
      assert.deepEqual(rollbacks.slice(before), ['v1'], 'one rollback, to the previous release');
      const fired = r.state.fired.map((f) => [f.id, f.window]);
      assert.deepEqual(fired, [['app-down', 'short-term']]);
      assert.equal(r.state.windows.find((w) => w.id === 'short-term')?.evaluations, 3, 'one healthy evaluation, then fired on the second consecutive failing one');
      assert.deepEqual(r.state.rollback?.steps.map((s) => [s.step, s.ok]), [
        ['rollback', true],
        ['validate', true],
      ]);
      assert.equal(r.state.rollback?.ok, true);
      const trigger = (await h.store.listEvents({ gate: 'watched', kinds: ['trigger'] }))[0];
      assert.equal(trigger.data.severity, 'immediate');
      assert.match(String(trigger.data.message), /HEALTH/);
    } finally {
      app.setFaults({});
      await h.store.close();
    }
  });

  test('a flapping health check (down every other evaluation) never fires a trigger: no rollback; the window records the failures', async () => {
    app.setFaults({});
    const before = rollbacks.length;
    const h = await harness(config('short'));
    try {
      const r = await h.watch({ onEvaluation: (n) => app.setFaults(n % 2 === 1 ? { down: true } : {}) });
      assert.equal(rollbacks.length, before, 'noise never rolls back');
      assert.deepEqual(r.state.fired, []);
      assert.ok(!(await kinds(h.store)).includes('rollback-claim'));
      assert.equal(r.outcome, 'failed', 'half the answers failing fails the window\'s error-rate criterion');
      assert.match(r.state.reasons.join(' '), /error rate/i);
    } finally {
      app.setFaults({});
      await h.store.close();
    }
  });

  test('two rollbacks of one release race on one store file from two connections: exactly one runs', async () => {
    const before = rollbacks.length;
    const file = config('short');
    const h = await harness(file);
    const second = await openStore(join(h.loaded.dir, '.gonogo', 'gonogo.db'), { clock: h.clock });
    try {
      const common = { loaded: h.loaded, clock: h.clock, envName: 'production', release: { id: 'v7', source: 'option' as const }, previous: 'v6', reason: 'race', processEnv: { ...process.env, CONTROL: control.url } };
      const [a, b] = await Promise.all([performRollback({ ...common, store: h.store, holder: 'watcher-a' }), performRollback({ ...common, store: second, holder: 'watcher-b' })]);
      assert.equal([a, b].filter((x) => x.claimed).length, 1, 'exactly one claimed the rollback');
      assert.deepEqual(rollbacks.slice(before), ['v6'], 'the rollback command ran once');
      const claims = await h.store.listEvents({ gate: 'watched', kinds: ['rollback-claim'] });
      assert.equal(claims.length, 1);
      assert.equal(claims[0].key, rollbackKey('production', 'v7'));
    } finally {
      await second.close();
      await h.store.close();
    }
  });

  test('a failed rollback says what its command said, and the validation still runs to tell where the target is', async () => {
    const h = await harness(config('short'));
    try {
      const r = await performRollback({ loaded: h.loaded, store: h.store, clock: h.clock, envName: 'production', release: { id: 'v5', source: 'option' }, previous: 'v4', holder: 'test', reason: 'by hand', processEnv: { PATH: process.env.PATH } });
      assert.ok(r.claimed);
      assert.equal(r.ok, false);
      assert.deepEqual(r.steps.map((s) => [s.step, s.ok]), [['rollback', false], ['validate', true]]);
      assert.match(r.steps[0].message, /exit_code was 2.*CONTROL is not set/s);
    } finally {
      await h.store.close();
    }
  });

  test('a second watcher of the same release is refused while the first holds the lease', async () => {
    app.setFaults({});
    const h = await harness(config('short'));
    try {
      let second: Promise<unknown> | undefined;
      const first = h.watch({ holder: 'first', onEvaluation: (n) => {
        if (n === 1) second = runWatch({ loaded: h.loaded, store: h.store, clock: h.clock, stageSet: 'production', envName: 'production', release: { id: 'v2', source: 'option' }, holder: 'second' }).then(() => 'ran', (err: unknown) => err);
      } });
      const r = await first;
      assert.equal(r.outcome, 'passed');
      const refused = await second;
      assert.ok(refused instanceof WatchBusyError && /first/.test(refused.message), String(refused));
    } finally {
      await h.store.close();
    }
  });

  test('the lease is renewed between evaluations: with every: longer than the lease, a second watcher is still refused mid-pause', async () => {
    app.setFaults({});
    const h = await harness(config('short'));
    try {
      let tried = false;
      let refused: unknown;
      const r = await h.watch({
        holder: 'first',
        leaseMs: 60_000,
        onPause: async (ms) => {
          // Half of a 5-minute pause: far past the 60 s lease had it been renewed only at evaluations.
          await h.clock.advance(ms / 2);
          if (!tried) {
            tried = true;
            // Should it get the lease (the defect), it stops at once instead of watching too.
            const stop = new AbortController();
            refused = await runWatch({ loaded: h.loaded, store: h.store, clock: h.clock, stageSet: 'production', envName: 'production', release: { id: 'v2', source: 'option' }, holder: 'second', signal: stop.signal, onProgress: () => stop.abort(new Error('took over')) }).then(() => 'took over the watch', (err: unknown) => err);
          }
          await h.clock.advance(ms - ms / 2);
        },
      });
      assert.ok(refused instanceof WatchBusyError, String(refused));
      assert.equal(r.outcome, 'passed', r.state.reasons.join('; '));
    } finally {
      await h.store.close();
    }
  });

  test('a watcher interrupted mid-window is resumed by the same command: no evaluation is repeated or lost', async () => {
    app.setFaults({});
    const h = await harness(config('short'));
    try {
      const stop = new AbortController();
      const first = await h.watch({ signal: stop.signal, onEvaluation: (n) => (n === 5 ? stop.abort(new Error('interrupted')) : undefined) });
      assert.equal(first.outcome, 'interrupted');
      const r = await h.watch({ holder: 'restarted' });
      assert.equal(r.outcome, 'passed', r.state.reasons.join('; '));
      assert.equal(r.state.windows[0].evaluations, 12, 'a 1 h window every 5 min: 12 evaluations in all, across the restart');
      assert.equal((await h.store.listEvents({ gate: 'watched', kinds: ['watch-begin'] })).length, 1, 'one watch, resumed');
    } finally {
      await h.store.close();
    }
  });

  test('a watcher killed during a rollback: the restarted one never runs it again; it validates and ends rolled back', async () => {
    app.setFaults({});
    const before = rollbacks.length;
    const h = await harness(config('short'));
    try {
      // The dead watcher's record: the watch began, the rollback was claimed, and nothing after.
      const stop = new AbortController();
      await h.watch({ signal: stop.signal, onEvaluation: () => stop.abort(new Error('killed')) });
      const [begin] = await h.store.listEvents({ gate: 'watched', kinds: ['watch-begin'] });
      await h.store.addEvent({ gate: 'watched', env: 'production', release: 'v2', watchId: begin.watchId, kind: 'rollback-claim', at: new Date(h.clock.now()).toISOString(), key: rollbackKey('production', 'v2'), data: { holder: 'dead-watcher', reason: 'immediate trigger app-down' } });
      const r = await h.watch({ holder: 'restarted' });
      assert.equal(r.outcome, 'rolled-back');
      assert.equal(rollbacks.length, before, 'the claimed rollback is not run twice');
      assert.match(r.state.reasons.join(' '), /not run again/);
      assert.deepEqual(r.state.rollback?.steps.map((s) => [s.step, s.ok]), [['validate', true]]);
    } finally {
      await h.store.close();
    }
  });

  test('a reported issue fires the conditional trigger; the watch waits for a person, who decides to roll back', async () => {
    app.setFaults({});
    const before = rollbacks.length;
    const h = await harness(config('short'));
    try {
      let watchId = '';
      const r = await h.watch({
        onProgress: (p) => {
          if (p.type === 'begin') watchId = p.watchId;
          if (p.type === 'trigger') void h.store.addEvent({ gate: 'watched', env: 'production', release: 'v2', watchId, kind: 'decide-rollback', at: new Date(h.clock.now()).toISOString(), data: { decision: 'rollback', by: 'erin', role: 'release-manager' } });
        },
        onEvaluation: (n) => (n === 2 ? void h.store.addEvent({ gate: 'watched', env: 'production', release: 'v2', watchId, kind: 'issue-report', at: new Date(h.clock.now()).toISOString(), data: { by: 'support', summary: 'checkout emails are not sent' } }) : undefined),
      });
      assert.equal(r.outcome, 'rolled-back', r.state.reasons.join('; '));
      assert.deepEqual(r.state.fired.map((f) => [f.id, f.severity, f.decision?.decision]), [['reported-issue', 'conditional', 'rollback']]);
      assert.deepEqual(rollbacks.slice(before), ['v1']);
      assert.match(r.state.reasons.join(' '), /decided by erin/);
    } finally {
      await h.store.close();
    }
  });
});
