// Regex guard (hardening issue, item 6): the hostile patterns of the issue against hostile bodies,
// through the real engine (`runChecks`), every item with `timeout: 2s`, all at once. A match runs
// synchronously, where the engine's timeout cannot interrupt it, so on a backtracking engine one
// item held the event loop for a minute and starved the rest. The figure is the slowest item's
// duration against its timeout + 100 ms; the longest stall of the event loop is printed beside it.
//
//   http `text matches`: (a+)+$, (a|aa)+$, (.*a){12}$ on 1 MB of "a" then "!", ^(\w+\s?)*$ on 1 MB of words
//   error-handling: 240 KB near-misses for the leak detectors (the issue's 12 s body)
//   headers, debug-endpoints: a page of unclosed <meta and <script tags (200 KB), and 64 KiB of
//   them for every other path (the debug probe asks for ~80; what it reads of each is 64 KiB)
//
// One warm-up run first (module loading and JIT would otherwise be counted against the first items).
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseConfig } from '../src/config/load.js';
import { runChecks } from '../src/engine/run.js';
import { systemClock } from '../src/util/clock.js';
import { fixed, log, ms, startChildServer } from './lib.js';
import type { BenchResult } from './lib.js';

const TIMEOUT_MS = 2000;
const SLACK_MS = 100;

// Bodies are built once in the child. Leak near-misses are 240 KB: the probes read at most 256 KiB.
const SERVER = `
const http = require('node:http');
const fill = (unit, size) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
const bodies = {
  '/a': 'a'.repeat(1000000) + '!',
  '/words': fill('word ', 1000000) + '!',
  '/leak/secret-names': fill('TOKEN', 240000),
  '/leak/php': fill('Warning: in /', 240000),
  '/leak/node': 'at ' + 'a'.repeat(240000),
  '/leak/sql': fill('SELECT ', 240000),
  '/leak/url': fill('http://a:', 240000),
  '/leak/password': fill('password=a', 240000),
  '/': fill('<meta <script ', 200000),
};
const catchAll = fill('<script ', 65536);
const server = http.createServer((req, res) => {
  req.resume();
  const path = req.url.split('?')[0];
  const body = bodies[path] ?? catchAll;
  res.writeHead(path.startsWith('/leak/') ? 500 : 200, { 'content-type': path === '/a' || path === '/words' ? 'text/plain' : 'text/html' });
  res.end(body);
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

const CONFIG = (url: string): string => `version: 1
environments:
  bench: { url: ${url} }
items:
  - { id: MATCH-NESTED, title: '(a+)+$ on 1 MB', tier: high, check: { kind: http, url: '{{env.url}}/a', timeout: 2s, expect: ['text matches "(a+)+$"'] } }
  - { id: MATCH-ALTERNATION, title: '(a|aa)+$ on 1 MB', tier: high, check: { kind: http, url: '{{env.url}}/a', timeout: 2s, expect: ['text matches "(a|aa)+$"'] } }
  - { id: MATCH-STARS, title: '(.*a){12}$ on 1 MB', tier: high, check: { kind: http, url: '{{env.url}}/a', timeout: 2s, expect: ['text matches "(.*a){12}$"'] } }
  - { id: MATCH-WORDS, title: '^(\\\\w+\\\\s?)*$ on 1 MB', tier: high, check: { kind: http, url: '{{env.url}}/words', timeout: 2s, expect: ['text matches "^(\\\\w+\\\\s?)*$"'] } }
  - id: LEAKS
    title: leak detectors on 240 KB near-misses
    tier: high
    check: { kind: error-handling, timeout: 2s, paths: [/leak/secret-names, /leak/php, /leak/node, /leak/sql, /leak/url, /leak/password] }
  - { id: HEADERS, title: a page of unclosed meta tags, tier: high, check: { kind: headers, timeout: 2s } }
  - { id: DEBUG, title: unclosed script tags everywhere, tier: high, check: { kind: debug-endpoints, timeout: 2s } }
`;

export default async function regexGuard(): Promise<BenchResult> {
  log(`regex guard: hostile patterns and bodies through runChecks, timeout ${TIMEOUT_MS} ms each, all items at once`);
  const server = await startChildServer(SERVER);
  try {
    const loaded = parseConfig(CONFIG(server.url), 'regex-guard.yaml');
    const items = loaded.config.items;
    const once = () =>
      runChecks(items, loaded.conditions, {
        env: { name: 'bench', url: server.url, vars: { url: server.url } },
        configDir: tmpdir(),
        clock: systemClock,
        concurrency: items.length,
        perHost: items.length,
        defaultTimeoutMs: TIMEOUT_MS,
      });
    const warm = await once();
    log(`  warm-up: slowest item ${ms(Math.max(...warm.map((r) => r.durationMs)))}`);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const t0 = performance.now();
    const results = await once();
    const wall = performance.now() - t0;
    delay.disable();
    const stallMs = delay.max / 1e6;
    for (const r of results) log(`  ${r.id.padEnd(18)} ${ms(r.durationMs).padStart(8)}  ${r.status.padEnd(5)} ${r.message.slice(0, 90)}`);
    const errors = results.filter((r) => r.status === 'error');
    if (errors.length > 0) throw new Error(`${errors.map((r) => `${r.id}: ${r.message}`).join('; ')}`);
    const slowest = results.reduce((a, b) => (b.durationMs > a.durationMs ? b : a));
    const limit = TIMEOUT_MS + SLACK_MS;
    const ratio = slowest.durationMs / limit;
    log(`  all ${results.length} items in ${ms(wall)}; longest event-loop stall ${ms(stallMs)}; slowest ${slowest.id} ${ms(slowest.durationMs)} vs ${ms(limit)}: ratio ${fixed(ratio)}`);
    return {
      name: 'regex guard',
      figure: `${ms(slowest.durationMs)} (slowest item, ${slowest.id})`,
      reference: `timeout + ${SLACK_MS} ms = ${ms(limit)}`,
      ratio,
      floor: '<= 1.00',
      ok: ratio <= 1,
    };
  } finally {
    await server.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await regexGuard());
}
