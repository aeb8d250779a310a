import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../test-support/cli.js';
import { requirePostgres, startCluster } from '../test-support/postgres.js';
import type { PgCluster } from '../test-support/postgres.js';
import { serve } from '../test-support/server.js';
import type { TestServer } from '../test-support/server.js';
import { openStore } from './index.js';
import { verifyChain } from './audit.js';

// A team on one PostgreSQL store: CI jobs (real `gonogo check` processes) and people (sign-offs,
// waivers) at once; then a laptop's SQLite history moved over with `gonogo store copy`.
const BIN = join(import.meta.dirname, '..', 'cli', 'bin.ts');
const TSX = import.meta.resolve('tsx');
const JOBS = 10;

let cluster: PgCluster | undefined;
let server: TestServer;
let dir = '';

before(async () => {
  server = await serve((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'));
  dir = mkdtempSync(join(tmpdir(), 'gonogo-team-'));
  writeFileSync(
    join(dir, 'gonogo.yaml'),
    `version: 1
name: team
environments: { staging: { url: ${server.url} } }
roles: { qa: [item], eng-lead: [waive] }
items:
  - { id: API, title: api answers, tier: critical, check: { kind: http, url: "{{env.url}}/health", expect: ['status == 200'] } }
  - { id: DOCS, title: docs, tier: high, check: { kind: http, url: "{{env.url}}/docs", expect: ['status == 200'] } }
  - { id: DRILL, title: restore drill done, tier: critical, manual: true }
`,
  );
});
after(() => {
  cluster?.stop();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function pg(t: Parameters<typeof requirePostgres>[0]): Promise<PgCluster | undefined> {
  if (!requirePostgres(t)) return undefined;
  cluster ??= await startCluster();
  return cluster;
}

function check(store: string, job: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, BIN, '--config', join(dir, 'gonogo.yaml'), '--store', store, '--release', 'r1', 'check', '-q'], {
      env: { ...process.env, CI: '1', GONOGO_JOB: String(job) },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out }));
  });
}

test('ten gonogo check processes and people signing and waiving at once on one PostgreSQL store: everything lands, the chain verifies', async (t) => {
  const c = await pg(t);
  if (!c) return;
  const store = await c.createStore();
  const gonogo = (...args: string[]) => runCli(['--config', join(dir, 'gonogo.yaml'), '--store', store, '--release', 'r1', ...args]);
  const people = Array.from({ length: 6 }, (_, i) =>
    i % 2 === 0
      ? gonogo('signoff', '--item', 'DRILL', '--as', `qa-${i}`, '--role', 'qa')
      : gonogo('waive', 'DOCS', '--mitigation', 'docs ship next sprint', '--owner', 'lee', '--expires', '2999-01-01', '--as', `lead-${i}`, '--role', 'eng-lead'),
  );
  const jobs = await Promise.all(Array.from({ length: JOBS }, (_, i) => check(store, i)));
  for (const [i, j] of jobs.entries()) assert.equal(j.code === 0 || j.code === 1, true, `job ${i}: ${j.out}`);
  for (const p of await Promise.all(people)) assert.equal(p.code, 0, p.stderr);

  const s = await openStore(store, { readonly: true });
  try {
    const runs = await s.listRuns({ gate: 'team' });
    assert.equal(runs.length, JOBS);
    assert.ok(runs.every((r) => r.status === 'completed'));
    for (const r of runs) assert.deepEqual((await s.getRun(r.id))?.results.map((x) => x.id).sort(), ['API', 'DOCS', 'DRILL']);
    assert.equal((await s.listAttestations('team')).length, people.length);
    const report = await verifyChain(s, 'team');
    assert.equal(report.intact, true, JSON.stringify(report));
    // Each run: begin, three results, end; each attestation one entry.
    assert.equal(report.entries, JOBS * 5 + people.length);
  } finally {
    await s.close();
  }
  const verify = await gonogo('audit', 'verify');
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stdout, new RegExp(`^${JOBS * 5 + people.length} entries, chain intact, head [0-9a-f]{64}\\n$`));
});

test('store copy moves a SQLite history to PostgreSQL with its chain, verified; a copy into a store that is not empty is refused', async (t) => {
  const c = await pg(t);
  if (!c) return;
  const file = join(dir, 'laptop.db');
  const local = (...args: string[]) => runCli(['--config', join(dir, 'gonogo.yaml'), '--store', file, '--release', 'r1', ...args]);
  assert.equal((await local('check', '-q')).code, 1, 'the drill is not signed yet');
  assert.equal((await local('signoff', '--item', 'DRILL', '--as', 'ana', '--role', 'qa')).code, 0);
  assert.equal((await local('check', '-q')).code, 0);
  const head = (await local('audit', 'head')).stdout.trim();
  assert.match(head, /^[0-9a-f]{64}$/);

  const to = await c.createDatabase();
  const copied = await runCli(['--config', join(dir, 'gonogo.yaml'), 'store', 'copy', '--from', file, '--to', to]);
  assert.equal(copied.code, 0, copied.stderr);
  const remote = (...args: string[]) => runCli(['--config', join(dir, 'gonogo.yaml'), '--store', to, '--release', 'r1', ...args]);
  const verify = await remote('audit', 'verify', '--expect-head', head);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  const status = await remote('status');
  assert.equal(status.code, 0, status.stdout);
  assert.equal((await remote('history')).stdout.trim().split('\n').length, 2);

  const again = await runCli(['--config', join(dir, 'gonogo.yaml'), 'store', 'copy', '--from', file, '--to', to]);
  assert.equal(again.code, 2);
  assert.doesNotMatch(again.stderr, /\n\s+at /);
});
