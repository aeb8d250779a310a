// Watch cost, real time (issue 11): 100 endpoints of a local server probed every second for 5
// minutes by runWatch on the system clock, results stored in SQLite as a real watch stores them
// (each evaluation a run of the release plus its event). The server runs in a child process, so
// only gonogo's CPU is counted; the watch itself runs in a fresh child (bench/watch-child.ts) so its
// peak RSS is its own, started as `gonogo watch` starts the node its watch runs in (the node flags
// and malloc settings of src/watch/process.ts) and with the store opened as the command opens it (a
// 2 MB page cache). What is measured is that process: the `gonogo` process that starts it and waits
// for it is not counted (some 59 MB RSS of which 41 MB node's code shared with the watch's
// process: 21 MB PSS). Floors: <= 1 CPU-second per 1,000 probes, <= 150 MB peak RSS.
// GONOGO_BENCH_WATCH_SECONDS (default 300) shortens the watch for a quick run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config/load.js';
import { openStore } from '../src/store/index.js';
import { systemClock } from '../src/util/clock.js';
import { runWatch, WATCH_PAGE_CACHE_KIB } from '../src/watch/watch.js';
import { fixed, log, median, ms, OK_SERVER, startChildServer } from './lib.js';
import type { BenchResult } from './lib.js';
import { inChild, isChild, report } from './watch-child.js';

const ENDPOINTS = 100;
const EVERY_S = 1;
// 100 checks on one host: a concurrency of 64 (overall and per host) lets each evaluation end well
// within its second (two waves of sub-millisecond answers), where the defaults (8, 4) would take 25 waves.
const CONCURRENCY = 64;
const CPU_FLOOR = 1;
const RSS_FLOOR_MB = 150;
const MB = 2 ** 20;


interface Figures {
  seconds: number;
  evaluations: number;
  probes: number;
  failed: number;
  outcome: string;
  cpuUserS: number;
  cpuSystemS: number;
  wallS: number;
  /** RSS with the modules, the config and the store loaded, before the first evaluation. */
  startRssMb: number;
  peakRssMb: number;
  maxRssMb: number;
  firstEvalMs: number;
  medianEvalMs: number;
  maxEvalMs: number;
  late: number;
  /** RSS and heap in MB at each tenth of the watch. */
  trace: { at: number; rss: number; heap: number }[];
}

function config(url: string, seconds: number): string {
  const ids = Array.from({ length: ENDPOINTS }, (_, i) => `EP-${String(i).padStart(3, '0')}`);
  const lines = [
    'version: 1',
    'name: watch-cost',
    'environments:',
    `  production: { url: "${url}" }`,
    `defaults: { timeout: 5s, concurrency: ${CONCURRENCY}, perHost: ${CONCURRENCY} }`,
    'stages:',
    '  production:',
    `    - { id: live, title: Live, budget: ${seconds}s, window: ${seconds}s, every: ${EVERY_S}s, items: [${ids.join(', ')}] }`,
    'items:',
  ];
  ids.forEach((id, i) => lines.push(`  - { id: ${id}, title: endpoint ${i} answers, tier: high, check: { kind: http, url: "{{env.url}}/endpoint/${i}", expect: ["status == 200"] } }`));
  return `${lines.join('\n')}\n`;
}

async function child(): Promise<void> {
  const seconds = Number(process.env.GONOGO_BENCH_WATCH_SECONDS ?? 300);
  if (!Number.isInteger(seconds) || seconds < 2) throw new Error(`GONOGO_BENCH_WATCH_SECONDS must be a whole number >= 2, got ${process.env.GONOGO_BENCH_WATCH_SECONDS}`);
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bench-watch-cost-'));
  const server = await startChildServer(OK_SERVER);
  try {
    writeFileSync(join(dir, 'gonogo.yaml'), config(server.url, seconds));
    const loaded = await loadConfig(join(dir, 'gonogo.yaml'));
    const store = await openStore(join(dir, 'gonogo.db'), { clock: systemClock, pageCacheKiB: WATCH_PAGE_CACHE_KIB });
    // The engine is imported by the first evaluation; import it now so tsx's compiling is not counted.
    await import('../src/engine/gate.js');
    const startRss = process.memoryUsage().rss;
    let peak = startRss;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 250);
    const evalMs: number[] = [];
    let woke = performance.now();
    let failed = 0;
    const trace: Figures['trace'] = [];
    const tenth = Math.max(1, Math.round(seconds / EVERY_S / 10));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    try {
      const r = await runWatch({
        loaded,
        store,
        clock: systemClock,
        stageSet: 'production',
        envName: 'production',
        release: { id: 'v2', source: 'option' },
        previous: 'v1',
        onProgress: (p) => {
          if (p.type === 'pause') woke = performance.now() + p.ms;
          if (p.type === 'evaluation') {
            evalMs.push(performance.now() - woke);
            failed += Object.values(p.items).filter((s) => s !== 'pass').length;
            if (evalMs.length % tenth === 0) {
              const m = process.memoryUsage();
              trace.push({ at: evalMs.length, rss: m.rss / MB, heap: m.heapUsed / MB });
            }
          }
        },
      });
      const wallS = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage().rss);
      await store.close();
      const figures: Figures = {
        seconds,
        evaluations: evalMs.length,
        probes: evalMs.length * ENDPOINTS,
        failed,
        outcome: r.outcome,
        cpuUserS: cpu.user / 1e6,
        cpuSystemS: cpu.system / 1e6,
        wallS,
        startRssMb: startRss / MB,
        peakRssMb: peak / MB,
        maxRssMb: (process.resourceUsage().maxRSS * 1024) / MB,
        firstEvalMs: evalMs[0] ?? Number.NaN,
        medianEvalMs: evalMs.length > 0 ? median(evalMs) : Number.NaN,
        maxEvalMs: Math.max(...evalMs),
        late: evalMs.filter((x) => x > EVERY_S * 1000).length,
        trace,
      };
      report(figures);
    } finally {
      clearInterval(sampler);
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function watchCost(): Promise<BenchResult> {
  const seconds = Number(process.env.GONOGO_BENCH_WATCH_SECONDS ?? 300);
  log(`watch cost: ${ENDPOINTS} http endpoints every ${EVERY_S}s for ${seconds}s on the system clock (concurrency and perHost ${CONCURRENCY}), SQLite store; the server in its own process`);
  const f = await inChild<Figures>('watch-cost.ts', (seconds + 120) * 1000);
  const cpuS = f.cpuUserS + f.cpuSystemS;
  const perK = (cpuS / f.probes) * 1000;
  log(`  ${f.evaluations} evaluations, ${f.probes} probes (${f.failed} not passing), outcome ${f.outcome}, ${fixed(f.wallS, 1)} s wall`);
  log(`  each evaluation (wake to stored): first ${ms(f.firstEvalMs)}, median ${ms(f.medianEvalMs)}, max ${ms(f.maxEvalMs)}; ${f.late} took longer than ${EVERY_S}s`);
  log(`  CPU ${fixed(cpuS, 1)} s (user ${fixed(f.cpuUserS, 1)}, system ${fixed(f.cpuSystemS, 1)}): ${fixed(perK, 3)} CPU-s per 1,000 probes (floor <= ${CPU_FLOOR}): ratio ${fixed(perK / CPU_FLOOR)}`);
  log(`  RSS before the first evaluation (modules, config and store loaded) ${fixed(f.startRssMb, 1)} MB`);
  log(`  peak RSS ${fixed(f.peakRssMb, 1)} MB sampled every 250 ms during the watch, ${fixed(f.maxRssMb, 1)} MB over the process's life (floor <= ${RSS_FLOOR_MB} MB): ratio ${fixed(f.maxRssMb / RSS_FLOOR_MB)}`);
  log(`  RSS / heap (MB) by evaluation: ${f.trace.map((t) => `#${t.at} ${fixed(t.rss, 0)}/${fixed(t.heap, 0)}`).join(', ')}`);
  if (f.outcome !== 'passed' || f.failed > 0) throw new Error(`the watch of a healthy server did not pass: ${f.outcome}, ${f.failed} probes not passing`);
  const ok = perK <= CPU_FLOOR && f.maxRssMb <= RSS_FLOOR_MB;
  return {
    name: `watch cost (${ENDPOINTS} x ${EVERY_S}s, ${seconds}s)`,
    figure: `${fixed(perK, 3)} CPU-s/1k probes, ${fixed(f.maxRssMb, 0)} MB peak`,
    reference: `${CPU_FLOOR} CPU-s/1k, ${RSS_FLOOR_MB} MB`,
    ratio: Math.max(perK / CPU_FLOOR, f.maxRssMb / RSS_FLOOR_MB),
    floor: '<= 1.00 (both)',
    ok,
  };
}

if (isChild()) await child();
else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(await watchCost());
