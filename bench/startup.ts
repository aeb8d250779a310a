// Start-up: each everyday command (`gonogo --version`, `status`, `history`, `signoff`, `waive`,
// `report`, `kinds`, `check` on a one-item env config) against bare `node -e 0`, interleaved so that
// machine noise falls on both alike; the median of RUNS each. The store holds one run. The commands
// read the config from the validated-config cache (a folder of the benchmark's own, filled by the
// first command), as every command after the first does; `status --no-cache` shows what parsing
// the config costs without it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureBuilt, fixed, log, median, ms } from './lib.js';
import type { BenchResult } from './lib.js';

const RUNS = 20;
const VERSION_FLOOR = 2.0;
const FLOOR = 3.0;

const CONFIG = `version: 1
environments:
  staging:
    url: http://127.0.0.1:9
roles:
  lead: ['*']
items:
  - id: ENV-01
    title: HOME is set
    tier: critical
    check:
      kind: env
      required: [HOME]
  - id: DOC-01
    title: Runbook read
    tier: high
    manual: true
`;

interface Case {
  name: string;
  /** Its argv for the n-th run (a sign-off needs a new signer each time: one person signs once). */
  args: (n: number) => string[];
  /** Exit codes that mean it worked (status exits with the decision). */
  ok: readonly number[];
  /** The floor it is held to; none for a figure shown only for comparison. */
  floor?: number;
}

function timeRun(cwd: string, args: string[], ok: readonly number[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 30_000, env: { ...process.env, CI: '1', GONOGO_CACHE_DIR: join(cwd, 'cache'), GONOGO_NO_CACHE: '' } });
  const wall = performance.now() - t0;
  if (r.status === null || !ok.includes(r.status)) throw new Error(`node ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  return wall;
}

/** Every case's median beside bare node's; the row returned is the slowest ratio. */
export default async function startup(): Promise<BenchResult> {
  const bin = ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-startup-'));
  writeFileSync(join(dir, 'gonogo.yaml'), CONFIG);
  const cases: Case[] = [
    { name: 'gonogo --version', args: () => [bin, '--version'], ok: [0], floor: VERSION_FLOOR },
    { name: 'gonogo status', args: () => [bin, 'status'], ok: [0, 1, 3], floor: FLOOR },
    { name: 'gonogo status --no-cache', args: () => [bin, '--no-cache', 'status'], ok: [0, 1, 3] },
    { name: 'gonogo history', args: () => [bin, 'history'], ok: [0], floor: FLOOR },
    { name: 'gonogo signoff', args: (n) => [bin, 'signoff', '--item', 'DOC-01', '--as', `signer-${n}`, '--role', 'lead'], ok: [0], floor: FLOOR },
    { name: 'gonogo waive', args: () => [bin, 'waive', 'DOC-01', '--mitigation', 'm', '--owner', 'dana', '--expires', '2099-12-31', '--as', 'dana', '--role', 'lead'], ok: [0], floor: FLOOR },
    { name: 'gonogo report', args: () => [bin, 'report'], ok: [0], floor: FLOOR },
    { name: 'gonogo kinds', args: () => [bin, 'kinds'], ok: [0], floor: FLOOR },
    { name: 'gonogo check (one env item)', args: () => [bin, 'check', '--quiet', '--only', 'ENV-01'], ok: [0, 1, 3], floor: FLOOR },
  ];
  const bare = ['-e', '0'];
  log(`start-up: each command vs node -e 0, median of ${RUNS} each, interleaved (store of one run)`);
  // Warm the file cache and record the run the store commands read.
  timeRun(dir, [bin, 'check', '--quiet'], [0, 1, 3]);
  timeRun(dir, bare, [0]);
  let worst: { c: Case; ratio: number; median: number; bare: number } | undefined;
  let within = true;
  for (const c of cases) {
    const cliTimes: number[] = [];
    const bareTimes: number[] = [];
    let n = 0;
    timeRun(dir, c.args(n++), c.ok);
    for (let i = 0; i < RUNS; i++) {
      // Alternate which goes first, so neither always follows the other.
      if (i % 2 === 0) {
        cliTimes.push(timeRun(dir, c.args(n++), c.ok));
        bareTimes.push(timeRun(dir, bare, [0]));
      } else {
        bareTimes.push(timeRun(dir, bare, [0]));
        cliTimes.push(timeRun(dir, c.args(n++), c.ok));
      }
    }
    const m = median(cliTimes);
    const b = median(bareTimes);
    const ratio = m / b;
    if (c.floor !== undefined && ratio > c.floor) within = false;
    log(`  ${c.name.padEnd(30)} median ${ms(m).padStart(7)}, node -e 0 ${ms(b).padStart(6)}: ratio ${fixed(ratio)} (${c.floor === undefined ? 'for comparison' : `floor <= ${fixed(c.floor)}`})`);
    if (c.floor === FLOOR && (!worst || ratio > worst.ratio)) worst = { c, ratio, median: m, bare: b };
  }
  if (!worst) throw new Error('no command measured');
  return {
    name: 'start-up (slowest everyday command)',
    figure: `${worst.c.name} ${ms(worst.median)}`,
    reference: `node -e 0 ${ms(worst.bare)}`,
    ratio: worst.ratio,
    floor: `<= ${fixed(FLOOR)}`,
    ok: within,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await startup());
}
