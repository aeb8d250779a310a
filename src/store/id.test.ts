import { test } from 'node:test';
import assert from 'node:assert/strict';
import { idGenerator } from './id.js';

test('ids made in the same millisecond still sort in creation order', () => {
  const next = idGenerator(() => 1_700_000_000_000);
  const ids = Array.from({ length: 1000 }, next);
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
});

test('ids keep increasing when the clock steps back', () => {
  let now = 1_700_000_000_000;
  const next = idGenerator(() => now);
  const first = next();
  now -= 60_000;
  const second = next();
  assert.ok(second > first, `${second} should sort after ${first}`);
});

test('a later millisecond sorts later, and ids are 26 characters of Crockford base 32', () => {
  let now = 1_700_000_000_000;
  const next = idGenerator(() => now);
  const a = next();
  now += 1;
  const b = next();
  assert.ok(b > a);
  assert.match(a, /^[0-9A-HJKMNP-TV-Z]{26}$/);
});
