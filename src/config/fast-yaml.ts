// A second YAML parser for large configs: the `yaml` library keeps a syntax tree with every node's
// position (what a problem's file:line:column comes from), and building it took most of loading a
// config of thousands of items (2.5 s for 10,000; js-yaml reads the same into plain data in 0.15 s).
// The fast parse is only ever an optimisation: it answers for a file only when the answer is the
// one the `yaml` library would give without anything to place (one document, no anchor or alias,
// whose uses the library counts against MAX_ALIAS_COUNT, no `${VAR}`, whose positions a loaded config
// keeps); anything else, a syntax error included, returns undefined and the file is parsed with
// positions. A problem found later in a fast-parsed file makes load.ts parse it again with positions
// (NeedsPositions). fast-yaml.test.ts feeds both parsers every example and template and compares.
import jsyaml from 'js-yaml';

/** Text the two parsers may read differently (found by fast-yaml.test.ts): see fastParse. */
const DIFFERS = /[-+]0[xo]|0b[01]|!!|(^|[\s:,[{])(-0+(\.0*)?(e[-+]?\d+)?(?=$|[\s,\]}])|[-+]\.\d)/im;

/** Files smaller than this are parsed with positions at once: the syntax tree costs little there. */
export const FAST_PARSE_MIN_CHARS = 256 * 1024;

// YAML 1.2's core schema (what the `yaml` library reads by default) with `<<` merge keys (load.ts parses with `merge: true`).
const SCHEMA = jsyaml.CORE_SCHEMA.extend({ implicit: [jsyaml.types.merge] });

/**
 * The file as plain data, or undefined when the `yaml` library must read it (see the module
 * comment). Duplicate keys are refused by both (js-yaml unless `json`, `yaml` with `uniqueKeys`).
 */
export function fastParse(text: string): unknown {
  // A `%YAML 1.1` directive changes the schema the `yaml` library reads with; js-yaml also reads
  // `0b101`, `+0x1F` and `-0o17` as numbers (YAML 1.2's core schema: strings), `-.5` as a string,
  // `-0` as 0, and some explicit `!!` tags otherwise. Any such text, even inside a string, leaves
  // the file to the `yaml` library.
  if (text.includes('${') || /^%/m.test(text) || DIFFERS.test(text)) return undefined;
  return readPlain(text);
}

/** js-yaml's reading of a text, or undefined when it holds an anchor or does not parse (exported for the tests). */
export function readPlain(text: string): unknown {
  // An anchor needs `&`: without either character no anchor or alias can be written.
  let state: { anchorMap: Record<string, unknown> } | undefined;
  const mayAlias = text.includes('&') || text.includes('*');
  try {
    const value = jsyaml.load(text, {
      schema: SCHEMA,
      ...(mayAlias ? { listener: (_event: 'open' | 'close', s: { anchorMap: Record<string, unknown> }) => void (state ??= s) } : {}),
    });
    if (state && Object.keys(state.anchorMap).length > 0) return undefined;
    return value;
  } catch {
    return undefined;
  }
}

/** Thrown where a fast-parsed file would need positions (a problem to place): load.ts parses it again with them. */
export class NeedsPositions extends Error {}
