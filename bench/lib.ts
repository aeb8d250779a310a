// Shared helpers of the benchmarks: the result shape, medians, timing, throwaway HTTP servers in
// child processes, and building dist/ when the CLI benchmarks need it.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

/** What every benchmark returns; run.ts prints them as a table. `ok` is informational, never a failure. */
export interface BenchResult {
  name: string;
  /** The measured figure, with its unit. */
  figure: string;
  /** What it is compared with, with its unit. */
  reference: string;
  /** figure / reference (the smaller the better). */
  ratio: number;
  /** The bound the ratio (or figure) should stay within, e.g. `<= 1.10`. */
  floor: string;
  ok: boolean;
}

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export const ms = (x: number): string => `${Math.round(x)} ms`;
export const fixed = (x: number, digits = 2): string => x.toFixed(digits);

export function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** A server in a child process; `port` is where it listens on 127.0.0.1. */
export interface ChildServer {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts `node -e <source>` where the source listens on 127.0.0.1:0 and prints its port on the first
 * line of stdout. The child is killed (by its own pid) when stopped; it also dies with its parent's stdin.
 */
export async function startChildServer(source: string, timeoutMs = 10_000): Promise<ChildServer> {
  // The child exits when our end of its stdin closes, so a crashed benchmark leaves no server behind.
  const guard = "process.stdin.on('data',()=>{});process.stdin.on('end',()=>process.exit(0));process.stdin.resume();";
  const child: ChildProcess = spawn(process.execPath, ['-e', guard + source], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child server did not report its port within ${timeoutMs} ms`)), timeoutMs);
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (line) => {
      clearTimeout(timer);
      const n = Number(line.trim());
      if (Number.isInteger(n) && n > 0) resolve(n);
      else reject(new Error(`child server printed ${JSON.stringify(line)}, not a port`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`child server exited (${signal ?? code}) before reporting its port`));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.stdin?.end();
        child.kill('SIGTERM');
      }),
  };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Makes sure dist/bundle/bin.js (the bundled CLI) exists, building it when it is missing or older than src/ (so the CLI
 * benchmarks measure the code in the tree). A failed build is only fatal when there is no dist at all.
 */
export function ensureBuilt(): string {
  // The published CLI: the bundle (scripts/bundle.mjs) of what tsc wrote.
  const bin = join(ROOT, 'dist', 'bundle', 'bin.js');
  const stale = !existsSync(bin) || statSync(bin).mtimeMs < newestMtime(join(ROOT, 'src'));
  if (!stale) return bin;
  log(`  building dist/ (${existsSync(bin) ? 'older than src/' : 'missing'}): tsc, then the bundle`);
  // tsc writes its JavaScript even when another file fails to typecheck: bundle in either case.
  const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
  if (tsc.status !== 0) log(`  tsc reported errors (measuring what it wrote):\n${`${tsc.stdout ?? ''}${tsc.stderr ?? ''}`.trim()}`);
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs')], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) {
    const why = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim() || String(r.error ?? `exit ${r.status}`);
    if (!existsSync(bin)) throw new Error(`build failed:\n${why}`);
    log(`  build failed; measuring the existing dist/ instead:\n${why}`);
  }
  return bin;
}

/** A server for the benches to probe, run in a child process (its CPU is not counted): 200 and a small JSON body to every request. */
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
