// `gonogo status`, `history` and `signoff` with 10,000 runs of the 58-item template in the store
// (600,000 audit entries), on SQLite and on PostgreSQL side by side, against bare `node -e 0`,
// interleaved so that machine noise falls on all alike; the median of RUNS each. The runs come in
// releases of 100 (a team that cuts a release every hundred runs); the commands ask for the newest,
// so what they read is one release's runs while the chain they check covers all 10,000. A sign-off
// opens the store to write (each time by a new signer), so it also pays what a writer's open costs
// on a large store. Floor: <= 3x on both stores. Also measured: status with the same config on an
// empty store, so that what the 10,000 runs cost is told apart from what the CLI costs to start.
// The commands read the config from the validated-config cache (a folder of the benchmark's own,
// filled by the first command), as every command after the first does; "SQLite --no-cache" parses
// it every time, to show what the cache saves.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { copyStore } from '../src/store/copy.js';
import { postgresBinDir, startCluster } from '../src/test-support/postgres.js';
import type { PgCluster } from '../src/test-support/postgres.js';
import { buildFixture } from './audit-fixture.js';
import { ensureBuilt, fixed, log, median, ms } from './lib.js';
import type { BenchResult } from './lib.js';

const RUNS = 20;
const FLOOR = 3;
const STORE_RUNS = 10_000;
const ITEMS = 58;
const PER_RELEASE = 100;
const RELEASE = `r-${STORE_RUNS / PER_RELEASE - 1}`;

const config = (): string =>
  [
    'version: 1',
    'name: bench',
    'environments:',
    '  staging:',
    '    url: http://127.0.0.1:9',
    'roles:',
    "  lead: ['*']",
    'items:',
    ...Array.from({ length: ITEMS }, (_, i) => {
      const id = `ITEM-${String(i).padStart(2, '0')}`;
      return `  - id: ${id}\n    title: ${id}\n    tier: critical\n    check:\n      kind: env\n      required: [HOME]`;
    }),
    // What a person signs: a sign-off is one of the everyday commands held to the floor.
    '  - id: DOC-01\n    title: Runbook read\n    tier: high\n    manual: true',
    '',
  ].join('\n');

function timeRun(cwd: string, args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 60_000, env: { ...process.env, CI: '1', GONOGO_STORE: '', GONOGO_CACHE_DIR: join(cwd, 'cache'), GONOGO_NO_CACHE: '' } });
  const wall = performance.now() - t0;
  // status exits with the decision: 0 GO, 1 NO-GO, 3 GO WITH CONDITIONS.
  if (r.status === null || ![0, 1, 3].includes(r.status)) throw new Error(`node ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  if (args.includes('status') && /Audit log: BROKEN/.test(r.stdout)) throw new Error(`status found the fixture's chain broken:\n${r.stdout}`);
  return wall;
}

export default async function status(): Promise<BenchResult> {
  const bin = ensureBuilt();
  log(`status: ${STORE_RUNS} runs of ${ITEMS} results in releases of ${PER_RELEASE} (${STORE_RUNS * (ITEMS + 2)} entries), SQLite and PostgreSQL vs node -e 0, median of ${RUNS}`);
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bench-status-'));
  let cluster: PgCluster | undefined;
  try {
    writeFileSync(join(dir, 'gonogo.yaml'), config());
    const file = join(dir, 'gonogo.db');
    await buildFixture(file, { gate: 'bench', release: 'r', runsPerRelease: PER_RELEASE, runs: STORE_RUNS, items: ITEMS });
    const stores: Array<{ name: string; location: string }> = [{ name: 'SQLite', location: file }];
    if (postgresBinDir() !== undefined) {
      cluster = await startCluster();
      const url = await cluster.createDatabase('bench_status');
      await copyStore(file, url);
      stores.push({ name: 'PostgreSQL', location: url });
    } else {
      log('  PostgreSQL not installed (apt-get install postgresql): SQLite only');
    }
    // Each store's everyday commands, held to the floor; then, for comparison, status on an empty
    // store (what the CLI costs to start) and without the config cache.
    type Case = { name: string; args: (n: number) => string[]; compared?: boolean; times: number[] };
    const at = (location: string, command: string[], flags: string[] = []): ((n: number) => string[]) => () => [bin, ...flags, ...command, '--release', RELEASE, '--store', location];
    const cases: Case[] = [];
    for (const st of stores) {
      cases.push({ name: `status on ${st.name}`, args: at(st.location, ['status']), times: [] });
      cases.push({ name: `history on ${st.name}`, args: at(st.location, ['history']), times: [] });
      // A new signer each time: one person signs an item once.
      cases.push({ name: `signoff on ${st.name}`, args: (n) => [bin, 'signoff', '--item', 'DOC-01', '--as', `signer-${n}`, '--role', 'lead', '--release', RELEASE, '--store', st.location], times: [] });
    }
    cases.push({ name: 'status on no runs', args: at(join(dir, 'empty.db'), ['status']), compared: true, times: [] });
    cases.push({ name: 'status on SQLite --no-cache', args: at(file, ['status'], ['--no-cache']), compared: true, times: [] });
    const bare = ['-e', '0'];
    const bareTimes: number[] = [];
    let n = 0;
    for (const c of cases) timeRun(dir, c.args(n++)); // warm the file cache and the server's
    timeRun(dir, bare);
    for (let i = 0; i < RUNS; i++) {
      // Rotate the order, so that none always follows another.
      const order = [...cases.map((c) => () => c.times.push(timeRun(dir, c.args(n++)))), () => bareTimes.push(timeRun(dir, bare))];
      for (let k = 0; k < order.length; k++) order[(i + k) % order.length]();
    }
    const b = median(bareTimes);
    const rows = cases.map((c) => ({ name: c.name, compared: c.compared ?? false, median: median(c.times), ratio: median(c.times) / b }));
    for (const r of rows) log(`  ${r.name.padEnd(27)} median ${ms(r.median).padStart(7)}, node -e 0 ${ms(b).padStart(6)}: ratio ${fixed(r.ratio)} (${r.compared ? 'for comparison' : `floor <= ${FLOOR}`})`);
    const measured = rows.filter((r) => !r.compared);
    const worst = measured.reduce((a, r) => (r.ratio > a.ratio ? r : a));
    return {
      name: `status, history, signoff (${STORE_RUNS} runs)`,
      figure: rows.map((r) => `${r.name} ${ms(r.median)} (${fixed(r.ratio)}x)`).join(', '),
      reference: `node -e 0 ${ms(b)}`,
      ratio: worst.ratio,
      floor: `<= ${FLOOR}`,
      ok: measured.every((r) => r.ratio <= FLOOR),
    };
  } finally {
    cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await status());
}
