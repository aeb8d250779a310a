// Why an item failed, in lines a person reads: what each check kind keeps as evidence (a probe's
// findings, a command's argv and last output lines, an http check's request and answer...) turned
// into one fact per line, and the wall of identical errors of a first run folded into one line per
// root cause. Plain text out: each renderer (text, Markdown, JUnit, annotations) escapes it its way.
//
// Evidence is `unknown` (it comes back from the store as JSON), so each shape is read through a
// schema: a shape that does not parse is simply not explained that way, never a crash. valibot's,
// not zod's (the config's): every command that prints a state explains it, and valibot bundles only
// the few functions used here (about 25 KiB), where zod's runtime is 390 KiB to compile at each start.
import * as v from 'valibot';
import type { ItemResult, Status } from '../model.js';

/** Most evidence lines shown per item; the rest are counted in an "and N more" line. */
export const MAX_DETAIL_LINES = 8;
/** Lines of a command's output shown (the end of it, where the error usually is). */
export const OUTPUT_TAIL_LINES = 5;
/** Item ids listed on a root cause's line before "and N more". */
export const MAX_CAUSE_ITEMS = 12;

/** One failed or errored item explained, or several errored for one reason. */
export type Explained =
  | { type: 'item'; result: ItemResult; details: string[] }
  | { type: 'cause'; cause: string; status: Status; results: ItemResult[] };

/**
 * Text on one line, cut to `max` characters with an ellipsis. Control characters a target sent
 * (an ESC that would restyle a terminal) are shown as `\xNN`, never passed through.
 */
export function oneLine(text: string, max = 160): string {
  const flat = text
    .split(/[\r\n]+/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ')
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function show(value: unknown, max = 160): string {
  if (typeof value === 'string') return oneLine(value, max);
  try {
    return oneLine(JSON.stringify(value) ?? String(value), max);
  } catch {
    return oneLine(String(value), max);
  }
}

/** `lines` cut to `max`, the last line saying how many were left out. */
export function capLines(lines: readonly string[], max = MAX_DETAIL_LINES, noun = 'more'): string[] {
  if (lines.length <= max) return [...lines];
  const kept = lines.slice(0, Math.max(0, max - 1));
  return [...kept, `and ${lines.length - kept.length} ${noun}`];
}

/** `a, b, c and N more`: a list of names on one line. */
export function listNames(names: readonly string[], max = MAX_CAUSE_ITEMS): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

// --- Evidence shapes, one per kind family. Fields are optional where a kind may leave them out.

const SEVERITY_RANK: Record<string, number> = { high: 0, medium: 1, low: 2, info: 3 };

const finding = v.object({ id: v.string(), severity: v.string(), message: v.string(), observed: v.optional(v.unknown()), request: v.optional(v.unknown()) });
const probeEvidence = v.object({ findings: v.array(finding) });

const requestLike = v.object({
  method: v.optional(v.string()),
  path: v.optional(v.string()),
  url: v.optional(v.string()),
  request: v.optional(v.string()),
  status: v.optional(v.number()),
  location: v.optional(v.string()),
});

const REQUEST_KEYS = new Set(['method', 'path', 'url', 'request', 'status', 'location']);

/** What an observed value holds beside its request: `: value` for the usual lone value, else the fields. */
function rest(observed: unknown): string {
  if (typeof observed !== 'object' || observed === null) return '';
  // A null says "absent", which the finding's message already says.
  const extra = Object.entries(observed).filter(([k, v]) => !REQUEST_KEYS.has(k) && v !== undefined && v !== null);
  if (extra.length === 0) return '';
  if (extra.length === 1 && extra[0][0] === 'value') return `: ${show(extra[0][1], 120)}`;
  return ` ${show(Object.fromEntries(extra), 120)}`;
}

/** "the request that proved it": `POST /api/x → 201` when the observed value names one, else the value. */
function observedText(observed: unknown): string | undefined {
  if (observed === undefined || observed === null) return undefined;
  const r = v.safeParse(requestLike, observed);
  if (r.success) {
    const { method, path, url, request, status, location } = r.output;
    const target = url ?? path;
    if (target !== undefined || (request !== undefined && status !== undefined)) {
      const what = [request !== undefined && method === undefined ? request : undefined, method, target].filter((x) => x !== undefined).join(' ');
      const answer = status !== undefined ? ` → ${status}${location !== undefined ? ` (Location: ${oneLine(location, 80)})` : ''}` : '';
      // A bare page (`/`) reads as where it was seen; a request with its answer reads as itself.
      return `${method === undefined && status === undefined ? 'at ' : ''}${what}${answer}${rest(observed)}`;
    }
  }
  return show(observed, 120);
}

function probeLines(e: v.InferOutput<typeof probeEvidence>, max: number): string[] {
  const sorted = [...e.findings].sort((a, b) => (SEVERITY_RANK[a.severity] ?? 4) - (SEVERITY_RANK[b.severity] ?? 4));
  const lines = sorted.map((f) => {
    const seen = observedText(f.request) ?? observedText(f.observed);
    return `${f.severity} ${f.id}: ${oneLine(f.message, 200)}${seen ? ` — ${seen}` : ''}`;
  });
  return capLines(lines, max);
}

const commandEvidence = v.object({
  command: v.union([v.array(v.string()), v.object({ sh: v.string() })]),
  exitCode: v.optional(v.nullable(v.number())),
  signal: v.optional(v.nullable(v.string())),
  outputTail: v.optional(v.string()),
  truncated: v.optional(v.boolean()),
});

/** An argument as a POSIX shell would need it written, so the line can be pasted. */
function shellWord(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function commandLines(e: v.InferOutput<typeof commandEvidence>): string[] {
  const argv = Array.isArray(e.command) ? e.command.map(shellWord).join(' ') : `sh -c ${shellWord(e.command.sh)}`;
  const ended = e.signal ? `killed by ${e.signal}` : e.exitCode !== undefined && e.exitCode !== null ? `exit code ${e.exitCode}` : undefined;
  const lines = [`$ ${oneLine(argv, 200)}${ended ? ` (${ended})` : ''}`];
  const tail = (e.outputTail ?? '').split(/\r?\n/).filter((l) => l.trim() !== '');
  if (tail.length === 0) lines.push('(no output)');
  else {
    const shown = tail.slice(-OUTPUT_TAIL_LINES);
    if (tail.length > shown.length || e.truncated) lines.push(`last ${shown.length} lines of output:`);
    for (const l of shown) lines.push(`> ${oneLine(l, 200)}`);
  }
  return lines;
}

const httpEvidence = v.object({
  request: v.object({ method: v.string(), url: v.string() }),
  status: v.number(),
  headers: v.optional(v.record(v.string(), v.unknown())),
  bodyExcerpt: v.optional(v.string()),
  latencyMs: v.optional(v.number()),
  redirects: v.optional(v.array(v.string())),
});

function httpLines(e: v.InferOutput<typeof httpEvidence>): string[] {
  const lines = [`${e.request.method} ${e.request.url} → ${e.status}${e.latencyMs !== undefined ? ` in ${e.latencyMs} ms` : ''}`];
  if (e.redirects && e.redirects.length > 0) lines.push(`redirects: ${oneLine(e.redirects.join(' → '), 200)}`);
  const type = e.headers?.['content-type'];
  if (typeof type === 'string') lines.push(`content-type: ${oneLine(type, 100)}`);
  if (e.bodyExcerpt !== undefined) lines.push(e.bodyExcerpt.trim() === '' ? 'body: (empty)' : `body: ${oneLine(e.bodyExcerpt, 200)}`);
  return lines;
}

const envEvidence = v.object({
  checked: v.array(v.string()),
  missing: v.array(v.string()),
  placeholders: v.record(v.string(), v.string()),
  example: v.optional(v.string()),
  file: v.optional(v.string()),
  fileFound: v.optional(v.boolean()),
});

function envLines(e: v.InferOutput<typeof envEvidence>): string[] {
  const lines: string[] = [];
  if (e.missing.length > 0) lines.push(`not set: ${listNames(e.missing)}`);
  const placeholders = Object.entries(e.placeholders);
  if (placeholders.length > 0) lines.push(`placeholders: ${listNames(placeholders.map(([name, pattern]) => `${name} (matches ${pattern})`))}`);
  lines.push(`checked ${e.checked.length} variable(s)${e.example !== undefined ? ` from ${e.example}` : ''}${e.file !== undefined ? `; ${e.file}${e.fileFound === false ? ' not found' : ' read'}` : ''}`);
  return lines;
}

const fileEvidence = v.object({
  path: v.string(),
  exists: v.boolean(),
  pattern: v.optional(v.string()),
  modified: v.optional(v.string()),
  ageSeconds: v.optional(v.nullable(v.number())),
  size: v.optional(v.number()),
  type: v.optional(v.string()),
});

function fileLines(e: v.InferOutput<typeof fileEvidence>): string[] {
  if (!e.exists) return [`${e.pattern ?? e.path}: not found`];
  const facts = [e.type, e.modified !== undefined ? `modified ${e.modified}` : undefined, e.ageSeconds !== undefined && e.ageSeconds !== null ? `${e.ageSeconds} s old` : undefined, e.size !== undefined ? `${e.size} bytes` : undefined];
  return [`${e.path}: ${facts.filter((x) => x !== undefined).join(', ')}`];
}

const gitEvidence = v.object({
  repo: v.string(),
  head: v.optional(v.nullable(v.string())),
  branch: v.optional(v.nullable(v.string())),
  target: v.optional(v.string()),
  merged: v.optional(v.record(v.string(), v.string())),
  dirtyFiles: v.optional(v.array(v.string())),
  dirtyCount: v.optional(v.number()),
  tagPattern: v.optional(v.string()),
  tags: v.optional(v.array(v.string())),
  ahead: v.optional(v.nullable(v.number())),
  behind: v.optional(v.nullable(v.number())),
});

function gitLines(e: v.InferOutput<typeof gitEvidence>): string[] {
  const lines = [`${e.repo} at ${e.branch ?? 'detached'} ${e.head ?? ''}`.trim()];
  const unmerged = Object.entries(e.merged ?? {}).filter(([, how]) => how === 'not merged').map(([name]) => name);
  if (unmerged.length > 0) lines.push(`not merged into ${e.target ?? 'the target'}: ${listNames(unmerged)}`);
  if (e.dirtyCount !== undefined && e.dirtyCount > 0) lines.push(`${e.dirtyCount} uncommitted change(s): ${listNames(e.dirtyFiles ?? [], 5)}`);
  if (e.tagPattern !== undefined) lines.push(`tags matching ${e.tagPattern}: ${e.tags && e.tags.length > 0 ? listNames(e.tags, 5) : 'none'}`);
  if (typeof e.ahead === 'number' && typeof e.behind === 'number' && (e.ahead > 0 || e.behind > 0)) lines.push(`${e.ahead} ahead, ${e.behind} behind the remote`);
  return lines;
}

const exchange = v.object({ method: v.string(), url: v.string(), status: v.optional(v.number()), error: v.optional(v.string()) });
/** What an errored probe keeps: the exchanges it made before it gave up. */
const exchangesEvidence = v.object({ exchanges: v.array(exchange), failedUrl: v.optional(v.string()) });

function exchangeLines(e: v.InferOutput<typeof exchangesEvidence>): string[] {
  if (e.exchanges.length === 0) return ['no request was answered'];
  const last = e.exchanges.slice(-3).map((x) => `${x.method} ${x.url} → ${x.error !== undefined ? oneLine(x.error, 160) : (x.status ?? '?')}`);
  return e.exchanges.length > last.length ? [`${e.exchanges.length} requests sent; the last ${last.length}:`, ...last] : last;
}

/** Any other evidence (a kind added later): its plain fields, one per line. */
function genericLines(evidence: unknown): string[] {
  if (evidence === null || evidence === undefined) return [];
  if (typeof evidence !== 'object' || Array.isArray(evidence)) return [show(evidence, 200)];
  return Object.entries(evidence)
    .filter(([, v]) => v !== undefined && v !== null && (typeof v !== 'object' || (Array.isArray(v) && v.length > 0)))
    .map(([k, v]) => `${k}: ${show(v, 160)}`);
}

/**
 * The explainers, most specific shape first; the first whose schema reads the evidence wins.
 * A new kind needs nothing here to be shown (genericLines); a line here makes it read well.
 */
const EXPLAINERS: readonly ((evidence: unknown, max: number) => string[] | undefined)[] = [
  (ev, max) => ifParsed(probeEvidence, ev, (e) => probeLines(e, max)),
  (ev) => ifParsed(commandEvidence, ev, commandLines),
  (ev) => ifParsed(httpEvidence, ev, httpLines),
  (ev) => ifParsed(envEvidence, ev, envLines),
  (ev) => ifParsed(fileEvidence, ev, fileLines),
  (ev) => ifParsed(gitEvidence, ev, gitLines),
  (ev) => ifParsed(exchangesEvidence, ev, exchangeLines),
];

function ifParsed<T>(schema: v.GenericSchema<unknown, T>, evidence: unknown, lines: (e: T) => string[]): string[] | undefined {
  const parsed = v.safeParse(schema, evidence);
  return parsed.success ? lines(parsed.output) : undefined;
}

/** What an item's evidence says, one fact per line, at most `max` lines. */
export function explainEvidence(evidence: unknown, max = MAX_DETAIL_LINES): string[] {
  if (evidence === undefined || evidence === null) return [];
  for (const explain of EXPLAINERS) {
    const lines = explain(evidence, max);
    if (lines) return capLines(lines, max);
  }
  return capLines(genericLines(evidence), max);
}

// --- Root causes

/**
 * Reasons that many items share on a first run, each matched wherever it sits in a message
 * (`cannot log in as "alice": environment variable ALICE_PASSWORD is not set`).
 */
const ROOT_CAUSES: readonly RegExp[] = [
  /environment variable [A-Za-z_][A-Za-z0-9_]* is (?:not set|shorter than \d+ characters)/,
  /\{\{env\.[A-Za-z0-9_-]+\}\} is not defined in this environment/,
  /environment "[^"]*" has no url/,
  /(?:connection (?:refused|reset|closed) by|host not found:|host name lookup failed for|host unreachable:|could not connect to) [^\s,;()]+/,
];

/** The reason behind a message: a known root cause found in it, or the message without its attempt count. */
export function rootCause(message: string): string {
  for (const pattern of ROOT_CAUSES) {
    const m = pattern.exec(message);
    if (m) return m[0];
  }
  return message.replace(/ \(attempt \d+ of \d+\)$/, '');
}

/**
 * The results, in their order, each with its evidence lines; items that could not be verified
 * (`error`) for one shared root cause are folded into one entry at the first one's place, so
 * 23 items failing for one unset variable read as one line naming the 23.
 */
export function explainResults(results: readonly ItemResult[], opts: { maxLines?: number } = {}): Explained[] {
  const max = opts.maxLines ?? MAX_DETAIL_LINES;
  const byCause = new Map<string, ItemResult[]>();
  for (const r of results) {
    if (r.status !== 'error') continue;
    const cause = rootCause(r.message);
    byCause.set(cause, [...(byCause.get(cause) ?? []), r]);
  }
  const out: Explained[] = [];
  const emitted = new Set<string>();
  for (const r of results) {
    const cause = r.status === 'error' ? rootCause(r.message) : undefined;
    const shared = cause === undefined ? undefined : byCause.get(cause);
    if (cause !== undefined && shared && shared.length > 1) {
      if (!emitted.has(cause)) out.push({ type: 'cause', cause, status: 'error', results: shared });
      emitted.add(cause);
      continue;
    }
    const details = r.status === 'fail' || r.status === 'error' ? explainEvidence(r.evidence, max) : [];
    out.push({ type: 'item', result: r, details });
  }
  return out;
}

/** The root causes shared by several errored items, for the JSON documents. */
export function rootCauses(results: readonly ItemResult[]): { cause: string; items: string[] }[] {
  return explainResults(results)
    .filter((e): e is Extract<Explained, { type: 'cause' }> => e.type === 'cause')
    .map((e) => ({ cause: e.cause, items: e.results.map((r) => r.id) }));
}
