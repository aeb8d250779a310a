// The watch benchmarks measure a process's CPU, peak RSS and RSS growth: inside `npm run bench` the
// process has already run every other benchmark, and under tsx a loader thread with its own heap
// (some 20 MB) is not gonogo's. So each runs in a fresh plain node of its own, started as
// `gonogo watch` starts the node its watch runs in (src/watch/process.ts: the same node flags and
// malloc settings): the benchmark file bundled as the published CLI is (scripts/bundle.mjs:
// esbuild, dependencies inside, better-sqlite3 outside) and started as
// `node --expose-gc <the watch's flags> bundle.mjs --child`; the child prints its lines and, last,
// its figures as one marked JSON line. What they measure is the watch's process; the `gonogo`
// process that started it and waits (some 20 MB of its own, see bench/watch-cost.ts) is not in it.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { watchProcess } from '../src/watch/process.js';
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
  // Inside the package, so that the bundle finds better-sqlite3 in node_modules; in a folder of this
  // checkout's own (worktrees share node_modules: one's build must not be another's measurement).
  const outfile = join(ROOT, 'node_modules', '.cache', 'gonogo-bench', createHash('sha256').update(ROOT).digest('hex').slice(0, 12), file.replace(/\.ts$/, '.mjs'));
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
  // GONOGO_BENCH_NODE_FLAGS: more node flags for the child, to try a V8 setting (e.g. --max-semi-space-size=4);
  // they win over the watch's own, as a user's flags do.
  const flags = (process.env.GONOGO_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
  const watch = watchProcess(['--expose-gc', ...flags], process.env);
  log(`  the watch's process: node ${watch.execArgv.join(' ')}, ${Object.entries(watch.env).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  const child = spawn(process.execPath, [...watch.execArgv, outfile, '--child'], { cwd: ROOT, env: { ...process.env, ...watch.env }, stdio: ['ignore', 'pipe', 'inherit'] });
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

