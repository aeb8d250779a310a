// The config schema's side of patterns (util/pattern.ts compiles and runs them): a pattern string is
// compiled when the config is validated. Apart from pattern.ts so that commands that only read the
// store (status, history) never load zod through it.
import { z } from 'zod';
import { compilePattern } from './pattern.js';
import type { PatternOptions } from './pattern.js';

/**
 * A config string holding a pattern: compiled at load, so one the engine cannot take is a config
 * problem naming the reason and the character, not an error when the check runs. `known` names
 * patterns that need no compiling to be known valid.
 */
export function patternString(options: PatternOptions = {}, known?: (source: string) => boolean): z.ZodString {
  const problem = (source: string): string | undefined => {
    // A pattern the code ships and tests (a kind's default) is valid without compiling it here.
    if (known?.(source)) return undefined;
    const r = compilePattern(source, options);
    return r.ok ? undefined : `invalid regular expression: ${r.error}, at character ${r.column + 1}`;
  };
  return z.string().refine((source) => problem(source) === undefined, { error: (issue) => problem(String(issue.input)) });
}
