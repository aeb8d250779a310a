import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { registry } from '../checks/index.js';
import { isValidatedBy } from '../checks/types.js';
import { loadConfigCached } from './cache.js';
import type { CacheOptions } from './cache.js';
import { ConfigError, loadConfig, loadConfigWithSnapshot, syntaxTreeLocator } from './load.js';
import type { LoadedConfig } from './load.js';

const ROOT = join(import.meta.dirname, '..', '..');

const CONFIG = `version: 1
environments:
  staging:
    url: "\${STAGING_URL}"
auth:
  users:
    alice: { username: alice, password: "\${ALICE_PASSWORD}" }
items:
  - id: ENV-01
    title: HOME is set
    tier: critical
    check: { kind: env, required: [HOME] }
  - id: DOC-01
    title: Runbook read
    tier: high
    manual: true
`;

function tempDir(t: TestContext, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `gonogo-${name}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A config folder with gonogo.yaml (and more files), and a cache folder beside it. */
function setup(t: TestContext, files: Record<string, string> = { 'gonogo.yaml': CONFIG }): { config: string; cache: string; dir: string } {
  const dir = tempDir(t, 'cache');
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return { config: join(dir, 'gonogo.yaml'), cache: join(dir, 'cache'), dir };
}

const options = (cache: string, more: Partial<CacheOptions> = {}): CacheOptions => ({ dir: cache, version: '1.0.0', build: 'build-a', ...more });

function entries(cache: string): string[] {
  try {
    return readdirSync(cache);
  } catch {
    return [];
  }
}

/** The one entry's text. */
function entryText(cache: string): string {
  const names = entries(cache);
  assert.equal(names.length, 1, names.join(', '));
  return readFileSync(join(cache, names[0]), 'utf8');
}

/** Every path into `value` (each prefix too), and a few that are in no file. */
function pathsOf(value: unknown, path: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(path);
  if (Array.isArray(value)) value.forEach((v, i) => pathsOf(v, [...path, i], out));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) pathsOf(v, [...path, k], out);
  return out;
}

/** The conditions as data: their sources, their trees (a compiled pattern as its source) and bindings. */
const conditionsOf = (l: LoadedConfig): string => JSON.stringify([...l.conditions]);

/** A cached load gives what loadConfig gives, field by field, `locate` and the conditions included. */
async function assertSameLoad(cached: LoadedConfig, file: string): Promise<void> {
  const fresh = await loadConfig(file);
  assert.deepEqual(cached.config, fresh.config);
  assert.deepEqual(Object.keys(cached.config), Object.keys(fresh.config));
  for (const k of ['file', 'files', 'dir', 'hash', 'gate', 'secretRefs'] as const) assert.deepEqual(cached[k], fresh[k], k);
  assert.equal(conditionsOf(cached), conditionsOf(fresh));
  const { snapshot } = await loadConfigWithSnapshot(file);
  assert.ok(snapshot, 'a config of this size is read with its syntax trees, and cached');
  const byTree = syntaxTreeLocator(
    snapshot.files.map((f) => ({ file: f.file, bytes: readFileSync(f.file) })),
    snapshot.itemOrigins,
  );
  const paths = [...pathsOf(fresh.config), [], ['nope'], ['environments', 'nope', 'url'], ['items', 999, 'id'], ['items', '0', 'id'], ['items', 0, 'check', 'nope', 'deeper']];
  for (const path of paths) {
    const want = byTree(path, 'm');
    assert.deepEqual(cached.locate(path, 'm'), want, `cached locate ${path.join('.')}`);
    assert.deepEqual(fresh.locate(path, 'm'), want, `locate ${path.join('.')}`);
  }
}

test('cache: a second load is read from the cache and is the same loaded config (every example and template)', async (t) => {
  const cache = join(tempDir(t, 'cache-examples'), 'cache');
  for (const file of ['examples/recipes-app/gonogo.yaml', 'templates/gonogo.yaml', 'templates/seed.yaml'].map((f) => join(ROOT, f))) {
    const first = await loadConfigCached(file, options(cache));
    assert.equal(first.cache, 'miss', file);
    const second = await loadConfigCached(file, options(cache));
    assert.equal(second.cache, 'hit', file);
    await assertSameLoad(first.loaded, file);
    await assertSameLoad(second.loaded, file);
  }
  assert.equal(entries(cache).length, 3);
});

test('cache: a check read from the cache counts as parsed by its own kind, and its options are what a fresh load parsed (every example and template)', async (t) => {
  const cache = join(tempDir(t, 'cache-validated'), 'cache');
  for (const file of ['examples/recipes-app/gonogo.yaml', 'templates/gonogo.yaml', 'templates/seed.yaml'].map((f) => join(ROOT, f))) {
    const fresh = await loadConfigCached(file, options(cache));
    const hit = await loadConfigCached(file, options(cache));
    assert.equal(hit.cache, 'hit', file);
    const checks = hit.loaded.config.items.flatMap((i) => (i.check ? [i.check] : []));
    assert.ok(checks.length > 0, file);
    for (const check of checks) {
      const kind = registry[check.kind as keyof typeof registry];
      assert.ok(isValidatedBy(check, kind), `${file}: ${check.kind}`);
      assert.ok(!isValidatedBy(check, check.kind === 'http' ? registry.headers : registry.http), 'by its own kind only');
      // What the engine then uses as parsed (the options beside the fields every check has): the values the loader's parse returned.
      const own = Object.fromEntries(Object.entries(check).filter(([k]) => !['kind', 'timeout', 'retries', 'backoff', 'expect'].includes(k)));
      assert.deepEqual(own, kind.options.parse(own), `${file}: ${check.kind} options as parsed`);
    }
    assert.deepEqual(hit.loaded.config.items.map((i) => i.check ?? null), fresh.loaded.config.items.map((i) => i.check ?? null));
  }
});

test('cache: a config built with extends is the same from the cache, positions in the file that wrote them', async (t) => {
  const { config, cache } = setup(t, {
    'shared/base.yaml': 'version: 1\nenvironments:\n  staging: { url: "http://127.0.0.1:9" }\nroles: { lead: ["*"] }\nitems:\n  - { id: BASE-01, title: Base, tier: high, manual: true }\n',
    'gonogo.yaml': 'extends: [shared/base.yaml]\nname: app\nenvironments:\n  prod: { url: "http://127.0.0.1:10" }\nitems:\n  - { id: OWN-01, title: Own, tier: critical, check: { kind: env, required: [HOME] } }\n',
  });
  assert.equal((await loadConfigCached(config, options(cache))).cache, 'miss');
  const hit = await loadConfigCached(config, options(cache));
  assert.equal(hit.cache, 'hit');
  assert.equal(hit.loaded.files.length, 2);
  await assertSameLoad(hit.loaded, config);
  // An item of the extended file is placed there.
  assert.match(hit.loaded.locate(['items', 0, 'title'], 'm').file, /base\.yaml$/);
});

test('cache: editing the config, editing a file it extends, another gonogo version or build: parsed again', async (t) => {
  const { config, cache, dir } = setup(t, {
    'base.yaml': 'version: 1\nenvironments:\n  staging: { url: "http://127.0.0.1:9" }\n',
    'gonogo.yaml': 'extends: [base.yaml]\nitems:\n  - { id: DOC-01, title: Runbook read, tier: high, manual: true }\n',
  });
  const load = (more: Partial<CacheOptions> = {}) => loadConfigCached(config, options(cache, more));
  assert.equal((await load()).cache, 'miss');
  assert.equal((await load()).cache, 'hit');

  // The same bytes written again are the same config.
  writeFileSync(config, readFileSync(config));
  assert.equal((await load()).cache, 'hit');

  writeFileSync(config, readFileSync(config, 'utf8').replace('Runbook read', 'Runbook signed'));
  const edited = await load();
  assert.equal(edited.cache, 'miss');
  assert.equal(edited.loaded.config.items[0].title, 'Runbook signed');
  assert.equal((await load()).loaded.config.items[0].title, 'Runbook signed');

  writeFileSync(join(dir, 'base.yaml'), 'version: 1\nenvironments:\n  staging: { url: "http://127.0.0.1:19" }\n');
  const base = await load();
  assert.equal(base.cache, 'miss');
  assert.equal(base.loaded.config.environments.staging.url, 'http://127.0.0.1:19');
  assert.equal((await load()).cache, 'hit');

  assert.equal((await load({ version: '1.0.1' })).cache, 'miss');
  assert.equal((await load({ build: 'build-b' })).cache, 'miss');
  assert.equal((await load()).cache, 'hit');

  // An extended file removed: the loader says so, the cache does not hide it.
  rmSync(join(dir, 'base.yaml'));
  await assert.rejects(load(), (err) => err instanceof ConfigError && /base\.yaml/.test(err.message));
});

test('cache: the config from another folder or named otherwise is not served from an entry made for this one', async (t) => {
  const { config, cache, dir } = setup(t);
  assert.equal((await loadConfigCached(config, options(cache))).cache, 'miss');
  const relative = await (async () => {
    const before = process.cwd();
    process.chdir(dir);
    try {
      return await loadConfigCached('gonogo.yaml', options(cache));
    } finally {
      process.chdir(before);
    }
  })();
  assert.equal(relative.cache, 'miss');
  assert.equal(relative.loaded.file, 'gonogo.yaml');
});

test('cache: no secret in the cache file: ${VAR} is kept as written, whatever the environment holds', async (t) => {
  const { config, cache } = setup(t);
  const secrets = { STAGING_URL: 'http://127.0.0.1:4000/secret-path-xyz', ALICE_PASSWORD: 'hunter2-correct-horse' };
  Object.assign(process.env, secrets);
  t.after(() => {
    for (const k of Object.keys(secrets)) delete process.env[k];
  });
  await loadConfigCached(config, options(cache));
  const hit = await loadConfigCached(config, options(cache));
  assert.equal(hit.cache, 'hit');
  const text = entryText(cache);
  for (const value of Object.values(secrets)) assert.ok(!text.includes(value), 'a secret value is in the cache');
  assert.ok(text.includes('${ALICE_PASSWORD}') && text.includes('${STAGING_URL}'));
  assert.equal(hit.loaded.config.auth?.users.alice.password, '${ALICE_PASSWORD}');
  assert.deepEqual(
    hit.loaded.secretRefs.map((r) => r.name),
    ['STAGING_URL', 'ALICE_PASSWORD'],
  );
});

const WRITTEN_OUT: { name: string; text: string }[] = [
  { name: 'a password', text: CONFIG.replace('"${ALICE_PASSWORD}"', 'correct-horse-battery') },
  { name: "a test user's headers", text: CONFIG.replace('password: "${ALICE_PASSWORD}"', 'headers: { authorization: "Bearer abcdef123456" }') },
  { name: 'a webhook URL', text: `${CONFIG}watch:\n  notify:\n    - slack: "https://hooks.slack.example/services/T0/B0/abcdefsecret"\n` },
];

for (const c of WRITTEN_OUT) {
  test(`cache: a config that writes ${c.name} out in the file is never cached`, async (t) => {
    const { config, cache } = setup(t, { 'gonogo.yaml': c.text });
    assert.equal((await loadConfigCached(config, options(cache))).cache, 'miss');
    assert.equal((await loadConfigCached(config, options(cache))).cache, 'miss');
    assert.deepEqual(entries(cache), []);
  });
}

test('cache: a corrupt, truncated, tampered or foreign entry is ignored and replaced, never a crash', async (t) => {
  const { config, cache } = setup(t);
  const load = () => loadConfigCached(config, options(cache));
  await load();
  const name = entries(cache)[0];
  const path = join(cache, name);
  const good = readFileSync(path, 'utf8');
  const spoilt: { name: string; text: string }[] = [
    { name: 'garbage', text: '\u0000\u0001not json at all' },
    { name: 'empty', text: '' },
    { name: 'truncated', text: good.slice(0, Math.floor(good.length / 2)) },
    { name: 'body changed', text: good.replace('Runbook read', 'Runbook skipped') },
    { name: 'head not an object', text: `[1,2]\n${good.slice(good.indexOf('\n') + 1)}` },
  ];
  for (const s of spoilt) {
    writeFileSync(path, s.text, { mode: 0o600 });
    const r = await load();
    assert.equal(r.cache, 'miss', s.name);
    assert.equal(r.loaded.config.items[1].title, 'Runbook read', s.name);
    assert.equal((await load()).cache, 'hit', `${s.name}: written again`);
  }
  // An entry others may write is not trusted.
  chmodSync(path, 0o666);
  assert.equal((await load()).cache, 'miss');
  // A folder where the entry should be.
  rmSync(path);
  mkdirSync(path);
  assert.equal((await load()).cache, 'miss');
  assert.equal((await load()).cache, 'miss');
  // No temp file left behind by the writes that failed.
  assert.deepEqual(entries(cache), [name]);
});

test('cache: a cache folder that cannot be written is fine: every load parses', async (t) => {
  const { config, dir } = setup(t);
  const blocker = join(dir, 'not-a-folder');
  writeFileSync(blocker, 'x');
  for (let i = 0; i < 2; i++) assert.equal((await loadConfigCached(config, options(join(blocker, 'cache')))).cache, 'miss');
});

test('cache: a config with problems is reported as always and never cached; no folder: the cache is off', async (t) => {
  const { config, cache } = setup(t, { 'gonogo.yaml': CONFIG.replace('tier: high', 'tier: highest') });
  await assert.rejects(loadConfigCached(config, options(cache)), (err) => err instanceof ConfigError && /items\.1\.tier/.test(err.message));
  assert.deepEqual(entries(cache), []);
  writeFileSync(config, CONFIG);
  assert.equal((await loadConfigCached(config, { version: '1.0.0', build: 'build-a' })).cache, 'off');
});

test('cache: the write is atomic: one entry, no temp file, readable by its owner only', async (t) => {
  const { config, cache } = setup(t);
  await Promise.all([1, 2, 3, 4].map(() => loadConfigCached(config, options(cache))));
  const names = entries(cache);
  assert.equal(names.length, 1, names.join(', '));
  assert.match(names[0], /^config-[0-9a-f]{32}\.json$/);
  const { statSync } = await import('node:fs');
  assert.equal(statSync(join(cache, names[0])).mode & 0o777, 0o600);
  assert.equal(statSync(cache).mode & 0o777, 0o700);
  assert.equal((await loadConfigCached(config, options(cache))).cache, 'hit');
});
