import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../test-support/server.js';
import { runCli } from '../test-support/cli.js';
import type { CliRun } from '../test-support/cli.js';
import type { TestServer } from '../test-support/server.js';

// The CLI end to end: a real HTTP target on 127.0.0.1, a real SQLite file; in-process, except where
// the process boundary is what is tested (Ctrl-C).
const BIN = join(import.meta.dirname, 'bin.ts');
// Resolved here: the tests run the CLI from temp folders where `tsx` is not resolvable by name.
const TSX = import.meta.resolve('tsx');
let server: TestServer;
let url = '';
// Resolved when a check reaches /hang: the Ctrl-C test interrupts a run known to be under way.
let hangSeen: () => void = () => undefined;

before(async () => {
  server = await serve((req, res) => {
    if (req.url === '/health') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    if (req.url === '/broken') return void res.writeHead(503, { 'content-type': 'application/json' }).end('{"status":"down"}');
    if (req.url === '/hang') {
      hangSeen();
      return; // never answers
    }
    res.writeHead(404).end();
  });
  url = server.url;
});
after(() => server.close());

function workspace(items: string, extra = ''): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-cli-'));
  const config = join(dir, 'gonogo.yaml');
  writeFileSync(
    config,
    `version: 1
name: cli-test
environments:
  staging: { url: ${url} }
roles:
  release-manager: [decision, stage, item]
  engineer: [item]
  eng-lead: [waive]
${extra}items:
${items}`,
  );
  return { dir, config };
}

const health = (id: string, tier: string, path = '/health'): string => `  - id: ${id}
    title: ${id} answers
    tier: ${tier}
    check: { kind: http, url: "{{env.url}}${path}", timeout: 2s, expect: ['status == 200', 'body.status == "ok"'] }
`;

// In-process (see test-support/cli.ts): the workspace's config is passed by path unless a test names its own.
function gonogo(cwd: string, ...args: string[]): Promise<CliRun> {
  const named = args.includes('--config') || args.includes('-c');
  return runCli(named ? args.map((a, i) => (args[i - 1] === '--config' ? join(cwd, a) : a)) : ['--config', join(cwd, 'gonogo.yaml'), ...args]);
}

test('cli: GO exits 0 and JSON carries decision, readiness, tiers, reasons and items', async () => {
  const w = workspace(health('HEALTH-01', 'critical') + health('HEALTH-02', 'high'));
  const r = await gonogo(w.dir, 'check', '--format', 'json');
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.decision, 'GO');
  assert.equal(doc.readiness, 100);
  assert.equal(doc.tiers.critical.passed, 1);
  assert.ok(Array.isArray(doc.reasons) && doc.reasons.length > 0);
  assert.deepEqual(Object.keys(doc.items[0]).sort(), ['attempts', 'category', 'durationMs', 'evidence', 'id', 'message', 'status', 'tier', 'title']);
  assert.match(r.stderr, /✔ HEALTH-01/);
});

test('cli: --format sarif writes SARIF 2.1.0 with the failed item as a result', async () => {
  const w = workspace(health('HEALTH-01', 'critical', '/broken'));
  const r = await gonogo(w.dir, 'check', '-q', '--format', 'sarif');
  assert.equal(r.code, 1, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.version, '2.1.0');
  assert.ok(JSON.stringify(doc.runs[0].results).includes('HEALTH-01'));
});

test('cli: a failing critical item is NO-GO, exit 1, with the item and its observed value', async () => {
  const w = workspace(health('HEALTH-01', 'critical', '/broken'));
  const r = await gonogo(w.dir, 'check');
  assert.equal(r.code, 1);
  assert.match(r.stdout, /Decision: NO-GO/);
  assert.match(r.stdout, /HEALTH-01 .*status was 503/);
});

test('cli: GO WITH CONDITIONS exits 3, or 0 with --accept-conditions; waivers and expiry count', async () => {
  // 10 high items, 2 failing: 8 < floor(0.9 x 10) = 9, 8 >= floor(0.7 x 10) = 7.
  const highs = Array.from({ length: 10 }, (_, i) => health(`H-${i}`, 'high', i < 2 ? '/broken' : '/health')).join('');
  const w = workspace(health('C-1', 'critical') + highs);
  assert.equal((await gonogo(w.dir, 'check', '-q')).code, 1, 'unwaived failures are NO-GO');
  for (const id of ['H-0', 'H-1']) {
    const r = await gonogo(w.dir, 'waive', id, '--mitigation', 'feature flag off', '--owner', 'dana', '--expires', '2999-01-01', '--as', 'dana', '--role', 'eng-lead');
    assert.equal(r.code, 0, r.stderr);
  }
  const r = await gonogo(w.dir, 'check', '-q');
  assert.equal(r.code, 3, r.stdout);
  assert.match(r.stdout, /Decision: GO WITH CONDITIONS/);
  assert.match(r.stdout, /H-0: .*feature flag off/);
  assert.equal((await gonogo(w.dir, 'check', '-q', '--accept-conditions')).code, 0);
  assert.equal((await gonogo(w.dir, 'waive', 'H-0', '--mitigation', 'x', '--owner', 'y', '--expires', '2001-01-01', '--as', 'dana', '--role', 'eng-lead')).code, 2, 'a past expiry is refused');
  // A waiver needs a role with the waive permission; without one nothing is recorded.
  const unauthorised = await gonogo(w.dir, 'waive', 'H-2', '--mitigation', 'x', '--owner', 'y', '--expires', '2999-01-01', '--as', 'eve', '--role', 'engineer');
  assert.equal(unauthorised.code, 2);
  assert.match(unauthorised.stderr, /refused: role engineer may not waive: it lacks the waive permission; nothing was recorded/);
  assert.equal((await gonogo(w.dir, 'waive', 'H-2', '--mitigation', 'x', '--owner', 'y', '--expires', '2999-01-01')).code, 2, '--as and --role are required');
  const status = await gonogo(w.dir, 'status');
  assert.equal(status.code, 3, 'status exits with the state: GO WITH CONDITIONS');
  assert.equal((status.stdout.match(/waiver H-/g) ?? []).length, 2, status.stdout);
});

test('cli: a QA lead cannot close the security stage; the security lead can; status lists it with its id; a revocation withdraws it', async () => {
  const w = workspace(health('C-1', 'critical'), `  qa-lead: [stage]
  security-lead: [stage, revoke]
people: { quinn: [qa-lead], sam: [security-lead] }
rules: { requiredSignoffs: ['stage:security'] }
stages:
  staging:
    - { id: security, title: Security, budget: 1h, items: [C-1], signoff: [security-lead] }
`);
  const before = await gonogo(w.dir, 'signoff', '--stage', 'security', '--as', 'sam', '--role', 'security-lead');
  assert.equal(before.code, 2);
  assert.match(before.stderr, /no completed run of stage security/);
  assert.equal((await gonogo(w.dir, 'validate', 'staging', '-q')).code, 1, 'the stage sign-off is missing');
  const qa = await gonogo(w.dir, 'signoff', '--stage', 'security', '--as', 'quinn', '--role', 'qa-lead');
  assert.equal(qa.code, 2);
  assert.match(qa.stderr, /refused: stage security is signed by security-lead \(its signoff:\), not qa-lead; nothing was recorded/);
  const impostor = await gonogo(w.dir, 'signoff', '--stage', 'security', '--as', 'quinn', '--role', 'security-lead');
  assert.equal(impostor.code, 2);
  assert.match(impostor.stderr, /quinn does not hold the role security-lead/);
  const signed = await gonogo(w.dir, 'signoff', '--stage', 'security', '--as', 'sam', '--role', 'security-lead');
  assert.equal(signed.code, 0, signed.stderr);
  const id = /attestation (\w+)/.exec(signed.stdout)?.[1] ?? '';
  assert.match(signed.stdout, /state of release .* GO/);
  const status = await gonogo(w.dir, 'status');
  assert.equal(status.code, 0, status.stdout);
  assert.match(status.stdout, new RegExp(`✔ ${id}  sign-off stage security — sam \\(security-lead\\)`));
  const revoked = await gonogo(w.dir, 'revoke', id, '--as', 'sam', '--role', 'security-lead', '--reason', 'pen test findings reopened');
  assert.equal(revoked.code, 0, revoked.stderr);
  const after = await gonogo(w.dir, 'status');
  assert.equal(after.code, 1);
  assert.match(after.stdout, new RegExp(`✖ ${id} .* revoked: revoked by sam`));
});

test('cli: a partial run prints its selection and the state after it; history marks it partial; status keeps the whole state', async () => {
  const w = workspace(health('C-1', 'critical', '/broken') + health('H-1', 'high'));
  assert.equal((await gonogo(w.dir, 'check', '-q')).code, 1);
  const partial = await gonogo(w.dir, 'check', '-q', '--only', 'H-1');
  assert.equal(partial.code, 0, 'the selection is GO');
  assert.match(partial.stdout, /partial run: covers 1 of 2 items/);
  const history = await gonogo(w.dir, 'history');
  assert.match(history.stdout.split('\n')[0], /partial \(--only H-1\)/);
  assert.doesNotMatch(history.stdout.split('\n')[1], /partial/);
  const status = await gonogo(w.dir, 'status');
  assert.equal(status.code, 1, 'the release is still NO-GO: C-1 failed and has not run since');
  assert.match(status.stdout, /Last run: +check \(partial\)/);
  const other = await gonogo(w.dir, '--release', 'v2.0.0', 'status');
  assert.equal(other.code, 1);
  assert.match(other.stdout, /not run for release v2\.0\.0/);
  assert.equal((await gonogo(w.dir, '--release', '-rf', 'status')).code, 2, 'a release id is plain text, never an option');
});

test('cli: manual items pass only when signed by an allowed role; status and history show it', async () => {
  const w = workspace(`${health('C-1', 'critical')}  - id: RUNBOOK-01
    title: Runbook reviewed
    tier: critical
    manual: true
    signers: [release-manager]
`);
  assert.equal((await gonogo(w.dir, 'check', '-q')).code, 1);
  const refused = await gonogo(w.dir, 'signoff', '--item', 'RUNBOOK-01', '--as', 'eve', '--role', 'engineer');
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /attested by release-manager \(signers:\), not engineer/);
  assert.equal((await gonogo(w.dir, 'signoff', '--item', 'RUNBOOK-01', '--as', 'erin', '--role', 'release-manager', '--note', 'read it')).code, 0);
  const status = await gonogo(w.dir, 'status');
  assert.equal(status.code, 0);
  assert.match(status.stdout, /Decision: +GO/);
  assert.match(status.stdout, /Readiness: +2\/2 critical \(100%\)/);
  assert.equal((await gonogo(w.dir, 'check', '-q')).code, 0);
  const history = await gonogo(w.dir, 'history');
  assert.match(history.stdout, /check .* GO 100%/);
  assert.match(history.stdout, /check .* NO-GO 50%/);
});

test('cli: a config error prints file:line:column, exits 2, no stack trace', async () => {
  const w = workspace(health('HEALTH-01', 'critical').replace('kind: http', 'kind: htttp'));
  const r = await gonogo(w.dir, 'check');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /gonogo\.yaml:\d+:\d+: items\.0\.check\.kind: unknown check kind "htttp"/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('cli: usage errors exit 2: unknown option, unknown --only id, unknown --env', async () => {
  const w = workspace(health('HEALTH-01', 'critical'));
  assert.equal((await gonogo(w.dir, 'check', '--bogus')).code, 2);
  const only = await gonogo(w.dir, 'check', '--only', 'NOPE');
  assert.equal(only.code, 2);
  assert.match(only.stderr, /unknown item ids: NOPE/);
  const env = await gonogo(w.dir, 'check', '--env', 'prod');
  assert.equal(env.code, 2);
  assert.match(env.stderr, /gonogo\.yaml:3:\d+: .*environment "prod" is not defined \(defined: staging\)/);
  const missing = await gonogo(w.dir, 'check', '--config', 'nope.yaml');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.yaml:1:1: config file not found/);
});

test('cli: junit and markdown formats, written with --out', async () => {
  const w = workspace(health('HEALTH-01', 'critical') + health('HEALTH-02', 'critical', '/broken'));
  const junit = join(w.dir, 'out', 'gonogo.xml');
  assert.equal((await gonogo(w.dir, 'check', '-q', '--format', 'junit', '--out', junit)).code, 1);
  const xml = readFileSync(junit, 'utf8');
  assert.match(xml, /<testsuites[^>]*>/);
  assert.match(xml, /<failure message="[^"]*status was 503/);
  const md = await gonogo(w.dir, 'check', '-q', '--format', 'markdown');
  assert.match(md.stdout, /NO-GO/);
  const report = await gonogo(w.dir, 'report');
  assert.equal(report.code, 0);
  assert.match(report.stdout, /HEALTH-02/);
  assert.match(report.stdout, /critical/i);
});

test('cli: a hung target is an error with a reason within its timeout; the run finishes', async () => {
  const w = workspace(health('HANG-01', 'critical', '/hang').replace('timeout: 2s', 'timeout: 300ms'));
  const r = await gonogo(w.dir, 'check', '--format', 'json');
  assert.equal(r.code, 1);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.items[0].status, 'error');
  assert.match(doc.items[0].message, /timed out after 300 ms/);
});

test('cli: Ctrl-C aborts the checks, stores the run as aborted (never GO) and exits 130', async () => {
  const w = workspace(health('HANG-01', 'critical', '/hang').replace('timeout: 2s', 'timeout: 60s'));
  const reached = new Promise<void>((r) => (hangSeen = r));
  const child = spawn(process.execPath, ['--import', TSX, BIN, 'check'], { cwd: w.dir, env: { ...process.env, CI: '1' } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d));
  await reached;
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  assert.equal(code, 130, out);
  assert.match(out, /aborted: no decision/);
  const history = await gonogo(w.dir, 'history', '--format', 'json');
  const runs = JSON.parse(history.stdout);
  assert.equal(runs[0].status, 'aborted');
  assert.equal(runs[0].verdict, undefined);
});

test('cli: --version and --help tell the truth', async () => {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8'));
  assert.equal((await gonogo('.', '--version')).stdout.trim(), pkg.version);
  const help = await gonogo('.', '--help');
  assert.equal(help.code, 0);
  for (const cmd of ['init', 'check', 'validate', 'signoff', 'waive', 'status', 'history', 'report', 'schema']) assert.match(help.stdout, new RegExp(`\\b${cmd}\\b`));
  assert.match(help.stdout, /130 +interrupted/);
});
