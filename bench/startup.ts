// Start-up: `node dist/cli/bin.js --version` against bare `node -e 0`, interleaved so that machine
// noise falls on both alike; median of 20 each.
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { ROOT, ensureBuilt, fixed, log, median, ms } from './lib.js';
import type { BenchResult } from './lib.js';

const RUNS = 20;
const FLOOR = 2.0;

function timeRun(args: string[], expectOut?: RegExp): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  if (expectOut && !expectOut.test(r.stdout)) throw new Error(`node ${args.join(' ')} printed ${JSON.stringify(r.stdout)}`);
  return wall;
}

export default async function startup(): Promise<BenchResult> {
  log(`start-up: gonogo --version vs node -e 0, median of ${RUNS} each, interleaved`);
  const bin = ensureBuilt();
  const cli = [bin, '--version'];
  const bare = ['-e', '0'];
  // One of each to warm the file cache.
  timeRun(cli, /^\d+\.\d+\.\d+/);
  timeRun(bare);
  const cliTimes: number[] = [];
  const bareTimes: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Alternate which goes first, so neither always follows the other.
    if (i % 2 === 0) {
      cliTimes.push(timeRun(cli, /^\d+\.\d+\.\d+/));
      bareTimes.push(timeRun(bare));
    } else {
      bareTimes.push(timeRun(bare));
      cliTimes.push(timeRun(cli, /^\d+\.\d+\.\d+/));
    }
  }
  const c = median(cliTimes);
  const b = median(bareTimes);
  const ratio = c / b;
  log(`  gonogo --version median ${ms(c)} (min ${ms(Math.min(...cliTimes))}), node -e 0 median ${ms(b)} (min ${ms(Math.min(...bareTimes))}): ratio ${fixed(ratio)} (floor <= ${fixed(FLOOR)})`);
  return { name: 'start-up', figure: `${ms(c)} (median of ${RUNS})`, reference: `node -e 0 ${ms(b)}`, ratio, floor: `<= ${fixed(FLOOR)}`, ok: ratio <= FLOOR };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await startup());
}
