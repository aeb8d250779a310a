// What marks a value as "nobody filled this in". The default list is written as patterns (what a
// user reads in the docs and replaces with `placeholders:`), and each default is also written here
// as plain code that answers exactly as the pattern does on the linear-time engine: loading that
// engine and compiling seven patterns was the largest cost of a one-item `gonogo check` (~60 ms of
// a ~400 ms command). A user's own patterns are compiled as before. placeholders.test.ts holds the
// two forms to the same answers over generated values.
import { MAX_SCAN, mustCompile } from '../../util/pattern.js';

/**
 * Values that mean "nobody filled this in". Matched case-insensitively against the whole value, trimmed.
 * Kept deliberately narrow: a real value must not be mistaken for a placeholder.
 */
export const DEFAULT_PLACEHOLDERS = [
  '^$', // empty
  '(^|[^a-z0-9])(change[-_ ]?me|change[-_ ]?this|replace[-_ ]?me)([^a-z0-9]|$)', // not inside "exchange-metrics"
  '^(todo|tbd|fixme|placeholder|dummy|null|undefined)$',
  '^x{3,}$', // xxx, xxxxxxxx
  '^your[-_ ].*', // your-api-key-here, your_secret
  '^<.*>$', // <api key>
  '^\\$\\{[^}]*\\}$', // ${UNEXPANDED}
] as const;

/** A placeholder test: the pattern it stands for (reported when it matches) and its answer. */
export interface Placeholder {
  readonly source: string;
  /** Whether the trimmed value is a placeholder by this pattern. */
  test(value: string): boolean;
}

/**
 * The value as the case-insensitive engine compares it with ASCII letters: A-Z lowered, and the two
 * other characters that fold to an ASCII letter (KELVIN SIGN to k, LATIN SMALL LETTER LONG S to s).
 * Nothing else changes, so positions and lengths stay those of the value.
 */
function folded(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 65 && c <= 90) out += String.fromCharCode(c + 32);
    else if (c === 0x212a) out += 'k';
    else if (c === 0x17f) out += 's';
    else out += value[i];
  }
  return out;
}

const isAlnum = (t: string, i: number): boolean => {
  const c = t.charCodeAt(i);
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
};

const SEPARATORS = '-_ ';
const WORDS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['change', ['me', 'this']],
  ['replace', ['me']],
];

/** `change me`, `change-this`, `replaceme`... as a word of its own (not inside "exchange-metrics"). */
function hasChangeMe(t: string): boolean {
  for (const [head, tails] of WORDS) {
    for (let i = t.indexOf(head); i !== -1; i = t.indexOf(head, i + 1)) {
      if (i > 0 && isAlnum(t, i - 1)) continue;
      for (const gap of [0, 1]) {
        const at = i + head.length;
        if (gap === 1 && !SEPARATORS.includes(t[at] ?? '\0')) continue;
        for (const tail of tails) {
          if (!t.startsWith(tail, at + gap)) continue;
          const end = at + gap + tail.length;
          if (end === t.length || !isAlnum(t, end)) return true;
        }
      }
    }
  }
  return false;
}

const WORD_VALUES = new Set(['todo', 'tbd', 'fixme', 'placeholder', 'dummy', 'null', 'undefined']);

/** Each default as code, in DEFAULT_PLACEHOLDERS' order; `t` is the folded value, `v` as given. */
const DEFAULT_TESTS: ReadonlyArray<(t: string, v: string) => boolean> = [
  (t) => t.length === 0,
  (t) => hasChangeMe(t),
  (t) => WORD_VALUES.has(t),
  (t) => t.length >= 3 && [...t].every((c) => c === 'x'),
  (t) => t.startsWith('your') && t.length > 4 && SEPARATORS.includes(t[4]),
  // `.` takes anything but a line feed.
  (t) => t.length >= 2 && t.startsWith('<') && t.endsWith('>') && !t.slice(1, -1).includes('\n'),
  (_t, v) => v.length >= 3 && v.startsWith('${') && v.endsWith('}') && !v.slice(2, -1).includes('}'),
];

/** The tests for a list of placeholder patterns: the defaults as code, any other compiled. */
export function placeholderTests(sources: readonly string[]): Placeholder[] {
  return sources.map((source) => {
    const known = (DEFAULT_PLACEHOLDERS as readonly string[]).indexOf(source);
    if (known !== -1) {
      const test = DEFAULT_TESTS[known];
      // A value longer than a pattern reads (MAX_SCAN) is no placeholder, as with a compiled one.
      return { source, test: (value: string) => value.length <= MAX_SCAN && test(folded(value), value) };
    }
    const pattern = mustCompile(source, { ignoreCase: true });
    return { source, test: (value: string) => value.length <= pattern.maxScan && pattern.test(value) };
  });
}

/** Whether a source is one of the defaults, which need no compiling to be known valid. */
export function isDefaultPlaceholder(source: string): boolean {
  return (DEFAULT_PLACEHOLDERS as readonly string[]).includes(source);
}
