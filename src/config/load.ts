import { stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { LineCounter, parseDocument, isAlias, isMap, isScalar, isPair, isSeq, visit } from 'yaml';
import type { Alias, Document, Node, Scalar } from 'yaml';
import type { z } from 'zod';
import { configSchemaFor, KIND_NAMES } from './schema.js';
import { loadedKinds, loadKinds } from '../checks/kinds.js';
import type { KindTable } from '../checks/kinds.js';
import { markValidated } from '../checks/types.js';
import { valueVariables } from '../checks/command/index.js';
import { parseCondition, placeholdersOf } from '../conditions/index.js';
import type { Condition } from '../conditions/index.js';
import { FileRefusedError, readRegularFile } from '../util/fs.js';
import { checkReferences, matchesWithRank, secretFieldsOf } from './references.js';
import { RELEASE_FIELD } from './values.js';
import { PROCESS_REF } from './url.js';
import { ConfigError, configHashOf, formatProblem, sha256 } from './loaded.js';
import type { ConfigProblem, LoadedConfig, SecretRef } from './loaded.js';
import { locateIn } from './positions.js';
import { FAST_PARSE_MIN_CHARS, NeedsPositions, fastParse } from './fast-yaml.js';
import type { FilePositions, ItemOrigin, Position, PositionNode } from './positions.js';

// What a loaded config is lives in loaded.ts (no parser there): re-exported, so a library caller
// finds everything here.
export { checkSecretValues, ConfigError, formatProblem, selectEnvironment } from './loaded.js';
export type { ConfigProblem, LoadedConfig, SecretRef } from './loaded.js';

/** Config files larger than this are refused unless the caller raises the cap (`--max-config-bytes`). */
export const DEFAULT_MAX_CONFIG_BYTES = 5 * 1024 * 1024;

/**
 * Uses of YAML aliases allowed, counted as the yaml library counts them (an alias of a value that
 * itself holds aliases counts for all of them): a few kilobytes of nested aliases ("billion laughs")
 * would otherwise expand to gigabytes.
 */
export const MAX_ALIAS_COUNT = 100;

type Path = (string | number)[];

class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly file: string,
    private readonly text: string,
  ) {}

  /**
   * Position of the `nth` occurrence of `needle` in a string value, found in the file's text so that
   * quotes, escapes and folded lines before it are counted; the value's start when it is not there
   * verbatim (written with escapes).
   */
  inScalar(node: Scalar, needle: string, nth: number): { file: string; line: number; column: number } {
    const [start, end] = node.range ?? [0, 0];
    let at = -1;
    for (let k = 0, from = start; k <= nth; k++, from = at + 1) {
      at = this.text.indexOf(needle, from);
      if (at === -1 || at >= end) {
        at = start;
        break;
      }
    }
    const pos = this.lines.linePos(at);
    return { file: this.file, line: pos.line, column: pos.col };
  }

  /** Position of the node at `path`, or of its nearest existing ancestor. */
  at(path: Path, message: string, offset = 0, key?: string): ConfigProblem {
    let node: unknown;
    // A key problem (an unknown key) points at the key itself, in its parent mapping.
    if (key !== undefined) path = path.slice(0, -1);
    for (let n = path.length; n >= 0; n--) {
      node = this.doc.getIn(path.slice(0, n), true);
      if (node && typeof node === 'object') {
        if (n < path.length) offset = 0;
        break;
      }
    }
    let start = 0;
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
      const k = pair?.key;
      if (k && typeof k === 'object' && 'range' in k && Array.isArray(k.range)) start = k.range[0];
    } else if (node && typeof node === 'object' && 'range' in node) {
      const range = (node as Node).range;
      if (range) start = range[0] + offset;
    }
    const pos = this.lines.linePos(start);
    return { file: this.file, line: pos.line, column: pos.col, path: [...path, ...(key !== undefined ? [key] : [])].join('.'), message };
  }

  /** The line and column of an offset in the file. */
  position(offset: number): Position {
    const pos = this.lines.linePos(offset);
    return [pos.line, pos.col];
  }

  /** Offset of the first character of a scalar's value (after an opening quote). */
  quoteOffset(path: Path): number {
    const node = this.doc.getIn(path, true);
    return isScalar(node) && (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') ? 1 : 0;
  }
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): { path: Path; message: string; key?: string }[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...path, key], key, message: `unknown key "${key}"` }));
  }
  // The same words whether the kinds' options are checked (a union on `kind`) or not (an enum of names).
  const kindEnum = (issue.code === 'invalid_value' || issue.code === 'invalid_type') && path.at(-1) === 'kind' && path.at(-2) === 'check';
  if ((issue.code === 'invalid_union' && issue.discriminator === 'kind') || kindEnum) {
    const kind = valueAt(raw, path);
    const message =
      kind === undefined
        ? `a check needs a "kind" (one of: ${KIND_NAMES.join(', ')})`
        : `unknown check kind ${JSON.stringify(kind)} (expected one of: ${KIND_NAMES.join(', ')})`;
    return [{ path, message }];
  }
  if (issue.code === 'invalid_type' && valueAt(raw, path) === undefined) {
    const field = path.at(-1);
    return [{ path: path.slice(0, -1), message: `missing required field "${String(field)}" (expected ${issue.expected})` }];
  }
  return [{ path, message: issue.message }];
}

function valueAt(raw: unknown, path: Path): unknown {
  let v: unknown = raw;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/**
 * Where the first invalid UTF-8 sequence of `bytes` starts, or -1. Overlong forms, surrogates and
 * code points past U+10FFFF are invalid, as they are to `TextDecoder` with `fatal: true`.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i];
    if (lead < 0x80) {
      i++;
      continue;
    }
    const extra = lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2 : lead >= 0xf0 && lead <= 0xf4 ? 3 : 0;
    if (extra === 0) return i;
    // The second byte's range is what rules out overlong forms (E0, F0), surrogates (ED) and > U+10FFFF (F4).
    const lo = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const hi = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k <= extra; k++) {
      const b = bytes[i + k];
      if (b === undefined || b < (k === 1 ? lo : 0x80) || b > (k === 1 ? hi : 0xbf)) return i;
    }
    i += extra + 1;
  }
  return -1;
}

/** The file's text; bytes that are not UTF-8 are a problem at their line and column, never replaced. */
function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const bad = Math.max(0, firstInvalidUtf8(bytes));
    const lineStart = bytes.lastIndexOf(0x0a, bad - 1) + 1;
    const line = 1 + bytes.subarray(0, lineStart).filter((b) => b === 0x0a).length;
    // Columns count characters as the YAML positions do (UTF-16 units, a leading BOM not counted).
    const column = new TextDecoder('utf-8').decode(bytes.subarray(lineStart, bad)).length + 1;
    const hex = Array.from(bytes.subarray(bad, bad + 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new ConfigError([{ file, line, column, path: '', message: `not valid UTF-8 (bytes ${hex} here): save the file as UTF-8` }]);
  }
}

/**
 * Syntax errors where the parser stopped (`prettyErrors: false` leaves `linePos` unset, so from
 * `pos`). An unclosed quote makes the parser stop at the end of the file: that error points at the
 * opening quote instead, and says where the parser stopped.
 */
function yamlProblems(doc: Document, lines: LineCounter, file: string): ConfigProblem[] {
  const quoted: Scalar[] = [];
  if (doc.errors.some((e) => e.code === 'MISSING_CHAR')) {
    visit(doc, {
      Scalar: (_, n) => {
        if (n.type === 'QUOTE_DOUBLE' || n.type === 'QUOTE_SINGLE') quoted.push(n);
      },
    });
  }
  return doc.errors.map((e) => {
    const stop = lines.linePos(e.pos[0]);
    const message = `YAML: ${e.message.split('\n')[0]}`;
    const open = e.code === 'MISSING_CHAR' ? quoted.find((n) => n.range?.[1] === e.pos[0]) : undefined;
    if (open?.range) {
      const pos = lines.linePos(open.range[0]);
      return { file, line: pos.line, column: pos.col, path: '', message: `${message} (the value quoted here runs on to line ${stop.line}, column ${stop.col})` };
    }
    return { file, line: stop.line, column: stop.col, path: '', message };
  });
}

/**
 * The alias at which the yaml library's alias budget runs out, found by replaying its count
 * (`Alias.resolve`: each use of an anchor times the aliases inside it) in document order.
 */
function aliasOverBudget(doc: Document): Alias | undefined {
  const counts = new Map<unknown, { count: number; aliasCount: number }>();
  const anchors = new Map<string, unknown>();
  const aliasCount = (node: unknown): number => {
    if (isAlias(node)) {
      const d = counts.get(anchors.get(node.source));
      return d ? d.count * d.aliasCount : 0;
    }
    if (isMap(node) || isSeq(node)) return node.items.reduce((max: number, item) => Math.max(max, aliasCount(item)), 0);
    if (isPair(node)) return Math.max(aliasCount(node.key), aliasCount(node.value));
    return 1;
  };
  let over: Alias | undefined;
  visit(doc, {
    Node: (_, node) => {
      if (isAlias(node)) {
        const source = anchors.get(node.source);
        const d = counts.get(source);
        if (!d) return;
        d.count += 1;
        if (d.aliasCount === 0) d.aliasCount = aliasCount(source);
        if (d.count * d.aliasCount > MAX_ALIAS_COUNT) {
          over = node;
          return visit.BREAK;
        }
      } else if (node.anchor) {
        anchors.set(node.anchor, node);
        counts.set(node, { count: 1, aliasCount: 0 });
      }
      return undefined;
    },
  });
  return over;
}

/** The document as plain data; aliases past MAX_ALIAS_COUNT (an alias bomb) are a positioned problem. */
function toPlain(doc: Document, lines: LineCounter, file: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const alias = aliasOverBudget(doc);
    const pos = lines.linePos(alias?.range?.[0] ?? 0);
    const message =
      err instanceof ReferenceError && alias
        ? `YAML: alias *${alias.source} brings the uses of aliases past ${MAX_ALIAS_COUNT} (an alias of a value that holds aliases counts as each of them): refused, as an alias bomb would expand to gigabytes`
        : `YAML: ${err instanceof Error ? err.message : String(err)}`;
    throw new ConfigError([{ file, line: pos.line, column: pos.col, path: '', message }]);
  }
}

/** Every string value of the document with its path; keys are not values, aliases are listed at their anchor. */
function stringScalars(node: unknown, path: Path, out: { node: Scalar; path: Path }[] = []): { node: Scalar; path: Path }[] {
  if (isScalar(node) && typeof node.value === 'string') out.push({ node, path });
  else if (isSeq(node)) node.items.forEach((x, i) => stringScalars(x, [...path, i], out));
  else if (isMap(node)) {
    for (const pair of node.items) if (isScalar(pair.key) && pair.key.value !== '<<') stringScalars(pair.value, [...path, String(pair.key.value)], out);
  }
  return out;
}

/**
 * A gonogo placeholder (`{{env.url}}`, `{{payload}}`). `{{.Names}}` or `{{json .}}` (Go templates
 * given to docker or kubectl inside a script) are not gonogo's and pass.
 */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

/** What a script should use instead of a placeholder: the variable the command kind sets for it. */
function scriptVariableFor(placeholder: string): string {
  const field = /^env\.(.+)$/.exec(placeholder)?.[1];
  const named = field === undefined ? [] : Object.keys(valueVariables(field === 'url' ? { name: '', url: '', vars: {} } : { name: '', vars: { [field]: '' } }));
  const variable = named.find((v) => v !== 'GONOGO_ENV');
  return variable ? `use "$${variable}"` : 'values reach it only as environment variables: use "$GONOGO_URL" (environment fields: "$GONOGO_ENV_<FIELD>", your own: "$VAR")';
}

/** The most files one config may be built from with `extends` (the root included). */
export const MAX_CONFIG_FILES = 64;

/** One file of a config: the one loaded, or one it extends. */
interface SourceFile {
  file: string;
  bytes: string | Uint8Array;
  /** The syntax tree and what places a problem in it; absent for a fast-parsed file (fast-yaml.ts). */
  tree?: { doc: Document; locate: Locator };
  /** The file's top-level mapping as plain data, without `extends`. */
  raw: Record<string, unknown>;
  /** `extends:` entries as written. */
  extends: string[];
}

/** The syntax tree of a file, which a problem is placed with; a fast-parsed file has none, and is parsed again (NeedsPositions). */
function treeOf(src: SourceFile): { doc: Document; locate: Locator } {
  if (!src.tree) throw new NeedsPositions(`${src.file}: a problem to place`);
  return src.tree;
}

/**
 * Parses one file: YAML syntax, aliases, a top-level mapping and the shape of `extends`. With
 * `fast`, a large file is read without its syntax tree when fast-yaml.ts can (see there).
 */
function parseFile(source: string | Uint8Array, file: string, fast = false): SourceFile {
  const text = typeof source === 'string' ? source : decodeUtf8(source, file);
  if (fast && text.length >= FAST_PARSE_MIN_CHARS) {
    const plain = fastParse(text);
    if (plain !== null && typeof plain === 'object' && !Array.isArray(plain)) {
      const { extends: ext, ...raw } = plain as Record<string, unknown>;
      if (ext === undefined) return { file, bytes: source, raw, extends: [] };
      if (Array.isArray(ext) && ext.every((e) => typeof e === 'string' && e !== '')) return { file, bytes: source, raw, extends: ext as string[] };
    }
  }
  const lines = new LineCounter();
  // `merge: true`: `<<: *defaults` merge keys, so a file can share a block between items.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true });
  const problems = yamlProblems(doc, lines, file);
  if (problems.length > 0) throw new ConfigError(problems);
  const locate = new Locator(doc, lines, file, text);
  const plain = toPlain(doc, lines, file);
  if (plain === null || typeof plain !== 'object' || Array.isArray(plain) || !isMap(doc.contents)) {
    throw new ConfigError([{ file, line: 1, column: 1, path: '', message: 'expected a mapping with version, environments and items' }]);
  }
  const { extends: ext, ...raw } = plain as Record<string, unknown>;
  const list: string[] = [];
  if (ext !== undefined) {
    if (!Array.isArray(ext)) throw new ConfigError([locate.at(['extends'], 'expected a list of files, e.g. extends: [shared/base.yaml]')]);
    const bad = ext.flatMap((e, i) => (typeof e === 'string' && e !== '' ? [] : [locate.at(['extends', i], 'expected a file path')]));
    if (bad.length > 0) throw new ConfigError(bad);
    list.push(...(ext as string[]));
  }
  return { file, bytes: source, tree: { doc, locate }, raw, extends: list };
}

/** The file an `extends` entry names, as it is shown in problems: relative to the extending file. */
function extendedPath(from: string, ref: string): string {
  return isAbsolute(ref) ? ref : join(dirname(from), ref);
}

/**
 * Reads a config and every file it extends, depth first: each file comes after the files it
 * extends, so later ones override earlier ones. A file reached twice (two bases sharing one) is
 * read once; a file that extends itself, directly or not, is refused at the entry closing the cycle.
 */
async function readSources(root: string, maxBytes: number, fast = false): Promise<SourceFile[]> {
  const order: SourceFile[] = [];
  const included = new Set<string>();
  const visit = async (src: SourceFile, chain: string[]): Promise<void> => {
    for (const [i, ref] of src.extends.entries()) {
      const file = extendedPath(src.file, ref);
      const abs = resolve(file);
      if (chain.includes(abs)) {
        const cycle = [...chain.slice(chain.indexOf(abs)), abs].map((p) => relative(process.cwd(), p) || p);
        throw new ConfigError([treeOf(src).locate.at(['extends', i], `${ref} is already being extended: a cycle (${cycle.join(' -> ')}) is refused`)]);
      }
      if (included.has(abs)) continue;
      if (included.size >= MAX_CONFIG_FILES) throw new ConfigError([treeOf(src).locate.at(['extends', i], `more than ${MAX_CONFIG_FILES} files extended: refused`)]);
      let bytes: Buffer;
      try {
        bytes = await readConfigBytes(file, maxBytes);
      } catch (err) {
        if (err instanceof ConfigError) throw new ConfigError(err.problems.map((p) => treeOf(src).locate.at(['extends', i], `${file}: ${p.message}`)));
        throw err;
      }
      const next = parseFile(bytes, file, fast);
      included.add(abs);
      await visit(next, [...chain, abs]);
      order.push(next);
    }
  };
  const top = parseFile(await readConfigBytes(root, maxBytes), root, fast);
  included.add(resolve(root));
  await visit(top, [resolve(root)]);
  order.push(top);
  return order;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Maps merge key by key, deeply; anything else (a list, a scalar) is replaced by the later value. */
function mergeDeep(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = Object.hasOwn(base, k) ? mergeDeep(base[k], v) : v;
  return out;
}

/** The files merged in order (`items` concatenated, the rest merged deeply), with where each item came from. */
function mergeSources(files: readonly SourceFile[]): { raw: Record<string, unknown>; itemOrigins: ItemOrigin[] } {
  let raw: Record<string, unknown> = {};
  let items: unknown;
  const itemOrigins: ItemOrigin[] = [];
  files.forEach((f, fi) => {
    const { items: own, ...rest } = f.raw;
    raw = mergeDeep(raw, rest) as Record<string, unknown>;
    if (own === undefined) return;
    if (Array.isArray(own) && (items === undefined || Array.isArray(items))) {
      items = [...((items as unknown[] | undefined) ?? []), ...own];
      own.forEach((_, index) => itemOrigins.push({ file: fi, index }));
    } else {
      items = own;
    }
  });
  return { raw: items === undefined ? raw : { ...raw, items }, itemOrigins };
}

/** How many leading keys of `path` exist in the file's document. */
function existingDepth(doc: Document, path: Path): number {
  for (let n = path.length; n > 0; n--) {
    const node = doc.getIn(path.slice(0, n), true);
    if (node && typeof node === 'object') return n;
  }
  return 0;
}

/**
 * Positions in a config built from one or more files: a value is found in the file that wrote it
 * (an item in its own file, at its own index; another value in the last file that reaches deepest
 * into its path), so every problem points where the value was written.
 */
class Sources {
  constructor(
    readonly files: readonly SourceFile[],
    private readonly itemOrigins: readonly ItemOrigin[],
  ) {}

  get root(): SourceFile {
    return this.files[this.files.length - 1];
  }

  /** The file holding the value at a merged `path`, and its path there. */
  resolve(path: Path): { src: SourceFile; path: Path } {
    if (path[0] === 'items' && typeof path[1] === 'number') {
      const o = this.itemOrigins[path[1]];
      if (o) return { src: this.files[o.file], path: ['items', o.index, ...path.slice(2)] };
    }
    let best = this.root;
    let depth = -1;
    for (let f = this.files.length - 1; f >= 0; f--) {
      const d = existingDepth(treeOf(this.files[f]).doc, path);
      if (d > depth) {
        best = this.files[f];
        depth = d;
      }
    }
    return { src: best, path };
  }

  /** The file and its own index of the merged item `i`. */
  item(i: number): { src: SourceFile; index: number } {
    const o = this.itemOrigins[i];
    return o ? { src: this.files[o.file], index: o.index } : { src: this.root, index: i };
  }

  at(path: Path, message: string, offset = 0, key?: string): ConfigProblem {
    const r = this.resolve(path);
    return treeOf(r.src).locate.at(r.path, message, offset, key);
  }

  quoteOffset(path: Path): number {
    const r = this.resolve(path);
    return treeOf(r.src).locate.quoteOffset(r.path);
  }

  /** A problem at the `nth` occurrence of `needle` in the string value at `path` (the value's start when not found). */
  inString(path: Path, needle: string, nth: number, message: string): ConfigProblem {
    const r = this.resolve(path);
    const tree = treeOf(r.src);
    const node = tree.doc.getIn(r.path, true);
    if (!isScalar(node)) return this.at(path, message);
    const pos = tree.locate.inScalar(node, needle, nth);
    return { file: pos.file, line: pos.line, column: pos.column, path: r.path.join('.'), message };
  }

  /** The string values under a merged path, in the file that wrote them, with their paths there. */
  strings(path: Path): { src: SourceFile; node: Scalar; path: Path }[] {
    const r = this.resolve(path);
    return stringScalars(treeOf(r.src).doc.getIn(r.path, true), r.path).map((s) => ({ src: r.src, ...s }));
  }
}

function secretRefs(sources: Sources): SecretRef[] {
  // A fast-parsed file holds no `${VAR}` (fast-yaml.ts leaves such a file to the parser with positions).
  return sources.files.flatMap(({ tree, file }) =>
    !tree ? [] : stringScalars(tree.doc.contents, []).flatMap(({ node, path }) =>
      matchesWithRank(String(node.value), PROCESS_REF).map(({ match, nth }) => {
        const pos = tree.locate.inScalar(node, match[0], nth);
        return { name: match[1], file, path: path.join('.'), line: pos.line, column: pos.column };
      }),
    ),
  );
}

/** `{{...}}` at a kind's verbatim option paths (`run.sh`): the text is passed as written, so a placeholder there is refused. */
function verbatimProblems(checkPath: Path, verbatim: readonly string[], sources: Sources, raw: unknown): ConfigProblem[] {
  return verbatim.flatMap((dotted) => {
    const path = [...checkPath, ...dotted.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p))];
    // Most scripts hold no placeholder: looked for in the data first, placed only when there is one.
    if (!hasPlaceholder(valueAt(raw, path))) return [];
    return sources.strings(path).flatMap(({ src, node, path: at }) =>
      matchesWithRank(String(node.value), PLACEHOLDER).map(({ match, nth }) => {
        const pos = treeOf(src).locate.inScalar(node, match[0], nth);
        const message = `${match[0]} is not expanded inside a shell script (a value spliced into a script could run as code): ${scriptVariableFor(match[1])}${match[1] === 'env.url' ? ' (environment fields: "$GONOGO_ENV_<FIELD>")' : ''}`;
        return { file: pos.file, line: pos.line, column: pos.column, path: at.join('.'), message };
      }),
    );
  });
}

/** Does a string of this value hold a gonogo placeholder? */
function hasPlaceholder(v: unknown): boolean {
  if (typeof v === 'string') return new RegExp(PLACEHOLDER.source).test(v);
  if (Array.isArray(v)) return v.some(hasPlaceholder);
  if (v !== null && typeof v === 'object') return Object.values(v).some(hasPlaceholder);
  return false;
}

/** The config hash: the file's bytes, or with `extends` every file's, in order (an edit to a shared file changes it). */
function hashOf(files: readonly SourceFile[]): string {
  return configHashOf(files.map((f) => sha256(f.bytes)));
}

/** The kind of a raw check, when it names one of `kinds`. */
function kindOf(check: Record<string, unknown>, kinds: KindTable) {
  return typeof check.kind === 'string' && Object.hasOwn(kinds, check.kind) ? kinds[check.kind] : undefined;
}

/**
 * Parses and validates a config: its bytes as read (the hash is theirs, and invalid UTF-8 is a
 * problem with its position) or its text. Every problem is collected (YAML syntax, schema, duplicate
 * ids, unknown stage items, bad expressions, placeholders in verbatim options, broken references)
 * with its file:line:column, and thrown together. A config that `extends` others needs them read:
 * use loadConfig.
 */
export function parseConfig(source: string | Uint8Array, file: string, kinds: KindTable = loadedKinds()): LoadedConfig {
  const src = parseFile(source, file);
  if (src.extends.length > 0) throw new ConfigError([treeOf(src).locate.at(['extends'], 'extends: the files it names are read by loadConfig (gonogo check reads them); parseConfig takes one file')]);
  return buildConfig([src], kinds);
}

/** The kind names the merged config's checks use (unknown names included: the schema reports them). */
function usedKinds(raw: Record<string, unknown>): string[] {
  return asArray(raw.items).flatMap((it) => {
    const kind = asRecord(asRecord(it).check).kind;
    return typeof kind === 'string' ? [kind] : [];
  });
}

/**
 * Validates the merged files and builds the loaded config: every check's options and conditions
 * against its kind, which must be in `kinds` (loadConfig loads exactly the kinds the config uses).
 * Options are always parsed by the kind's schema, never kept as written: the state of a release
 * compares items by their parsed definition, so every command must see the same one.
 */
function buildConfig(files: readonly SourceFile[], checked: KindTable): LoadedConfig {
  return buildLoaded(files, checked).loaded;
}

/** The conditions of one item as written (or its kind's defaults), and the fields they were parsed against. */
export interface ConditionSources {
  sources: string[];
  fields: readonly string[];
}

/** buildConfig, and what it parsed the conditions and placed the problems from. */
function buildLoaded(files: readonly SourceFile[], checked: KindTable): { loaded: LoadedConfig; conditionSources: Map<string, ConditionSources>; itemOrigins: ItemOrigin[] } {
  const { raw, itemOrigins } = mergeSources(files);
  const sources = new Sources(files, itemOrigins);
  const rootFile = sources.root.file;
  const problems: ConfigProblem[] = [];
  const missing = [...new Set(usedKinds(raw))].filter((k) => KIND_NAMES.some((n) => n === k) && !Object.hasOwn(checked, k));
  // Only a library caller can get here (parseConfig before the kinds were loaded): loadConfig loads them.
  if (missing.length > 0) throw new Error(`check kinds not loaded: ${missing.join(', ')} (use loadConfig, or await loadKinds() before parseConfig)`);

  const parsed = configSchemaFor(checked).safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const d of describeIssue(issue, raw)) problems.push(sources.at(d.path, d.message, 0, d.key));
    }
  }

  // Checks zod cannot express, made on the raw data so they are reported with the schema's problems.
  const items = asArray(raw.items);
  const seen = new Map<string, number>();
  const conditions = new Map<string, Condition[]>();
  const conditionSources = new Map<string, ConditionSources>();
  const secretFields = secretFieldsOf(raw);
  // Items mostly repeat their conditions (`status == 200`): each text is parsed once per kind's
  // fields, and its items share the parsed condition (it is never changed once parsed).
  const parsedOnce = new Map<readonly string[], Map<string, ReturnType<typeof parseCondition>>>();
  const parseOnce = (src: string, fields: readonly string[]): ReturnType<typeof parseCondition> => {
    let byText = parsedOnce.get(fields);
    if (!byText) parsedOnce.set(fields, (byText = new Map()));
    let r = byText.get(src);
    if (!r) byText.set(src, (r = parseCondition(src, fields)));
    return r;
  };
  items.forEach((it, i) => {
    const item = asRecord(it);
    if (typeof item.id === 'string') {
      const first = seen.get(item.id);
      if (first === undefined) seen.set(item.id, i);
      else {
        const a = sources.item(first);
        const b = sources.item(i);
        const where = a.src === b.src ? `first at items.${a.index}` : `also in ${a.src.file} at items.${a.index}: ids must be unique across extended files`;
        problems.push(sources.at(['items', i, 'id'], `duplicate id "${item.id}" (${where})`));
      }
    }
    const check = asRecord(item.check);
    if (item.check !== undefined && item.manual === true) {
      problems.push(sources.at(['items', i, 'manual'], 'an item has either a check or manual: true, not both'));
    }
    if (item.check === undefined && item.manual !== true && Array.isArray(raw.items)) {
      problems.push(sources.at(['items', i], 'expected a "check" or "manual: true"'));
    }
    const kind = kindOf(check, checked);
    if (!kind) return;
    problems.push(...verbatimProblems(['items', i, 'check'], kind.verbatim, sources, raw));
    const expect = check.expect;
    const sourcesOf: { src: string; path: Path }[] = Array.isArray(expect)
      ? expect.flatMap((src, j) => (typeof src === 'string' ? [{ src, path: ['items', i, 'check', 'expect', j] }] : []))
      : [];
    const parsedConds: Condition[] = [];
    const parsedSources: string[] = [];
    for (const { src, path } of sourcesOf) {
      const refused = expectProblems(src, path, secretFields, sources);
      if (refused.length > 0) {
        problems.push(...refused);
        continue;
      }
      const r = parseOnce(src, kind.fields);
      if (r.ok) {
        parsedConds.push(r.condition);
        parsedSources.push(src);
      }
      // A condition is quoted whole only when short: a 1 MB one is refused, not echoed back.
      else problems.push(sources.at(path, `bad condition ${JSON.stringify(src.length > 120 ? `${src.slice(0, 117)}...` : src)}: ${r.error}`, r.column + sources.quoteOffset(path)));
    }
    // The kind's options as the config's schema parsed them (each parse compiles the kind's
    // patterns: an env check's seven placeholders, case-insensitive, took most of a load).
    const parsedCheck = parsed.success ? parsed.data.items[i]?.check : undefined;
    if (typeof item.id === 'string' && expect === undefined && parsedCheck) {
      const opts = Object.fromEntries(Object.entries(parsedCheck).filter(([k]) => !['kind', 'timeout', 'retries', 'backoff', 'expect'].includes(k)));
      for (const src of kind.defaultExpect(opts)) {
        const r = parseOnce(src, kind.fields);
        if (r.ok) {
          parsedConds.push(r.condition);
          parsedSources.push(src);
        } else problems.push(sources.at(['items', i, 'check'], `internal: default condition ${JSON.stringify(src)} of kind ${kind.name} does not parse: ${r.error}`));
      }
    }
    if (typeof item.id === 'string') {
      conditions.set(item.id, parsedConds);
      conditionSources.set(item.id, { sources: parsedSources, fields: kind.fields });
    }
  });

  const stages = asRecord(raw.stages);
  for (const [set, list] of Object.entries(stages)) {
    asArray(list).forEach((st, si) => {
      asArray(asRecord(st).items).forEach((id, ii) => {
        if (typeof id === 'string' && !seen.has(id)) problems.push(sources.at(['stages', set, si, 'items', ii], `unknown item id "${id}"`));
      });
    });
  }
  checkReferences(
    raw,
    {
      at: (path, message) => problems.push(sources.at(path, message)),
      inString: (path, needle, nth, message) => problems.push(sources.inString(path, needle, nth, message)),
    },
    (check) => kindOf(check, checked)?.verbatim ?? [],
  );

  // In file order: the root's problems after those of the files it extends.
  const fileOrder = new Map(files.map((f, i) => [f.file, i]));
  problems.sort((a, b) => (fileOrder.get(a.file) ?? 0) - (fileOrder.get(b.file) ?? 0) || a.line - b.line || a.column - b.column);
  if (problems.length > 0 || !parsed.success) throw new ConfigError(dedupe(problems));
  const config = parsed.data;
  // The engine then parses again only the options that placeholder expansion changes.
  for (const item of config.items) {
    const kind = item.check ? kindOf(item.check, checked) : undefined;
    if (item.check && kind) markValidated(item.check, kind.options);
  }
  const loaded: LoadedConfig = {
    config,
    file: rootFile,
    files: files.map((f) => f.file),
    dir: dirname(resolve(rootFile)),
    hash: hashOf(files),
    gate: config.name ?? basename(dirname(resolve(rootFile))),
    conditions,
    secretRefs: secretRefs(sources),
    locate: laterLocator(files, itemOrigins),
  };
  return { loaded, conditionSources, itemOrigins };
}

/**
 * Positions for problems found after load (an unknown `--env`, an unset `${STAGING_URL}`). The
 * syntax trees are not kept for the whole run (they were most of a loaded config's memory): the
 * files' bytes are, and are parsed again, once, only when a problem must be placed, into the
 * skeleton a cached config keeps (positions.ts), so both place a problem alike.
 */
function laterLocator(files: readonly SourceFile[], itemOrigins: readonly ItemOrigin[]): LoadedConfig['locate'] {
  const kept = files.map((f) => ({ bytes: f.bytes, file: f.file }));
  let again: FilePositions[] | undefined;
  return (path, message) => {
    again ??= kept.map((f) => positionsOf(parseFile(f.bytes, f.file)));
    return locateIn(again, itemOrigins, path, message);
  };
}

/** A plain key of a mapping, as positions.ts compares it with a path; a key of another kind is never a path's. */
function keyValue(key: unknown): string | number | boolean | null {
  if (!isScalar(key)) return null;
  const v = key.value;
  return typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)) ? v : null;
}

/** A node's skeleton: its start, a mapping's keys with theirs, a sequence's items (a pair inside a flow sequence has no position). */
function positionNode(node: unknown, locate: Locator): PositionNode | null {
  if (node === null || typeof node !== 'object') return null;
  const range = 'range' in node && Array.isArray(node.range) ? (node.range as number[]) : undefined;
  const at = locate.position(range?.[0] ?? 0);
  if (isMap(node)) {
    return {
      at,
      map: node.items.map((pair) => {
        const k = pair.key;
        const keyAt = isScalar(k) && k.range ? locate.position(k.range[0]) : null;
        return [keyValue(k), keyAt, positionNode(pair.value, locate)];
      }),
    };
  }
  if (isSeq(node)) return { at, seq: node.items.map((item) => positionNode(item, locate)) };
  return { at };
}

/** The skeleton of a parsed file: what positions.ts needs to place a problem without the syntax tree. */
function positionsOf(src: SourceFile): FilePositions {
  const { doc, locate } = treeOf(src);
  return { file: src.file, root: positionNode(doc.contents, locate) };
}

/** The same problem found twice (a reference checked by two rules) is reported once. */
function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = formatProblem(p);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * What `expect:` refuses before parsing: `${VAR}` (a secret would be judged, and shown in the
 * judgement, in the clear) and `{{env.x}}` of a field that holds a `${VAR}` in some environment.
 */
function expectProblems(src: string, path: Path, secretFields: ReadonlySet<string>, sources: Sources): ConfigProblem[] {
  const problems = matchesWithRank(src, PROCESS_REF).map(({ match, nth }) =>
    sources.inString(path, match[0], nth, `${match[0]} is a secret and is never put into a condition (a judgement shows the values it compares): compare against {{env.<field>}} or {{release}}, which are not secrets`),
  );
  const ranks = new Map<string, number>();
  for (const use of placeholdersOf(src)) {
    const nth = ranks.get(use.text) ?? 0;
    ranks.set(use.text, nth + 1);
    if (use.field !== RELEASE_FIELD && secretFields.has(use.field)) {
      problems.push(sources.inString(path, use.text, nth, `${use.text} holds a \${VAR} (a secret) in some environment: a secret is never put into a condition`));
    }
  }
  return problems;
}

/** Options of loadConfig. */
export interface LoadOptions {
  /** Larger files are refused before they are read (default DEFAULT_MAX_CONFIG_BYTES, 5 MB); the cap applies to each file. */
  maxBytes?: number;
}

/** The file's bytes; a missing, oversized or irregular file (a FIFO, a device, a directory) is a ConfigError. */
async function readConfigBytes(file: string, maxBytes: number): Promise<Buffer> {
  const refuse = (message: string) => new ConfigError([{ file, line: 1, column: 1, path: '', message }]);
  try {
    // stat() only words the refusal (it names the size); readRegularFile decides on the open descriptor.
    const st = await stat(file);
    if (st.isFile() && st.size > maxBytes) {
      throw refuse(`the config file is ${st.size} bytes, over the limit of ${maxBytes} bytes: not read (raise the limit with --max-config-bytes)`);
    }
    return await readRegularFile(file, maxBytes);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    if (err instanceof FileRefusedError) throw refuse(err.message);
    const code = (err as NodeJS.ErrnoException).code;
    throw refuse(code === 'ENOENT' ? 'config file not found (run `gonogo init` to write one)' : `cannot read config: ${String(err)}`);
  }
}

/**
 * Reads and validates a config file and every file it `extends`; a missing, unreadable or
 * oversized file is a ConfigError too (at the `extends` entry naming it, for an extended file).
 */
export async function loadConfig(file: string, opts: LoadOptions = {}): Promise<LoadedConfig> {
  return (await loadBuilt(file, opts)).loaded;
}

/**
 * Reads the files (a large one without its syntax tree when it can, see fast-yaml.ts) and builds
 * the config; a problem to place in a file read without its tree reads every file again with them,
 * so problems are found and placed as from the start.
 */
async function loadBuilt(file: string, opts: LoadOptions): Promise<ReturnType<typeof buildLoaded> & { files: SourceFile[] }> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_CONFIG_BYTES;
  // Only the kinds this config uses are loaded: a config of local checks never loads a probe.
  const build = async (files: SourceFile[]) => ({ files, ...buildLoaded(files, await loadKinds(usedKinds(mergeSources(files).raw))) });
  try {
    return await build(await readSources(file, maxBytes, true));
  } catch (err) {
    if (!(err instanceof NeedsPositions)) throw err;
    return build(await readSources(file, maxBytes));
  }
}

/**
 * What a cache keeps of a loaded config besides the config itself (cache.ts): enough to rebuild the
 * loaded config without the parser, the schema or the kinds.
 */
export interface ConfigSnapshot {
  /** Every file read, in load order (`files` of the loaded config), with the sha256 of its bytes. */
  files: { file: string; sha256: string }[];
  itemOrigins: ItemOrigin[];
  /** Each file's skeleton, for `locate`. */
  positions: FilePositions[];
  /** The conditions of every item with a check, by id in item order, as written (or the kind's defaults). */
  conditions: [id: string, sources: ConditionSources][];
}

/** loadConfig, and the snapshot of what it loaded for a cache (none for a config read without syntax trees). */
export async function loadConfigWithSnapshot(file: string, opts: LoadOptions = {}): Promise<{ loaded: LoadedConfig; snapshot?: ConfigSnapshot }> {
  const { files, loaded, conditionSources, itemOrigins } = await loadBuilt(file, opts);
  // A file read without its syntax tree has no skeleton to keep: such a config (thousands of
  // items) is not cached, and the next command reads it again, without the tree too.
  if (files.some((f) => !f.tree)) return { loaded };
  const snapshot: ConfigSnapshot = {
    files: files.map((f) => ({ file: f.file, sha256: sha256(f.bytes) })),
    itemOrigins,
    positions: files.map(positionsOf),
    conditions: [...conditionSources],
  };
  return { loaded, snapshot };
}

/**
 * `locate` placing problems through the files' syntax trees instead of their skeletons: the
 * reference the skeletons (positions.ts) are tested against.
 */
export function syntaxTreeLocator(files: readonly { file: string; bytes: string | Uint8Array }[], itemOrigins: readonly ItemOrigin[]): LoadedConfig['locate'] {
  const again = new Sources(
    files.map((f) => parseFile(f.bytes, f.file)),
    itemOrigins,
  );
  return (path, message) => {
    const parent = path.slice(0, -1);
    return parent.length === 0 ? treeOf(again.root).locate.at(parent, message, 0, String(path.at(-1))) : again.at(path, message, 0, String(path.at(-1)));
  };
}
