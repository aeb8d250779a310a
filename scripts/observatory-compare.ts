// One-off comparison of gonogo's `headers` probe with the MDN HTTP Observatory (issue 3, "Figures
// for the closing note"). Not part of the test suite. Prints Markdown; docs/observatory-comparison.md
// holds a run of it with the explanation of every difference.
//
//   mkdir -p /tmp/obs && cd /tmp/obs && npm init -y >/dev/null \
//     && npm install --ignore-scripts @mdn/mdn-http-observatory \
//     && mkdir -p node_modules/@mdn/mdn-http-observatory/conf \
//     && echo '{}' > node_modules/@mdn/mdn-http-observatory/conf/hsts-preload.json
//   node --import tsx scripts/observatory-compare.ts        # OBSERVATORY_BIN=... to use another install
//
// Three parts, every target on 127.0.0.1 only:
//   A. the reference app in several configurations, scanned by both tools;
//   B. a fixture page per header value that the reference app does not serve (rule differences),
//      scanned by both tools the same way;
//   C. HSTS values on an HTTPS response, judged by both rule sets directly: neither tool can reach
//      an HTTPS loopback target with a trusted certificate, so this part calls the Observatory's
//      own test function and gonogo's own rule on the same header values.
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startApp } from '../examples/recipes-app/src/app.js';
import type { AppOptions } from '../examples/recipes-app/src/app.js';
import headers from '../src/checks/headers/index.js';
import cors from '../src/checks/cors/index.js';
import { DEFAULT_HSTS_MIN_AGE, analyzeHsts } from '../src/checks/headers/rules.js';
import { authSchema } from '../src/checks/_shared/auth.js';
import type { Finding } from '../src/checks/_shared/probe.js';
import { testContext } from '../src/test-support/context.js';

const BIN_NAME = 'mdn-http-observatory-scan';
const bin = process.env.OBSERVATORY_BIN ?? `/tmp/obs/node_modules/.bin/${BIN_NAME}`;
if (!existsSync(bin)) {
  console.error(
    `observatory CLI not found at ${bin}.\n` +
      'Install it outside the repo: mkdir -p /tmp/obs && cd /tmp/obs && npm init -y >/dev/null && ' +
      'npm install --ignore-scripts @mdn/mdn-http-observatory, then write {} to ' +
      'node_modules/@mdn/mdn-http-observatory/conf/hsts-preload.json; or set OBSERVATORY_BIN to its ' +
      `${BIN_NAME} (package.json "bin").`,
  );
  process.exit(2);
}
const binFile = realpathSync(bin); // .bin/<name> -> <package>/bin/wrapper.js
const observatoryRoot = dirname(dirname(binFile));
const preload = join(observatoryRoot, 'conf', 'hsts-preload.json');
if (!existsSync(preload)) {
  console.error(`${preload} is missing: write {} to it (the install step that downloads it was skipped on purpose).`);
  process.exit(2);
}

const auth = authSchema.parse({ login: { url: '/api/login' }, users: { alice: { username: 'alice', password: 'alice-password' } } });

// ---------------------------------------------------------------------------------------------
// Running the two tools

interface ObsTest {
  pass: boolean;
  result: string;
  scoreModifier: number;
  data?: unknown;
  [k: string]: unknown;
}
interface ObsScan {
  scan: { grade: string; score: number; testsPassed: number; testsQuantity: number };
  tests: Record<string, ObsTest>;
}

/** Runs the Observatory CLI on a loopback target; asynchronous, so an app in this process keeps answering. */
async function observatory(url: string): Promise<ObsScan> {
  const target = new URL(url);
  if (target.hostname !== '127.0.0.1') throw new Error(`refusing to scan ${target.host}: only 127.0.0.1 is scanned`);
  const child = spawn(process.execPath, [binFile, target.host], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  let parsed: (ObsScan & { error?: undefined }) | { error: string } | undefined;
  try {
    parsed = JSON.parse(out) as ObsScan | { error: string };
  } catch {
    parsed = undefined;
  }
  if (!parsed || parsed.error !== undefined || code !== 0) {
    throw new Error(`observatory on ${target.host} failed (exit ${code}): ${parsed?.error ?? out.slice(0, 500)} ${err.slice(0, 500)}`);
  }
  return parsed;
}

async function gonogoHeaders(url: string, loginAs?: string): Promise<Finding[]> {
  const out = await headers.run({ path: '/', ...(loginAs ? { loginAs } : {}) }, testContext({ url, auth }));
  return out.observations.findings as Finding[];
}

async function gonogoCors(url: string): Promise<Finding[]> {
  const out = await cors.run({ path: '/api/me', loginAs: 'alice' }, testContext({ url, auth }));
  return out.observations.findings as Finding[];
}

// ---------------------------------------------------------------------------------------------
// One row per concern: the Observatory test and the gonogo findings for the same thing

interface Concern {
  label: string;
  /** The Observatory's test name; null when it has none for this concern. */
  test: string | null;
  /** The gonogo `headers` findings that belong here; null when the headers probe does not judge it. */
  match: ((id: string) => boolean) | null;
}

const CONCERNS: Concern[] = [
  { label: 'CSP', test: 'content-security-policy', match: (id) => id.startsWith('csp.') && id !== 'csp.frame-ancestors' },
  { label: 'Cookies', test: 'cookies', match: (id) => id.startsWith('cookie.') },
  { label: 'CORS', test: 'cross-origin-resource-sharing', match: null },
  { label: 'http->https redirect', test: 'redirection', match: null },
  { label: 'Referrer-Policy', test: 'referrer-policy', match: (id) => id.startsWith('referrer.') },
  { label: 'HSTS', test: 'strict-transport-security', match: (id) => id.startsWith('hsts.') },
  { label: 'SRI', test: 'subresource-integrity', match: null },
  { label: 'X-Content-Type-Options', test: 'x-content-type-options', match: (id) => id.startsWith('nosniff.') },
  { label: 'Framing (XFO / frame-ancestors)', test: 'x-frame-options', match: (id) => id.startsWith('frame.') || id === 'csp.frame-ancestors' },
  { label: 'CORP', test: 'cross-origin-resource-policy', match: null },
  { label: 'Permissions-Policy', test: null, match: (id) => id.startsWith('permissions.') },
  { label: 'Version leaks', test: null, match: (id) => id.startsWith('leak.') },
  { label: 'Other', test: null, match: (id) => id === 'document-rules.skipped' },
];

const failing = (fs: readonly Finding[]): boolean => fs.some((f) => f.severity === 'high' || f.severity === 'medium');
/** `id` (severity), once per id with a count when a probe reports it for several inputs. */
function list(fs: readonly Finding[]): string {
  if (fs.length === 0) return '—';
  const seen = new Map<string, { severity: string; n: number }>();
  for (const f of fs) {
    const e = seen.get(f.id);
    if (e) e.n += 1;
    else seen.set(f.id, { severity: f.severity, n: 1 });
  }
  return [...seen].map(([id, e]) => `\`${id}\` (${e.severity}${e.n > 1 ? ` ×${e.n}` : ''})`).join(', ');
}
const verdict = (fs: readonly Finding[]): string => (failing(fs) ? '**FAIL**' : 'pass');
const obsVerdict = (t: ObsTest): string => (t.pass ? 'pass' : '**FAIL**');
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

interface Row {
  label: string;
  obs: string;
  gonogo: string;
  agree: string;
}

function rows(scan: ObsScan, findings: Finding[], extra: Partial<Record<string, { findings: Finding[]; label: string }>> = {}): Row[] {
  const out: Row[] = [];
  for (const c of CONCERNS) {
    const t = c.test ? scan.tests[c.test] : undefined;
    const mine = c.match ? findings.filter((f) => c.match!(f.id)) : undefined;
    if (!t && (!mine || mine.length === 0) && c.label === 'Other') continue;
    const obs = t ? `${c.test}: ${obsVerdict(t)}, ${t.scoreModifier > 0 ? '+' : ''}${t.scoreModifier}, \`${t.result}\`` : 'no test';
    let gonogo: string;
    let agree: string;
    const side = extra[c.label];
    if (mine) {
      gonogo = `${verdict(mine)}: ${list(mine)}`;
      agree = !t ? 'gonogo only' : t.pass === !failing(mine) ? 'same verdict' : '**differs**';
    } else if (side) {
      gonogo = `headers: not judged; ${side.label}: ${verdict(side.findings)}: ${list(side.findings)}`;
      agree = !t ? '—' : t.pass === !failing(side.findings) ? `same verdict (${side.label})` : `**differs** (${side.label})`;
    } else {
      gonogo = 'not judged';
      agree = t ? (t.pass ? 'Observatory only (pass)' : '**Observatory only (fail)**') : '—';
    }
    out.push({ label: c.label, obs: cell(obs), gonogo: cell(gonogo), agree });
  }
  return out;
}

function table(rs: Row[]): string {
  const head = '| concern | Observatory: test, pass, modifier, result | gonogo `headers` | verdicts |\n|---|---|---|---|';
  return [head, ...rs.map((r) => `| ${r.label} | ${r.obs} | ${r.gonogo} | ${r.agree} |`)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// A. The reference app

const CONFIGS: { name: string; options: AppOptions }[] = [
  { name: 'clean', options: {} },
  { name: 'headers', options: { defects: ['headers'] } },
  { name: 'weak-csp', options: { defects: ['weak-csp'] } },
  { name: 'insecure-cookie', options: { defects: ['insecure-cookie'] } },
  { name: 'spa', options: { spa: true } },
  { name: 'cors', options: { defects: ['cors'] } },
];

async function partA(): Promise<void> {
  console.log('## A. The reference app (examples/recipes-app), both tools live\n');
  console.log('gonogo: `headers` with `{ path: "/", loginAs: "alice" }` (as in the example gonogo.yaml); its cookie row is');
  console.log('also shown for the same probe without `loginAs` (anonymous `/`, the input the Observatory has). The CORS');
  console.log('row shows gonogo\'s separate `cors` kind (`{ path: "/api/me", loginAs: "alice" }`), since `headers` does not judge CORS.\n');
  for (const c of CONFIGS) {
    const app = await startApp({ ...c.options, loginLimit: 50 });
    try {
      const scan = await observatory(app.url);
      const withLogin = await gonogoHeaders(app.url, 'alice');
      const anonymous = await gonogoHeaders(app.url);
      const corsFindings = await gonogoCors(app.url);
      const anonCookies = anonymous.filter((f) => f.id.startsWith('cookie.'));
      console.log(`### ${c.name}\n`);
      console.log(
        `Observatory: grade ${scan.scan.grade}, score ${scan.scan.score}, ${scan.scan.testsPassed}/${scan.scan.testsQuantity} tests passed. ` +
          `gonogo headers: ${failing(withLogin) ? 'FAIL' : 'pass'} (high ${withLogin.filter((f) => f.severity === 'high').length}, medium ${withLogin.filter((f) => f.severity === 'medium').length}, low ${withLogin.filter((f) => f.severity === 'low').length}, info ${withLogin.filter((f) => f.severity === 'info').length}).\n`,
      );
      console.log(table(rows(scan, withLogin, { CORS: { findings: corsFindings, label: '`cors` kind' } })));
      console.log(`\nCookies, gonogo without loginAs (anonymous \`/\`): ${verdict(anonCookies)}: ${list(anonCookies)}.`);
      const cookieData = scan.tests['cookies']?.data;
      console.log(`Cookies the Observatory saw: ${cookieData ? Object.keys(cookieData as object).join(', ') : 'none'}.\n`);
    } finally {
      await app.close();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// B. Fixture pages: header values the reference app does not serve

const GOOD: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'permissions-policy': 'camera=()',
};

interface Vector {
  name: string;
  /** Headers replacing GOOD's (undefined removes one). */
  set: Record<string, string | string[] | undefined>;
  /** The page's HTML instead of the default (which loads one same-origin script). */
  html?: string;
  /** The rows to show. */
  concerns: string[];
}

const page = (head: string): string => `<!doctype html><html><head><title>fixture</title>${head}</head><body><h1>fixture</h1></body></html>`;

const VECTORS: Vector[] = [
  { name: "the clean app's login cookie, set on `/`", set: { 'set-cookie': 'sid=abc123; Path=/; HttpOnly; SameSite=Lax' }, concerns: ['Cookies'] },
  { name: "the insecure-cookie app's login cookie, set on `/`", set: { 'set-cookie': 'sid=abc123; Path=/' }, concerns: ['Cookies'] },
  { name: 'the same flags on a cookie named `session`', set: { 'set-cookie': 'session=abc123; Path=/' }, concerns: ['Cookies'] },
  { name: '`sid` with Secure only (no HttpOnly, no SameSite)', set: { 'set-cookie': 'sid=abc123; Path=/; Secure' }, concerns: ['Cookies'] },
  { name: 'anti-CSRF cookie `csrftoken` with Secure, no SameSite', set: { 'set-cookie': 'csrftoken=abc123; Path=/; Secure' }, concerns: ['Cookies'] },
  { name: 'X-Frame-Options ALLOW-FROM, no frame-ancestors', set: { 'x-frame-options': 'ALLOW-FROM https://example.com', 'content-security-policy': "default-src 'self'; object-src 'none'; base-uri 'self'" }, concerns: ['Framing (XFO / frame-ancestors)'] },
  { name: 'CSP `frame-ancestors *` beside X-Frame-Options DENY', set: { 'content-security-policy': "default-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors *" }, concerns: ['Framing (XFO / frame-ancestors)'] },
  { name: "CSP `default-src *; script-src 'self'` (object-src falls back to `*`)", set: { 'content-security-policy': "default-src *; script-src 'self'; base-uri 'self'; frame-ancestors 'none'" }, concerns: ['CSP'] },
  { name: 'CSP only as Report-Only', set: { 'content-security-policy': undefined, 'content-security-policy-report-only': "default-src 'self'; frame-ancestors 'none'" }, concerns: ['CSP', 'Framing (XFO / frame-ancestors)'] },
  { name: "nonce + 'strict-dynamic' CSP with fallbacks (`https:` 'unsafe-inline')", set: { 'content-security-policy': "script-src 'nonce-r4nd0m' 'strict-dynamic' https: 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'" }, concerns: ['CSP'] },
  { name: "nonce CSP without base-uri", set: { 'content-security-policy': "default-src 'self'; script-src 'nonce-r4nd0m'; object-src 'none'; frame-ancestors 'none'" }, concerns: ['CSP'] },
  { name: 'Referrer-Policy `origin`', set: { 'referrer-policy': 'origin' }, concerns: ['Referrer-Policy'] },
  { name: 'header strict-origin-when-cross-origin, then `<meta name="referrer" content="unsafe-url">`', set: {}, html: page('<meta name="referrer" content="unsafe-url"><script src="/app.js"></script>'), concerns: ['Referrer-Policy'] },
  { name: 'Referrer-Policy missing', set: { 'referrer-policy': undefined }, concerns: ['Referrer-Policy'] },
  { name: 'X-Powered-By `PHP/8.1.2`, Server `Apache/2.4.41 (Ubuntu)`', set: { 'x-powered-by': 'PHP/8.1.2', server: 'Apache/2.4.41 (Ubuntu)' }, concerns: ['Version leaks'] },
  { name: 'third-party script over https, no integrity', set: {}, html: page('<script src="https://cdn.example.com/lib.js"></script>'), concerns: ['SRI'] },
  { name: 'third-party script over plain http, no integrity', set: {}, html: page('<script src="http://cdn.example.com/lib.js"></script>'), concerns: ['SRI'] },
  { name: 'Cross-Origin-Resource-Policy `cross-site` (invalid)', set: { 'cross-origin-resource-policy': 'cross-site' }, concerns: ['CORP'] },
];

async function fixture(set: Vector['set'], body = page('<script src="/app.js"></script>')): Promise<{ url: string; close(): Promise<void> }> {
  const h: Record<string, string | string[]> = { ...GOOD };
  for (const [k, v] of Object.entries(set)) {
    if (v === undefined) delete h[k];
    else h[k] = v;
  }
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/' || req.url === '')) {
      res.writeHead(200, h).end(body);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain', 'x-content-type-options': 'nosniff' }).end('not found');
    }
  });
  server.on('clientError', (_e, socket) => socket.destroy()); // the Observatory's TLS attempt on the plain port
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function partB(): Promise<void> {
  console.log('## B. Fixture pages on 127.0.0.1 (header values the reference app does not serve), both tools live\n');
  console.log('Each fixture answers `/` with good headers except the ones named; gonogo runs `headers` on `/` without login.\n');
  const head = '| fixture | concern | Observatory: test, pass, modifier, result | gonogo `headers` | verdicts |\n|---|---|---|---|---|';
  const lines: string[] = [head];
  for (const [i, v] of VECTORS.entries()) {
    const f = await fixture(v.set, v.html);
    try {
      const scan = await observatory(f.url);
      const findings = await gonogoHeaders(f.url);
      for (const r of rows(scan, findings).filter((r) => v.concerns.includes(r.label))) {
        lines.push(`| B${i + 1}. ${cell(v.name)} | ${r.label} | ${r.obs} | ${r.gonogo} | ${r.agree} |`);
      }
    } finally {
      await f.close();
    }
  }
  console.log(lines.join('\n') + '\n');
}

// ---------------------------------------------------------------------------------------------
// C. HSTS over HTTPS: both rule functions on the same values

async function partC(): Promise<void> {
  const mod = (await import(pathToFileURL(join(observatoryRoot, 'src', 'analyzer', 'tests', 'strict-transport-security.js')).href)) as {
    strictTransportSecurityTest(requests: unknown): { pass: boolean; result: string };
  };
  const values = [
    'max-age=31536000; includeSubDomains',
    'max-age=15768000',
    'max-age=15552000',
    'max-age=8640000',
    'max-age=0',
    'includeSubDomains',
    'max-age=31536000, max-age=31536000',
  ];
  console.log('## C. HSTS on an HTTPS response: the Observatory\'s `strictTransportSecurityTest` and gonogo\'s `analyzeHsts` on the same values\n');
  console.log('Neither tool can reach an HTTPS loopback target with a trusted certificate, so both rule functions are called');
  console.log(`directly (Observatory: a verified HTTPS response carrying the header, empty preload list; gonogo: https, default hstsMinAge ${DEFAULT_HSTS_MIN_AGE}).\n`);
  console.log('| Strict-Transport-Security | Observatory | gonogo | verdicts |\n|---|---|---|---|');
  for (const [i, value] of values.entries()) {
    const requests = {
      hostname: 'example.test',
      responses: { https: { headers: { 'strict-transport-security': value }, verified: true, status: 200 } },
    };
    const t = mod.strictTransportSecurityTest(requests);
    const g = analyzeHsts(value, true, DEFAULT_HSTS_MIN_AGE);
    const agree = t.pass === !failing(g) ? 'same verdict' : '**differs**';
    console.log(`| C${i + 1}. \`${value}\` | ${t.pass ? 'pass' : '**FAIL**'}, \`${t.result}\` | ${verdict(g)}: ${list(g)} | ${agree} |`);
  }
  console.log('');
}

const started = Date.now();
console.log(`Observatory: ${binFile}\n`);
await partA();
await partB();
await partC();
console.log(`_(run took ${((Date.now() - started) / 1000).toFixed(1)} s)_`);
