// The engine in-process against a bare undici loop on the same server (a child process on
// 127.0.0.1), measured side by side in one run:
// - latency-bound: 10,000 `http` checks against a server answering after 100 ms, concurrency 256,
//   vs 10,000 undici requests from 256 workers (floor: engine <= 1.15 x the loop's time);
// - throughput: 10,000 trivial checks against a server answering at once vs undici's requests per
//   second at the same concurrency (floor: >= 0.5 of undici's rate);
// - the whole CLI: `gonogo check` (the bundle, a SQLite store, the text report) on the same 10,000
//   checks at 100 ms with concurrency 32 vs the undici loop with 32 workers (floor: <= 1.08);
// - memory: the heap a run holds above the loaded modules (the parsed config and every result with
//   its evidence), per item, after a GC (floor: <= 4 KB).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pathToFileURL } from 'node:url';
import { Agent, request } from 'undici';
import '../src/checks/index.js';
import { parseConfig } from '../src/config/load.js';
import type { LoadedConfig } from '../src/config/load.js';
import { runChecks } from '../src/engine/run.js';
import type { ItemResult } from '../src/model.js';
import { systemClock } from '../src/util/clock.js';
import { ensureBuilt, fixed, log, ms, startChildServer } from './lib.js';
import type { BenchResult } from './lib.js';

const CHECKS = 10_000;

const server = (delayMs: number): string => `
const http = require('node:http');
const answer = (res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"status":"ok"}'); };
const server = http.createServer((req, res) => {
  req.resume();
  ${delayMs > 0 ? `setTimeout(() => answer(res), ${delayMs});` : 'answer(res);'}
});
server.keepAliveTimeout = 30000;
server.maxConnections = 1024;
server.listen(0, '127.0.0.1', 1024, () => console.log(server.address().port));
`;

/** A config of `n` http checks on the server, as a user would write it. */
function config(url: string, n: number, concurrency: number): string {
  const lines = ['version: 1', 'environments:', `  bench: { url: "${url}" }`, `defaults: { timeout: 30s, concurrency: ${concurrency}, perHost: ${concurrency} }`, 'items:'];
  for (let i = 0; i < n; i++) {
    lines.push(`  - id: T-${i}`, `    title: Endpoint ${i}`, '    tier: high', '    check:', '      kind: http', `      url: "{{env.url}}/item/${i}"`, `      expect: ['status == 200', 'body.status == "ok"']`);
  }
  return `${lines.join('\n')}\n`;
}

async function runEngine(loaded: LoadedConfig, concurrency: number, quiet = false): Promise<{ ms: number; results: ItemResult[] }> {
  const url = loaded.config.environments.bench.url ?? '';
  const dispatcher = new Agent({ connections: concurrency, pipelining: 1 });
  try {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const results = await runChecks(loaded.config.items, loaded.conditions, {
      env: { name: 'bench', url, vars: { url } },
      configDir: '.',
      clock: systemClock,
      concurrency,
      perHost: concurrency,
      defaultTimeoutMs: 30_000,
      dispatcher,
    });
    const took = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (!quiet) log(`    (engine: ${ms(took)} wall, ${ms((cpu.user + cpu.system) / 1000)} CPU in this process)`);
    const passed = results.filter((r) => r.status === 'pass').length;
    if (passed !== results.length || results.length !== loaded.config.items.length) throw new Error(`${passed} of ${results.length} checks passed: ${results.find((r) => r.status !== 'pass')?.message}`);
    return { ms: took, results };
  } finally {
    await dispatcher.close();
  }
}

/** `n` GETs from `workers` concurrent loops, each reading the whole body: what any client must do. */
async function runUndici(url: string, n: number, workers: number): Promise<number> {
  const dispatcher = new Agent({ connections: workers, pipelining: 1 });
  try {
    let next = 0;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (next < n) {
          const i = next++;
          const res = await request(`${url}/item/${i}`, { dispatcher });
          await res.body.text();
          if (res.statusCode !== 200) throw new Error(`undici: status ${res.statusCode}`);
        }
      }),
    );
    const took = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (n === CHECKS) log(`    (undici loop: ${ms(took)} wall, ${ms((cpu.user + cpu.system) / 1000)} CPU in this process)`);
    return took;
  } finally {
    await dispatcher.close();
  }
}

export async function engineLatency(): Promise<BenchResult> {
  const concurrency = 256;
  const delay = 100;
  log(`engine vs undici: ${CHECKS} http checks, server answers after ${delay} ms, concurrency ${concurrency}`);
  const s = await startChildServer(server(delay));
  try {
    const loaded = parseConfig(config(s.url, CHECKS, concurrency), 'bench.yaml');
    // Warm both (connections, JIT) on a slice, then measure each once, the loop first.
    await runUndici(s.url, 512, concurrency);
    await runEngine(parseConfig(config(s.url, 512, concurrency), 'warm.yaml'), concurrency, true);
    const bare = await runUndici(s.url, CHECKS, concurrency);
    const engine = (await runEngine(loaded, concurrency)).ms;
    const ideal = Math.ceil(CHECKS / concurrency) * delay;
    const ratio = engine / bare;
    log(`  engine ${ms(engine)}, undici loop ${ms(bare)} (ideal ${ms(ideal)}): ratio ${fixed(ratio)} (floor <= 1.15)`);
    return { name: `engine ${CHECKS / 1000}k x ${delay} ms @${concurrency}`, figure: ms(engine), reference: `undici loop ${ms(bare)}`, ratio, floor: '<= 1.15', ok: ratio <= 1.15 };
  } finally {
    await s.stop();
  }
}

export async function engineThroughput(): Promise<BenchResult> {
  const concurrency = 64;
  log(`engine vs undici: ${CHECKS} trivial http checks, server answers at once, concurrency ${concurrency}`);
  const s = await startChildServer(server(0));
  try {
    const loaded = parseConfig(config(s.url, CHECKS, concurrency), 'bench.yaml');
    await runUndici(s.url, 2000, concurrency);
    await runEngine(parseConfig(config(s.url, 2000, concurrency), 'warm.yaml'), concurrency, true);
    const bare = await runUndici(s.url, CHECKS, concurrency);
    const engine = (await runEngine(loaded, concurrency)).ms;
    const engineRate = CHECKS / (engine / 1000);
    const bareRate = CHECKS / (bare / 1000);
    // Reported so that smaller is better, like every other row: undici's rate over the engine's.
    const share = engineRate / bareRate;
    log(`  engine ${Math.round(engineRate)} checks/s, undici ${Math.round(bareRate)} req/s: ${fixed(share)} of undici's rate (floor >= 0.50)`);
    return { name: 'engine throughput (zero latency)', figure: `${Math.round(engineRate)} checks/s`, reference: `undici ${Math.round(bareRate)} req/s`, ratio: share, floor: '>= 0.50', ok: share >= 0.5 };
  } finally {
    await s.stop();
  }
}

/** `gonogo check` run by `bin` in a child; its wall time from spawn to exit, which must be 0 (GO). */
function runCli(bin: string, dir: string): Promise<number> {
  const args = [bin, 'check', '--quiet', '--config', join(dir, 'gonogo.yaml'), '--store', join(dir, 'gonogo.db'), '--release', 'bench'];
  return new Promise<number>((resolve, reject) => {
    const t0 = performance.now();
    // The text report is rendered and written as for a user; only where it goes (nowhere) differs.
    const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CI: '1' } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const took = performance.now() - t0;
      if (code === 0) resolve(took);
      else reject(new Error(`gonogo check exited ${code ?? signal} (expected 0, GO): ${stderr.slice(-2000)}`));
    });
  });
}

/**
 * The whole CLI (start-up, config, engine, store, report) against the undici loop at the same
 * concurrency. `bin` defaults to the published bundle (built when older than src/).
 */
export async function engineCli(bin = ensureBuilt()): Promise<BenchResult> {
  const concurrency = 32;
  const delay = 100;
  log(`gonogo check vs undici: ${CHECKS} http checks, server answers after ${delay} ms, concurrency ${concurrency}`);
  const s = await startChildServer(server(delay));
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bench-cli-'));
  try {
    writeFileSync(join(dir, 'gonogo.yaml'), config(s.url, CHECKS, concurrency));
    await runUndici(s.url, 512, concurrency);
    const bare = await runUndici(s.url, CHECKS, concurrency);
    const cli = await runCli(bin, dir);
    const ratio = cli / bare;
    log(`  gonogo check ${ms(cli)}, undici loop ${ms(bare)} (ideal ${ms(Math.ceil(CHECKS / concurrency) * delay)}): ratio ${fixed(ratio)} (floor <= 1.08)`);
    return { name: `gonogo check ${CHECKS / 1000}k x ${delay} ms @${concurrency}`, figure: ms(cli), reference: `undici loop ${ms(bare)}`, ratio, floor: '<= 1.08', ok: ratio <= 1.08 };
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function engineMemory(): Promise<BenchResult> {
  const n = 2000;
  setFlagsFromString('--expose-gc');
  const gc: () => void = runInNewContext('gc');
  log(`engine memory: heap held by a run of ${n} http checks (config + results) above the loaded modules, after GC`);
  const s = await startChildServer(server(0));
  try {
    const text = config(s.url, n, 32);
    // Load every module and warm up first, so the baseline holds the code, not the first run's.
    await runEngine(parseConfig(config(s.url, 50, 32), 'warm.yaml'), 32);
    gc();
    const before = process.memoryUsage().heapUsed;
    const loaded = parseConfig(text, 'bench.yaml');
    const { results } = await runEngine(loaded, 32);
    gc();
    const after = process.memoryUsage().heapUsed;
    const perItem = (after - before) / n;
    // Both are held to here, as a command holds them until it has rendered the outcome.
    if (loaded.config.items.length !== n || results.length !== n) throw new Error('config or results lost');
    log(`  ${fixed(perItem / 1024, 1)} KB per item held (heap ${fixed(before / 2 ** 20, 1)} MB with the modules loaded, ${fixed(after / 2 ** 20, 1)} MB with the config and ${results.length} results)`);
    return { name: 'engine memory per item', figure: `${fixed(perItem / 1024, 1)} KB`, reference: `config + results, ${n} items`, ratio: perItem / 4096, floor: '<= 1.00 (4 KB)', ok: perItem <= 4096 };
  } finally {
    await s.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // `engine-throughput.ts [latency|throughput|cli|memory...]`: the named ones (default all);
  // GONOGO_BENCH_BIN runs the CLI row with another build of it.
  const all = { latency: engineLatency, throughput: engineThroughput, cli: () => engineCli(process.env.GONOGO_BENCH_BIN || undefined), memory: engineMemory };
  const names = process.argv.slice(2);
  for (const [name, run] of Object.entries(all)) if (names.length === 0 || names.includes(name)) console.log(await run());
}
