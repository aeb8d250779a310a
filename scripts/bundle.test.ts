import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFixture } from '../bench/audit-fixture.js';
import { kindsText } from '../src/cli/commands.js';
import { configProblems } from '../src/test-support/config.js';
import { serve } from '../src/test-support/server.js';

// The published CLI is the bundle: built fresh, it must run what the source runs. A CommonJS
// dependency imported on demand (undici) reaches a bundle differently from Node (its exports under
// `default`): only running the bundle shows that.
const ROOT = join(import.meta.dirname, '..');
const OUT = join(ROOT, 'dist', `bundle-test-${process.pid}`);
before(() => {
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs'), OUT], { encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
});
after(() => rmSync(OUT, { recursive: true, force: true }));

test('bundle: the bundled CLI runs an http check and a store command end to end', async () => {
  const server = await serve((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'));
  try {
    const dir = mkdtempSync(join(tmpdir(), 'gonogo-bundle-'));
    const yaml = ['version: 1', 'environments:', `  staging: { url: "${server.url}" }`, 'items:', '  - id: H1', '    title: health', '    tier: critical', '    check:', '      kind: http', '      url: "{{env.url}}/health"', "      expect: ['status == 200', 'body.status == \"ok\"']", ''];
    writeFileSync(join(dir, 'gonogo.yaml'), yaml.join('\n'));
    // Asynchronous: the server answers from this process's event loop.
    const run = (...args: string[]) =>
      new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [join(OUT, 'bin.js'), ...args], { cwd: dir, env: { ...process.env, CI: '1', GONOGO_CACHE_DIR: join(dir, 'cache') }, timeout: 60_000 }, (err, stdout, stderr) => {
          const code = err && typeof err.code === 'number' ? err.code : err ? -1 : 0;
          resolve({ status: code, stdout, stderr });
        });
      });
    const check = await run('check', '--quiet');
    assert.equal(check.status, 0, `${check.stdout}\n${check.stderr}`);
    assert.match(check.stdout, /H1|GO/);
    const status = await run('status');
    assert.equal(status.status, 0, status.stderr);
    assert.equal((await run('--version')).stdout.trim(), JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
  } finally {
    await server.close();
  }
});

/** Runs the bundled CLI in `cwd` with these variables (CI set, the home's cache never used). */
function runBundle(cwd: string, args: string[], env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [join(OUT, 'bin.js'), ...args], { cwd, encoding: 'utf8', env: { ...process.env, CI: '1', GONOGO_NO_CACHE: '', ...env }, timeout: 60_000 });
}

const CONFIG = ['version: 1', 'environments:', '  staging: { url: "http://127.0.0.1:9" }', 'items:', '  - { id: DOC-01, title: Runbook read, tier: high, manual: true }', ''].join('\n');

test('bundle: a store command loads no JavaScript from node_modules, only better-sqlite3\'s addon, found by path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bundle-'));
  writeFileSync(join(dir, 'gonogo.yaml'), CONFIG);
  // Every file CommonJS resolves (better-sqlite3's lib and `bindings` came that way), printed at exit.
  const preload = join(dir, 'resolved.cjs');
  writeFileSync(
    preload,
    `const M = require('node:module'); const seen = []; const orig = M._resolveFilename;
M._resolveFilename = function (...a) { const f = orig.apply(this, a); seen.push(f); return f; };
process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(join(dir, 'resolved.json'))}, JSON.stringify(seen)));`,
  );
  const r = runBundle(dir, ['signoff', '--item', 'DOC-01', '--as', 'dana', '--role', 'lead'], { NODE_OPTIONS: `--require ${preload}`, GONOGO_NO_CACHE: '1' });
  assert.notEqual(r.status, null, r.stderr);
  assert.match(r.stdout + r.stderr, /signed item DOC-01|refused/);
  const fromModules = (JSON.parse(readFileSync(join(dir, 'resolved.json'), 'utf8')) as string[]).filter((f) => f.includes('node_modules'));
  assert.deepEqual([...new Set(fromModules.map((f) => f.replace(/.*node_modules[\\/]/, '')))], [join('better-sqlite3', 'build', 'Release', 'better_sqlite3.node')]);
});

test('bundle: the config is cached after the first command and read again only while every file is unchanged', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bundle-cache-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cache = join(dir, 'cache');
  writeFileSync(join(dir, 'gonogo.yaml'), CONFIG);
  const env = { GONOGO_CACHE_DIR: cache };
  const first = runBundle(dir, ['status', '--format', 'json'], env);
  // status exits with the decision (0, 1 or 3).
  assert.ok(first.status !== null && [0, 1, 3].includes(first.status), first.stderr);
  assert.match(first.stdout, /Runbook read/);
  const entries = readdirSync(cache);
  assert.equal(entries.length, 1);
  const entry = readFileSync(join(cache, entries[0]), 'utf8');
  const again = runBundle(dir, ['status', '--format', 'json'], env);
  const stable = (json: string) => ({ ...JSON.parse(json), generatedAt: undefined });
  assert.deepEqual(stable(again.stdout), stable(first.stdout));
  assert.equal(readFileSync(join(cache, entries[0]), 'utf8'), entry, 'a hit writes nothing');
  // An edit shows at once.
  writeFileSync(join(dir, 'gonogo.yaml'), CONFIG.replace('Runbook read', 'Runbook signed'));
  const edited = runBundle(dir, ['status', '--format', 'json'], env);
  assert.match(edited.stdout, /Runbook signed/);
  assert.notEqual(readFileSync(join(cache, entries[0]), 'utf8'), entry);
  // A cache made unreadable is parsed around.
  writeFileSync(join(cache, entries[0]), '{"truncated', { mode: 0o600 });
  assert.match(runBundle(dir, ['status', '--format', 'json'], env).stdout, /Runbook signed/);
});

test('bundle: --no-cache and GONOGO_NO_CACHE=1 neither read nor write the cache; gonogo --help says so', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bundle-nocache-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cache = join(dir, 'cache');
  writeFileSync(join(dir, 'gonogo.yaml'), CONFIG);
  assert.equal(runBundle(dir, ['--no-cache', 'history'], { GONOGO_CACHE_DIR: cache }).status, 0);
  assert.equal(runBundle(dir, ['history'], { GONOGO_CACHE_DIR: cache, GONOGO_NO_CACHE: '1' }).status, 0);
  assert.throws(() => readdirSync(cache), /ENOENT/);
  const help = runBundle(dir, ['--help'], {}).stdout;
  for (const words of ['--no-cache', 'GONOGO_NO_CACHE', 'GONOGO_CACHE_DIR']) assert.ok(help.includes(words), words);
});

test('bundle: gonogo kinds prints what the kinds say of themselves (listed at build time)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bundle-kinds-'));
  try {
    const r = runBundle(dir, ['kinds'], {});
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, await kindsText());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bundle: config problems read as the source reports them (zod\'s English messages are kept, its other locales are not bundled)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bundle-problems-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const text = CONFIG.replace('tier: high', 'tier: highest');
  writeFileSync(join(dir, 'gonogo.yaml'), text);
  const r = runBundle(dir, ['status'], { GONOGO_CACHE_DIR: join(dir, 'cache') });
  assert.equal(r.status, 2);
  const expected = configProblems(text).join('\n');
  assert.match(expected, /items\.0\.tier: Invalid option: expected one of "critical"\|"high"\|"recommended"/);
  assert.equal(r.stderr.trim(), expected);
  for (const name of readdirSync(OUT)) assert.ok(!readFileSync(join(OUT, name), 'utf8').includes('node_modules/zod/v4/locales/de.js'), `${name} bundles zod's German locale`);
});

test('bundle: audit verify shares a large store\'s chain and rows with threads, whose module sits beside the chunk that starts them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bundle-audit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'gonogo.db');
  // Past the 50,000 entries from which verify shares its work with other threads.
  const entries = await buildFixture(file, { gate: 'big', release: 'r1', runs: 840, items: 58 });
  assert.ok(entries > 50_000);
  const verified = runBundle(dir, ['audit', 'verify', '--store', file], {});
  assert.equal(verified.status, 0, verified.stderr);
  assert.match(verified.stdout, new RegExp(`^big: ${entries} entries, chain intact, head [0-9a-f]{64}\\n$`));
  // Without it, verify fails (exit 2) rather than pass what a thread did not do.
  const worker = join(OUT, 'sqlite-audit-worker.js');
  renameSync(worker, `${worker}.away`);
  try {
    const failed = runBundle(dir, ['audit', 'verify', '--store', file], {});
    assert.equal(failed.status, 2, failed.stdout);
    assert.match(failed.stderr, /could not verify .*: a thread verifying it failed: Cannot find module/);
  } finally {
    renameSync(`${worker}.away`, worker);
  }
});
