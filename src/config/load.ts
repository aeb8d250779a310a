import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename, dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isScalar, isPair, isSeq } from 'yaml';
import type { Document, Node } from 'yaml';
import type { z } from 'zod';
import { configSchema, KIND_NAMES } from './schema.js';
import type { Config } from './schema.js';
import { registry } from '../checks/index.js';
import { parseCondition } from '../conditions/index.js';
import type { Condition } from '../conditions/index.js';

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
  /** file:line:column of a value in the file, for problems found after load (an unknown --env). */
  locate(path: (string | number)[], message: string): ConfigProblem;
}

type Path = (string | number)[];

class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly file: string,
  ) {}

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
 * Parses and validates config text. Every problem is collected (YAML syntax, schema, duplicate ids,
 * unknown stage items, bad expressions) with its file:line:column, and thrown together.
 */
export function parseConfig(text: string, file: string): LoadedConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  const locate = new Locator(doc, lines, file);
  for (const e of doc.errors) {
    const pos = e.linePos?.[0] ?? { line: 1, col: 1 };
    problems.push({ file, line: pos.line, column: pos.col, path: '', message: `YAML: ${e.message.split('\n')[0]}` });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const raw: unknown = doc.toJS();
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
    const expect = check.expect;
    const sources: { src: string; path: Path }[] = Array.isArray(expect)
      ? expect.flatMap((src, j) => (typeof src === 'string' ? [{ src, path: ['items', i, 'check', 'expect', j] }] : []))
      : [];
    const parsedConds: Condition[] = [];
    for (const { src, path } of sources) {
      const r = parseCondition(src, kind.fields);
      if (r.ok) parsedConds.push(r.condition);
      else problems.push(locate.at(path, `bad condition ${JSON.stringify(src)}: ${r.error}`, r.column + locate.quoteOffset(path)));
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
    hash: createHash('sha256').update(text).digest('hex'),
    gate: config.name ?? basename(dirname(resolve(file))),
    conditions,
    locate: (path, message) => locate.at(path.slice(0, -1), message, 0, String(path.at(-1))),
  };
}

/** Reads and validates a config file; a missing or unreadable file is a ConfigError too. */
export async function loadConfig(file: string): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError([{ file, line: 1, column: 1, path: '', message: code === 'ENOENT' ? 'config file not found (run `gonogo init` to write one)' : `cannot read config: ${String(err)}` }]);
  }
  return parseConfig(text, file);
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
