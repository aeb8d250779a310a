import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../src/test-support/server.js';

// The published CLI is the bundle: built fresh, it must run what the source runs. A CommonJS
// dependency imported on demand (undici) reaches a bundle differently from Node (its exports under
// `default`): only running the bundle shows that.
const ROOT = join(import.meta.dirname, '..');
const OUT = join(ROOT, 'dist', `bundle-test-${process.pid}`);
after(() => rmSync(OUT, { recursive: true, force: true }));

test('bundle: the bundled CLI runs an http check and a store command end to end', async () => {
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs'), OUT], { encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  const server = await serve((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'));
  try {
    const dir = mkdtempSync(join(tmpdir(), 'gonogo-bundle-'));
    const yaml = ['version: 1', 'environments:', `  staging: { url: "${server.url}" }`, 'items:', '  - id: H1', '    title: health', '    tier: critical', '    check:', '      kind: http', '      url: "{{env.url}}/health"', "      expect: ['status == 200', 'body.status == \"ok\"']", ''];
    writeFileSync(join(dir, 'gonogo.yaml'), yaml.join('\n'));
    // Asynchronous: the server answers from this process's event loop.
    const run = (...args: string[]) =>
      new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [join(OUT, 'bin.js'), ...args], { cwd: dir, env: { ...process.env, CI: '1' }, timeout: 60_000 }, (err, stdout, stderr) => {
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
