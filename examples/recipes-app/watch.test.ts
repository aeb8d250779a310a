// The story `npm run demo` tells, in-process and on the fake clock: watch.yaml's compressed
// production watch of v2 against the real reference app, a real SQLite store, the real rollback
// script (a node process) calling the demo's control endpoint on loopback. A faulty v2 is rolled
// back exactly once, by the trigger its fault breaks, and v1 validates; a healthy v2 is watched
// through the three windows and passes, with no rollback. The clock moves only while the watch
// sleeps between evaluations ('pause'), never under a check.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp } from './src/app.js';
import type { Faults, RunningApp } from './src/app.js';
import { startControl } from './scripts/control.js';
import type { Control } from './scripts/control.js';
import { loadConfig } from '../../src/config/load.js';
import type { LoadedConfig } from '../../src/config/load.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { fakeClock } from '../../src/test-support/clock.js';
import type { FakeClock } from '../../src/test-support/clock.js';
import { recordBaseline } from '../../src/watch/baseline.js';
import { runWatch } from '../../src/watch/watch.js';
import type { WatchResult } from '../../src/watch/watch.js';

const CONFIG = join(import.meta.dirname, 'watch.yaml');

let app: RunningApp;
/** v2's faults, set by each test before it deploys v2. */
const releases: Record<string, Faults> = { v1: {}, v2: {} };
let control: Control;
let loaded: LoadedConfig;

before(async () => {
  app = await startApp({});
  control = await startControl(releases, (faults) => app.setFaults(faults));
  loaded = await loadConfig(CONFIG);
});
after(async () => {
  await control.close();
  await app.close();
});

interface Story {
  store: Store;
  clock: FakeClock;
  result: WatchResult;
  /** The control endpoint's calls since this story began (the rollbacks that ran), by release. */
  rollbacks(): string[];
  /** Runs the same watch again (a restarted watcher, or a second one). */
  again(): Promise<WatchResult>;
}

/** The demo's steps 2-4: production at v1 measured, v2 deployed, v2 watched. The caller closes the store. */
async function story(v2: Faults): Promise<Story> {
  releases.v2 = v2;
  const clock = fakeClock();
  const store = await openStore(join(mkdtempSync(join(tmpdir(), 'gonogo-recipes-watch-')), 'gonogo.db'), { clock });
  const processEnv = { ...process.env, RECIPES_URL: app.url, RECIPES_CONTROL_URL: control.url };
  const before = control.calls.length;
  control.deploy('v1');
  await recordBaseline({ loaded, store, clock, stageSet: 'production', envName: 'production', release: { id: 'v1', source: 'option' }, processEnv });
  control.deploy('v2');
  const watch = (): Promise<WatchResult> =>
    runWatch({
      loaded,
      store,
      clock,
      stageSet: 'production',
      envName: 'production',
      release: { id: 'v2', source: 'option' },
      previous: 'v1',
      processEnv,
      onProgress: (p) => {
        if (p.type === 'pause') setImmediate(() => void clock.sleepers(1).then(() => clock.advance(p.ms)));
      },
    });
  const result = await watch();
  return { store, clock, result, rollbacks: () => control.calls.slice(before).map((c) => c.release), again: watch };
}

describe('the demo\'s production watch (watch.yaml) on the reference app', () => {
  test('a healthy v2 is watched through the three compressed windows (15 s, 30 s, 45 s; ten evaluations each) and passes: no rollback', async () => {
    const s = await story({});
    try {
      assert.equal(s.result.outcome, 'passed', s.result.state.reasons.join('; '));
      assert.deepEqual(s.result.state.windows.map((w) => [w.id, w.passed, w.evaluations]), [
        ['immediate', true, 10],
        ['short-term', true, 10],
        ['24-hour', true, 10],
      ]);
      assert.deepEqual(s.result.state.fired, [], 'no trigger fired, conditional ones included');
      assert.deepEqual(s.rollbacks(), []);
      assert.equal(control.deployed, 'v2');
      assert.equal((await s.store.listEvents({ gate: 'recipes-app', kinds: ['rollback-claim'] })).length, 0);
    } finally {
      await s.store.close();
    }
  });

  // Each fault the demo can deploy, and the immediate trigger that must catch it: on the
  // evaluation where the breach has held twice (for the error rate, the first judged with 8 samples).
  const faulty: { fault: Faults; trigger: string; evaluation: number }[] = [
    { fault: { errorRate: 0.25 }, trigger: 'error-rate-critical', evaluation: 3 },
    { fault: { down: true }, trigger: 'health-down', evaluation: 2 },
    { fault: { integrity: true }, trigger: 'integrity-failing', evaluation: 2 },
  ];
  for (const { fault, trigger, evaluation } of faulty) {
    test(`v2 with ${JSON.stringify(fault)}: ${trigger} fires on evaluation ${evaluation}, the rollback script deploys v1 exactly once, v1 validates`, async () => {
      const s = await story(fault);
      try {
        const r = s.result;
        assert.equal(r.outcome, 'rolled-back', r.state.reasons.join('; '));
        assert.deepEqual(r.state.fired.map((f) => [f.id, f.severity, f.window]), [[trigger, 'immediate', 'immediate']]);
        assert.equal(r.state.windows[0].evaluations, evaluation);
        assert.deepEqual(s.rollbacks(), ['v1'], 'one rollback, to the previous release');
        assert.equal(control.deployed, 'v1');
        assert.deepEqual(r.state.rollback?.steps.map((x) => [x.step, x.ok]), [
          ['rollback', true],
          ['validate', true],
        ]);
        // Run again (a restarted watcher): the ended watch is reported, nothing runs twice.
        const again = await s.again();
        assert.equal(again.outcome, 'rolled-back');
        assert.deepEqual(s.rollbacks(), ['v1'], 'still the one rollback');
      } finally {
        await s.store.close();
      }
    });
  }
});
