import { stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename, dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isAlias, isMap, isScalar, isPair, isSeq, visit } from 'yaml';
import type { Alias, Document, Node, Scalar } from 'yaml';
import type { z } from 'zod';
import { configSchema, KIND_NAMES } from './schema.js';
import type { Config } from './schema.js';
import { registry } from '../checks/index.js';
import { valueVariables } from '../checks/command/index.js';
import { parseCondition } from '../conditions/index.js';
import type { Condition } from '../conditions/index.js';
import { FileRefusedError, readRegularFile } from '../util/fs.js';
import { MIN_SECRET_LENGTH } from '../util/redact.js';

/** Config files larger than this are refused unless the caller raises the cap (`--max-config-bytes`). */
export const DEFAULT_MAX_CONFIG_BYTES = 5 * 1024 * 1024;

/**
 * Uses of YAML aliases allowed, counted as the yaml library counts them (an alias of a value that
 * itself holds aliases counts for all of them): a few kilobytes of nested aliases ("billion laughs")
 * would otherwise expand to gigabytes.
 */
export const MAX_ALIAS_COUNT = 100;

/** One thing wrong with a config file, where it is and what was expected. */
export interface ConfigProblem {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the offending value, e.g. `items.3.check.url`. */
  path: string;
  message: string;
}

/** Every problem of a config at once; the CLI prints them as `file:line:column: message` and exits 2. */
export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** A config that passed every check at load, with its expectations parsed. */
export interface LoadedConfig {
  config: Config;
  file: string;
  dir: string;
  /** sha256 of the file's bytes: every decision is recorded with the config it was made under. */
  hash: string;
  /** The gate's name: `name:` or the config folder's name. */
  gate: string;
  /** Parsed `expect:` conditions (or the kind's defaults) per item id with a check. */
  conditions: Map<string, Condition[]>;
  /**
   * Every `${VAR}` written in the file's string values (checks, auth, environments, verbatim scripts),
   * where it is written: the run redacts the values of these variables everywhere.
   */
  secretRefs: SecretRef[];
  /** file:line:column of a value in the file, for problems found after load (an unknown --env). */
  locate(path: (string | number)[], message: string): ConfigProblem;
}

/** One `${VAR}` reference in the config file. */
export interface SecretRef {
  name: string;
  /** Dotted path of the string holding it, e.g. `auth.users.alice.password`. */
  path: string;
  line: number;
  column: number;
}

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
  if (issue.code === 'invalid_union' && issue.discriminator === 'kind') {
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
    for (const pair of node.items) if (isScalar(pair.key)) stringScalars(pair.value, [...path, String(pair.key.value)], out);
  }
  return out;
}

/** Matches of `re` in `text`, each with how many identical matches precede it (to find it again in the file). */
function matchesWithRank(text: string, re: RegExp): { match: RegExpExecArray; nth: number }[] {
  const seen = new Map<string, number>();
  return [...text.matchAll(re)].map((match) => {
    const nth = seen.get(match[0]) ?? 0;
    seen.set(match[0], nth + 1);
    return { match, nth };
  });
}

const PROCESS_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
/**
 * A gonogo placeholder (`{{env.url}}`, `{{payload}}`). `{{.Names}}` or `{{json .}}` (Go templates
 * given to docker or kubectl inside a script) are not gonogo's and pass.
 */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

function secretRefs(doc: Document, locate: Locator): SecretRef[] {
  return stringScalars(doc.contents, []).flatMap(({ node, path }) =>
    matchesWithRank(String(node.value), PROCESS_REF).map(({ match, nth }) => {
      const pos = locate.inScalar(node, match[0], nth);
      return { name: match[1], path: path.join('.'), line: pos.line, column: pos.column };
    }),
  );
}

/** What a script should use instead of a placeholder: the variable the command kind sets for it. */
function scriptVariableFor(placeholder: string): string {
  const field = /^env\.(.+)$/.exec(placeholder)?.[1];
  const named = field === undefined ? [] : Object.keys(valueVariables(field === 'url' ? { name: '', url: '', vars: {} } : { name: '', vars: { [field]: '' } }));
  const variable = named.find((v) => v !== 'GONOGO_ENV');
  return variable ? `use "$${variable}"` : 'values reach it only as environment variables: use "$GONOGO_URL" (environment fields: "$GONOGO_ENV_<FIELD>", your own: "$VAR")';
}

/** `{{...}}` at a kind's verbatim option paths (`run.sh`): the text is passed as written, so a placeholder there is refused. */
function verbatimProblems(doc: Document, checkPath: Path, verbatim: readonly string[], locate: Locator): ConfigProblem[] {
  return verbatim.flatMap((dotted) => {
    const path = [...checkPath, ...dotted.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p))];
    return stringScalars(doc.getIn(path, true), path).flatMap(({ node, path: at }) =>
      matchesWithRank(String(node.value), PLACEHOLDER).map(({ match, nth }) => {
        const pos = locate.inScalar(node, match[0], nth);
        const message = `${match[0]} is not expanded inside a shell script (a value spliced into a script could run as code): ${scriptVariableFor(match[1])}${match[1] === 'env.url' ? ' (environment fields: "$GONOGO_ENV_<FIELD>")' : ''}`;
        return { file: pos.file, line: pos.line, column: pos.column, path: at.join('.'), message };
      }),
    );
  });
}

/**
 * Parses and validates a config: its bytes as read (the hash is theirs, and invalid UTF-8 is a
 * problem with its position) or its text. Every problem is collected (YAML syntax, schema, duplicate
 * ids, unknown stage items, bad expressions, placeholders in verbatim options) with its
 * file:line:column, and thrown together.
 */
export function parseConfig(source: string | Uint8Array, file: string): LoadedConfig {
  const text = typeof source === 'string' ? source : decodeUtf8(source, file);
  const hash = createHash('sha256').update(source).digest('hex');
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = yamlProblems(doc, lines, file);
  const locate = new Locator(doc, lines, file, text);
  if (problems.length > 0) throw new ConfigError(problems);
  const raw = toPlain(doc, lines, file);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || !isMap(doc.contents)) {
    throw new ConfigError([{ file, line: 1, column: 1, path: '', message: 'expected a mapping with version, environments and items' }]);
  }

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      for (const d of describeIssue(issue, raw)) problems.push(locate.at(d.path, d.message, 0, d.key));
    }
  }

  // Checks zod cannot express, made on the raw data so they are reported with the schema's problems.
  const items = asArray(asRecord(raw).items);
  const seen = new Map<string, number>();
  const conditions = new Map<string, Condition[]>();
  items.forEach((it, i) => {
    const item = asRecord(it);
    if (typeof item.id === 'string') {
      const first = seen.get(item.id);
      if (first !== undefined) problems.push(locate.at(['items', i, 'id'], `duplicate id "${item.id}" (first at items.${first})`));
      else seen.set(item.id, i);
    }
    const check = asRecord(item.check);
    if (item.check !== undefined && item.manual === true) {
      problems.push(locate.at(['items', i, 'manual'], 'an item has either a check or manual: true, not both'));
    }
    if (item.check === undefined && item.manual !== true && isSeq(doc.getIn(['items'], true))) {
      problems.push(locate.at(['items', i], 'expected a "check" or "manual: true"'));
    }
    const kind = typeof check.kind === 'string' && check.kind in registry ? registry[check.kind as keyof typeof registry] : undefined;
    if (!kind) return;
    problems.push(...verbatimProblems(doc, ['items', i, 'check'], kind.verbatim, locate));
    const expect = check.expect;
    const sources: { src: string; path: Path }[] = Array.isArray(expect)
      ? expect.flatMap((src, j) => (typeof src === 'string' ? [{ src, path: ['items', i, 'check', 'expect', j] }] : []))
      : [];
    const parsedConds: Condition[] = [];
    for (const { src, path } of sources) {
      const r = parseCondition(src, kind.fields);
      if (r.ok) parsedConds.push(r.condition);
      // A condition is quoted whole only when short: a 1 MB one is refused, not echoed back.
      else problems.push(locate.at(path, `bad condition ${JSON.stringify(src.length > 120 ? `${src.slice(0, 117)}...` : src)}: ${r.error}`, r.column + locate.quoteOffset(path)));
    }
    if (typeof item.id === 'string' && expect === undefined && parsed.success) {
      const opts = kind.options.safeParse(Object.fromEntries(Object.entries(check).filter(([k]) => !['kind', 'timeout', 'retries', 'backoff', 'expect'].includes(k))));
      if (opts.success) {
        for (const src of kind.defaultExpect(opts.data)) {
          const r = parseCondition(src, kind.fields);
          if (r.ok) parsedConds.push(r.condition);
          else problems.push(locate.at(['items', i, 'check'], `internal: default condition ${JSON.stringify(src)} of kind ${kind.name} does not parse: ${r.error}`));
        }
      }
    }
    if (typeof item.id === 'string') conditions.set(item.id, parsedConds);
  });

  const stages = asRecord(asRecord(raw).stages);
  for (const [set, list] of Object.entries(stages)) {
    asArray(list).forEach((st, si) => {
      asArray(asRecord(st).items).forEach((id, ii) => {
        if (typeof id === 'string' && !seen.has(id)) problems.push(locate.at(['stages', set, si, 'items', ii], `unknown item id "${id}"`));
      });
    });
  }
  const required = asArray(asRecord(asRecord(raw).rules).requiredSignoffs);
  required.forEach((r, i) => {
    if (typeof r === 'string' && r.startsWith('item:') && !seen.has(r.slice(5))) problems.push(locate.at(['rules', 'requiredSignoffs', i], `unknown item id "${r.slice(5)}"`));
  });

  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);
  const config = parsed.data;
  return {
    config,
    file,
    dir: dirname(resolve(file)),
    hash,
    gate: config.name ?? basename(dirname(resolve(file))),
    conditions,
    secretRefs: secretRefs(doc, locate),
    locate: (path, message) => locate.at(path.slice(0, -1), message, 0, String(path.at(-1))),
  };
}

/** Options of loadConfig. */
export interface LoadOptions {
  /** Larger files are refused before they are read (default DEFAULT_MAX_CONFIG_BYTES, 5 MB). */
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

/** Reads and validates a config file; a missing, unreadable or oversized file is a ConfigError too. */
export async function loadConfig(file: string, opts: LoadOptions = {}): Promise<LoadedConfig> {
  return parseConfig(await readConfigBytes(file, opts.maxBytes ?? DEFAULT_MAX_CONFIG_BYTES), file);
}

/**
 * A problem, at the reference, for every `${VAR}` of the config that is set in `processEnv` but
 * shorter than MIN_SECRET_LENGTH: a value that short cannot be redacted without destroying the
 * output, so the run is refused before anything is sent. Unset variables are reported where used.
 */
export function checkSecretValues(loaded: LoadedConfig, processEnv: Readonly<Record<string, string | undefined>>): ConfigProblem[] {
  return loaded.secretRefs.flatMap((ref) => {
    const value = processEnv[ref.name];
    if (value === undefined || value === '' || value.length >= MIN_SECRET_LENGTH) return [];
    const message = `environment variable ${ref.name} is ${value.length} character${value.length === 1 ? '' : 's'} long, shorter than ${MIN_SECRET_LENGTH}: too short to redact safely`;
    return [{ file: loaded.file, line: ref.line, column: ref.column, path: ref.path, message }];
  });
}

/** The environment `--env` names, or the first one; an unknown name is a config problem. */
export function selectEnvironment(loaded: LoadedConfig, name?: string): { name: string; env: Config['environments'][string] } {
  const names = Object.keys(loaded.config.environments);
  const chosen = name ?? names[0];
  const env = loaded.config.environments[chosen];
  if (!env) {
    const text = `environment "${chosen}" is not defined (defined: ${names.join(', ')})`;
    throw new ConfigError([loaded.locate(['environments'], text)]);
  }
  return { name: chosen, env };
}
