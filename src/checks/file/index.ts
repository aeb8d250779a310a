import { stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { resolve } from 'node:path';
import ms from 'ms';
import { glob, isDynamicPattern } from 'tinyglobby';
import { z } from 'zod';
import { defineKind } from '../types.js';

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** `"1KB"` -> 1000, `"1.5 MiB"` -> 1572864, `512` -> 512; undefined when unreadable. */
export function parseSize(size: string | number): number | undefined {
  if (typeof size === 'number') return size;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(size);
  if (!m) return undefined;
  const unit = SIZE_UNITS[(m[2] || 'b').toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

const MS_UNITS = new Set(
  ['years', 'year', 'yrs', 'yr', 'y', 'weeks', 'week', 'w', 'days', 'day', 'd', 'hours', 'hour', 'hrs', 'hr', 'h', 'minutes', 'minute', 'mins', 'min', 'm']
    .concat(['seconds', 'second', 'secs', 'sec', 's', 'milliseconds', 'millisecond', 'msecs', 'msec', 'ms'])
    .flatMap((u) => [u, u.toUpperCase(), u[0].toUpperCase() + u.slice(1)]),
);

/**
 * A positive number with a unit, in a case `ms` is typed to accept (lower, UPPER, Title). A bare
 * number is refused: `ms` would read "90" as milliseconds, which nobody means by a file's age.
 */
function isMsString(text: string): text is ms.StringValue {
  const m = /^\d*\.?\d+ ?([a-z]+)$/i.exec(text);
  return m !== null && MS_UNITS.has(m[1]);
}

/** `"25h"` -> 90000; undefined when it is not a positive duration with a unit. */
function durationSeconds(text: string): number | undefined {
  if (!isMsString(text)) return undefined;
  const millis = ms(text);
  return Number.isFinite(millis) && millis > 0 ? millis / 1000 : undefined;
}

const options = z.strictObject({
  path: z
    .string()
    .min(1)
    .describe(
      'File to look at, relative to the config file. A glob (`backups/*.sql.gz`) looks at the newest regular file matching it, by modification time. ' +
        'Nothing is ever opened: a FIFO or a device is observed as `type`.',
    ),
  maxAge: z
    .string()
    .refine((s) => durationSeconds(s) !== undefined, 'expected a duration such as "25h", "30m" or "7d"')
    .optional()
    .describe('Default expect: the file was modified at most this long ago (`"25h"`, `"7d"`).'),
  minSize: z
    .union([z.number().int().min(0), z.string().refine((s) => parseSize(s) !== undefined, 'expected a size such as "1KB", "5 MiB" or 1024')])
    .optional()
    .describe('Default expect: the file is at least this large: bytes, or `"1KB"` (1000), `"1KiB"` (1024), MB, MiB, GB, GiB.'),
});

/**
 * Splits a pattern at its first glob segment: the folder before it (resolved against `dir`) is where
 * the crawl starts, so glob characters in the config folder's own path are never read as a pattern.
 */
function splitPattern(dir: string, pattern: string): { base: string; rest: string } {
  const parts = pattern.split('/');
  const first = parts.findIndex((p) => isDynamicPattern(p));
  return { base: resolve(dir, parts.slice(0, first).join('/') || '.'), rest: parts.slice(first).join('/') };
}

/** What is at a path, named for the report: a FIFO or a device is observed, never opened. */
type FileType = 'file' | 'directory' | 'fifo' | 'socket' | 'device';

function typeOf(stats: Stats): FileType {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'directory';
  if (stats.isFIFO()) return 'fifo';
  if (stats.isSocket()) return 'socket';
  return 'device';
}

// Only stat is used, which never opens the file: opening a FIFO waits for a writer (for ever) and
// opening a device can act on it.
async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (err) {
    // Gone between the glob and the stat (a rotating backup), or never there: not a match.
    if (err instanceof Error && 'code' in err && (err.code === 'ENOENT' || err.code === 'ENOTDIR')) return undefined;
    throw err;
  }
}

export default defineKind({
  // Local: not bound to a host, so not counted against the per-host limit.
  host: () => undefined,
  name: 'file',
  description: 'A file (or the newest match of a glob) exists, and how old and how large it is: backups, exports, artefacts.',
  options,
  fields: ['exists', 'path', 'type', 'age_s', 'size', 'matches'],
  defaultExpect: (o) => {
    const maxAge = o.maxAge === undefined ? undefined : durationSeconds(o.maxAge);
    const minSize = o.minSize === undefined ? undefined : parseSize(o.minSize);
    return [
      'exists == true',
      ...(maxAge !== undefined ? [`age_s <= ${maxAge}`] : []),
      ...(minSize !== undefined ? [`size >= ${minSize}`] : []),
    ];
  },
  async run(o, ctx) {
    ctx.signal.throwIfAborted();
    const target = resolve(ctx.configDir, o.path);
    const dynamic = isDynamicPattern(o.path);
    let candidates: string[];
    if (dynamic) {
      const { base, rest } = splitPattern(ctx.configDir, o.path);
      candidates = await glob(rest, { cwd: base, absolute: true, onlyFiles: true, dot: true, expandDirectories: false, signal: ctx.signal });
      ctx.signal.throwIfAborted();
    } else {
      candidates = [target];
    }

    let newest: { path: string; stats: Stats } | undefined;
    let matches = 0;
    for (const candidate of candidates) {
      ctx.signal.throwIfAborted();
      const stats = await statOrUndefined(candidate);
      // A glob looks at regular files only (a symlink to a FIFO would otherwise slip past onlyFiles).
      if (!stats || (dynamic && !stats.isFile())) continue;
      matches++;
      if (!newest || stats.mtimeMs > newest.stats.mtimeMs) newest = { path: candidate, stats };
    }

    const ageSeconds = newest ? Math.round((ctx.clock.now() - newest.stats.mtimeMs) / 100) / 10 : null;
    return {
      observations: {
        exists: newest !== undefined,
        path: newest?.path ?? null,
        type: newest ? typeOf(newest.stats) : null,
        age_s: ageSeconds,
        size: newest?.stats.size ?? null,
        matches,
      },
      evidence: {
        pattern: dynamic ? target : undefined,
        path: newest?.path ?? target,
        exists: newest !== undefined,
        matches,
        ...(newest
          ? {
              modified: new Date(newest.stats.mtimeMs).toISOString(),
              ageSeconds,
              size: newest.stats.size,
              type: typeOf(newest.stats),
            }
          : {}),
      },
    };
  },
});
