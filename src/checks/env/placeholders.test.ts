import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mustCompile } from '../../util/pattern.js';
import { DEFAULT_PLACEHOLDERS, placeholderTests } from './placeholders.js';
import { seededRandom as random } from '../../test-support/random.js';

// Pieces a placeholder, a near miss or a real value is made of, with the characters where a
// case-insensitive engine and plain code could part: the two non-ASCII letters that fold to ASCII
// (KELVIN SIGN, LONG S), a capital I with a dot (lowercases to two characters), line ends.
const PIECES = [
  'change', 'CHANGE', 'Change', 'me', 'ME', 'this', 'THIS', 'replace', 'REPLACE', 're', 'ex', '-', '_', ' ', '  ',
  'x', 'X', 'xx', 'your', 'YOUR', '<', '>', '${', '$', '{', '}', 'todo', 'TODO', 'tbd', 'fixme', 'placeholder',
  'dummy', 'null', 'undefined', 'a', 'Z', '9', '0', '\n', '\r', '\t', '\u212a', '\u017f', '\u0130', 'é', 'key', 'thi', 'Me',
];

function values(n: number): string[] {
  const next = random(20261202);
  const out = ['', 'changeme', 'change-me', 'exchange-metrics', 'CHANGE_THIS', 'replace me', 'xxx', 'xx', 'your-key', 'your', '<api key>', '<a\nb>', '${X}', '${a}b}', '${a\nb}', 'TODO', 'to do'];
  for (let i = 0; i < n; i++) {
    const count = Math.floor(next() * 7);
    let v = '';
    for (let k = 0; k < count; k++) v += PIECES[Math.floor(next() * PIECES.length)];
    out.push(v);
  }
  return out;
}

test('each default placeholder, as code, answers as its pattern does on the linear-time engine', () => {
  const all = values(30_000);
  for (const source of DEFAULT_PLACEHOLDERS) {
    const [code] = placeholderTests([source]);
    const pattern = mustCompile(source, { ignoreCase: true });
    let hits = 0;
    for (const v of all) {
      const expected = pattern.test(v);
      assert.equal(code.test(v), expected, `/${source}/i on ${JSON.stringify(v)}`);
      if (expected) hits++;
    }
    // Each pattern both matches and misses among the values: the comparison judged something.
    assert.ok(hits > 0 && hits < all.length, `/${source}/i matched ${hits} of ${all.length}`);
  }
});

test('a value longer than a pattern reads is no placeholder, by code as by pattern', () => {
  const long = 'x'.repeat(64 * 1024 + 1);
  const [code] = placeholderTests(['^x{3,}$']);
  assert.equal(code.test(long), false);
  assert.equal(code.test('x'.repeat(64 * 1024)), true);
});

test('a pattern of the user\'s own is compiled and reported by its source', () => {
  const [own] = placeholderTests(['^pk_test_']);
  assert.equal(own.source, '^pk_test_');
  assert.equal(own.test('PK_TEST_123'), true);
  assert.equal(own.test('pk_live_123'), false);
});
