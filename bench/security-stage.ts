// The security stage (from the security-probes issues): `validate staging --keep-going` against the
// reference app, clean and with every defect on, in process. For each: the security stage's wall time
// (StageReport.durationMs) and the requests the app received during it, against the floors: the clean
// app with the grown debug-endpoints catalog within 2 s and 500 requests (issue 9), every defect on
// within 15 s and 1,000 requests; the whole run's time and requests are printed beside them.
// The config may move a probe out of the `security` stage (SEC-006's login burst runs in the last
// stage, after every check that logs in), so every `category: security` item is also run on its own
// (`check --only`, on a fresh app) and printed as a supplement; the ratio is the stage's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Server } from 'node:http';
import { DEFECTS, startApp } from '../examples/recipes-app/src/app.js';
import type { Defect } from '../examples/recipes-app/src/app.js';
import { loadConfig } from '../src/config/load.js';
import type { LoadedConfig } from '../src/config/load.js';
import { runGate } from '../src/engine/gate.js';
import { openStore } from '../src/store/index.js';
import { systemClock } from '../src/util/clock.js';
import { ROOT, fixed, log, ms } from './lib.js';
import type { BenchResult } from './lib.js';

const FLOOR_MS = 15_000;
const FLOOR_REQUESTS = 1000;
/** The clean app's floors (issue 9): the grown catalog must not make a passing stage slow or loud. */
const CLEAN_FLOOR_MS = 2000;
const CLEAN_FLOOR_REQUESTS = 500;
const STAGE = 'security';

interface Measure {
  label: string;
  stageMs: number;
  stageRequests: number;
  stageStatus: string;
  runMs: number;
  runRequests: number;
  verdict: string;
  expected: string;
  /** Security items that did not end as expected, for the message when the verdict is wrong. */
  notes: string[];
}

const PASSWORDS = {
  GONOGO_ALICE_PASSWORD: 'alice-password',
  GONOGO_BOB_PASSWORD: 'bob-password',
  GONOGO_CAROL_PASSWORD: 'carol-password',
  GONOGO_ADMIN_PASSWORD: 'admin-password',
};

/** Counts the requests a server receives from now on. */
function countRequests(server: Server): { readonly count: number } {
  const counter = { count: 0 };
  server.on('request', () => {
    counter.count++;
  });
  return counter;
}

async function measure(loaded: LoadedConfig, label: string, defects: Defect[], expected: string): Promise<Measure> {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bench-sec-'));
  const app = await startApp({ defects, loginLimit: 20 });
  const counter = countRequests(app.server);
  const store = await openStore(join(dir, 'g.db'));
  try {
    let stageStart: number | undefined;
    let stageEnd: number | undefined;
    const t0 = performance.now();
    const outcome = await runGate({
      loaded,
      store,
      clock: systemClock,
      stageSet: 'staging',
      keepGoing: true,
      urlOverride: app.url,
      processEnv: { ...process.env, ...PASSWORDS },
      onEvent: (e) => {
        if (e.type === 'stage-start' && e.stage.id === STAGE) stageStart = counter.count;
        if (e.type === 'stage-end' && e.report.id === STAGE) stageEnd = counter.count;
      },
    });
    const runMs = performance.now() - t0;
    const stage = outcome.stages?.find((s) => s.id === STAGE);
    if (!stage) throw new Error(`${label}: no "${STAGE}" stage in the outcome`);
    if (stage.status === 'not-run' || stageStart === undefined || stageEnd === undefined) throw new Error(`${label}: the ${STAGE} stage did not run`);
    const stageIds = new Set(stage.items);
    const notes = outcome.results
      .filter((r) => stageIds.has(r.id) && (r.status === 'error' || (expected === 'GO' && r.status !== 'pass' && r.status !== 'skipped')))
      .map((r) => `${r.id} ${r.status}: ${r.message.slice(0, 160)}`);
    return {
      label,
      stageMs: stage.durationMs,
      stageRequests: stageEnd - stageStart,
      stageStatus: stage.status,
      runMs,
      runRequests: counter.count,
      verdict: outcome.decision?.verdict ?? outcome.status,
      expected,
      notes,
    };
  } finally {
    await store.close();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ProbeMeasure {
  ms: number;
  requests: number;
  items: string[];
  errors: string[];
}

/** Every security item alone, as `check --only SEC-...` would run it, on a fresh app. */
async function measureProbes(loaded: LoadedConfig, defects: Defect[]): Promise<ProbeMeasure> {
  const only = loaded.config.items.filter((i) => i.category === 'security' && i.check).map((i) => i.id);
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bench-sec-'));
  const app = await startApp({ defects, loginLimit: 20 });
  const counter = countRequests(app.server);
  const store = await openStore(join(dir, 'g.db'));
  try {
    const t0 = performance.now();
    const outcome = await runGate({ loaded, store, clock: systemClock, selection: { only }, urlOverride: app.url, processEnv: { ...process.env, ...PASSWORDS } });
    const wall = performance.now() - t0;
    const errors = outcome.results.filter((r) => r.status === 'error').map((r) => `${r.id} error: ${r.message.slice(0, 160)}`);
    return { ms: wall, requests: counter.count, items: only, errors };
  } finally {
    await store.close();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function securityStage(): Promise<BenchResult> {
  const allDefects = Object.keys(DEFECTS) as Defect[];
  log(`security stage: validate staging --keep-going against examples/recipes-app (loginLimit 20), clean and with all ${allDefects.length} defects on`);
  const loaded = await loadConfig(join(ROOT, 'examples', 'recipes-app', 'gonogo.yaml'));
  const runs = [await measure(loaded, 'clean', [], 'GO'), await measure(loaded, 'all defects', allDefects, 'NO_GO')];
  const ratios: number[] = [];
  for (const m of runs) {
    const clean = m.expected === 'GO';
    const [floorMs, floorRequests] = clean ? [CLEAN_FLOOR_MS, CLEAN_FLOOR_REQUESTS] : [FLOOR_MS, FLOOR_REQUESTS];
    const rt = m.stageMs / floorMs;
    const rr = m.stageRequests / floorRequests;
    ratios.push(rt, rr);
    log(
      `  ${m.label.padEnd(11)} security stage ${ms(m.stageMs)} (ratio ${fixed(rt)} of ${fixed(floorMs / 1000, 0)} s), ${m.stageRequests} requests (ratio ${fixed(rr)} of ${floorRequests}), stage ${m.stageStatus}; ` +
        `whole run ${ms(m.runMs)}, ${m.runRequests} requests; verdict ${m.verdict} (expected ${m.expected})`,
    );
    for (const n of m.notes) log(`      ${n}`);
  }
  const stageItems = new Set(loaded.config.stages.staging?.find((s) => s.id === STAGE)?.items ?? []);
  const problems: string[] = [];
  for (const [label, defects] of [
    ['clean', []],
    ['all defects', allDefects],
  ] as const) {
    const p = await measureProbes(loaded, [...defects]);
    const outside = p.items.filter((id) => !stageItems.has(id));
    log(
      `  ${label.padEnd(11)} all ${p.items.length} security probes alone (check --only${outside.length ? `; ${outside.join(', ')} not in the ${STAGE} stage` : ''}): ` +
        `${ms(p.ms)} (ratio ${fixed(p.ms / FLOOR_MS)}), ${p.requests} requests (ratio ${fixed(p.requests / FLOOR_REQUESTS)})`,
    );
    for (const e of p.errors) log(`      ${e}`);
    if (p.errors.length > 0) problems.push(`${label}: ${p.errors.length} security probe(s) ended in error`);
  }
  const wrong = runs.filter((m) => m.verdict !== m.expected);
  for (const m of wrong) problems.push(`${m.label}: verdict ${m.verdict}, expected ${m.expected}`);
  if (problems.length > 0) throw new Error(problems.join('; '));
  const ratio = Math.max(...ratios);
  const [clean, dirty] = runs;
  return {
    name: 'security stage',
    figure: `clean ${fixed(clean.stageMs / 1000, 1)} s/${clean.stageRequests} req; defects ${fixed(dirty.stageMs / 1000, 1)} s/${dirty.stageRequests} req`,
    reference: 'clean 2 s / 500 req; defects 15 s / 1,000 req',
    ratio,
    floor: '< 1.00 (worst of 4)',
    ok: ratio < 1,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await securityStage());
}
