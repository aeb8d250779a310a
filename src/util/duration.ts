import ms from 'ms';

/** `2s`, `15m`, `1h`, `500ms` or a number of milliseconds, to milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value;
  const n = ms(value as ms.StringValue);
  if (typeof n !== 'number' || Number.isNaN(n)) throw new Error(`not a duration: ${JSON.stringify(value)}`);
  return n;
}

/** Milliseconds as a short human duration: `850 ms`, `12.3 s`, `4m 05s`, `1h 30m`. */
export function formatDuration(msValue: number): string {
  if (msValue < 1000) return `${Math.round(msValue)} ms`;
  if (msValue < 60_000) return `${(msValue / 1000).toFixed(1)} s`;
  const m = Math.floor(msValue / 60_000);
  if (m < 60) return `${m}m ${String(Math.floor((msValue % 60_000) / 1000)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}
