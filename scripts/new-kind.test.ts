import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The scaffolder on a copy of the repository: the new kind typechecks (its file and the contract it
// imports; the registry line is checked by loading it), registers, is in the JSON Schema and in the
// README's table; a second run refuses the same name.
const ROOT = join(import.meta.dirname, '..');

test('new-kind: a scaffolded kind typechecks, registers (local), and appears in the schema and README', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-new-kind-'));
  for (const p of ['src', 'scripts', 'schema', 'README.md', 'package.json', 'tsconfig.json']) cpSync(join(ROOT, p), join(dir, p), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(dir, 'scripts', 'new-kind.ts'), ...args, '--root', dir], { cwd: dir, encoding: 'utf8' });
  const made = run('disk-space');
  assert.equal(made.status, 0, made.stderr);

  writeFileSync(join(dir, 'tsconfig.kind.json'), JSON.stringify({ extends: './tsconfig.json', include: [], files: ['src/checks/disk-space/index.ts'] }));
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.kind.json', '--noEmit'], { cwd: dir, encoding: 'utf8' });
  assert.equal(tsc.status, 0, tsc.stdout);

  const probe = `const { loadKinds, KIND_NAMES } = await import(${JSON.stringify(join(dir, 'src', 'checks', 'kinds.ts'))});
const k = (await loadKinds(['disk-space']))['disk-space'];
console.log(JSON.stringify({ listed: KIND_NAMES.includes('disk-space'), name: k.name, reach: k.reach, host: k.host({ target: 'x' }, { name: 's', url: 'http://a', vars: {} }) ?? null }));`;
  const loaded = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: dir, encoding: 'utf8' });
  assert.equal(loaded.status, 0, loaded.stderr);
  assert.deepEqual(JSON.parse(loaded.stdout), { listed: true, name: 'disk-space', reach: 'local', host: null });

  assert.match(readFileSync(join(dir, 'schema', 'gonogo.schema.json'), 'utf8'), /"const": "disk-space"/);
  assert.match(readFileSync(join(dir, 'README.md'), 'utf8'), /^\| `disk-space` \|/m);
  const again = run('disk-space');
  assert.equal(again.status, 2);
  assert.match(again.stderr, /already exists/);
});
