import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStrictDate } from './date.js';

const accepted: { name: string; text: string; iso: string; note?: RegExp }[] = [
  { name: 'a date alone is the end of that day in UTC, and says so', text: '2099-02-28', iso: '2099-02-28T23:59:59.999Z', note: /^2099-02-28 read as the end of that day, 2099-02-28T23:59:59\.999Z \(UTC\)$/ },
  { name: 'a leap day', text: '2028-02-29', iso: '2028-02-29T23:59:59.999Z', note: /end of that day/ },
  { name: 'a year 2000 leap day (divisible by 400)', text: '2000-02-29', iso: '2000-02-29T23:59:59.999Z', note: /end of that day/ },
  { name: 'a date-time in UTC, minutes only', text: '2099-02-28T17:00Z', iso: '2099-02-28T17:00:00.000Z' },
  { name: 'a date-time with seconds', text: '2099-02-28T17:00:05Z', iso: '2099-02-28T17:00:05.000Z' },
  { name: 'a date-time with a positive offset', text: '2099-02-28T17:00:00+01:00', iso: '2099-02-28T16:00:00.000Z' },
  { name: 'a date-time with a negative offset across midnight', text: '2099-02-28T22:30:00-05:30', iso: '2099-03-01T04:00:00.000Z' },
  { name: 'a fraction of one digit', text: '2099-02-28T17:00:00.5Z', iso: '2099-02-28T17:00:00.500Z' },
  { name: 'a fraction past milliseconds is cut, not rounded', text: '2099-02-28T23:59:59.999999Z', iso: '2099-02-28T23:59:59.999Z' },
  { name: 'a year before 100 is not read as 19xx', text: '0050-01-01T00:00Z', iso: '0050-01-01T00:00:00.000Z' },
];

for (const c of accepted) {
  test(`date: ${c.name}`, () => {
    const r = parseStrictDate(c.text);
    assert.ok('ms' in r, 'error' in r ? r.error : '');
    assert.equal(new Date(r.ms).toISOString(), c.iso);
    if (c.note) assert.match(r.note ?? '', c.note);
    else assert.equal(r.note, undefined);
  });
}

const refused: { name: string; text: string; error: RegExp }[] = [
  { name: 'February 31st (new Date rolls it over to March)', text: '2099-02-31', error: /"2099-02-31" is not a date: February 2099 has no day 31 \(expected 01-28\)/ },
  { name: 'February 29th of a common year', text: '2100-02-29', error: /February 2100 has no day 29/ },
  { name: 'month 13', text: '2026-13-01', error: /month 13 does not exist \(expected 01-12\)/ },
  { name: 'month 00', text: '2026-00-10', error: /month 0 does not exist/ },
  { name: 'day 00', text: '2026-01-00', error: /January 2026 has no day 0/ },
  { name: 'April 31st in a date-time', text: '2026-04-31T10:00Z', error: /is not a date-time: April 2026 has no day 31/ },
  { name: 'hour 24', text: '2099-02-28T24:00Z', error: /hour 24 does not exist \(expected 00-23\)/ },
  { name: 'minute 60', text: '2099-02-28T12:60Z', error: /minute 60 does not exist/ },
  { name: 'second 60', text: '2099-02-28T12:00:60Z', error: /second 60 does not exist/ },
  { name: 'a date-time without an offset (local time differs per machine)', text: '2099-02-28T12:00', error: /has no offset.*add Z \(UTC\) or ±HH:MM, e\.g\. 2099-02-28T12:00Z/ },
  { name: 'an impossible offset', text: '2099-02-28T12:00+24:00', error: /impossible offset \+24:00/ },
  { name: 'an offset without a colon', text: '2099-02-28T12:00+0100', error: /expected a date YYYY-MM-DD/ },
  { name: 'a two-digit year', text: '99-02-28', error: /expected a date YYYY-MM-DD \(the end of that day, UTC\) or a date-time with an offset/ },
  { name: 'a single-digit month', text: '2099-2-28', error: /expected a date YYYY-MM-DD/ },
  { name: 'words', text: 'next friday', error: /"next friday" is not a date: expected/ },
  { name: 'a timestamp number', text: '4102444800000', error: /expected a date YYYY-MM-DD/ },
  { name: 'surrounding spaces', text: ' 2099-02-28', error: /expected a date YYYY-MM-DD/ },
  { name: 'empty', text: '', error: /"" is not a date/ },
];

for (const c of refused) {
  test(`date: refuses ${c.name}`, () => {
    const r = parseStrictDate(c.text);
    assert.ok('error' in r, `accepted as ${'ms' in r ? new Date(r.ms).toISOString() : ''}`);
    assert.match(r.error, c.error);
  });
}
