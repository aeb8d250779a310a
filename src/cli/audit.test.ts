import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runCli } from '../test-support/cli.js';

// The audit commands end to end on a real SQLite file: sign-offs recorded through the CLI, then the
// file forged directly, as anyone who can open it could.
test('audit verify, head and export; a forged sign-off breaks verify and shows in status', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-audit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'gonogo.yaml');
  writeFileSync(config, `version: 1
name: audited
environments:
  staging: { url: http://127.0.0.1:9 }
roles:
  qa: [item]
items:
  - { id: M-1, title: Restore drill done, tier: critical, manual: true }
`);
  const gonogo = (...args: string[]) => runCli(['--config', config, '--release', 'r1', ...args]);
  for (const who of ['ana', 'ben']) assert.equal((await gonogo('signoff', '--item', 'M-1', '--as', who, '--role', 'qa')).code, 0);

  const verify = await gonogo('audit', 'verify');
  assert.equal(verify.code, 0, verify.stderr);
  const intact = /^2 entries, chain intact, head ([0-9a-f]{64})\n$/.exec(verify.stdout);
  assert.ok(intact, verify.stdout);
  const head = await gonogo('audit', 'head');
  assert.equal(head.stdout, `${intact[1]}\n`);
  assert.equal((await gonogo('audit', 'verify', '--expect-head', intact[1])).code, 0);
  const lines = (await gonogo('audit', 'export')).stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => [l.seq, l.entry.kind, l.entry.data.by]), [[1, 'attestation', 'ana'], [2, 'attestation', 'ben']]);
  assert.equal(lines[1].prev, lines[0].hash);
  assert.equal((await gonogo('audit', 'export', '--since', '2')).stdout.trim().split('\n').length, 1);
  assert.equal((await gonogo('audit', 'export', '--since', 'soon')).code, 2);
  assert.match((await gonogo('status')).stdout, /^(?!.*Audit log)/s);

  const db = new Database(join(dir, '.gonogo', 'gonogo.db'));
  db.exec("INSERT INTO attestations (id, gate, kind, release_id, at, body) SELECT 'FORGED', gate, kind, release_id, at, body FROM attestations LIMIT 1");
  db.close();
  const broken = await gonogo('audit', 'verify');
  assert.equal(broken.code, 1);
  assert.match(broken.stdout, /^chain broken: the attestation FORGED is in the store but not in the audit log: it was inserted/);
  const status = await gonogo('status');
  assert.match(status.stdout, /Audit log: +BROKEN: the attestation FORGED is in the store but not in the audit log/);
});
