import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SCAN, compilePattern, linear, mustCompile } from './pattern.js';
import { patternString } from './pattern-schema.js';
import type { Pattern } from './pattern.js';

function compiled(source: string, options?: Parameters<typeof compilePattern>[1]): Pattern {
  const r = compilePattern(source, options);
  if (!r.ok) throw new Error(`${source}: ${r.error} at ${r.column}`);
  return r.pattern;
}

// The same answers as V8's RegExp on ordinary text: the translation keeps JavaScript's syntax.
const agrees: { name: string; source: string; flags?: string; text: string }[] = [
  { name: 'digits', source: '\\d+ passed', text: 'Tests: 42 passed' },
  { name: 'anchored JSON content type', source: '^application/json', text: 'application/json; charset=utf-8' },
  { name: 'ignore case', source: 'aws_access_key_id\\s*=', flags: 'i', text: 'AWS_ACCESS_KEY_ID = x' },
  { name: 'multiline anchors', source: '^services:\\s*$', flags: 'm', text: 'version: 3\nservices:\n  web:' },
  { name: 'named group', source: '(?<year>\\d{4})-(\\d{2})', text: 'on 2024-05-01' },
  { name: '\\u escape', source: '\\u0041BC', text: 'xABC' },
  { name: '[^] is any character', source: 'a[^]b', text: 'a\nb' },
  { name: 'escaped slash', source: 'https?:\\/\\/', text: 'see http://x' },
  { name: 'NUL bytes', source: '^\\0\\0\\0\\x01Bud1', text: '\0\0\0\x01Bud1 rest' },
  { name: 'lazy repetition', source: 'a.{0,5}?c', text: 'xabcbc' },
  { name: 'no match', source: 'ORA-\\d{5}\\b', text: 'ORA-123' },
  { name: 'non-ASCII text before the match', source: 'b+', text: '😀ébbb' },
];

for (const c of agrees) {
  test(`pattern agrees with RegExp: ${c.name}`, () => {
    const p = compiled(c.source, { ignoreCase: c.flags?.includes('i'), multiline: c.flags?.includes('m') });
    const native = new RegExp(c.source, c.flags).exec(c.text);
    assert.equal(p.test(c.text), native !== null);
    const m = p.exec(c.text);
    if (native === null) return assert.equal(m, null);
    assert.ok(m);
    assert.deepEqual([...m], [...native]);
    assert.equal(m.index, native.index);
  });
}

// `at` marks the expected column under the pattern, as the error would point.
const refused: { name: string; source: string; at: string; error: string | RegExp }[] = [
  { name: 'backreference', source: '(a)\\1', at: '   ^', error: 'backreference "\\1" is not supported: gonogo runs patterns on a linear-time engine (RE2 syntax)' },
  { name: 'named backreference', source: '(?<q>[\'"]).*\\k<q>', at: '            ^', error: /^backreference "\\k<...>" is not supported/ },
  { name: 'lookahead', source: '(?=x)', at: '^', error: /^lookahead "\(\?=" is not supported/ },
  { name: 'negative lookahead', source: 'a(?!b)', at: ' ^', error: /^lookahead "\(\?!" is not supported/ },
  { name: 'lookbehind', source: 'x(?<=a)b', at: ' ^', error: /^lookbehind "\(\?<=" is not supported/ },
  { name: 'negative lookbehind', source: '(?<!a)b', at: '^', error: /^lookbehind "\(\?<!" is not supported/ },
  { name: 'unclosed class', source: '([', at: ' ^', error: 'missing closing ]: `[`' },
  { name: 'second class unclosed', source: '[ab][cd', at: '    ^', error: 'missing closing ]: `[cd`' },
  { name: 'unclosed group', source: 'a(b(c)', at: ' ^', error: /^missing closing \)/ },
  { name: 'group closing nothing', source: 'ab)c', at: '  ^', error: /^unexpected \)/ },
  { name: 'bad repeat', source: 'x{2,1}', at: ' ^', error: 'invalid repeat count: `{2,1}`' },
  { name: 'nested repetition', source: 'a**', at: ' ^', error: 'invalid nested repetition operator: `**`' },
  { name: 'trailing backslash', source: 'ab\\', at: '  ^', error: /trailing backslash/ },
];

for (const c of refused) {
  test(`pattern refused: ${c.name}`, () => {
    const r = compilePattern(c.source);
    assert.equal(r.ok, false, 'expected a refusal');
    if (r.ok) return;
    if (typeof c.error === 'string') assert.equal(r.error, c.error);
    else assert.match(r.error, c.error);
    assert.equal(r.column, c.at.indexOf('^'), r.error);
  });
}

test('lookaround-like text inside a class or escaped is not refused', () => {
  assert.ok(compilePattern('[(?=]x').ok);
  assert.ok(compilePattern('\\(?=').ok);
  assert.ok(compilePattern('(?<name>x)').ok);
  assert.ok(compilePattern('(?:x)').ok);
});

test('catastrophic patterns are accepted and answered on 1 MB of hostile text', () => {
  const hostile = `${'a'.repeat(1_000_000)}!`;
  for (const source of ['(a+)+$', '(a|a)+$', '(a|aa)+$', '(.*a){12}$', '^(\\w+\\s?)*$']) {
    const p = compiled(source, { maxScan: 2_000_000 });
    assert.equal(p.test(hostile), false, source);
    assert.equal(p.exec(hostile), null, source);
  }
  assert.equal(compiled('(a+)+!$', { maxScan: 2_000_000 }).exec(hostile)?.[0].length, 1_000_001);
});

test('nothing past maxScan is read', () => {
  const p = linear(/needle/, 10);
  assert.equal(p.maxScan, 10);
  assert.equal(p.test(`${'x'.repeat(10)}needle`), false);
  assert.equal(p.test(`${'x'.repeat(4)}needle`), true);
  assert.equal(p.exec(`${'x'.repeat(5)}needle`), null);
  assert.equal(linear(/x/).maxScan, MAX_SCAN);
});

test('replaceAll: every match, replacement taken literally, text past the bound dropped', () => {
  const p = linear(/s3cr\w+/, 40);
  assert.equal(p.replaceAll('a=s3cret b=s3crit', (m) => `${m.slice(0, 2)}$&***`), 'a=s3$&*** b=s3$&***');
  assert.equal(p.replaceAll(`${'.'.repeat(34)}s3cret`, () => '***'), `${'.'.repeat(34)}***`);
  assert.equal(p.replaceAll(`${'.'.repeat(50)}s3cret`, () => '***'), '.'.repeat(40));
});

test('split: around every match, no empty pieces', () => {
  assert.deepEqual(linear(/\s+/).split("  default-src 'self'\t https: "), ['default-src', "'self'", 'https:']);
  assert.deepEqual(linear(/\s+/).split(''), []);
});

test('linear: a built-in pattern the engine cannot take fails when the module loads', () => {
  assert.throws(() => linear(/(a)\1/), /built-in pattern \/\(a\)\\1\/ at 3: backreference/);
  assert.equal(linear(/ABC/i).test('xabc'), true);
  assert.equal(linear(/^b/m).test('a\nb'), true);
  assert.equal(linear(/a.b/s).test('a\nb'), true);
});

test('matchAll: every match in order, empty matches stepped over', () => {
  const srcs = linear(/<script\b[^>]*\bsrc\s*=\s*["']([^"']+)["']/i).matchAll('<script src="/a.js"></script><SCRIPT defer src=\'/b.js\'>');
  assert.deepEqual(srcs.map((m) => [m[1], m.index]), [['/a.js', 0], ['/b.js', 29]]);
  assert.deepEqual(linear(/a*/).matchAll('baac').map((m) => m[0]), ['', 'aa', '', '']);
  assert.deepEqual(linear(/a/, 3).matchAll('aaaaa').length, 3);
});

test('patternString: a config pattern the engine cannot take is refused with the reason and the character', () => {
  const schema = patternString({ ignoreCase: true });
  assert.equal(schema.safeParse('^todo$').success, true);
  const r = schema.safeParse('^(?!real)');
  assert.equal(r.success, false);
  assert.equal(r.error?.issues[0]?.message, 'invalid regular expression: lookahead "(?!" is not supported: gonogo runs patterns on a linear-time engine (RE2 syntax), at character 2');
  assert.equal(mustCompile('^TODO$', { ignoreCase: true }).test('todo'), true);
  assert.throws(() => mustCompile('(a)\\1'), /^Error: invalid regular expression \/\(a\)\\1\/: backreference "\\1" is not supported.*, at character 4$/);
});
