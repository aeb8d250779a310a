// `gonogo list` and `gonogo init --template`, called as main() will call them (the lead registers
// them there); refusals are thrown as UsageError / ConfigError, which main() turns into exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Output } from './io.js';
import type { Sink } from './io.js';
import type { Cli } from './commands.js';
import { UsageError } from './exit.js';
import { cmdList } from './list.js';
import { cmdInit } from './init.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { planRun } from '../engine/plan.js';

function memoryCli(env: Record<string, string | undefined> = {}): { cli: Cli; out: () => string } {
  let text = '';
  const sink: Sink = {
    write(chunk: string, callback?: (err?: Error | null) => void): boolean {
      text += chunk;
      callback?.();
      return true;
    },
  };
  const cli: Cli = { io: { stdout: sink, stderr: sink, env }, out: new Output(sink, 'stdout'), err: new Output(sink, 'stderr') };
  return { cli, out: () => text };
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-list-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('list: prints each item with its kind, target and conditions, and sends nothing', async (t) => {
  // A listening server that counts requests: list must never reach it.
  let requests = 0;
  const server = createServer((_, res) => {
    requests += 1;
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = tempDir(t);
  const file = join(dir, 'gonogo.yaml');
  writeFileSync(
    file,
    `version: 1
environments:
  staging: { url: "${url}", region: eu }
items:
  - { id: H-1, title: Health, tier: critical, check: { kind: http, url: "{{env.url}}/health/{{env.region}}", expect: ["status == 200", "body.v == {{release}}"] } }
  - { id: C-1, title: Build, tier: high, check: { kind: command, run: [npm, run, build], timeout: 5m } }
  - { id: M-1, title: Runbook, tier: recommended, manual: true, signers: [release-manager] }
  - { id: S-1, title: Headers, tier: critical, check: { kind: headers, path: /, paths: [/login] } }
roles: { release-manager: [item] }
`,
  );
  const { cli, out } = memoryCli();
  assert.equal(await cmdList(cli, { config: file }, { release: '1.4.2' }), 0);
  const text = out();
  assert.equal(requests, 0, 'nothing was sent');
  assert.match(text, /4 items against staging .*nothing was sent/);
  assert.match(text, new RegExp(`H-1 +critical +http +Health\\n +target: GET ${url}/health/eu\\n +checks: status == 200\\n +checks: body\\.v == "1\\.4\\.2"\\n`));
  assert.match(text, /C-1 +high +command +Build\n +target: npm run build\n +checks: exit_code == 0\n +timeout 5m/);
  assert.match(text, /M-1 +recommended +manual +Runbook\n +target: a person attests it\n +checks: a sign-off by release-manager/);
  assert.match(text, new RegExp(`S-1 +critical +headers +Headers\\n +target: ${url} /, /login`));

  const only = memoryCli();
  await cmdList(only.cli, { config: file }, { tier: 'high,recommended', format: 'json' });
  const plan = JSON.parse(only.out());
  assert.deepEqual(plan.items.map((i: { id: string }) => i.id), ['C-1', 'M-1']);
  assert.equal(plan.left, 2);
});

test('plan: an environment url from an unset ${VAR} is shown as written, with a note that a run would be refused', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'gonogo.yaml');
  await cmdInit(memoryCli().cli, file, {});
  const loaded = await loadConfig(file);
  const plan = planRun(loaded, { processEnv: {} });
  assert.equal(plan.items.length, 58);
  assert.equal(plan.items.find((i) => i.id === 'FUNC-01')?.target, 'GET ${STAGING_URL}/health');
  assert.deepEqual(plan.notes, ['the url of environment "staging" reads ${STAGING_URL}, which is not set: a run would be refused (export STAGING_URL=https://... or pass --url)']);
  assert.deepEqual(planRun(loaded, { processEnv: { STAGING_URL: 'https://staging.example.com' } }).notes, []);
  assert.equal(planRun(loaded, { urlOverride: 'http://127.0.0.1:1' }).items.find((i) => i.id === 'FUNC-01')?.target, 'GET http://127.0.0.1:1/health');
});

const listRefusals: { name: string; opts: Parameters<typeof cmdList>[2]; expect: RegExp }[] = [
  { name: 'an unknown tier', opts: { tier: 'critical,urgent' }, expect: /--tier: unknown tier "urgent"/ },
  { name: 'an unknown item id', opts: { only: 'FUNC-01,NOPE-9' }, expect: /--only: unknown item ids: NOPE-9/ },
  { name: 'a --url that is not absolute http(s)', opts: { url: 'localhost:3000' }, expect: /--url: "localhost:3000" is not an http or https URL/ },
  { name: 'a relative --url', opts: { url: '/health' }, expect: /--url: not an absolute URL/ },
];

for (const c of listRefusals) {
  test(`list: refuses ${c.name}`, async (t) => {
    const file = join(tempDir(t), 'gonogo.yaml');
    await cmdInit(memoryCli().cli, file, {});
    await assert.rejects(cmdList(memoryCli().cli, { config: file }, c.opts), (err: unknown) => err instanceof UsageError && c.expect.test(err.message));
  });
}

test('list: an unknown --env is a config problem at environments', async (t) => {
  const file = join(tempDir(t), 'gonogo.yaml');
  await cmdInit(memoryCli().cli, file, {});
  await assert.rejects(cmdList(memoryCli().cli, { config: file }, { env: 'prod' }), (err: unknown) => err instanceof ConfigError && /environment "prod" is not defined \(defined: staging, production\)/.test(err.message));
});

test('init: the generic web-service checklist by default, the seed with --template seed, each loading', async (t) => {
  const dir = tempDir(t);
  const generic = join(dir, 'gonogo.yaml');
  const seed = join(dir, 'seed.yaml');
  await cmdInit(memoryCli().cli, generic, {});
  await cmdInit(memoryCli().cli, seed, { template: 'seed' });
  const g = readFileSync(generic, 'utf8');
  const s = readFileSync(seed, 'utf8');
  assert.doesNotMatch(g, /recipe|famil|super-admin/i, 'the generic checklist has neutral wording');
  assert.match(s, /recipe/i, "the seed's own wording");
  assert.match(g.split('\n')[0], /^# yaml-language-server: \$schema=.*schema\/gonogo\.schema\.json$/);
  for (const file of [generic, seed]) assert.equal((await loadConfig(file)).config.items.length, 58);
});

test('init: refuses an unknown template and an existing file without --force', async (t) => {
  const file = join(tempDir(t), 'gonogo.yaml');
  await assert.rejects(cmdInit(memoryCli().cli, file, { template: 'recipes' }), (err: unknown) => err instanceof UsageError && /unknown template "recipes" \(expected web-service or seed\)/.test(err.message));
  await cmdInit(memoryCli().cli, file, {});
  await assert.rejects(cmdInit(memoryCli().cli, file, { template: 'seed' }), (err: unknown) => err instanceof UsageError && /already exists \(use --force/.test(err.message));
  await cmdInit(memoryCli().cli, file, { template: 'seed', force: true });
  assert.match(readFileSync(file, 'utf8'), /recipe/i);
});
