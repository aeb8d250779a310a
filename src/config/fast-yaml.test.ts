import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { FAST_PARSE_MIN_CHARS, fastParse, readPlain } from './fast-yaml.js';
import { ConfigError, loadConfig, parseConfig } from './load.js';
import '../checks/index.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** What the `yaml` library reads, as load.ts asks it to. */
function slow(text: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) throw doc.errors[0];
  return doc.toJS({ maxAliasCount: 100 });
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

test('both parsers read every example, template and fixture alike', () => {
  const files = [...yamlFiles(join(ROOT, 'examples')), ...yamlFiles(join(ROOT, 'templates')), ...yamlFiles(join(ROOT, 'src', 'test-support', 'fixtures'))];
  assert.ok(files.length >= 4, files.join(', '));
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const plain = readPlain(text);
    // A file with an anchor is left to the parser with positions; every other one must read alike.
    if (plain === undefined) assert.match(text, /&\w/, `${file}: js-yaml did not read it`);
    else assert.deepEqual(plain, slow(text), file);
  }
});

test('both parsers read tricky scalars alike, or the fast one leaves the file', () => {
  const scalars = ['0o17', '0x1F', '017', '1_000', '+1', '.5', '1.', '1e3', '-.inf', '.NaN', '~', 'null', 'Null', 'True', 'FALSE', 'yes', 'no', 'on', 'off', 'y', '2024-01-01', '2024-01-01T10:00:00Z', '12:30:00', '0b101', '-0b1', '+0x1F', '-0x1F', '+0o17', '0X1F', '0O17', '0x_1F', '1_0.5', '-0.0', '-00', '-0e0', '-0.5', '+0', '+.inf', '.Inf', '00', '-0', '0.', '+12.5e-3', '12e03', '!!int "12"', '!!float 1', '!!bool "true"', '"\\u00e9"', "'it''s'", '"a\\tb"', '|\n    two\n    lines', '>-\n    folded\n    text', '!!str 12', '[1, "a", {b: c}]', '{}', '""', '1:2'];
  for (const s of scalars) {
    const text = `version: 1\nvalue: ${s}\n`;
    const plain = fastParse(text);
    if (plain !== undefined) assert.deepEqual(plain, slow(text), s);
  }
  // Merge keys of an inline mapping (no anchor) merge in both.
  const merged = 'a:\n  <<: {x: 1, y: 2}\n  y: 3\n';
  assert.deepEqual(readPlain(merged), slow(merged));
});

test('what the fast parser leaves to the parser with positions', () => {
  assert.equal(fastParse('a: ${TOKEN}\n'), undefined, 'a secret reference: its position is kept');
  assert.equal(fastParse('base: &b {x: 1}\nuse: *b\n'), undefined, 'an anchor: its uses are counted');
  assert.equal(fastParse('%YAML 1.1\n---\na: yes\n'), undefined, 'a directive');
  assert.equal(fastParse('a: 1\na: 2\n'), undefined, 'a duplicate key');
  assert.equal(fastParse('a: [1\n'), undefined, 'a syntax error');
  assert.equal(fastParse('a: 1\n---\nb: 2\n'), undefined, 'two documents');
  assert.deepEqual(fastParse('expect: ["text matches \\"a.*b\\""]\n'), { expect: ['text matches "a.*b"'] }, 'a star in a string is no alias');
});

/** A config of `n` http items, large enough to be read without its syntax tree. */
function bigConfig(n: number, extra = ''): string {
  const lines = ['version: 1', 'environments:', '  staging: { url: "http://127.0.0.1:9" }', 'items:'];
  for (let i = 0; i < n; i++) lines.push(`  - id: T-${i}`, `    title: Endpoint ${i}`, '    tier: high', '    check:', '      kind: http', `      url: "{{env.url}}/item/${i}"`, `      expect: ['status == 200', 'body.status == "ok"']${i === n - 7 ? extra : ''}`);
  return `${lines.join('\n')}\n`;
}

test('a large config loads read without its syntax tree as with it, and its problems are placed alike', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-fast-yaml-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const text = bigConfig(2000);
  assert.ok(text.length >= FAST_PARSE_MIN_CHARS);
  const file = join(dir, 'gonogo.yaml');
  writeFileSync(file, text);
  const fast = await loadConfig(file);
  const withTree = parseConfig(text, file);
  assert.deepEqual(fast.config, withTree.config);
  assert.equal(fast.hash, withTree.hash);
  assert.deepEqual([...fast.conditions.keys()], [...withTree.conditions.keys()]);
  assert.deepEqual(fast.locate(['environments', 'nope', 'url'], 'm'), withTree.locate(['environments', 'nope', 'url'], 'm'));

  // A problem deep in the file (an unknown key, a bad condition): the same file:line:column.
  const bad = bigConfig(2000, "\n      nope: 1\n      timeout: 'soon'");
  writeFileSync(file, bad);
  const problemsOf = async (load: () => unknown): Promise<string> => {
    try {
      await load();
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      throw err;
    }
    return 'no problem';
  };
  const expected = await problemsOf(() => parseConfig(bad, file));
  assert.match(expected, /unknown key "nope"/);
  assert.equal(await problemsOf(() => loadConfig(file)), expected);
});
