// Evaluates a compiled condition against observations. Fail closed: a missing value or a value of
// the wrong type makes a comparison false, never an exception and never a coercion.
import type { CompareOp, Expr, FunctionName } from './parse.js';

/** A runtime type mistake the parser could not see (a field that held a number used with &&). */
export class JudgeError extends Error {}

const MAX_SHOWN = 120;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isMissing(value: unknown): value is null | undefined {
  return value === undefined || value === null;
}

const FUNCTIONS: Record<FunctionName, (value: unknown) => unknown> = {
  len: (v) => (typeof v === 'string' || Array.isArray(v) ? v.length : isRecord(v) ? Object.keys(v).length : undefined),
  lower: (v) => (typeof v === 'string' ? v.toLowerCase() : undefined),
  exists: (v) => !isMissing(v),
};

/**
 * One step down a path. Only own properties are read (never `constructor` or `__proto__`). When an
 * object has no such key, a key differing only in case is used: headers are stored lower-case, and
 * `headers["Content-Type"]` should still find them.
 */
function member(value: unknown, key: string | number): unknown {
  if (Array.isArray(value)) return typeof key === 'number' ? value[key] : undefined;
  if (!isRecord(value)) return undefined;
  const name = String(key);
  if (Object.hasOwn(value, name)) return value[name];
  const lower = name.toLowerCase();
  const match = Object.keys(value).find((k) => k.toLowerCase() === lower);
  return match === undefined ? undefined : value[match];
}

export function lookup(observations: Record<string, unknown>, path: Extract<Expr, { kind: 'path' }>): unknown {
  const start = Object.hasOwn(observations, path.root) ? observations[path.root] : undefined;
  return path.keys.reduce<unknown>(member, start);
}

/** Equality of JSON-like values; the one loose case is that undefined (missing) equals null. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (isMissing(a) && isMissing(b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && same(a[k], b[k]));
  }
  return false;
}

function compare(op: CompareOp, a: unknown, b: unknown): boolean {
  switch (op) {
    case '==':
      return same(a, b);
    case '!=':
      return !same(a, b);
    case 'contains':
      if (a === undefined || b === undefined) return false;
      if (typeof a === 'string') return typeof b === 'string' && a.includes(b);
      return Array.isArray(a) && a.some((x) => same(x, b));
    case 'in':
      return a !== undefined && Array.isArray(b) && b.some((x) => same(a, x));
  }
  if (typeof a !== 'number' || typeof b !== 'number') return false;
  switch (op) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
  }
}

/** The operand of && || ! must be a boolean: truthiness would turn a typo into a pass. */
function truth(expr: Expr, op: string, observations: Record<string, unknown>): boolean {
  const value = evaluate(expr, observations);
  if (typeof value !== 'boolean') throw new JudgeError(`"${op}" needs true or false, got ${show(value)}`);
  return value;
}

export function evaluate(expr: Expr, observations: Record<string, unknown>): unknown {
  switch (expr.kind) {
    case 'literal':
      return expr.value;
    case 'list':
      return expr.items.map((item) => evaluate(item, observations));
    case 'path':
      return lookup(observations, expr);
    case 'call':
      return FUNCTIONS[expr.fn](evaluate(expr.arg, observations));
    case 'not':
      return !truth(expr.arg, '!', observations);
    case 'logic': {
      const left = truth(expr.left, expr.op, observations);
      if (expr.op === '&&' ? !left : left) return left;
      return truth(expr.right, expr.op, observations);
    }
    case 'compare':
      return compare(expr.op, evaluate(expr.left, observations), evaluate(expr.right, observations));
    case 'matches': {
      const value = evaluate(expr.left, observations);
      if (typeof value !== 'string') return false;
      if (value.length > expr.pattern.maxScan) {
        throw new JudgeError(`"matches" reads at most ${expr.pattern.maxScan} characters, and this value has ${value.length}`);
      }
      return expr.pattern.test(value);
    }
  }
}

type PathExpr = Extract<Expr, { kind: 'path' }>;

/** Every distinct path in a condition, in reading order, for the judgement's detail. */
export function pathsOf(expr: Expr): PathExpr[] {
  // A condition reads a few paths: a list searched is cheaper than a map made for every judgement.
  const found: PathExpr[] = [];
  collectPaths(expr, found);
  return found;
}

function collectPaths(e: Expr, found: PathExpr[]): void {
  switch (e.kind) {
    case 'path':
      // A loop, not found.some(...): this runs for every judgement, and a closure per path adds up.
      for (const p of found) if (p.text === e.text) return;
      found.push(e);
      return;
    case 'list':
      for (const item of e.items) collectPaths(item, found);
      return;
    case 'call':
    case 'not':
      return collectPaths(e.arg, found);
    case 'matches':
      return collectPaths(e.left, found);
    case 'logic':
    case 'compare':
      collectPaths(e.left, found);
      return collectPaths(e.right, found);
    case 'literal':
      return;
  }
}

/** A value as a person reads it in a report: strings quoted, long ones cut at ~120 characters. */
export function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  // The common answers (a status, a count, a flag) as JSON writes them, without the serializer.
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') {
    return value.length > MAX_SHOWN ? `${JSON.stringify(`${value.slice(0, MAX_SHOWN)}…`)} (${value.length} chars)` : JSON.stringify(value);
  }
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value); // cycles, BigInt
  }
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}
