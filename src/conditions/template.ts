// Placeholders in conditions: `body.version == {{release}}`, `headers.host == {{env.host}}`. A
// placeholder stands where a value may stand and is filled in before judging as a quoted string
// literal, so no value can inject operators, paths or quotes into a condition. Inside a quoted
// string it would be spliced into text (a regular expression, say): that is refused.

/** A gonogo value placeholder in a condition: `{{env.NAME}}` or `{{release}}`. */
const PLACEHOLDER = /^\{\{\s*(env\.([A-Za-z0-9_-]+)|release)\s*\}\}/;

/** One placeholder found in a condition's source. */
export interface PlaceholderUse {
  /** `{{env.region}}` as written. */
  text: string;
  /** The run value it reads: the environment field, or `release`. */
  field: string;
  /** 0-based offset in the source. */
  offset: number;
  /** Inside a quoted string, where it is not filled in. */
  quoted: boolean;
}

/** Placeholders of a condition, found by a scan that knows where quoted strings are. */
export function placeholdersOf(source: string): PlaceholderUse[] {
  const found: PlaceholderUse[] = [];
  let quote: string | undefined;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (quote !== undefined) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = undefined;
      else if (ch === '{') {
        const m = PLACEHOLDER.exec(source.slice(i));
        if (m) found.push({ text: m[0], field: m[2] ?? 'release', offset: i, quoted: true });
      }
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '{') {
      const m = PLACEHOLDER.exec(source.slice(i));
      if (m) {
        found.push({ text: m[0], field: m[2] ?? 'release', offset: i, quoted: false });
        i += m[0].length - 1;
      }
    }
  }
  return found;
}

/** A string literal of the condition language holding exactly `value`. */
export function quoteLiteral(value: string): string {
  const escaped = value.replace(/[\\"\n\r\t\b\f\v]/g, (c) => ({ '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f', '\v': '\\v' })[c] ?? c);
  return `"${escaped}"`;
}

/** `source` with each unquoted placeholder replaced by `fill(use)`, right to left so offsets hold. */
export function replacePlaceholders(source: string, uses: readonly PlaceholderUse[], fill: (use: PlaceholderUse) => string): string {
  let out = source;
  for (const use of [...uses].filter((u) => !u.quoted).sort((a, b) => b.offset - a.offset)) {
    out = out.slice(0, use.offset) + fill(use) + out.slice(use.offset + use.text.length);
  }
  return out;
}
