// The load kind against the load generators it is measured by, side by side on one target: a node
// http server in a child process (so it shares no event loop with a generator), hit in turn with the
// same connections and duration by
//   - our `load` kind, in this process (autocannon driving, each request timed by us in µs);
//   - autocannon's own CLI (`--json`), in a process of its own: the throughput reference;
//   - wrk (Debian package wrk, one thread), whose Lua `done` prints p50/p95/p99 in µs: the latency reference.
// wrk corrects its latencies for coordinated omission before `done` sees them (stats_correct: each
// latency above the mean interval of a connection adds the requests it held back), so ours are
// compared with wrk's after the same correction of the histogram the kind keeps in its evidence;
// ours as the kind reports them (uncorrected, like autocannon and k6 in a closed model) are printed beside.
// Three rounds in orders that keep ours beside wrk every round and beside autocannon in two (the
// machine is shared: neighbours in time see the same load); each ratio is the median of the rounds'.
// Floors: our req/s at least 0.9 of autocannon's; our p95 (corrected like wrk's) within 20% of wrk's.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decodeFromCompressedBase64 } from 'hdr-histogram-js';
import load from '../src/checks/load/index.js';
import type { CheckContext } from '../src/checks/types.js';
import { systemClock } from '../src/util/clock.js';
import { ROOT, fixed, log, median, startChildServer } from './lib.js';
import type { BenchResult } from './lib.js';

const CONNECTIONS = 20;
const SECONDS = 5;
const ROUNDS = 3;
const RPS_FLOOR = 0.9;
const P95_TOLERANCE = 0.2;

const SERVER = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"status":"ok"}');
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

const WRK_DONE = `
done = function(summary, latency, requests)
  io.write(string.format("GONOGO %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
`;

/** One tool's figures from one round: requests/s and latency percentiles in ms. */
interface Figures {
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  /** Ours, corrected for coordinated omission as wrk corrects its own. */
  asWrk?: { p50: number; p95: number; p99: number };
}

type Tool = 'ours' | 'autocannon' | 'wrk';

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    // Bounded: the run itself lasts SECONDS; anything far past that is a hang.
    const timer = setTimeout(() => child.kill('SIGKILL'), (SECONDS + 30) * 1000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} exited ${code}: ${err.trim() || out.trim()}`));
    });
  });
}

async function ours(url: string): Promise<Figures> {
  const ctx: CheckContext = {
    signal: AbortSignal.timeout((SECONDS + 30) * 1000),
    env: { name: 'bench', url, vars: { url } },
    configDir: ROOT,
    clock: systemClock,
    allowedOrigins: new Set([new URL(url).origin]),
    secrets: [],
  };
  const { observations: o, evidence } = await load.run({ connections: CONNECTIONS, duration: `${SECONDS}s` }, ctx);
  if (o.errors !== 0 || o.non_2xx !== 0) throw new Error(`our load saw errors: ${JSON.stringify(o)}`);
  const encoded: unknown = Reflect.get(Object(evidence), 'histogramUs');
  if (typeof encoded !== 'string') throw new Error('the load kind kept no histogram in its evidence');
  // wrk's interval: the run's time over the requests of one connection (wrk.c, before stats_correct).
  const kept = decodeFromCompressedBase64(encoded);
  const corrected = kept.copyCorrectedForCoordinatedOmission(Math.round((Number(o.duration_ms) * 1000) / (Number(o.requests) / CONNECTIONS)));
  const at = (p: number): number => corrected.getValueAtPercentile(p) / 1000;
  const asWrk = { p50: at(50), p95: at(95), p99: at(99) };
  kept.destroy();
  corrected.destroy();
  return { rps: Number(o.rps), p50: Number(o.p50_ms), p95: Number(o.p95_ms), p99: Number(o.p99_ms), asWrk };
}

async function autocannonCli(url: string): Promise<Figures> {
  const out = await run(join(ROOT, 'node_modules', '.bin', 'autocannon'), ['--json', '-c', String(CONNECTIONS), '-d', String(SECONDS), url]);
  const r: unknown = JSON.parse(out.trim().split('\n').pop() ?? '');
  const num = (path: string[]): number => {
    const v = path.reduce<unknown>((o, k) => (typeof o === 'object' && o !== null ? Reflect.get(o, k) : undefined), r);
    if (typeof v !== 'number') throw new Error(`autocannon --json has no ${path.join('.')}`);
    return v;
  };
  if (num(['errors']) !== 0 || num(['non2xx']) !== 0) throw new Error(`autocannon saw errors: ${out}`);
  // Its latencies are whole milliseconds (and p97.5 rather than p95): printed, not compared.
  return { rps: num(['requests', 'total']) / num(['duration']), p50: num(['latency', 'p50']), p95: Number.NaN, p99: num(['latency', 'p99']) };
}

async function wrk(url: string, script: string): Promise<Figures> {
  const out = await run('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '-s', script, url]);
  const m = /^GONOGO (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$/m.exec(out);
  if (!m) throw new Error(`wrk printed no figures: ${out}`);
  const [requests, durationUs, p50, p95, p99, errors] = m.slice(1).map(Number);
  if (errors !== 0) throw new Error(`wrk saw errors: ${out}`);
  return { rps: requests / (durationUs / 1e6), p50: p50 / 1000, p95: p95 / 1000, p99: p99 / 1000 };
}

const range = (xs: number[], digits: number): string => `${fixed(median(xs), digits)} (${fixed(Math.min(...xs), digits)}-${fixed(Math.max(...xs), digits)})`;

export default async function loadBench(): Promise<BenchResult> {
  const hasWrk = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).status === 0;
  log(`load kind: ${CONNECTIONS} connections for ${SECONDS} s against a node http server in a child process, ${ROUNDS} rounds; beside autocannon's CLI and ${hasWrk ? 'wrk -t1' : 'no wrk'}`);
  if (!hasWrk) log('  wrk is not installed (apt-get install wrk): the latency comparison is skipped');
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bench-load-'));
  const script = join(dir, 'done.lua');
  writeFileSync(script, WRK_DONE);
  const server = await startChildServer(SERVER);
  const seen: Record<Tool, Figures[]> = { ours: [], autocannon: [], wrk: [] };
  try {
    const orders: Tool[][] = hasWrk
      ? [
          ['ours', 'wrk', 'autocannon'],
          ['autocannon', 'ours', 'wrk'],
          ['wrk', 'ours', 'autocannon'],
        ]
      : [
          ['ours', 'autocannon'],
          ['autocannon', 'ours'],
        ];
    for (let round = 0; round < ROUNDS; round++) {
      const order = orders[round % orders.length];
      for (const tool of order) {
        const f = tool === 'ours' ? await ours(server.url) : tool === 'autocannon' ? await autocannonCli(server.url) : await wrk(server.url, script);
        seen[tool].push(f);
        const corrected = f.asWrk ? `; corrected as wrk: p50 ${fixed(f.asWrk.p50, 3)}  p95 ${fixed(f.asWrk.p95, 3)}  p99 ${fixed(f.asWrk.p99, 3)}` : '';
        const lat = tool === 'autocannon' ? `p50 ${f.p50} ms  p95 -  p99 ${f.p99} ms (whole ms)` : `p50 ${fixed(f.p50, 3)} ms  p95 ${fixed(f.p95, 3)} ms  p99 ${fixed(f.p99, 3)} ms${corrected}`;
        log(`  round ${round + 1} ${tool.padEnd(10)} ${fixed(f.rps, 0).padStart(6)} req/s  ${lat}`);
      }
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const rps = (t: Tool): number[] => seen[t].map((f) => f.rps);
  const pick = (t: Tool, k: 'p50' | 'p95' | 'p99'): number[] => seen[t].map((f) => f[k]);
  const perRound = (f: (i: number) => number): number => median(seen.ours.map((_, i) => f(i)));
  const ratio = perRound((i) => seen.ours[i].rps / seen.autocannon[i].rps);
  log(`  req/s: ours ${range(rps('ours'), 0)}, autocannon ${range(rps('autocannon'), 0)}${hasWrk ? `, wrk ${range(rps('wrk'), 0)}` : ''}; ours/autocannon ${fixed(ratio)}, median of the rounds' (floor >= ${RPS_FLOOR})`);
  let p95ok = true;
  if (hasWrk) {
    const asWrk = (k: 'p50' | 'p95' | 'p99'): number[] => seen.ours.map((f) => f.asWrk?.[k] ?? Number.NaN);
    for (const k of ['p50', 'p95', 'p99'] as const) log(`  ${k} ms: ours corrected as wrk ${range(asWrk(k), 3)}, wrk ${range(pick('wrk', k), 3)}; ours as reported ${range(pick('ours', k), 3)}`);
    const p95ratio = perRound((i) => (seen.ours[i].asWrk?.p95 ?? Number.NaN) / seen.wrk[i].p95);
    p95ok = Math.abs(p95ratio - 1) <= P95_TOLERANCE;
    log(`  p95 ours (corrected as wrk)/wrk ${fixed(p95ratio)}, median of the rounds' (floor: within ${P95_TOLERANCE * 100}%)`);
  }
  return {
    name: 'load kind vs autocannon CLI',
    figure: `${fixed(median(rps('ours')), 0)} req/s`,
    reference: `${fixed(median(rps('autocannon')), 0)} req/s`,
    ratio,
    floor: `>= ${RPS_FLOOR}${hasWrk ? `, p95 within ${P95_TOLERANCE * 100}% of wrk` : ' (wrk missing)'}`,
    ok: ratio >= RPS_FLOOR && p95ok,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await loadBench();
  log(`${r.name}: ${r.figure} vs ${r.reference}, ratio ${fixed(r.ratio)} (${r.floor}) ${r.ok ? 'within floor' : 'BELOW FLOOR'}`);
}
