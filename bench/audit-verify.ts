// `gonogo audit verify` over 1,000,000 entries (a gate's whole chain walked and compared with its
// rows), the bundled CLI as a user runs it, against `sha256sum` over the same bytes (every entry and
// row verify hashes). Floor: <= 3x. Verify walks the chain on one thread while another hashes the
// rows (store/sqlite-audit-thread.ts): each round prints the CPU time of both commands beside their
// time, and the load, since other work on the machine slows the two apart.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildFixture } from './audit-fixture.js';
import { ensureBuilt, fixed, log, median } from './lib.js';
import type { BenchResult } from './lib.js';

const FLOOR = 3;
const TIMES = 3;
const ITEMS = 58;
const RUNS = Math.ceil(1_000_000 / (ITEMS + 2));

/** A command's time and CPU time (user and system, its threads and children), run through bash for its `times`. */
function timed(command: string[]): { seconds: number; cpu: number; stdout: string } {
  const t0 = performance.now();
  // bash's own start-up, a few milliseconds, counts in both commands alike.
  const r = spawnSync('bash', ['-c', '"$@"; status=$?; times; exit $status', 'bash', ...command], { encoding: 'utf8', timeout: 600_000, env: { ...process.env, GONOGO_STORE: '' } });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${command.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  const lines = r.stdout.trimEnd().split('\n');
  // `times`: the shell's own user and system time, then its children's.
  const children = [...(lines.at(-1) ?? '').matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return { seconds, cpu: children.reduce((a, b) => a + b, 0), stdout: lines.slice(0, -2).join('\n') };
}

export default async function auditVerify(): Promise<BenchResult> {
  const bin = ensureBuilt();
  log(`audit verify: ${RUNS} runs of ${ITEMS} results (${RUNS * (ITEMS + 2)} entries) vs sha256sum over the same bytes, median of ${TIMES} interleaved`);
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bench-audit-'));
  try {
    const file = join(dir, 'gonogo.db');
    const bytes = join(dir, 'hashed.bin');
    const entries = await buildFixture(file, { gate: 'bench', release: 'r1', runs: RUNS, items: ITEMS, bytesFile: bytes });
    const verify = [process.execPath, bin, 'audit', 'verify', '--store', file, '--gate', 'bench'];
    const sum = ['sha256sum', bytes];
    spawnSync('sha256sum', [bytes]); // warm the file cache
    // Interleaved, the median of each: a busy machine slows both alike.
    const verifyTimes: number[] = [];
    const sumTimes: number[] = [];
    for (let i = 0; i < TIMES; i++) {
      const load = loadavg()[0];
      const v = timed(verify);
      if (!v.stdout.startsWith(`${entries} entries, chain intact`)) throw new Error(`the fixture's chain did not verify: ${v.stdout}`);
      const s = timed(sum);
      verifyTimes.push(v.seconds);
      sumTimes.push(s.seconds);
      log(`  round ${i + 1}, load ${fixed(load, 1)}: verify ${fixed(v.seconds)} s (CPU ${fixed(v.cpu)} s), sha256sum ${fixed(s.seconds)} s (CPU ${fixed(s.cpu)} s): ${fixed(v.seconds / s.seconds)}x`);
    }
    const verifySeconds = median(verifyTimes);
    const sumSeconds = median(sumTimes);
    const mb = statSync(bytes).size / 1e6;
    const ratio = verifySeconds / sumSeconds;
    log(`  verify ${fixed(verifySeconds)} s for ${entries} entries; sha256sum ${fixed(sumSeconds)} s over ${fixed(mb, 0)} MB: ratio ${fixed(ratio)} (floor <= ${FLOOR})`);
    return { name: 'audit verify (1M entries)', figure: `${fixed(verifySeconds)} s`, reference: `sha256sum ${fixed(sumSeconds)} s (${fixed(mb, 0)} MB)`, ratio, floor: `<= ${FLOOR}`, ok: ratio <= FLOOR };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await auditVerify());
}
