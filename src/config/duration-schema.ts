// The config's duration type, shared by schema.ts and watch-schema.ts (each imports it; neither
// imports the other's module-level values, so there is no import cycle to order).
import { z } from 'zod';
import { DURATION_PATTERN, MAX_DURATION_MS, readDuration } from '../util/duration.js';

const DURATION_SHAPE = 'expected a duration such as 500ms, 2s, 15m, 1h, 1d';
const TOO_LONG = `longer than the longest timer Node.js can set (${MAX_DURATION_MS} ms, about 24.8 days): it would fire at once`;

/**
 * A duration: `500ms`, `2s`, `15m`, `1h`, `1d`, or a number of milliseconds, at most MAX_DURATION_MS.
 * With `zero`, 0 is refused with that message (a timeout or budget of 0 ends at once).
 */
export function durationOf(zero?: string) {
  return z
    .union([z.number().int(DURATION_SHAPE).min(0, DURATION_SHAPE).max(MAX_DURATION_MS, TOO_LONG), z.string().regex(DURATION_PATTERN, DURATION_SHAPE)], {
      error: DURATION_SHAPE,
    })
    .superRefine(
      (v, ctx) => {
        // The union's members have said what is wrong with the shape; what is left is a value util/duration refuses.
        const r = readDuration(v);
        if ('error' in r) ctx.addIssue({ code: 'custom', message: r.error });
        else if (zero !== undefined && r.ms === 0) ctx.addIssue({ code: 'custom', message: zero });
      },
      { when: (payload) => payload.issues.length === 0 },
    )
    .describe('A duration: 500ms, 2s, 15m, 1h, 1d, or milliseconds as a number.');
}
