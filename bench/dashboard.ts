// The dashboard (`gonogo serve`), two figures (`load` and `quick`: give one as an argument to run it alone):
// - first page load: the quick reference in Debian's Chromium, navigation to load event, each load in
//   a fresh browser context (no cache, signed in by its session cookie), median of LOADS; beside it the
//   same bytes (page, app.css, app.js, icon) from a bare node:http server, interleaved. Floor: < 1 s.
// - the quick reference with STORE_RUNS runs and STORE_RUNS x ITEMS results in the store: its API
//   (/api/v1/gates/G/state, a CI token) and its page (a session cookie), REQUESTS sequential requests
//   each from a local client in this process to the dashboard in a child process, p50/p95; SQLite and
//   PostgreSQL side by side, each beside the same server's /healthz (what any answer costs), the
//   three interleaved. Floor: p95 < 50 ms.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Agent, request } from 'undici';
import { addUser, createToken } from '../src/auth/accounts.js';
import { loadConfig } from '../src/config/load.js';
import { authorityOf } from '../src/engine/authority.js';
import { openStore } from '../src/store/index.js';
import { copyStore } from '../src/store/copy.js';
import { postgresBinDir, startCluster } from '../src/test-support/postgres.js';
import type { PgCluster } from '../src/test-support/postgres.js';
import { systemClock } from '../src/util/clock.js';
import { buildFixture } from './audit-fixture.js';
import { fixed, log, median, ms, ROOT } from './lib.js';
import type { BenchResult } from './lib.js';

const CHROMIUM = '/usr/bin/chromium';
const LAUNCH_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--disable-sync', '--no-first-run'];
const LOADS = 10;
const LOAD_FLOOR_MS = 1000;
const STORE_RUNS = 10_000;
const ITEMS = 50;
const PER_RELEASE = 100;
const REQUESTS = 1000;
const WARMUP = 20;
const P95_FLOOR_MS = 50;
const GATE = 'bench';
const PASSWORD = 'bench-password-0123';
/** Set in the child that serves the dashboard: what it serves. */
const CHILD_ENV = 'GONOGO_BENCH_DASHBOARD_CHILD';

const config = (): string =>
  [
    'version: 1',
    `name: ${GATE}`,
    'environments:',
    '  staging:',
    '    url: http://127.0.0.1:9',
    'roles: { release-manager: [decision, stage, waive, revoke, rollback] }',
    'stages:',
    '  staging:',
    `    - { id: all, title: Everything, budget: 1h, items: [${Array.from({ length: ITEMS }, (_, i) => `ITEM-${String(i).padStart(2, '0')}`).join(', ')}] }`,
    'items:',
    ...Array.from({ length: ITEMS }, (_, i) => {
      const id = `ITEM-${String(i).padStart(2, '0')}`;
      return `  - { id: ${id}, title: Item ${i}, tier: ${i < 25 ? 'critical' : i < 43 ? 'high' : 'recommended'}, category: c${i % 5}, phase: p${i % 4}, owner: team-${i % 3}, estimate: { optimistic: 1, likely: 2, pessimistic: 4 }, check: { kind: env, required: [HOME] } }`;
    }),
    '',
  ].join('\n');

/** A folder with the config and a store of `runs` runs; a person (password) and a CI token for the dashboard. */
async function prepare(runs: number): Promise<{ dir: string; configFile: string; storeFile: string; token: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bench-dashboard-'));
  const configFile = join(dir, 'gonogo.yaml');
  writeFileSync(configFile, config());
  const storeFile = join(dir, 'gonogo.db');
  await buildFixture(storeFile, { gate: GATE, release: 'r', runsPerRelease: PER_RELEASE, runs, items: ITEMS });
  const loaded = await loadConfig(configFile);
  const store = await openStore(storeFile);
  try {
    const { roles, people } = authorityOf(loaded.config);
    await addUser(store, systemClock, { roles, ...(people ? { people } : {}), gate: GATE, name: 'erin', role: 'release-manager', password: PASSWORD });
    const { token } = await createToken(store, systemClock, { roles: loaded.config.roles, gate: GATE, name: 'bench-ci', role: 'release-manager' });
    return { dir, configFile, storeFile, token };
  } finally {
    await store.close();
  }
}

// --- the dashboard in a child process ------------------------------------------------------------

interface Child {
  url: string;
  stop(): Promise<void>;
}

/** `gonogo serve` as a library call in a child process (so the client's work here is not the server's). */
async function startChild(configFile: string, store: string): Promise<Child> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    cwd: ROOT,
    env: { ...process.env, [CHILD_ENV]: JSON.stringify({ configFile, store }) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the dashboard child did not start within 60 s')), 60_000);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (line) => {
      clearTimeout(timer);
      if (/^http:\/\/127\.0\.0\.1:\d+$/.test(line.trim())) resolve(line.trim());
      else reject(new Error(`the dashboard child printed ${JSON.stringify(line)}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the dashboard child exited (${signal ?? code}) before listening`));
    });
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.stdin?.end();
      }),
  };
}

/** In the child: serve the dashboard until stdin closes. */
async function serveChild(spec: { configFile: string; store: string }): Promise<void> {
  const { startDashboard } = await import('../src/serve/server.js');
  const loaded = await loadConfig(spec.configFile);
  const store = await openStore(spec.store);
  const running = await startDashboard({ loaded, store, release: { id: 'r-0', source: 'option' }, host: '127.0.0.1', port: 0 });
  process.stdout.write(`${running.url}\n`);
  process.stdin.resume();
  process.stdin.on('end', async () => {
    await running.close();
    await store.close();
    process.exit(0);
  });
}

// --- a local client ------------------------------------------------------------------------------

/** Signs in as the bench's person: the session cookie (name=value). */
async function signIn(url: string, agent: Agent): Promise<string> {
  const r = await request(`${url}/login`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json', accept: 'application/json', origin: url }, body: JSON.stringify({ name: 'erin', password: PASSWORD }) });
  await r.body.text();
  const cookie = [r.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith('gonogo_session='));
  if (r.statusCode !== 200 || !cookie) throw new Error(`sign-in answered ${r.statusCode}`);
  return cookie.split(';')[0];
}

/** One GET, timed to the end of its body; anything but 200 breaks the benchmark. */
async function timedGet(url: string, agent: Agent, headers: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const r = await request(url, { dispatcher: agent, headers });
  const body = await r.body.text();
  const took = performance.now() - t0;
  if (r.statusCode !== 200) throw new Error(`GET ${url} answered ${r.statusCode}: ${body.slice(0, 200)}`);
  return took;
}

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

interface Series {
  name: string;
  url: string;
  headers: Record<string, string>;
  times: number[];
}

/** The series interleaved request by request (so that machine noise falls on all alike), WARMUP first, then REQUESTS each. */
async function measure(series: Series[], agent: Agent): Promise<void> {
  for (let i = 0; i < WARMUP; i++) for (const s of series) await timedGet(s.url, agent, s.headers);
  for (let i = 0; i < REQUESTS; i++) for (const s of series) s.times.push(await timedGet(s.url, agent, s.headers));
}

// --- the figures ------------------------------------------------------------------------------

/** The quick reference's API and page with 10,000 runs and 500,000 results, SQLite and PostgreSQL. */
export async function dashboardQuickReference(): Promise<BenchResult> {
  log(`dashboard quick reference: ${STORE_RUNS} runs x ${ITEMS} results (${STORE_RUNS * ITEMS} results) in releases of ${PER_RELEASE}; API and page, ${REQUESTS} sequential requests each, beside /healthz`);
  const t0 = performance.now();
  const fx = await prepare(STORE_RUNS);
  log(`  fixture built in ${fixed((performance.now() - t0) / 1000, 1)} s`);
  let cluster: PgCluster | undefined;
  const stores: { name: string; location: string }[] = [{ name: 'SQLite', location: fx.storeFile }];
  try {
    if (postgresBinDir() !== undefined) {
      cluster = await startCluster();
      const url = await cluster.createDatabase('bench_dashboard');
      const t1 = performance.now();
      await copyStore(fx.storeFile, url);
      log(`  copied to PostgreSQL in ${fixed((performance.now() - t1) / 1000, 1)} s`);
      stores.push({ name: 'PostgreSQL', location: url });
    } else {
      log('  PostgreSQL not installed (apt-get install postgresql): SQLite only');
    }
    const rows: { name: string; p50: number; p95: number }[] = [];
    for (const s of stores) {
      const child = await startChild(fx.configFile, s.location);
      const agent = new Agent({ connections: 1, pipelining: 1 });
      try {
        const cookie = await signIn(child.url, agent);
        const series: Series[] = [
          { name: `${s.name} API`, url: `${child.url}/api/v1/gates/${GATE}/state`, headers: { authorization: `Bearer ${fx.token}`, accept: 'application/json' }, times: [] },
          { name: `${s.name} page`, url: `${child.url}/gates/${GATE}`, headers: { cookie, accept: 'text/html' }, times: [] },
          { name: `${s.name} /healthz`, url: `${child.url}/healthz`, headers: {}, times: [] },
        ];
        await measure(series, agent);
        for (const x of series) {
          const row = { name: x.name, p50: percentile(x.times, 50), p95: percentile(x.times, 95) };
          rows.push(row);
          log(`  ${row.name.padEnd(20)} p50 ${fixed(row.p50, 1).padStart(6)} ms  p95 ${fixed(row.p95, 1).padStart(6)} ms  max ${fixed(Math.max(...x.times), 1)} ms`);
        }
      } finally {
        await agent.close();
        await child.stop();
      }
    }
    const measured = rows.filter((r) => !r.name.endsWith('/healthz'));
    const worst = measured.reduce((a, r) => (r.p95 > a.p95 ? r : a));
    const health = rows.find((r) => r.name === worst.name.replace(/ (API|page)$/, ' /healthz'));
    return {
      name: 'dashboard quick reference (10,000 runs)',
      figure: measured.map((r) => `${r.name} p50 ${fixed(r.p50, 1)} / p95 ${fixed(r.p95, 1)} ms`).join(', '),
      reference: `${health?.name ?? '/healthz'} p95 ${fixed(health?.p95 ?? Number.NaN, 1)} ms`,
      ratio: health ? worst.p95 / health.p95 : Number.NaN,
      floor: `p95 < ${P95_FLOOR_MS} ms`,
      ok: measured.every((r) => r.p95 < P95_FLOOR_MS),
    };
  } finally {
    cluster?.stop();
    rmSync(fx.dir, { recursive: true, force: true });
  }
}

/** The same bytes as the dashboard served them, from a bare node:http server: what a page of this size costs to load at all. */
async function staticCopy(files: Map<string, { type: string; body: Buffer }>): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const f = files.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (!f) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': f.type, 'cache-control': 'no-store' }).end(f.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The quick reference's first load in Chromium (navigation to load event), median of LOADS, beside a static copy. */
export async function dashboardPageLoad(): Promise<BenchResult> {
  log(`dashboard first page load: the quick reference in ${CHROMIUM}, a fresh context each load, median of ${LOADS}, beside the same bytes served static`);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium`);
  const { chromium } = await import('playwright-core');
  const fx = await prepare(PER_RELEASE);
  const child = await startChild(fx.configFile, fx.storeFile);
  const agent = new Agent({ connections: 1 });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
  let copy: { url: string; close(): Promise<void> } | undefined;
  try {
    const cookie = await signIn(child.url, agent);
    const [name, value] = [cookie.slice(0, cookie.indexOf('=')), cookie.slice(cookie.indexOf('=') + 1)];
    const files = new Map<string, { type: string; body: Buffer }>();
    const page = `/gates/${GATE}`;
    for (const path of [page, '/assets/app.css', '/assets/app.js', '/assets/icon.svg']) {
      const r = await request(`${child.url}${path}`, { dispatcher: agent, headers: { cookie } });
      files.set(path, { type: String(r.headers['content-type']), body: Buffer.from(await r.body.arrayBuffer()) });
    }
    copy = await staticCopy(files);
    log(`  the page: ${files.get(page)?.body.length ?? 0} bytes of HTML`);
    const load = async (base: string, withCookie: boolean): Promise<number> => {
      const context = await browser.newContext();
      if (withCookie) await context.addCookies([{ name, value, url: base }]);
      const tab = await context.newPage();
      await tab.goto(`${base}${page}`, { waitUntil: 'load' });
      const loaded = await tab.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).loadEventEnd);
      const title = await tab.title();
      await context.close();
      if (!/Quick reference/.test(title)) throw new Error(`the page loaded is "${title}", not the quick reference`);
      return loaded;
    };
    const dash: number[] = [];
    const bare: number[] = [];
    await load(child.url, true);
    await load(copy.url, false);
    for (let i = 0; i < LOADS; i++) {
      if (i % 2 === 0) {
        dash.push(await load(child.url, true));
        bare.push(await load(copy.url, false));
      } else {
        bare.push(await load(copy.url, false));
        dash.push(await load(child.url, true));
      }
    }
    const d = median(dash);
    const b = median(bare);
    log(`  dashboard: median ${ms(d)} (range ${ms(Math.min(...dash))}-${ms(Math.max(...dash))}); static copy: median ${ms(b)} (range ${ms(Math.min(...bare))}-${ms(Math.max(...bare))})`);
    return { name: 'dashboard first page load', figure: ms(d), reference: `static copy ${ms(b)}`, ratio: d / b, floor: `< ${LOAD_FLOOR_MS} ms`, ok: d < LOAD_FLOOR_MS };
  } finally {
    await browser.close();
    await copy?.close();
    await agent.close();
    await child.stop();
    rmSync(fx.dir, { recursive: true, force: true });
  }
}

const childSpec = process.env[CHILD_ENV];
if (childSpec !== undefined) {
  await serveChild(JSON.parse(childSpec) as { configFile: string; store: string });
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  // `node --import tsx bench/dashboard.ts [load|quick]`: one figure, or both.
  const only = process.argv[2];
  if (only !== undefined && only !== 'load' && only !== 'quick') throw new Error(`bench/dashboard.ts [load|quick]: unknown figure "${only}"`);
  if (only !== 'quick') console.log(await dashboardPageLoad());
  if (only !== 'load') console.log(await dashboardQuickReference());
}
