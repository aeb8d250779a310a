// `audit verify` over 1,000,000 entries (a gate's whole chain walked and compared with its rows),
// against `sha256sum` over the same bytes (every entry and row verify hashes). Floor: <= 3x.
// Verify walks the chain on this thread while another hashes the rows (sqlite-audit-thread.ts): the
// CPU time of both is printed beside sha256sum's, and the load, since other work on the machine
// slows the two apart.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { verifyChain } from '../src/store/audit.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { buildFixture } from './audit-fixture.js';
import { fixed, log, median } from './lib.js';
import type { BenchResult } from './lib.js';

const FLOOR = 3;
const TIMES = 3;
const ITEMS = 58;
const RUNS = Math.ceil(1_000_000 / (ITEMS + 2));

export default async function auditVerify(): Promise<BenchResult> {
  log(`audit verify: ${RUNS} runs of ${ITEMS} results (${RUNS * (ITEMS + 2)} entries) vs sha256sum over the same bytes, median of ${TIMES}`);
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bench-audit-'));
  try {
    const file = join(dir, 'gonogo.db');
    const bytes = join(dir, 'hashed.bin');
    const entries = await buildFixture(file, { gate: 'bench', release: 'r1', runs: RUNS, items: ITEMS, bytesFile: bytes });
    const store = await openSqliteStore(file, { readonly: true });
    spawnSync('sha256sum', [bytes]); // warm the file cache
    // Interleaved, the median of each: a busy machine slows both alike.
    const verifyTimes: number[] = [];
    const sumTimes: number[] = [];
    try {
      for (let i = 0; i < TIMES; i++) {
        const load = loadavg()[0];
        let t0 = performance.now();
        const cpu0 = process.cpuUsage();
        const report = await verifyChain(store, 'bench');
        const cpu = process.cpuUsage(cpu0);
        verifyTimes.push(performance.now() - t0);
        if (!report.intact || report.entries !== entries) throw new Error(`the fixture's chain did not verify: ${report.problem?.message}`);
        t0 = performance.now();
        // Through bash, whose `times` gives the child's CPU time (its own start-up, a few ms, counts in the reference).
        const sum = spawnSync('bash', ['-c', 'sha256sum "$1" > /dev/null && times', 'bash', bytes], { encoding: 'utf8' });
        sumTimes.push(performance.now() - t0);
        if (sum.status !== 0) throw new Error(`sha256sum failed: ${sum.stderr}`);
        const [user, sys] = [...(sum.stdout.trim().split('\n')[1] ?? '').matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
        const [v, s] = [verifyTimes[i] / 1000, sumTimes[i] / 1000];
        log(`  round ${i + 1}, load ${fixed(load, 1)}: verify ${fixed(v)} s (CPU ${fixed((cpu.user + cpu.system) / 1e6)} s), sha256sum ${fixed(s)} s (CPU ${fixed(user + sys)} s): ${fixed(v / s)}x`);
      }
    } finally {
      await store.close();
    }
    const verifyMs = median(verifyTimes);
    const sumMs = median(sumTimes);
    const mb = statSync(bytes).size / 1e6;
    const ratio = verifyMs / sumMs;
    log(`  verify ${fixed(verifyMs / 1000)} s for ${entries} entries; sha256sum ${fixed(sumMs / 1000)} s over ${fixed(mb, 0)} MB: ratio ${fixed(ratio)} (floor <= ${FLOOR})`);
    return { name: 'audit verify (1M entries)', figure: `${fixed(verifyMs / 1000)} s`, reference: `sha256sum ${fixed(sumMs / 1000)} s (${fixed(mb, 0)} MB)`, ratio, floor: `<= ${FLOOR}`, ok: ratio <= FLOOR };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await auditVerify());
}
