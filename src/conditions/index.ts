// The condition language of `expect:`. Conditions are parsed and validated when the config loads
// and judged here, in one place, for every check kind.
//
//   status == 200 && headers["content-type"] matches "^application/json"
//   body.status in ["ok", "degraded"] && latency_ms < 500
//   exit_code == 0 && !(stderr contains "WARN") && len(stdout) > 0
//
// Literals: numbers, 'strings' or "strings", true, false, null, lists [200, 204].
// Paths: a field of the check, then `.name`, `["any-name"]` or `[0]`. When an object has no key of
// that exact name, a key differing only in case is used (headers are observed lower-case, and
// `headers["Content-Type"]` still finds them).
// Operators: == != < <= > >= && || ! matches contains (substring, list member) in.
// `matches` takes a regular expression in JavaScript syntax, compiled at load for a linear-time
// engine (RE2): a hostile text cannot make it outlast the check. Lookaround and backreferences are
// refused at load; a value over 1 MiB fails the judgement (see MAX_MATCHED_TEXT).
// Functions: len(x) (string, list or object size), lower(x), exists(x) (not missing or null).
//
// Fail closed: < <= > >= are false unless both sides are numbers ("5" is not 5); matches, contains
// and in are false on a missing value; == and != are strict, except that missing equals null;
// && || ! need true or false, and so does the whole condition.
//
// Size: at most 4096 characters and 64 levels of nesting, refused with a position before parsing.
//
// Placeholders: `{{env.NAME}}` (a field of the environment) and `{{release}}` (the release being
// decided) stand where a value may stand, e.g. `body.version == {{release}}`, and are filled in
// before judging as quoted strings (see template.ts). `${VAR}` (a secret) is never filled in.
import { ConditionSyntaxError, FUNCTIONS, compileCondition } from './parse.js';
import { placeholdersOf, quoteLiteral, replacePlaceholders } from './template.js';
import type { Expr } from './parse.js';
import { JudgeError, evaluate, lookup, pathsOf, show } from './evaluate.js';

/** The parsed tree of a condition; opaque: only parseCondition makes one and only judge reads it. */
export type ConditionAst = Expr;

/** A parsed, validated condition. */
export interface Condition {
  readonly source: string;
  readonly ast: ConditionAst;
  /** Set when the source holds placeholders: the fields it is compiled against again once they are filled in (bindCondition). */
  readonly bind?: { fields: readonly string[] };
}

export type ParseResult = { ok: true; condition: Condition } | { ok: false; error: string; column: number /* 0-based offset in source */ };

/** One condition judged: `detail` names the observed value of every path, e.g. `status == 200: status was 503`. */
export interface Judgement {
  ok: boolean;
  source: string;
  detail: string;
}

/**
 * Parses and validates a condition: its root names must be among `fields` (or a known function).
 * Placeholders are checked where they stand (a string of the same length stands in for each, so
 * columns hold); which ones a config may use is the loader's to check (placeholdersOf).
 */
export function parseCondition(source: string, fields: readonly string[]): ParseResult {
  const uses = placeholdersOf(source);
  const quoted = uses.find((u) => u.quoted);
  if (quoted) {
    const error = `${quoted.text} inside a quoted string is not filled in: write it unquoted (${quoted.text} becomes a quoted string itself, e.g. body.version == ${quoted.text})`;
    return { ok: false, error, column: quoted.offset };
  }
  try {
    const stand = replacePlaceholders(source, uses, (u) => `"${' '.repeat(u.text.length - 2)}"`);
    const ast = compileCondition(stand, fields);
    return { ok: true, condition: uses.length > 0 ? { source, ast, bind: { fields } } : { source, ast } };
  } catch (e) {
    if (e instanceof ConditionSyntaxError) return { ok: false, error: e.message, column: e.column };
    throw e;
  }
}

/**
 * The condition with its placeholders filled in from the run's values (`{{env.x}}` from `values.x`,
 * `{{release}}` from `values.release`), each as a quoted string literal: a value can never become
 * syntax. A condition without placeholders is returned as is.
 */
export function bindCondition(condition: Condition, values: Readonly<Record<string, string>>): { ok: true; condition: Condition } | { ok: false; error: string } {
  if (!condition.bind) return { ok: true, condition };
  const uses = placeholdersOf(condition.source);
  const missing = uses.find((u) => !Object.hasOwn(values, u.field));
  if (missing) return { ok: false, error: `${condition.source}: ${missing.text} has no value in this run (${missing.field === 'release' ? 'no release given' : `the environment has no field "${missing.field}"`})` };
  const source = replacePlaceholders(condition.source, uses, (u) => quoteLiteral(values[u.field]));
  try {
    return { ok: true, condition: { source, ast: compileCondition(source, condition.bind.fields) } };
  } catch (e) {
    if (e instanceof ConditionSyntaxError) return { ok: false, error: `${condition.source}: with its placeholders filled in: ${e.message}` };
    throw e;
  }
}

export { placeholdersOf };
export type { PlaceholderUse } from './template.js';

/** One line documenting what a check's conditions may use (for help, docs and the JSON Schema). */
export function describeFields(fields: readonly string[]): string {
  const functions = Object.keys(FUNCTIONS).map((f) => `${f}(x)`);
  return `Conditions on ${fields.join(', ')}; operators == != < <= > >= && || ! matches contains in; functions ${functions.join(', ')}.`;
}

/** Judges a condition against a check's observations. Never throws: any problem is a failed judgement. */
export function judge(condition: Condition, observations: Record<string, unknown>): Judgement {
  const { source, ast } = condition;
  try {
    const value = evaluate(ast, observations);
    if (typeof value === 'boolean') return { ok: value, source, detail: `${source}: ${observed(ast, observations) ?? `was ${value}`}` };
    return failed(condition, observations, `result was ${show(value)}, not true or false`);
  } catch (e) {
    const problem = e instanceof JudgeError ? e.message : `could not be judged: ${e instanceof Error ? e.message : String(e)}`;
    return failed(condition, observations, problem);
  }
}

/** Judges every condition; `ok` when none failed (an empty list passes: kinds supply default conditions). */
export function judgeAll(
  conditions: readonly Condition[],
  observations: Record<string, unknown>,
): { ok: boolean; failed: Judgement[]; judgements: Judgement[] } {
  const judgements = conditions.map((c) => judge(c, observations));
  const failed = judgements.filter((j) => !j.ok);
  return { ok: failed.length === 0, failed, judgements };
}

function failed(condition: Condition, observations: Record<string, unknown>, problem: string): Judgement {
  const values = observed(condition.ast, observations);
  return { ok: false, source: condition.source, detail: `${condition.source}: ${problem}${values ? `; ${values}` : ''}` };
}

/** `status was 503, body.status was undefined`; undefined when the condition reads no field. */
function observed(ast: ConditionAst, observations: Record<string, unknown>): string | undefined {
  let text: string | undefined;
  for (const p of pathsOf(ast)) {
    let value: string;
    try {
      value = show(lookup(observations, p));
    } catch {
      value = '(unreadable)';
    }
    text = text === undefined ? `${p.text} was ${value}` : `${text}, ${p.text} was ${value}`;
  }
  return text;
}
