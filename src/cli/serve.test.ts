// `gonogo serve` as a real process: it starts on the port asked (0: any), says where and that a restart
// signs everyone out, serves the dashboard over its store, and stops on SIGTERM with exit 0, its
// store closed. Usage mistakes are exit 2 before anything listens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../test-support/cli.js';

const BIN = join(import.meta.dirname, 'bin.ts');
const TSX = import.meta.resolve('tsx');

function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-serve-cli-'));
  writeFileSync(
    join(dir, 'gonogo.yaml'),
    `version: 1
name: shop
environments: { staging: { url: "http://127.0.0.1:9" } }
roles: { release-manager: [decision, stage, item] }
items:
  - { id: DOC-01, title: Runbook reviewed, tier: recommended, manual: true }
`,
  );
  return dir;
}

test('gonogo serve starts, serves, and stops on SIGTERM with exit 0', async () => {
  const dir = workspace();
  const env = { ...process.env, CI: '1', GONOGO_NEW_PASSWORD: 'a-long-enough-password' };
  const added = await runCli(['--config', join(dir, 'gonogo.yaml'), 'user', 'add', 'erin', '--role', 'release-manager'], env);
  assert.equal(added.code, 0, added.stderr);
  const child = spawn(process.execPath, ['--import', TSX, BIN, '--config', join(dir, 'gonogo.yaml'), '--release', 'v1', 'serve', '--port', '0'], { cwd: dir, env: { ...process.env, CI: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) resolve(m[1]);
    });
    void exited.then(() => reject(new Error(`gonogo serve exited before it listened: ${stderr}`)));
  });
  try {
    assert.match(stderr, /gate shop at http:\/\/127\.0\.0\.1:\d+ \(release v1, pinned by --release\)/);
    assert.match(stderr, /a restart signs everyone out/);
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    const login = await fetch(`${url}/login`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify({ name: 'erin', password: 'a-long-enough-password' }) });
    assert.equal(login.status, 200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
    const state = await fetch(`${url}/api/v1/gates/shop/state`, { headers: { cookie } });
    assert.equal(((await state.json()) as { release: string }).release, 'v1');
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
  assert.match(stderr, /GET \/api\/v1\/gates\/shop\/state 200 \d+ms erin/, 'one line per request');
  assert.match(stderr, /SIGTERM: stopping/);
});

test('gonogo serve refuses a bad port or host with exit 2', async () => {
  const dir = workspace();
  for (const args of [['--port', '70000'], ['--port', 'http'], ['--host', ' ']]) {
    const r = await runCli(['--config', join(dir, 'gonogo.yaml'), 'serve', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /--(port|host)/);
  }
});
