// A throwaway Prometheus for tests, from Debian's `prometheus` package: the server on a free
// loopback port (its web listener is the only socket it opens), its TSDB in a temp folder, a config
// scraping the given loopback targets every second, everything removed at the end. One per test
// file (it is ready in about a third of a second; what costs is waiting for scrapes).
//
// Real time cannot be avoided here: Prometheus scrapes on its own wall clock, so a test waits for a
// scrape to happen. Every wait is a bounded number of polls under a bounded deadline, and waits for
// the thing itself (the target scraped after a moment, a query's answer), never for a fixed time.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { httpRequest } from '../util/http.js';
import { queryInstant } from '../util/prometheus.js';
import type { InstantSeries } from '../util/prometheus.js';
import { freePort } from './server.js';

/** A running throwaway Prometheus. */
export interface TestPrometheus {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  port: number;
  /** The version line, e.g. "prometheus, version 2.42.0+ds (...)". */
  version: string;
  /** Milliseconds from spawn to `/-/ready` answering 200. */
  startedInMs: number;
  /** Resolves once `job` has been scraped successfully by a scrape that began after `afterMs` (epoch ms; default now). */
  waitForScrape(job: string, afterMs?: number): Promise<void>;
  /** Polls an instant query until `done(series)` holds; resolves with that answer. */
  waitFor(promql: string, done: (series: InstantSeries[]) => boolean): Promise<InstantSeries[]>;
  /** What it logged so far (warnings and errors only), for a failing test's message. */
  log(): string;
  /** Stops the server (SIGTERM, SIGKILL if it lingers) and removes its folder. */
  stop(): Promise<void>;
}

const PROGRAM = 'prometheus';
const DEBIAN_PATH = '/usr/bin/prometheus';
/** Polls: every 100 ms, at most 200 times (20 s: a 1 s scrape interval leaves a wide margin on a loaded machine). */
const POLL_MS = 100;
const MAX_POLLS = 200;

/** Where the prometheus program is, or undefined. */
export function prometheusBinary(): string | undefined {
  const onPath = spawnSync('sh', ['-c', `command -v ${PROGRAM}`], { encoding: 'utf8' });
  if (onPath.status === 0 && onPath.stdout.trim() !== '') return onPath.stdout.trim();
  return spawnSync(DEBIAN_PATH, ['--version'], { encoding: 'utf8' }).status === 0 ? DEBIAN_PATH : undefined;
}

/**
 * Whether Prometheus can be started here; skips the test with what to install otherwise, and under
 * GONOGO_REQUIRE_ALL=1 (CI) fails it instead.
 */
export function requirePrometheus(t: TestContext): boolean {
  if (prometheusBinary() !== undefined) return true;
  const message = 'Prometheus is not installed (apt-get install prometheus: /usr/bin/prometheus)';
  if (process.env.GONOGO_REQUIRE_ALL === '1') throw new Error(`${message}; GONOGO_REQUIRE_ALL=1 makes this a failure`);
  t.skip(message);
  return false;
}

/** The config: one job per target, each scraped every second. Targets must be loopback URLs. */
function configFor(targets: Readonly<Record<string, string>>): string {
  const jobs = Object.entries(targets).map(([job, url]) => {
    const u = new URL(url);
    if (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost' && u.hostname !== '[::1]') throw new Error(`test Prometheus scrapes loopback only, not ${u.host}`);
    const path = u.pathname === '/' ? '/metrics' : u.pathname;
    return `  - job_name: ${JSON.stringify(job)}\n    metrics_path: ${JSON.stringify(path)}\n    static_configs:\n      - targets: [${JSON.stringify(u.host)}]\n`;
  });
  return `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n${jobs.join('') || '  []\n'}`;
}

/** Starts Prometheus scraping `targets` (job name -> URL of its metrics, `/metrics` when the path is `/`); the caller stops it in `after`. */
export async function startPrometheus(targets: Readonly<Record<string, string>> = {}): Promise<TestPrometheus> {
  const binary = prometheusBinary();
  if (binary === undefined) throw new Error('Prometheus is not installed (apt-get install prometheus): call requirePrometheus first');
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, configFor(targets));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';
  const started = performance.now();
  const child = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const log: Buffer[] = [];
  child.stderr?.on('data', (c: Buffer) => log.push(c));
  // A test process that dies without `after` must not leave a server behind.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      process.off('exit', killOnExit);
      await ended(child);
      rmSync(dir, { recursive: true, force: true });
    })());
  try {
    await untilReady(url, child, log);
  } catch (err) {
    await stop();
    throw err;
  }
  const startedInMs = Math.round(performance.now() - started);

  return {
    url,
    port,
    version,
    startedInMs,
    async waitForScrape(job, afterMs = Date.now()) {
      for (let i = 0; i < MAX_POLLS; i++) {
        if (await scrapedAfter(url, job, afterMs)) return;
        await delay(POLL_MS);
      }
      throw new Error(`Prometheus never scraped job ${job} successfully after ${new Date(afterMs).toISOString()} (${MAX_POLLS} polls)`);
    },
    async waitFor(promql, done) {
      let last = 'no answer yet';
      for (let i = 0; i < MAX_POLLS; i++) {
        try {
          const { series } = await queryInstant({ url }, promql, { timeoutMs: 5000 });
          if (done(series)) return series;
          last = JSON.stringify(series).slice(0, 300);
        } catch (err) {
          last = err instanceof Error ? err.message : String(err);
        }
        await delay(POLL_MS);
      }
      throw new Error(`${promql}: never as expected after ${MAX_POLLS} polls; last answer: ${last}`);
    },
    log: () => Buffer.concat(log).toString(),
    stop,
  };
}

/** Polls `/-/ready` until it answers 200, the child dies, or the polls run out. */
async function untilReady(url: string, child: ChildProcess, log: Buffer[]): Promise<void> {
  for (let i = 0; i < MAX_POLLS; i++) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`prometheus exited (${child.exitCode ?? child.signalCode}) before it was ready: ${Buffer.concat(log).toString().slice(-2000)}`);
    }
    try {
      const res = await httpRequest({ url: `${url}/-/ready`, signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await delay(i < 20 ? 20 : POLL_MS);
  }
  throw new Error(`prometheus at ${url} was not ready after ${MAX_POLLS} polls: ${Buffer.concat(log).toString().slice(-2000)}`);
}

interface ActiveTarget {
  labels?: Record<string, string>;
  health?: string;
  lastScrape?: string;
}

/** Whether `/api/v1/targets` shows `job` up, last scraped by a scrape that began after `afterMs`. */
async function scrapedAfter(url: string, job: string, afterMs: number): Promise<boolean> {
  try {
    const res = await httpRequest({ url: `${url}/api/v1/targets?state=active`, signal: AbortSignal.timeout(2000) });
    const body: { data?: { activeTargets?: ActiveTarget[] } } = JSON.parse(res.body);
    const target = body.data?.activeTargets?.find((t) => t.labels?.job === job);
    return target?.health === 'up' && target.lastScrape !== undefined && Date.parse(target.lastScrape) > afterMs;
  } catch {
    return false;
  }
}

/** SIGTERM, and SIGKILL if the process is still there 5 s later; resolves once it has exited. */
function ended(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Sends `count` GETs to `url`, one after another (at most 1,000); resolves with their statuses. */
export async function sendRequests(url: string, count: number): Promise<number[]> {
  if (count > 1000) throw new Error(`at most 1000 requests, not ${count}`);
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) statuses.push((await httpRequest({ url, signal: AbortSignal.timeout(5000) })).status);
  return statuses;
}

/**
 * The share of 5xx answers among the recipes app's answers on `route` over the last minute, as a
 * gate asks it. `or vector(0)`: an app that never answered 5xx has no such series, and its rate is
 * then 0, not no data.
 */
export function errorRateQuery(job: string, route = '/'): string {
  const sel = `job=${JSON.stringify(job)}, route=${JSON.stringify(route)}`;
  return `(sum(rate(http_requests_total{${sel}, status=~"5.."}[1m])) or vector(0)) / sum(rate(http_requests_total{${sel}}[1m]))`;
}

/**
 * Two rounds of `count` GETs to the recipes app's `route`, a scrape between them, and resolves once
 * Prometheus holds the second: a rate needs two samples of a series, and a series (the first 5xx)
 * exists only from the scrape after its first request. Assumes nothing else requests that route.
 */
export async function scrapedTraffic(prom: TestPrometheus, app: { job: string; url: string }, count: number, route = '/'): Promise<void> {
  const total = `sum(http_requests_total{job=${JSON.stringify(app.job)}, route=${JSON.stringify(route)}})`;
  for (const round of [1, 2]) {
    await sendRequests(`${app.url}${route}`, count);
    await prom.waitFor(total, (s) => (s[0]?.value[1] ?? 0) >= round * count);
  }
}
