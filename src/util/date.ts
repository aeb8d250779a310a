// Dates a person types (`--expires 2099-02-28`). `new Date()` rolls an impossible date over without a
// word (2099-02-31 becomes 2099-03-03) and reads an offset-less date-time in the local zone, so a
// waiver could end days early or late depending on the machine: every field is checked here.

/** A parsed date: epoch milliseconds, and a note when the text was read in a way worth saying. */
export type StrictDate = { ms: number; note?: string } | { error: string };

const EXPECTED =
  'expected a date YYYY-MM-DD (the end of that day, UTC) or a date-time with an offset, YYYY-MM-DDTHH:MM[:SS[.fff]] followed by Z or ±HH:MM (e.g. 2099-02-28 or 2099-02-28T17:00:00+01:00)';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?([Zz]|[+-]\d{2}:\d{2})?$/;

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

function daysIn(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

/** Why year-month-day is not a date, or undefined when it is one. */
function dateProblem(year: number, month: number, day: number): string | undefined {
  if (month < 1 || month > 12) return `month ${month} does not exist (expected 01-12)`;
  const days = daysIn(year, month);
  if (day < 1 || day > days) return `${MONTHS[month - 1]} ${year} has no day ${day} (expected 01-${days})`;
  return undefined;
}

/** Epoch milliseconds of a UTC date and time; Date.UTC would read years 0-99 as 1900-1999. */
function utc(year: number, month: number, day: number, h: number, m: number, s: number, ms: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(h, m, s, ms);
  return d.getTime();
}

/**
 * Parses an ISO 8601 date (`2099-02-28`, meaning the end of that day in UTC, which the note says) or
 * a date-time with an explicit offset (`2099-02-28T17:00Z`, `2099-02-28T17:00:00.5+01:00`). Anything
 * else, an impossible date or time included, is an error naming what was expected.
 */
export function parseStrictDate(text: string): StrictDate {
  const shown = JSON.stringify(text);
  const dateOnly = DATE.exec(text);
  if (dateOnly) {
    const [year, month, day] = dateOnly.slice(1, 4).map(Number);
    const problem = dateProblem(year, month, day);
    if (problem) return { error: `${shown} is not a date: ${problem}` };
    const ms = utc(year, month, day, 23, 59, 59, 999);
    return { ms, note: `${text} read as the end of that day, ${new Date(ms).toISOString()} (UTC)` };
  }
  const dt = DATE_TIME.exec(text);
  if (!dt) return { error: `${shown} is not a date: ${EXPECTED}` };
  const [year, month, day, h, m] = dt.slice(1, 6).map(Number);
  const s = dt[6] === undefined ? 0 : Number(dt[6]);
  // Milliseconds are all a timestamp holds: further digits are dropped, not rounded into the next second.
  const fraction = dt[7] === undefined ? 0 : Number(dt[7].slice(0, 3).padEnd(3, '0'));
  const offset = dt[8];
  const problem =
    dateProblem(year, month, day) ??
    (h > 23 ? `hour ${h} does not exist (expected 00-23)` : undefined) ??
    (m > 59 ? `minute ${m} does not exist (expected 00-59)` : undefined) ??
    (s > 59 ? `second ${s} does not exist (expected 00-59)` : undefined);
  if (problem) return { error: `${shown} is not a date-time: ${problem}` };
  if (offset === undefined) {
    return { error: `${shown} has no offset, so its time zone is unknown: add Z (UTC) or ±HH:MM, e.g. ${text}Z or ${text}+01:00` };
  }
  let offsetMin = 0;
  if (offset !== 'Z' && offset !== 'z') {
    const oh = Number(offset.slice(1, 3));
    const om = Number(offset.slice(4, 6));
    if (oh > 23 || om > 59) return { error: `${shown} has an impossible offset ${offset} (expected ±HH:MM with HH 00-23 and MM 00-59)` };
    offsetMin = (offset[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  return { ms: utc(year, month, day, h, m, s, fraction) - offsetMin * 60_000 };
}
