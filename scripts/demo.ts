// `npm run demo`: the whole story of a release on the reference app, compressed, with no set-up.
//   1. staging: `gonogo validate staging` -> GO (RECIPES_DEFECTS=csrf,ssrf shows a NO-GO, and the story stops there)
//   2. production runs v1: `gonogo baseline record` measures it
//   3. "deploy" v2, a faulty version: the running app gets v2's faults (RECIPES_V2_FAULTS, default error-rate=0.25)
//   4. `gonogo watch production --release v2 --previous v1` (examples/recipes-app/watch.yaml): a trigger
//      fires, the rollback script runs once and asks this process's control endpoint to deploy v1 (the
//      faults are cleared), the post-rollback validation passes
//   5. what happened, read back from the store, and `gonogo audit verify`
// RECIPES_V2_FAULTS=none deploys a healthy v2: the watch runs its three windows (about 90 s) and passes.
// The app and its control endpoint run in this process on 127.0.0.1; gonogo runs as a child process,
// with a fresh store in a temp folder (kept, and named at the end, to look around in).
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDefects, parseFaults, startApp } from '../examples/recipes-app/src/app.js';
import type { Faults } from '../examples/recipes-app/src/app.js';
import { startControl } from '../examples/recipes-app/scripts/control.js';
import { openStore } from '../src/store/index.js';
import { latestWatch } from '../src/watch/watch.js';
import type { WatchState } from '../src/watch/state.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const example = join(root, 'examples', 'recipes-app');
const stagingConfig = join(example, 'gonogo.yaml');
const productionConfig = join(example, 'watch.yaml');
const store = join(mkdtempSync(join(tmpdir(), 'gonogo-demo-')), 'gonogo.db');
const started = performance.now();

const defects = parseDefects(process.env.RECIPES_DEFECTS ?? '');
const v2Written = process.env.RECIPES_V2_FAULTS ?? 'error-rate=0.25';
const v2Faults = parseFaults(v2Written === 'none' ? '' : v2Written);
const v2Faulty = Object.keys(v2Faults).length > 0;
// Production answers 200 ms slower than loopback, as across a real network. Not decoration: on a
// loopback app a few ms fast, a busy machine's scheduling noise (tens of ms) is a multiple of the
// latency, and the p95 > 1.5 x baseline trigger would fire on noise alone.
const PRODUCTION: Faults = { latencyMs: 200 };
/** What each release brings to the running app in production: v1 is the good one, v2 the one being deployed. */
const releases: Record<string, Faults> = { v1: PRODUCTION, v2: { ...PRODUCTION, ...v2Faults } };

// Login limit 20 a minute: room for the probes' logins before SEC-006's burst (40) must hit it.
const app = await startApp({ defects, loginLimit: 20 });

// The deploy system's stand-in: the demo deploys through it, the rollback script calls its endpoint.
const control = await startControl(releases, (faults) => app.setFaults(faults));

const passwords = { GONOGO_ALICE_PASSWORD: 'alice-password', GONOGO_BOB_PASSWORD: 'bob-password', GONOGO_CAROL_PASSWORD: 'carol-password', GONOGO_ADMIN_PASSWORD: 'admin-password' };
// Production's URL reaches watch.yaml as ${RECIPES_URL} (the watch has no --url); staging keeps --url, as before.
const productionEnv = { ...passwords, RECIPES_URL: app.url, RECIPES_CONTROL_URL: control.url };

const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)} s`;
const section = (title: string): void => console.log(`\n=== ${title} (${elapsed()}) ===\n`);

// Asynchronous: the app runs in this process and must keep answering while gonogo probes it.
const gonogo = async (config: string, env: Record<string, string>, ...args: string[]): Promise<number> => {
  console.log(`$ gonogo ${config === productionConfig ? '--config watch.yaml ' : ''}${args.join(' ')}`);
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'bin.ts'), '--config', config, '--store', store, ...args], {
    stdio: 'inherit',
    cwd: root,
    env: { ...process.env, ...env },
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  console.log('');
  return code ?? 1;
};

/** The watch of v2 as the store has it. */
async function watchRecord(): Promise<WatchState | undefined> {
  const s = await openStore(store);
  try {
    return await latestWatch(s, 'recipes-app', 'production', 'v2');
  } finally {
    await s.close();
  }
}

/** When v2 was deployed: wall-clock (to compare with the store's times) and monotonic (with the control endpoint's). */
interface DeployTime {
  wall: number;
  mono: number;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** What happened after the deploy, in a few lines; returns whether it went as the story says it should. */
function tell(watch: WatchState | undefined, deployed: DeployTime, watchCode: number): boolean {
  if (!watch) {
    console.log(`no watch of v2 was recorded (gonogo watch exited ${watchCode})`);
    return false;
  }
  const evaluations = watch.windows.reduce((n, w) => n + w.evaluations, 0);
  console.log(`v2 in production: ${(watch.outcome ?? 'unfinished').toUpperCase()} (watch ${watch.watchId}, gonogo watch exited ${watchCode})`);
  for (const w of watch.windows.filter((x) => x.evaluations > 0)) {
    console.log(`  window ${w.id}: ${w.evaluations} evaluation(s), ${w.passed === undefined ? 'cut short' : w.passed ? 'PASSED' : `FAILED: ${(w.reasons ?? []).join('; ')}`}`);
  }
  for (const f of watch.fired) console.log(`  trigger ${f.id} (${f.severity}), ${seconds(Date.parse(f.at) - deployed.wall)} after the deploy: ${f.message}`);
  if (watch.rollback) console.log(`  time to detect: ${evaluations} evaluation(s), ${seconds(Date.parse(watch.rollback.at) - deployed.wall)} from the deploy to the rollback's start`);
  const calls = control.calls.map((c) => `deploy ${c.release}, ${seconds(c.at - deployed.mono)} after the deploy`);
  console.log(`  the rollback script called the control endpoint ${control.calls.length} time(s)${calls.length > 0 ? `: ${calls.join('; ')}` : ''}`);
  for (const step of watch.rollback?.steps ?? []) console.log(`  rollback step ${step.step}: ${step.ok ? 'ok' : 'FAILED'}: ${step.message.split('\n')[0]}`);
  console.log(`  production now serves ${control.deployed}`);
  const rollbacks = control.calls;
  if (!v2Faulty) return watchCode === 0 && watch.outcome === 'passed' && rollbacks.length === 0;
  // A fault only a conditional trigger sees (latency) waits for a person and fails its window: caught, not rolled back.
  if (watch.outcome !== 'rolled-back') return watchCode === 1 && watch.outcome === 'failed' && rollbacks.length === 0;
  return watchCode === 1 && watch.rollback?.ok === true && rollbacks.length === 1 && rollbacks[0].release === 'v1' && control.deployed === 'v1';
}

let ok = false;
try {
  console.log(`recipes-app listening on ${app.url} (defects: ${defects.join(', ') || 'none'}); its control endpoint on ${control.url}`);
  console.log(`store: ${store}`);

  section('1. staging: is v2 ready to go?');
  const staging = await gonogo(stagingConfig, passwords, 'validate', 'staging', '--release', 'v2', '--url', app.url, '--keep-going');
  await gonogo(stagingConfig, passwords, 'status', '--release', 'v2');
  if (staging !== 0) {
    // A NO-GO on a defective app is the point of that run, not a failure of the demo.
    console.log(`gonogo validate exited ${staging} (0 GO, 3 GO WITH CONDITIONS, 1 NO-GO): v2 is not deployed to production; the story ends here`);
    ok = staging === 1 || staging === 3;
  } else {
    section('2. production runs v1: record its baseline');
    control.deploy('v1');
    console.log(`from here on the app plays production, serving v1 (${JSON.stringify(releases.v1)})\n`);
    const baseline = await gonogo(productionConfig, productionEnv, 'baseline', 'record', '--env', 'production', '--release', 'v1');

    section(`3. deploy v2 to production (${v2Faulty ? `a faulty version: ${v2Written}` : 'a healthy version'})`);
    control.deploy('v2');
    const deployedAt = { wall: Date.now(), mono: performance.now() };
    console.log(`production now serves v2 (${JSON.stringify(releases.v2)})`);

    section('4. watch v2 in production: 15 s, 30 s and 45 s windows standing for the seed\'s 15 min, 2 h and 24 h');
    const watchCode = await gonogo(productionConfig, productionEnv, 'watch', 'production', '--release', 'v2', '--previous', 'v1');

    section('5. what happened');
    const told = tell(await watchRecord(), deployedAt, watchCode);
    console.log('');
    const audit = await gonogo(productionConfig, productionEnv, 'audit', 'verify');
    ok = baseline === 0 && told && audit === 0;
    const story = !v2Faulty ? 'v2 was watched through every window and passed' : control.calls.length > 0 ? 'v2 was caught and rolled back to v1, once, and v1 validated' : 'v2 was caught, and the watch waited for a person (gonogo decide-rollback)';
    console.log(ok ? `the story went as it should: ${story}` : 'the story did NOT go as it should: see above');
  }
} finally {
  await app.close();
  await control.close();
}
console.log(`demo finished in ${elapsed()}; the record is in ${store} (gonogo --store ${store} history)`);
process.exit(ok ? 0 : 1);
