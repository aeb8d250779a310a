// Time to detect (issue 11): from fault injection to rollback start, in evaluations and seconds, on
// the demo's compressed clock. The demo's own production watch (examples/recipes-app/watch.yaml:
// the immediate window 15 s, every 1.5 s; consecutive 2, minSamples 8, synthetic metrics over 15 s)
// against the reference app, on the system clock, with a real SQLite store, the demo's baseline at
// v1, and its rollback script calling its control endpoint. v2 is deployed healthy; right after the
// 3rd evaluation a fault is injected live (app.setFaults): the worst alignment, a whole interval
// before the next evaluation. Detection is the immediate trigger's 'trigger' (the rollback is
// claimed and started at once); the rollback script's request reaching the control endpoint is
// printed beside it. Each fault is run ROUNDS times (the machine is shared: ranges, not one figure).
// The issue names no floor: the reference is the fastest a trigger can fire, `consecutive` x `every`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startApp } from '../examples/recipes-app/src/app.js';
import type { Faults } from '../examples/recipes-app/src/app.js';
import { startControl } from '../examples/recipes-app/scripts/control.js';
import { loadConfig } from '../src/config/load.js';
import { stageWatch } from '../src/config/watch-schema.js';
import { openStore } from '../src/store/index.js';
import { systemClock } from '../src/util/clock.js';
import { recordBaseline } from '../src/watch/baseline.js';
import { runWatch } from '../src/watch/watch.js';
import { ROOT, fixed, log, median } from './lib.js';
import type { BenchResult } from './lib.js';

const CONFIG = join(ROOT, 'examples', 'recipes-app', 'watch.yaml');
const ROUNDS = 3;
/** Evaluations of v2 before the fault appears. */
const HEALTHY_EVALUATIONS = 3;
const FAULTS: { name: string; fault: Faults }[] = [
  { name: 'down', fault: { down: true } },
  { name: 'error rate 30%', fault: { errorRate: 0.3 } },
];

interface Detection {
  /** Evaluations from the injection to the one that fired, that one included. */
  evaluations: number;
  /** Seconds from the injection to the trigger (the rollback claimed and started). */
  seconds: number;
  /** Seconds from the injection to the rollback script's request at the control endpoint. */
  deployedS: number;
  trigger: string;
}

export default async function watchDetect(): Promise<BenchResult> {
  const loaded = await loadConfig(CONFIG);
  const immediate = loaded.config.stages.production?.[0];
  if (!immediate) throw new Error(`${CONFIG} has no production stage set`);
  const w = stageWatch(immediate);
  const { consecutive, minSamples, metrics } = loaded.config.watch;
  const ideal = (consecutive * w.everyMs) / 1000;
  log(`watch time to detect: examples/recipes-app/watch.yaml (window ${w.windowMs / 1000}s every ${w.everyMs / 1000}s, consecutive ${consecutive}, minSamples ${minSamples}, metrics window ${metrics.window}), system clock, fault injected after evaluation ${HEALTHY_EVALUATIONS}, ${ROUNDS} rounds each`);

  const releases: Record<string, Faults> = { v1: {}, v2: {} };
  const app = await startApp({});
  const control = await startControl(releases, (faults) => app.setFaults(faults));
  const processEnv = { ...process.env, RECIPES_URL: app.url, RECIPES_CONTROL_URL: control.url };
  const dirs: string[] = [];
  try {
    const round = async (fault: Faults): Promise<Detection> => {
      const dir = mkdtempSync(join(tmpdir(), 'gonogo-bench-detect-'));
      dirs.push(dir);
      const store = await openStore(join(dir, 'gonogo.db'), { clock: systemClock });
      try {
        control.deploy('v1');
        await recordBaseline({ loaded, store, clock: systemClock, stageSet: 'production', envName: 'production', release: { id: 'v1', source: 'option' }, processEnv });
        control.deploy('v2');
        let evaluations = 0;
        let injectedAt: number | undefined;
        let injectedAfter = 0;
        let fired: { at: number; evaluations: number; trigger: string } | undefined;
        const calls = control.calls.length;
        const r = await runWatch({
          loaded,
          store,
          clock: systemClock,
          stageSet: 'production',
          envName: 'production',
          release: { id: 'v2', source: 'option' },
          previous: 'v1',
          processEnv,
          onProgress: (p) => {
            if (p.type === 'evaluation' && ++evaluations === HEALTHY_EVALUATIONS) {
              app.setFaults(fault);
              injectedAt = performance.now();
              injectedAfter = evaluations;
            }
            if (p.type === 'trigger' && p.action === 'rollback' && !fired) fired = { at: performance.now(), evaluations: evaluations - injectedAfter, trigger: p.verdict.id };
          },
        });
        const deploy = control.calls.slice(calls).find((c) => c.release === 'v1');
        if (r.outcome !== 'rolled-back' || !fired || injectedAt === undefined || !deploy) {
          throw new Error(`the fault ${JSON.stringify(fault)} was not rolled back: ${r.outcome} (${r.state.reasons.join('; ')})`);
        }
        return { evaluations: fired.evaluations, seconds: (fired.at - injectedAt) / 1000, deployedS: (deploy.at - injectedAt) / 1000, trigger: fired.trigger };
      } finally {
        app.setFaults({});
        await store.close();
      }
    };

    const rows: { name: string; runs: Detection[] }[] = [];
    for (const { name, fault } of FAULTS) {
      const runs: Detection[] = [];
      for (let i = 0; i < ROUNDS; i++) runs.push(await round(fault));
      rows.push({ name, runs });
      const range = (xs: number[], digits: number): string => `${fixed(Math.min(...xs), digits)}-${fixed(Math.max(...xs), digits)}`;
      log(
        `  ${name}: ${[...new Set(runs.map((x) => x.trigger))].join(', ')} fired after ${range(
          runs.map((x) => x.evaluations),
          0,
        )} evaluations, ${range(
          runs.map((x) => x.seconds),
          2,
        )} s from injection to rollback start (median ${fixed(median(runs.map((x) => x.seconds)), 2)} s); the rollback script's deploy request at ${range(
          runs.map((x) => x.deployedS),
          2,
        )} s`,
      );
    }
    const worst = Math.max(...rows.map((row) => median(row.runs.map((x) => x.seconds))));
    log(`  reference: consecutive ${consecutive} x every ${w.everyMs / 1000}s = ${fixed(ideal, 1)} s, the soonest a trigger fires after a fault that lands just after an evaluation; slowest median / reference ${fixed(worst / ideal)}`);
    return {
      name: 'watch time to detect (demo clock)',
      figure: rows.map((row) => `${row.name}: ${median(row.runs.map((x) => x.evaluations))} evals, ${fixed(median(row.runs.map((x) => x.seconds)), 1)} s`).join('; '),
      reference: `${consecutive} x ${w.everyMs / 1000}s = ${fixed(ideal, 1)} s`,
      ratio: worst / ideal,
      floor: 'n/a (none set)',
      ok: true,
    };
  } finally {
    await control.close();
    await app.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await watchDetect());
}
