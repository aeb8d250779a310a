// `npm run bench`: every benchmark in order, then a table. Figures never fail the run (machines are
// noisy); a benchmark that breaks (a check that should pass does not, a child that will not start)
// makes the exit code non-zero after the others have run.
import engineOverhead from './engine-overhead.js';
import startup from './startup.js';
import memory from './memory.js';
import securityStage from './security-stage.js';
import regexGuard from './regex-guard.js';
import { engineCli, engineLatency, engineMemory, engineThroughput } from './engine-throughput.js';
import auditVerify from './audit-verify.js';
import status from './status.js';
import storeGrowth from './store-growth.js';
import loadBench from './load.js';
import watchCost from './watch-cost.js';
import watch24h from './watch-24h.js';
import watchDetect from './watch-detect.js';
import { dashboardPageLoad, dashboardQuickReference } from './dashboard.js';
import { fixed, log } from './lib.js';
import type { BenchResult } from './lib.js';

const BENCHES: { name: string; run: () => Promise<BenchResult> }[] = [
  { name: 'engine overhead', run: engineOverhead },
  { name: 'start-up', run: startup },
  { name: 'memory (1,000 items)', run: memory },
  { name: 'security stage', run: securityStage },
  { name: 'regex guard', run: regexGuard },
  { name: 'engine 10k x 100 ms', run: engineLatency },
  { name: 'engine throughput', run: engineThroughput },
  { name: 'gonogo check 10k x 100 ms', run: () => engineCli() },
  { name: 'engine memory per item', run: engineMemory },
  { name: 'audit verify (1M entries)', run: auditVerify },
  { name: 'status, history, signoff (10,000 runs)', run: status },
  { name: 'store growth', run: storeGrowth },
  { name: 'load kind vs autocannon, wrk', run: loadBench },
  { name: 'watch cost (100 endpoints every 1 s)', run: watchCost },
  { name: 'watch 24 h (fake clock)', run: watch24h },
  { name: 'watch time to detect', run: watchDetect },
  { name: 'dashboard first page load', run: dashboardPageLoad },
  { name: 'dashboard quick reference (10,000 runs)', run: dashboardQuickReference },
];

type Row = { result: BenchResult } | { name: string; error: string };

const rows: Row[] = [];
const t0 = performance.now();
for (const b of BENCHES) {
  const started = performance.now();
  try {
    rows.push({ result: await b.run() });
  } catch (err) {
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    log(`  BROKEN: ${error}`);
    rows.push({ name: b.name, error: err instanceof Error ? err.message.split('\n')[0] : String(err) });
  }
  log(`  (${fixed((performance.now() - started) / 1000, 1)} s)\n`);
}

const table: string[][] = [['benchmark', 'figure', 'reference', 'ratio', 'floor', '']];
for (const r of rows) {
  if ('result' in r) {
    const x = r.result;
    table.push([x.name, x.figure, x.reference, fixed(x.ratio), x.floor, x.ok ? 'within floor' : 'ABOVE FLOOR']);
  } else {
    const why = r.error.length > 70 ? `${r.error.slice(0, 67)}...` : r.error;
    table.push([r.name, 'BROKEN', why, '-', '-', 'BROKEN (see above)']);
  }
}
const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
const line = (row: string[]): string => row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
log(line(table[0]));
log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of table.slice(1)) log(line(row));
log(`\nnode ${process.version}, ${fixed((performance.now() - t0) / 1000, 1)} s in all`);

const broken = rows.filter((r) => 'error' in r).length;
if (broken > 0) {
  log(`${broken} benchmark(s) broke`);
  process.exitCode = 1;
}
