import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../test-support/cli.js';

// Exit codes CI gates on: a bug is not a config error (2) and not a decision.
function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-exit-'));
  writeFileSync(
    join(dir, 'gonogo.yaml'),
    ['version: 1', 'environments:', '  staging:', '    url: http://127.0.0.1:9', 'items:', '  - id: ENV-01', '    title: HOME is set', '    tier: critical', '    check:', '      kind: env', '      required: [HOME]', ''].join('\n'),
  );
  return dir;
}

test('an unforeseen error (a bug) exits 70 with one line naming it internal, not 2', async () => {
  const dir = workspace();
  // The environment throws when the store location is read: a stand-in for any bug in a command.
  const env = new Proxy<Record<string, string | undefined>>(
    { HOME: '/home/x' },
    {
      get(target, key) {
        if (key === 'GONOGO_STORE') throw new TypeError('simulated bug');
        return typeof key === 'string' ? target[key] : undefined;
      },
    },
  );
  const r = await runCli(['--config', join(dir, 'gonogo.yaml'), 'status'], env);
  assert.equal(r.code, 70);
  assert.match(r.stderr, /^gonogo: internal error: simulated bug\n/);
  assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace without GONOGO_DEBUG');
});

test('a store that cannot be opened stays exit 2 (could not record), without "internal"', async () => {
  const dir = workspace();
  // A directory where the SQLite file should be: the store fails, gonogo does not.
  const r = await runCli(['--config', join(dir, 'gonogo.yaml'), '--store', dir, 'history'], { HOME: '/home/x' });
  assert.equal(r.code, 2);
  assert.doesNotMatch(r.stderr, /internal/);
});

test('a config error stays exit 2', async () => {
  const dir = workspace();
  writeFileSync(join(dir, 'gonogo.yaml'), 'version: 2\n');
  const r = await runCli(['--config', join(dir, 'gonogo.yaml'), 'status'], { HOME: '/home/x' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /gonogo\.yaml:1:/);
});
