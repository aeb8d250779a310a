// Regular expressions over text a target controls (a response body, a header, a command's output)
// run here, on re2js: a port of RE2, whose time is linear in the text whatever the pattern. V8's own
// engine backtracks, so `(a+)+$` against "aaaa...a!" takes longer than any check's timeout, and a
// synchronous match cannot be interrupted by the engine's abort signal.
//
// Patterns are written in JavaScript's syntax and translated (named groups, `\uXXXX`, `[^]`). What
// a linear-time engine cannot do, backreferences and lookaround, is refused with the position of the
// construct. What still differs, and ordinary text seldom meets: `.` also matches `\r`, `\s` is
// ASCII whitespace only, and with the `m` flag `^` and `$` take only `\n` as a line end.
import { createRequire } from 'node:module';
import type { Matcher, RE2JS } from 're2js';

/**
 * How much of a text the built-in detectors read (64 KiB). A stack trace, an SQL error or a leaked
 * key sits near the top of an error page; the cap keeps the cost of two dozen detectors per response
 * fixed however large the body a hostile target sends.
 */
export const MAX_SCAN = 64 * 1024;

// The engine (a quarter of a megabyte of code) is loaded by the first pattern compiled, not by every
// command that imports this module (`status` compiles none). Its CommonJS build loads synchronously.
const requireCjs = createRequire(import.meta.url);
let engine: typeof import('re2js') | undefined;
function re2(): typeof import('re2js') {
  if (!engine) {
    const loaded: typeof import('re2js') = requireCjs('re2js');
    engine = loaded;
  }
  return engine;
}

/** A first match, shaped like RegExp's: the match, then each group (undefined when it took no part). */
export type PatternMatch = readonly [string, ...(string | undefined)[]] & { readonly index: number };

/** A compiled pattern that reads at most `maxScan` characters of any text it is given. */
export interface Pattern {
  /** The pattern as written. */
  readonly source: string;
  readonly maxScan: number;
  /** Whether the pattern matches within the first `maxScan` characters. */
  test(text: string): boolean;
  /** The first match within the first `maxScan` characters, or null. */
  exec(text: string): PatternMatch | null;
  /** Every match within the first `maxScan` characters, in order, as String's matchAll finds them. */
  matchAll(text: string): PatternMatch[];
  /**
   * The first `maxScan` characters with every match replaced by `replace(match)` (taken literally).
   * Text past the bound is dropped rather than returned unread, so masking never lets a secret through.
   */
  replaceAll(text: string, replace: (match: string) => string): string;
  /** The first `maxScan` characters split around every match, empty pieces left out. */
  split(text: string): string[];
}

export interface PatternOptions {
  ignoreCase?: boolean;
  multiline?: boolean;
  dotAll?: boolean;
  /** Characters read of any text; default MAX_SCAN. */
  maxScan?: number;
}

/** A compiled pattern, or why not with the 0-based offset in the source it points at. */
export type CompiledPattern = { ok: true; pattern: Pattern } | { ok: false; error: string; column: number };

const UNSUPPORTED = 'is not supported: gonogo runs patterns on a linear-time engine (RE2 syntax)';

interface Structure {
  refused?: { error: string; column: number };
  /** Innermost `(` never closed, and the first `)` that closes nothing. */
  unclosed?: number;
  unopened?: number;
}

/**
 * Reads the source as JavaScript would (escapes, character classes, groups) to find what RE2 refuses
 * with a less helpful message or a vaguer position: lookaround, backreferences, unbalanced groups.
 */
function structure(source: string): Structure {
  const open: number[] = [];
  let unopened: number | undefined;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      if (!inClass && next >= '1' && next <= '9') {
        const digits = /^\d+/.exec(source.slice(i + 1, i + 4))?.[0] ?? next;
        return { refused: { error: `backreference "\\${digits}" ${UNSUPPORTED}`, column: i } };
      }
      if (!inClass && next === 'k' && source[i + 2] === '<') {
        return { refused: { error: `backreference "\\k<...>" ${UNSUPPORTED}`, column: i } };
      }
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === ')') {
      if (open.length === 0) unopened ??= i;
      else open.pop();
    } else if (c === '(') {
      const head = source.slice(i, i + 4);
      const look = head.startsWith('(?=') || head.startsWith('(?!') ? 'lookahead' : head === '(?<=' || head === '(?<!' ? 'lookbehind' : undefined;
      if (look) return { refused: { error: `${look} "${look === 'lookahead' ? head.slice(0, 3) : head}" ${UNSUPPORTED}`, column: i } };
      open.push(i);
    }
  }
  return { unclosed: open.at(-1), unopened };
}

/** Where in the source RE2's complaint points: it names the offending fragment, not its offset. */
function errorColumn(source: string, found: Structure, description: string, fragment: string | null): number {
  if (description.startsWith('missing closing )') && found.unclosed !== undefined) return found.unclosed;
  if (description.startsWith('unexpected )') && found.unopened !== undefined) return found.unopened;
  if (description.startsWith('trailing backslash')) return Math.max(0, source.length - 1);
  if (!fragment) return 0;
  // An unclosed class runs to the end of the pattern; anything else is the first place RE2 stopped.
  if (source.endsWith(fragment)) return source.length - fragment.length;
  return Math.max(0, source.indexOf(fragment));
}

/** Compiles a pattern written in JavaScript syntax for the linear-time engine. */
/**
 * Patterns compiled in this process, by source, flags and bound: a config's pattern is compiled when
 * the config is validated and again when its check is prepared, and RE2's compile is the costly part
 * of a short command (the env kind's seven placeholders took 50-60 ms twice). A compiled pattern
 * holds no state between calls, so one serves every check. Bounded: past the limit it starts over.
 */
const compiled = new Map<string, CompiledPattern>();
const COMPILED_LIMIT = 1024;

export function compilePattern(source: string, options: PatternOptions = {}): CompiledPattern {
  const key = `${options.ignoreCase ? 'i' : ''}${options.multiline ? 'm' : ''}${options.dotAll ? 's' : ''}:${options.maxScan ?? MAX_SCAN}:${source}`;
  const known = compiled.get(key);
  if (known) return known;
  const r = compileNew(source, options);
  if (compiled.size >= COMPILED_LIMIT) compiled.clear();
  compiled.set(key, r);
  return r;
}

function compileNew(source: string, options: PatternOptions): CompiledPattern {
  const found = structure(source);
  if (found.refused) return { ok: false, ...found.refused };
  const { RE2JS, RE2JSException, RE2JSSyntaxException } = re2();
  const flags = (options.ignoreCase ? RE2JS.CASE_INSENSITIVE : 0) | (options.multiline ? RE2JS.MULTILINE : 0) | (options.dotAll ? RE2JS.DOTALL : 0);
  let re: RE2JS;
  try {
    re = RE2JS.compile(RE2JS.translateRegExp(source), flags);
  } catch (e) {
    if (!(e instanceof RE2JSException)) throw e;
    const description = e instanceof RE2JSSyntaxException ? e.error : e.message;
    const fragment = e instanceof RE2JSSyntaxException ? e.input : null;
    const error = fragment ? `${description}: \`${fragment}\`` : description;
    return { ok: false, error, column: errorColumn(source, found, description, fragment) };
  }
  return { ok: true, pattern: wrap(source, re, options.maxScan ?? MAX_SCAN) };
}

/** A pattern from the config, already validated at load (see patternString); throws if it was not. */
export function mustCompile(source: string, options: PatternOptions = {}): Pattern {
  const r = compilePattern(source, options);
  if (!r.ok) throw new Error(`invalid regular expression /${source}/: ${r.error}, at character ${r.column + 1}`);
  return r.pattern;
}

/**
 * A pattern written in the code as a RegExp literal (for its syntax and flags), compiled for the
 * linear-time engine on first use; V8 never runs it. A literal using what the engine cannot do
 * (lookaround, backreferences) throws when the module loads, so any test that imports it finds the
 * mistake; the detectors' own tests use each one.
 */
export function linear(regex: RegExp, maxScan = MAX_SCAN): Pattern {
  // What RE2 refuses of JavaScript's syntax (lookaround, backreferences) is caught here, when the
  // module loads; the RE2 compile itself waits for the first use: built-in detectors are
  // module-level tables, and compiling them all at import cost every command about 0.4 s of CPU.
  const refused = structure(regex.source).refused;
  if (refused) throw new Error(`built-in pattern /${regex.source}/ at ${refused.column}: ${refused.error}`);
  let compiled: Pattern | undefined;
  const get = (): Pattern => {
    if (compiled) return compiled;
    const r = compilePattern(regex.source, { ignoreCase: regex.ignoreCase, multiline: regex.multiline, dotAll: regex.dotAll, maxScan });
    if (!r.ok) throw new Error(`built-in pattern /${regex.source}/ at ${r.column}: ${r.error}`);
    compiled = r.pattern;
    return compiled;
  };
  return {
    source: regex.source,
    maxScan,
    test: (text) => get().test(text),
    exec: (text) => get().exec(text),
    matchAll: (text) => get().matchAll(text),
    replaceAll: (text, replace) => get().replaceAll(text, replace),
    split: (text) => get().split(text),
  };
}

/** The matcher's current match, shaped like RegExp's. */
function current(m: Matcher): PatternMatch {
  const groups: [string, ...(string | undefined)[]] = [m.group(0) ?? ''];
  for (let g = 1; g <= m.groupCount(); g++) groups.push(m.group(g) ?? undefined);
  return Object.assign(groups, { index: m.start(0) });
}

function wrap(source: string, re: RE2JS, maxScan: number): Pattern {
  const scanned = (text: string): string => (text.length > maxScan ? text.slice(0, maxScan) : text);
  return {
    source,
    maxScan,
    test: (text) => re.test(scanned(text)),
    exec(text) {
      const part = scanned(text);
      // The DFA behind test() is the fast path; groups need the slower matcher, only on a hit.
      if (!re.test(part)) return null;
      const m = re.matcher(part);
      return m.find() ? current(m) : null;
    },
    matchAll(text) {
      const m = re.matcher(scanned(text));
      const found: PatternMatch[] = [];
      while (m.find()) found.push(current(m));
      return found;
    },
    replaceAll: (text, replace) => re.matcher(scanned(text)).replaceAll((match: string) => replace(match)),
    split: (text) => re.split(scanned(text)).filter((piece) => piece !== ''),
  };
}
