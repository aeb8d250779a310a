import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_DURATION_MS, formatDuration, parseDuration } from './duration.js';

const read: [string | number, number][] = [
  ['500ms', 500],
  ['2s', 2000],
  ['1.5h', 5_400_000],
  ['1.1s', 1100],
  ['15 m', 900_000],
  ['1d', 86_400_000],
  [250, 250],
  [0, 0],
  ['0s', 0],
  [MAX_DURATION_MS, MAX_DURATION_MS],
  ['24d', 24 * 86_400_000],
];

for (const [value, ms] of read) {
  test(`duration: ${JSON.stringify(value)} is ${ms} ms`, () => assert.equal(parseDuration(value), ms));
}

const refused: [string | number, RegExp][] = [
  // setTimeout fires at once past 2^31-1 ms: a "long" timeout would have ended every check immediately.
  [2 ** 31, /longer than the longest timer Node\.js can set \(2147483647 ms/],
  ['25d', /"25d" is longer than the longest timer/],
  ['2147483648ms', /longest timer/],
  ['soon', /not a duration: "soon" \(expected a duration such as 500ms/],
  ['2\ts', /not a duration/],
  ['-1s', /not a duration/],
  ['2 seconds', /not a duration/],
  [-5, /not a duration: -5/],
  [1.5, /whole number of milliseconds/],
];

for (const [value, error] of refused) {
  test(`duration: ${JSON.stringify(value)} is refused`, () => assert.throws(() => parseDuration(value), error));
}

test('duration: 0 is refused where it would end a check or stage at once', () => {
  for (const zero of [0, '0ms', '0s']) assert.throws(() => parseDuration(zero, { positive: true }), /would end at once: expected more than 0/);
  assert.equal(parseDuration('1ms', { positive: true }), 1);
});

test('duration: formatted for people', () => {
  assert.deepEqual([850, 12_345, 245_000, 5_400_000].map(formatDuration), ['850 ms', '12.3 s', '4m 05s', '1h 30m']);
});
