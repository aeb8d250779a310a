/**
 * The longest delay Node.js timers take: setTimeout fires at once (with only a warning) beyond it,
 * so a longer timeout or budget would end its check or stage immediately instead of never.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** The one duration grammar: the config schema and parseDuration both read it. */
export const DURATION_PATTERN = /^(\d+(?:\.\d+)?) *(ms|s|m|h|d)$/;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration read as milliseconds, or why it is not one gonogo can wait for. */
export function readDuration(value: string | number): { ms: number } | { error: string } {
  let n: number;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) return { error: `not a duration: ${value} (expected a whole number of milliseconds, 0 or more)` };
    n = value;
  } else {
    const m = DURATION_PATTERN.exec(value);
    if (!m) return { error: `not a duration: ${JSON.stringify(value)} (expected a duration such as 500ms, 2s, 15m, 1h, 1d)` };
    // Rounded: 1.1s is 1100.0000000000002 in floating point, and timers take whole milliseconds.
    n = Math.round(Number(m[1]) * UNIT_MS[m[2]]);
  }
  if (n > MAX_DURATION_MS) {
    return { error: `${JSON.stringify(value)} is longer than the longest timer Node.js can set (${MAX_DURATION_MS} ms, about 24.8 days): it would fire at once` };
  }
  return { ms: n };
}

/**
 * `2s`, `15m`, `1h`, `500ms`, `1d` or a number of milliseconds, to milliseconds. Throws on what the
 * config schema refuses (not a duration, over MAX_DURATION_MS), and on 0 when `positive` is set
 * (timeouts and budgets: 0 would end the check or stage at once).
 */
export function parseDuration(value: string | number, opts: { positive?: boolean } = {}): number {
  const r = readDuration(value);
  if ('error' in r) throw new Error(r.error);
  if (opts.positive && r.ms === 0) throw new Error(`a duration of ${JSON.stringify(value)} would end at once: expected more than 0`);
  return r.ms;
}

/** Milliseconds as a short human duration: `850 ms`, `12.3 s`, `4m 05s`, `1h 30m`. */
export function formatDuration(msValue: number): string {
  if (msValue < 1000) return `${Math.round(msValue)} ms`;
  if (msValue < 60_000) return `${(msValue / 1000).toFixed(1)} s`;
  const m = Math.floor(msValue / 60_000);
  if (m < 60) return `${m}m ${String(Math.floor((msValue % 60_000) / 1000)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}
