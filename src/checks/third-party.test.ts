// Ground truth from real third-party servers, not written here, started on loopback by the test:
// json-server 0.17.4 and http-server 14.1.1 from npm, nginx and Apache httpd from Debian's packages
// (.ci/run installs them; a missing one skips here, and fails under GONOGO_REQUIRE_ALL=1). Each
// assertion is the server's documented behaviour, and each server also runs configured right.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import debugEndpoints from './debug-endpoints/index.js';
import errorHandling from './error-handling/index.js';
import cors from './cors/index.js';
import csrf from './csrf/index.js';
import authRequired from './auth-required/index.js';
import rateLimit from './rate-limit/index.js';
import headers from './headers/index.js';
import { CheckError } from './types.js';
import type { Finding } from './_shared/probe.js';
import { testContext } from '../test-support/context.js';
import { freePort } from '../test-support/server.js';
import { requireProgram } from '../test-support/programs.js';
import { fakeClock } from '../test-support/clock.js';
import { drive } from '../test-support/fixtures/drive.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ids = (findings: unknown, ...severities: string[]) =>
  (findings as Finding[]).filter((f) => severities.length === 0 || severities.includes(f.severity)).map((f) => f.id).sort();

/** A site folder every server serves: an exposed .env and a backup folder. Readable by a server that dropped root. */
function site(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-3p-'));
  chmodSync(dir, 0o755);
  const root = join(dir, 'site');
  mkdirSync(join(root, 'backup'), { recursive: true, mode: 0o755 });
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>Site</title><h1>Welcome</h1>', { mode: 0o644 });
  writeFileSync(join(root, '.env'), 'NODE_ENV=production\nDB_PASSWORD=hunter2-secret\n', { mode: 0o644 });
  writeFileSync(join(root, 'backup', 'notes.txt'), 'old notes\n', { mode: 0o644 });
  return dir;
}

/** Waits until something answers HTTP on the port (bounded: 400 polls), or the child has died. */
async function ready(port: number, child?: ChildProcess): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (child && child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    try {
      await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(500) });
      return;
    } catch {
      await delay(25);
    }
  }
  throw new Error(`nothing answered on 127.0.0.1:${port}`);
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const ctx = (port: number) => testContext({ url: `http://127.0.0.1:${port}` });

describe('json-server 0.17.4 (npm): a REST API with no users, CORS for everyone, no limiter', () => {
  let child: ChildProcess | undefined;
  let port = 0;
  let dir = '';
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gonogo-json-server-'));
    writeFileSync(join(dir, 'db.json'), JSON.stringify({ posts: [{ id: 1, title: 'private plans' }] }));
    port = await freePort();
    // Not production: its documented error handler then answers with the stack.
    const env = { ...process.env, NODE_ENV: 'development' };
    child = spawn(process.execPath, [join(ROOT, 'node_modules/json-server/lib/cli/bin.js'), join(dir, 'db.json'), '--port', String(port), '--host', '127.0.0.1', '--quiet'], { env, stdio: 'ignore' });
    await ready(port, child);
  });
  after(async () => {
    await stop(child);
    rmSync(dir, { recursive: true, force: true });
  });

  test('documented: anonymous reads and cross-site writes, any origin with credentials, stack traces in development, no rate limit', async () => {
    const [auth, origin, forged, errors, burst] = await Promise.all([
      authRequired.run({ paths: ['/posts'] }, ctx(port)),
      cors.run({ path: '/posts' }, ctx(port)),
      csrf.run({ request: { path: '/posts', fields: { title: 'gonogo {{nonce}}' } }, vectors: ['form', 'text-plain'] }, ctx(port)),
      errorHandling.run({ paths: [{ name: 'malformed JSON', method: 'POST', path: '/posts', send: 'malformed-json' }] }, ctx(port)),
      rateLimit.run({ path: '/posts', method: 'GET', burst: 20, maxRequests: 20 }, ctx(port)),
    ]);
    assert.deepEqual(auth.observations.exposed, ['anonymous:GET /posts']);
    assert.ok(ids(origin.observations.findings, 'high').includes('cors.get.credentials'), JSON.stringify(origin.observations.findings));
    // cors() reflects the origin with credentials; its body-parser takes urlencoded forms ...
    // ... and it creates a record for a text/plain post too (an empty one: still a cross-site write).
    assert.deepEqual(ids(forged.observations.findings, 'high'), ['csrf.form', 'csrf.text-plain']);
    assert.ok(ids(errors.observations.findings, 'medium').includes('leak.stack-trace'), JSON.stringify(errors.observations.findings));
    assert.deepEqual(ids(burst.observations.findings), ['rate-limit.none']);
  });
});

describe('http-server 14.1.1 (npm): a static file server', () => {
  const children: ChildProcess[] = [];
  let dir = '';
  const ports = { open: 0, noDotfiles: 0, hardened: 0 };
  before(async () => {
    dir = site();
    // The right way: a published folder with nothing secret in it, and no listings.
    const clean = join(dir, 'public');
    mkdirSync(clean, { mode: 0o755 });
    writeFileSync(join(clean, 'index.html'), '<!doctype html><title>Site</title><h1>Welcome</h1>');
    const bin = join(ROOT, 'node_modules/http-server/bin/http-server');
    [ports.open, ports.noDotfiles, ports.hardened] = await Promise.all([freePort(), freePort(), freePort()]);
    const start = (root: string, port: number, ...flags: string[]) => spawn(process.execPath, [bin, root, '-a', '127.0.0.1', '-p', String(port), '-s', ...flags], { stdio: 'ignore' });
    // Documented defaults: dotfiles served, directory listings on; --cors adds `*`.
    const open = start(join(dir, 'site'), ports.open, '--cors');
    const noDotfiles = start(join(dir, 'site'), ports.noDotfiles, '--no-dotfiles', '-d', 'false');
    const hardened = start(clean, ports.hardened, '-d', 'false');
    children.push(open, noDotfiles, hardened);
    await Promise.all([ready(ports.open, open), ready(ports.noDotfiles, noDotfiles), ready(ports.hardened, hardened)]);
  });
  after(async () => {
    await Promise.all(children.map(stop));
    rmSync(dir, { recursive: true, force: true });
  });

  test('defaults: the .env file and a directory listing are exposed; `*` on static files is only info', async () => {
    const [exposed, origin] = await Promise.all([debugEndpoints.run({ sourceMaps: false }, ctx(ports.open)), cors.run({ path: '/index.html' }, ctx(ports.open))]);
    assert.deepEqual(ids(exposed.observations.findings, 'high', 'medium'), ['exposed:/.env', 'exposed:/backup/']);
    assert.equal(origin.observations.high, 0);
    assert.equal(origin.observations.medium, 0);
    assert.ok(ids(origin.observations.findings, 'info').includes('cors.get.wildcard'));
  });

  test('--no-dotfiles only hides dotfiles from listings: the .env is still served, and caught', async () => {
    const out = await debugEndpoints.run({ sourceMaps: false }, ctx(ports.noDotfiles));
    assert.deepEqual(ids(out.observations.findings, 'high', 'medium', 'low'), ['exposed:/.env']);
  });

  test('a folder with nothing secret, listings off: quiet', async () => {
    const out = await debugEndpoints.run({ sourceMaps: false }, ctx(ports.hardened));
    assert.deepEqual(ids(out.observations.findings, 'high', 'medium', 'low'), []);
  });
});

describe('nginx (Debian): limit_req on every route, stub_status and autoindex', (t) => {
  let child: ChildProcess | undefined;
  let dir = '';
  const ports = { limited: 0, plain: 0 };
  let present = true;
  before(async () => {
    present = spawnSync('sh', ['-c', 'command -v nginx']).status === 0;
    if (!present) return;
    dir = site();
    ports.limited = await freePort();
    ports.plain = await freePort();
    const conf = join(dir, 'nginx.conf');
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `${k}_temp_path ${join(dir, k)};`).join('\n  ');
    writeFileSync(
      conf,
      `daemon off;
master_process off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')};
events { worker_connections 64; }
http {
  access_log off;
  ${temp}
  limit_req_zone $binary_remote_addr zone=every:1m rate=30r/m;
  server {
    listen 127.0.0.1:${ports.limited};
    root ${join(dir, 'site')};
    limit_req zone=every;
    limit_req_status 429;
    add_header Access-Control-Allow-Origin $http_origin always;
    add_header Access-Control-Allow-Credentials true always;
  }
  server {
    listen 127.0.0.1:${ports.plain};
    root ${join(dir, 'site')};
    location = /nginx_status { stub_status; }
    location /backup/ { autoindex on; }
  }
}
`,
    );
    child = spawn('nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' });
    await ready(ports.plain, child);
  });
  after(async () => {
    await stop(child);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('30 requests a minute on every route: a vulnerable site behind it is error (could not verify), never pass', async (tt) => {
    if (!requireProgram(tt, 'nginx')) return;
    const clock = fakeClock();
    for (const [name, kind, opts] of [
      ['debug-endpoints', debugEndpoints, { sourceMaps: false }],
      ['error-handling', errorHandling, { paths: ['/a', '/b', '/c', '/d', '/e', '/f'] }],
      ['cors', cors, { path: '/index.html' }],
    ] as const) {
      const run = drive(clock, kind.run(opts, { ...ctx(ports.limited), clock }));
      await assert.rejects(run, (err: unknown) => {
        assert.ok(err instanceof CheckError, `${name}: ${String(err)}`);
        assert.match(err.message, /^could not verify: \d+ of \d+ answers were 429/, name);
        return true;
      });
    }
  });

  test('documented: stub_status, autoindex and dotfiles are served as configured; Server names the version', async (tt) => {
    if (!requireProgram(tt, 'nginx')) return;
    const [exposed, head] = await Promise.all([debugEndpoints.run({ sourceMaps: false }, ctx(ports.plain)), headers.run({}, ctx(ports.plain))]);
    assert.deepEqual(ids(exposed.observations.findings, 'high', 'medium', 'low'), ['exposed:/.env', 'exposed:/backup/', 'exposed:/nginx_status']);
    assert.ok(ids(head.observations.findings, 'medium').includes('leak.server.version'), JSON.stringify(head.observations.findings));
  });
  void t;
});

describe('Apache httpd (Debian): mod_status as Debian ships it (Require local)', () => {
  let child: ChildProcess | undefined;
  let dir = '';
  const ports = { local: 0, closed: 0 };
  before(async () => {
    if (spawnSync('sh', ['-c', 'command -v apache2']).status !== 0) return;
    dir = site();
    ports.local = await freePort();
    ports.closed = await freePort();
    const mod = (name: string, file: string) => `LoadModule ${name}_module /usr/lib/apache2/modules/mod_${file}.so`;
    const asRoot = process.getuid?.() === 0 ? 'User www-data\nGroup www-data\n' : '';
    writeFileSync(
      join(dir, 'httpd.conf'),
      `${mod('mpm_event', 'mpm_event')}
${mod('authz_core', 'authz_core')}
${mod('authz_host', 'authz_host')}
${mod('status', 'status')}
${mod('dir', 'dir')}
${mod('autoindex', 'autoindex')}
${asRoot}ServerName 127.0.0.1
Listen 127.0.0.1:${ports.local}
Listen 127.0.0.1:${ports.closed}
PidFile ${join(dir, 'httpd.pid')}
ErrorLog ${join(dir, 'error.log')}
DefaultRuntimeDir ${dir}
Mutex posixsem
DocumentRoot ${join(dir, 'site')}
DirectoryIndex index.html
<Directory ${join(dir, 'site')}>
  Require all granted
</Directory>
<VirtualHost 127.0.0.1:${ports.local}>
  <Location /server-status>
    SetHandler server-status
    Require local
  </Location>
</VirtualHost>
<VirtualHost 127.0.0.1:${ports.closed}>
  <Location /server-status>
    SetHandler server-status
    Require ip 192.0.2.1
  </Location>
</VirtualHost>
`,
    );
    child = spawn('apache2', ['-f', join(dir, 'httpd.conf'), '-DFOREGROUND'], { stdio: 'ignore' });
    await Promise.all([ready(ports.local, child), ready(ports.closed, child)]);
  });
  after(async () => {
    await stop(child);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('"Require local" lets a prober on the same machine read the server status; a foreign allow-list does not', async (tt) => {
    if (!requireProgram(tt, 'apache2')) return;
    const [local, closed] = await Promise.all([debugEndpoints.run({ sourceMaps: false }, ctx(ports.local)), debugEndpoints.run({ sourceMaps: false }, ctx(ports.closed))]);
    const status = ['exposed:/server-status', 'exposed:/server-status?auto'];
    assert.deepEqual(ids(local.observations.findings, 'medium').filter((id) => id.startsWith('exposed:/server-status')), status);
    assert.deepEqual(ids(closed.observations.findings, 'medium').filter((id) => id.startsWith('exposed:/server-status')), []);
    // Apache serves dotfiles unless told not to (Debian's apache2.conf only hides .ht*).
    assert.ok(ids(closed.observations.findings, 'high').includes('exposed:/.env'));
  });
});
