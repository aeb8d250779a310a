// The watch benchmarks measure a process's CPU, peak RSS and RSS growth: inside `npm run bench` the
// process has already run every other benchmark, and under tsx a loader thread with its own heap
// (some 20 MB) is not gonogo's. So each runs in a fresh plain node of its own: the benchmark file
// bundled as the published CLI is (scripts/bundle.mjs: esbuild, dependencies inside,
// better-sqlite3 outside) and started as `node --expose-gc bundle.mjs --child`; the child prints its
// lines and, last, its figures as one marked JSON line.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT, log } from './lib.js';

const MARK = 'GONOGO_BENCH_FIGURES=';

/** True in the child a benchmark file started for itself. */
export const isChild = (): boolean => process.argv.includes('--child');

/** In the child: hands the figures to the parent. */
export function report(figures: unknown): void {
  process.stdout.write(`${MARK}${JSON.stringify(figures)}\n`);
}

/** Bundles `bench/<file>` and runs it with `--child` in a fresh node with --expose-gc; its lines are echoed, its figures returned. */
export async function inChild<T>(file: string, timeoutMs: number): Promise<T> {
  // Inside the package, so that the bundle finds better-sqlite3 in node_modules.
  const outfile = join(ROOT, 'node_modules', '.cache', 'gonogo-bench', file.replace(/\.ts$/, '.mjs'));
  // Imported here, so the child (this file is bundled into it) never loads it.
  const { build } = await import('esbuild');
  await build({
    entryPoints: [join(ROOT, 'bench', file)],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['better-sqlite3', 'esbuild'],
    banner: { js: "import { createRequire as __gonogoRequire } from 'node:module'; const require = __gonogoRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  // GONOGO_BENCH_NODE_FLAGS: more node flags for the child, to try a V8 setting (e.g. --max-semi-space-size=4).
  const flags = (process.env.GONOGO_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
  if (flags.length > 0) log(`  child node flags: ${flags.join(' ')}`);
  const child = spawn(process.execPath, ['--expose-gc', ...flags, outfile, '--child'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let figures: T | undefined;
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    if (line.startsWith(MARK)) figures = JSON.parse(line.slice(MARK.length)) as T;
    else log(line);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, s) => resolve([c, s]));
  }).finally(() => clearTimeout(timer));
  if (code !== 0 || figures === undefined) throw new Error(`bench/${file} --child ended (${signal ?? `exit ${code}`})${figures === undefined ? ' without its figures' : ''}`);
  return figures;
}

/** `global.gc` (the child runs with --expose-gc); throws when it is missing rather than measuring garbage. */
export function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run with node --expose-gc');
  collect();
}

/** The probed server of the watch benches (run in a child: its CPU is not the watch's): 200 and a small JSON body. */
export const OK_SERVER = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"status":"ok"}');
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;
