// Watch cost, simulated 24 h (issue 11): the seed's three windows (immediate 15 min, short-term 2 h,
// 24-hour 24 h) watched by runWatch on the fake clock, ten http items against a local server (in a
// child process), every evaluation stored in SQLite as a real watch stores it. The clock moves only
// on the watch's 'pause' (as in src/watch/watch.test.ts). RSS (and the live heap) after a forced GC
// at simulated hour 1 and hour 24, and at the end; the store's size. Floor: RSS grows by no more
// than 10% from hour 1 to hour 24. The watch runs in a fresh child with --expose-gc, started as
// `gonogo watch` starts the node its watch runs in (src/watch/process.ts), its store opened as the
// command opens it (watch-child.ts).
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config/load.js';
import { openStore } from '../src/store/index.js';
import { fakeClock } from '../src/test-support/clock.js';
import { runWatch, WATCH_PAGE_CACHE_KIB } from '../src/watch/watch.js';
import { fixed, log, OK_SERVER, startChildServer } from './lib.js';
import type { BenchResult } from './lib.js';
import { gc, inChild, isChild, report } from './watch-child.js';

const ITEMS = 10;
const HOUR = 3_600_000;
const MB = 2 ** 20;
const FLOOR = 1.1;
/** The seed's windows, with an interval a team would pick for each. */
const WINDOWS = [
  { id: 'immediate', window: '15m', every: '1m' },
  { id: 'short-term', window: '2h', every: '5m' },
  { id: '24-hour', window: '24h', every: '10m' },
];


interface Memory {
  /** Simulated hours since the watch began. */
  hour: number;
  evaluations: number;
  rssMb: number;
  heapMb: number;
  /** What V8 holds from the system for its heap (live objects, garbage not yet collected, free pages kept). */
  heapTotalMb: number;
}

interface Figures {
  outcome: string;
  evaluations: number;
  simulatedHours: number;
  wallS: number;
  samples: Memory[];
  storeBytes: number;
  emptyStoreBytes: number;
  storeBytesClosed: number;
}

function config(url: string): string {
  const ids = Array.from({ length: ITEMS }, (_, i) => `SVC-${String(i).padStart(2, '0')}`);
  const lines = [
    'version: 1',
    'name: watch-24h',
    'environments:',
    `  production: { url: "${url}" }`,
    `defaults: { timeout: 10s, concurrency: ${ITEMS}, perHost: ${ITEMS} }`,
    'stages:',
    '  production:',
    ...WINDOWS.map((w) => `    - { id: ${w.id}, title: ${w.id}, budget: ${w.window}, every: ${w.every}, items: [${ids.join(', ')}] }`),
    'items:',
    ...ids.map((id, i) => `  - { id: ${id}, title: service ${i} answers, tier: ${i === 0 ? 'critical' : 'high'}, check: { kind: http, url: "{{env.url}}/service/${i}", expect: ["status == 200"] } }`),
  ];
  return `${lines.join('\n')}\n`;
}

const fileBytes = (file: string): number => statSync(file, { throwIfNoEntry: false })?.size ?? 0;
const storeBytes = (file: string): number => fileBytes(file) + fileBytes(`${file}-wal`);

function measure(hour: number, evaluations: number): Memory {
  gc();
  const m = process.memoryUsage();
  return { hour, evaluations, rssMb: m.rss / MB, heapMb: m.heapUsed / MB, heapTotalMb: m.heapTotal / MB };
}

async function child(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bench-watch-24h-'));
  const server = await startChildServer(OK_SERVER);
  try {
    writeFileSync(join(dir, 'gonogo.yaml'), config(server.url));
    const loaded = await loadConfig(join(dir, 'gonogo.yaml'));
    const clock = fakeClock();
    const start = clock.now();
    // What an empty store weighs, to count only what the watch wrote.
    const empty = await openStore(join(dir, 'empty.db'), { clock });
    await empty.close();
    const emptyStoreBytes = storeBytes(join(dir, 'empty.db'));
    const file = join(dir, 'gonogo.db');
    const store = await openStore(file, { clock, pageCacheKiB: WATCH_PAGE_CACHE_KIB });
    const samples: Memory[] = [];
    const marks = [1, 24];
    let evaluations = 0;
    const t0 = performance.now();
    const r = await runWatch({
      loaded,
      store,
      clock,
      stageSet: 'production',
      envName: 'production',
      release: { id: 'v2', source: 'option' },
      previous: 'v1',
      onProgress: (p) => {
        if (p.type === 'evaluation') evaluations++;
        if (p.type !== 'pause') return;
        // Between evaluations nothing of the watch runs: the moment to read its memory.
        const hour = (clock.now() - start) / HOUR;
        if (marks.length > 0 && hour >= marks[0]) {
          marks.shift();
          samples.push(measure(hour, evaluations));
        }
        setImmediate(() => void clock.sleepers(1).then(() => clock.advance(p.ms)));
      },
    });
    const wallS = (performance.now() - t0) / 1000;
    samples.push(measure((clock.now() - start) / HOUR, evaluations));
    const open = storeBytes(file);
    await store.close();
    report({ outcome: r.outcome, evaluations, simulatedHours: (clock.now() - start) / HOUR, wallS, samples, storeBytes: open, emptyStoreBytes, storeBytesClosed: storeBytes(file) } satisfies Figures);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function watch24h(): Promise<BenchResult> {
  log(`watch 24 h: the seed's windows on the fake clock (${WINDOWS.map((w) => `${w.id} ${w.window} every ${w.every}`).join(', ')}), ${ITEMS} http items, SQLite store; RSS after a forced GC`);
  const f = await inChild<Figures>('watch-24h.ts', 600_000);
  const [h1, h24, end] = f.samples;
  if (f.outcome !== 'passed' || !h1 || !h24 || !end) throw new Error(`the watch of a healthy server did not pass (${f.outcome}) or memory was not read at hour 1, 24 and the end (${f.samples.length} readings)`);
  for (const m of f.samples) log(`  hour ${fixed(m.hour, 2)} (${m.evaluations} evaluations): RSS ${fixed(m.rssMb, 1)} MB, live heap ${fixed(m.heapMb, 1)} MB (V8 holds ${fixed(m.heapTotalMb, 1)} MB)`);
  const written = f.storeBytesClosed - f.emptyStoreBytes;
  log(`  ${f.evaluations} evaluations (${f.evaluations * ITEMS} probes) over ${fixed(f.simulatedHours, 2)} simulated hours in ${fixed(f.wallS, 1)} s`);
  log(`  store: ${fixed(f.storeBytes / 1024, 0)} KiB with its -wal while open, ${fixed(f.storeBytesClosed / 1024, 0)} KiB closed (empty store ${fixed(f.emptyStoreBytes / 1024, 0)} KiB): ${fixed(written / f.evaluations / 1024, 1)} KiB per evaluation of ${ITEMS} items`);
  const ratio = h24.rssMb / h1.rssMb;
  log(`  RSS hour 24 / hour 1: ${fixed(ratio, 3)} (floor <= ${fixed(FLOOR)}); live heap ${fixed(h1.heapMb, 1)} -> ${fixed(h24.heapMb, 1)} MB (${fixed(h24.heapMb / h1.heapMb, 3)})`);
  return {
    name: 'watch 24 h (fake clock)',
    figure: `RSS ${fixed(h24.rssMb, 0)} MB at hour 24`,
    reference: `${fixed(h1.rssMb, 0)} MB at hour 1`,
    ratio,
    floor: `<= ${fixed(FLOOR)}`,
    ok: ratio <= FLOOR,
  };
}

if (isChild()) await child();
else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) console.log(await watch24h());
