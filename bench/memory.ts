// Memory: peak RSS of `gonogo check` on a 1,000-item checklist of `http` checks against a server (in
// a child process) that answers at once. The CLI runs in a child through a tiny wrapper that calls
// dist/cli/main.js's main() and then reports process.resourceUsage().maxRSS; bare `node -e 0` is
// measured the same way and printed beside it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OK_SERVER, ROOT, ensureBuilt, fixed, log, ms, startChildServer } from './lib.js';
import type { BenchResult } from './lib.js';

const ITEMS = 1000;
const FLOOR_MB = 200;
const TIERS = ['critical', 'high', 'high', 'recommended', 'recommended'] as const;
const MARK = 'GONOGO_BENCH_MAXRSS_KIB=';


const WRAPPER = `
const { main } = await import(process.env.GONOGO_BENCH_MAIN);
const code = await main(process.argv.slice(2));
process.stderr.write('\\n${MARK}' + process.resourceUsage().maxRSS + '\\n');
process.exitCode = code;
`;

const BARE = `process.stderr.write('\\n${MARK}' + process.resourceUsage().maxRSS + '\\n');`;

function config(url: string): string {
  const lines = ['version: 1', 'name: memory-bench', 'environments:', `  bench: { url: "${url}" }`, 'defaults: { timeout: 10s, concurrency: 32, perHost: 32 }', 'items:'];
  for (let i = 0; i < ITEMS; i++) {
    const id = `MEM-${String(i).padStart(4, '0')}`;
    lines.push(
      `  - id: ${id}`,
      `    title: Endpoint ${i} answers ok`,
      `    tier: ${TIERS[i % TIERS.length]}`,
      `    category: bench-${i % 10}`,
      '    check:',
      '      kind: http',
      `      url: "{{env.url}}/item/${i}"`,
      `      expect: ['status == 200', 'body.status == "ok"']`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function maxRssKiB(stderr: string, what: string): number {
  const line = stderr.split('\n').find((l) => l.startsWith(MARK));
  const kib = line ? Number(line.slice(MARK.length)) : NaN;
  if (!Number.isFinite(kib) || kib <= 0) throw new Error(`${what}: no peak RSS reported; stderr:\n${stderr}`);
  return kib;
}

const mb = (kib: number): string => `${fixed(kib / 1024, 1)} MB`;

export default async function memory(): Promise<BenchResult> {
  log(`memory: gonogo check on ${ITEMS} http items (concurrency 32), peak RSS (1 MB = 1024 KiB)`);
  ensureBuilt();
  const mainJs = join(ROOT, 'dist', 'cli', 'main.js');
  if (!existsSync(mainJs)) throw new Error(`${mainJs} is missing after the build`);
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bench-mem-'));
  const server = await startChildServer(OK_SERVER);
  try {
    const file = join(dir, 'gonogo.yaml');
    writeFileSync(file, config(server.url));
    const wrapper = join(dir, 'wrapper.mjs');
    writeFileSync(wrapper, WRAPPER);
    const out = join(dir, 'out.json');
    const args = [wrapper, 'check', '--quiet', '--config', file, '--store', join(dir, 'gonogo.db'), '--format', 'json', '--out', out];
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, {
      cwd: dir,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, CI: '1', GONOGO_BENCH_MAIN: pathToFileURL(mainJs).href },
    });
    const wall = performance.now() - t0;
    if (r.status !== 0) throw new Error(`gonogo check exited ${r.status ?? r.signal} (expected 0, GO)\n${r.stdout}\n${r.stderr}`);
    const cliKiB = maxRssKiB(r.stderr, 'gonogo check');
    const report = JSON.parse(readFileSync(out, 'utf8')) as { decision: string; items: { status: string }[] };
    const passed = report.items.filter((i) => i.status === 'pass').length;
    if (report.items.length !== ITEMS || passed !== ITEMS) throw new Error(`${passed} of ${ITEMS} items passed (${report.items.length} in the report)`);
    if (report.decision !== 'GO') throw new Error(`decision ${report.decision}, expected GO`);

    const b = spawnSync(process.execPath, ['-e', BARE], { encoding: 'utf8', timeout: 30_000 });
    if (b.status !== 0) throw new Error(`node -e exited ${b.status ?? b.signal}: ${b.stderr}`);
    const bareKiB = maxRssKiB(b.stderr, 'node -e 0');

    const ratio = cliKiB / 1024 / FLOOR_MB;
    log(`  gonogo check: ${ms(wall)}, decision ${report.decision}, ${passed}/${ITEMS} passed, peak RSS ${mb(cliKiB)}`);
    log(`  bare node -e 0: peak RSS ${mb(bareKiB)} (gonogo's own: ${mb(cliKiB - bareKiB)} above it)`);
    log(`  ratio to the ${FLOOR_MB} MB floor: ${fixed(ratio)} (floor <= 1.00)`);
    return {
      name: 'memory (1,000 items)',
      figure: `${mb(cliKiB)} peak RSS`,
      reference: `floor ${FLOOR_MB} MB; bare node ${mb(bareKiB)}`,
      ratio,
      floor: `<= 1.00 (${FLOOR_MB} MB)`,
      ok: ratio <= 1,
    };
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await memory());
}
