// Engine overhead: 200 `http` checks against a server (in a child process) that answers every
// request after 100 ms, with overall and per-host concurrency 32. The ideal is ceil(200/32) waves
// of 100 ms = 700 ms; whatever is above it is the engine's (and the client's) overhead.
import { pathToFileURL } from 'node:url';
import { tmpdir } from 'node:os';
import { registry } from '../src/checks/index.js';
import { parseCondition } from '../src/conditions/index.js';
import type { Condition } from '../src/conditions/index.js';
import type { ItemConfig } from '../src/config/schema.js';
import { httpPoolFor, runChecks } from '../src/engine/run.js';
import type { RunOptions } from '../src/engine/run.js';
import { systemClock } from '../src/util/clock.js';
import { fixed, log, median, ms, startChildServer } from './lib.js';
import type { BenchResult } from './lib.js';

const CHECKS = 200;
const CONCURRENCY = 32;
const DELAY_MS = 100;
const RUNS = 5;
const FLOOR = 1.1;

const SERVER = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  req.resume();
  setTimeout(() => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"status":"ok"}'); }, ${DELAY_MS});
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

export default async function engineOverhead(): Promise<BenchResult> {
  log(`engine overhead: ${CHECKS} http checks, server answers after ${DELAY_MS} ms, concurrency ${CONCURRENCY} (overall and per host)`);
  const server = await startChildServer(SERVER);
  let dispatcher: Awaited<ReturnType<typeof httpPoolFor>>;
  try {
    const parsed = parseCondition('status == 200', registry.http.fields);
    if (!parsed.ok) throw new Error(`condition did not parse: ${parsed.error}`);
    const items: ItemConfig[] = [];
    const conditions = new Map<string, Condition[]>();
    for (let i = 0; i < CHECKS; i++) {
      const id = `HTTP-${String(i).padStart(3, '0')}`;
      items.push({
        id,
        title: `check ${i}`,
        tier: 'high',
        check: { kind: 'http', url: `${server.url}/item/${i}`, method: 'GET', headers: {}, followRedirects: 'same-origin', maxBodyBytes: 1048576 },
      });
      conditions.set(id, [parsed.condition]);
    }
    // One connection pool across the runs, as a caller that runs checks again and again (a watcher)
    // keeps one: a run given none makes its own, and its first wave pays for the connections.
    dispatcher = await httpPoolFor(items);
    const options: RunOptions = {
      env: { name: 'bench', url: server.url, vars: { url: server.url } },
      configDir: tmpdir(),
      clock: systemClock,
      concurrency: CONCURRENCY,
      perHost: CONCURRENCY,
      defaultTimeoutMs: 10_000,
      dispatcher,
    };
    const once = async (): Promise<number> => {
      const t0 = performance.now();
      const results = await runChecks(items, conditions, options);
      const wall = performance.now() - t0;
      const passed = results.filter((r) => r.status === 'pass').length;
      if (results.length !== CHECKS || passed !== CHECKS) {
        const bad = results.find((r) => r.status !== 'pass');
        throw new Error(`${passed} of ${CHECKS} checks passed (${results.length} results)${bad ? `; e.g. ${bad.id}: ${bad.status}: ${bad.message}` : ''}`);
      }
      return wall;
    };
    const warm = await once();
    log(`  warm-up: ${ms(warm)}`);
    const walls: number[] = [];
    for (let i = 0; i < RUNS; i++) walls.push(await once());
    log(`  runs: ${walls.map(ms).join(', ')} (all ${CHECKS} passed in each)`);
    const ideal = Math.ceil(CHECKS / CONCURRENCY) * DELAY_MS;
    const wall = median(walls);
    const ratio = wall / ideal;
    log(`  median ${ms(wall)} vs ideal ${ms(ideal)}: ratio ${fixed(ratio)} (floor <= ${fixed(FLOOR)})`);
    return { name: 'engine overhead', figure: `${ms(wall)} (median of ${RUNS})`, reference: `ideal ${ms(ideal)}`, ratio, floor: `<= ${fixed(FLOOR)}`, ok: ratio <= FLOOR };
  } finally {
    await dispatcher?.destroy();
    await server.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await engineOverhead());
}
