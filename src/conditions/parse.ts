// Parses a condition with jsep and compiles it into a small typed tree, rejecting at load
// everything the evaluator would otherwise discover at 2 a.m.: unknown fields and functions, bad
// regular expressions, unsupported operators, and type mistakes visible without observations
// (`!status == 200`, `len(text) matches "x"`, a condition that is a number), and conditions too long
// or too deeply nested to parse safely.
import jsep from 'jsep';
import { compilePattern } from '../util/pattern.js';
import type { Pattern } from '../util/pattern.js';

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'contains' | 'in';
export type FunctionName = 'len' | 'lower' | 'exists';

/** A compiled condition. Paths are static: every key is known at load, so a judgement can name them. */
export type Expr =
  | { kind: 'literal'; value: string | number | boolean | null }
  | { kind: 'list'; items: Expr[] }
  | { kind: 'path'; root: string; keys: (string | number)[]; text: string }
  | { kind: 'call'; fn: FunctionName; arg: Expr }
  | { kind: 'not'; arg: Expr }
  | { kind: 'logic'; op: '&&' | '||'; left: Expr; right: Expr }
  | { kind: 'compare'; op: CompareOp; left: Expr; right: Expr }
  | { kind: 'matches'; left: Expr; pattern: Pattern };

/** A longer condition is refused before it is parsed: `expect:` holds conditions, not programs. */
export const MAX_CONDITION_LENGTH = 4096;

/**
 * Deeper nesting (brackets, `!`, operators) is refused. jsep parses brackets and unary operators
 * recursively, so 10,000 of them would overflow the stack before any error could carry a position.
 */
export const MAX_CONDITION_DEPTH = 64;

/**
 * `matches` reads at most 1 MiB of a value: the default cap of an HTTP body and of a command's
 * output, so a default config never meets it. Matching is synchronous, after the check's timeout
 * no longer applies; the cap keeps it to a few tens of milliseconds. A longer value fails the
 * judgement, saying so, rather than being judged on a part of it.
 */
export const MAX_MATCHED_TEXT = 1024 * 1024;

/** A parse or validation error with the 0-based offset it points at. */
export class ConditionSyntaxError extends Error {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(message);
  }
}

/** What is known about a value before any observation: `unknown` for anything read from a field. */
type Shape = 'boolean' | 'number' | 'string' | 'list' | 'null' | 'unknown';

const SHAPE_NAMES: Record<Shape, string> = {
  boolean: 'true/false',
  number: 'a number',
  string: 'a string',
  list: 'a list',
  null: 'null',
  unknown: 'a field',
};

/** Functions, with the argument shapes they accept and the shape they return. */
export const FUNCTIONS: Record<FunctionName, { accepts: readonly Shape[]; returns: Shape }> = {
  len: { accepts: ['string', 'list', 'unknown'], returns: 'number' },
  lower: { accepts: ['string', 'unknown'], returns: 'string' },
  exists: { accepts: ['boolean', 'number', 'string', 'list', 'null', 'unknown'], returns: 'boolean' },
};

const COMPARE_OPS: ReadonlySet<string> = new Set(['==', '!=', '<', '<=', '>', '>=', 'contains', 'in'] satisfies CompareOp[]);
const ORDERING_OPS: readonly string[] = ['<', '<=', '>', '>='];

// jsep is configured once per process (its operator tables are global). The hooks record where each
// token starts, so that validation errors, not only syntax errors, carry a column.
const tokenStarts = new WeakMap<object, number[]>();
jsep.plugins.register({
  name: 'gonogo-conditions',
  init() {
    for (const op of ['matches', 'contains', 'in']) jsep.addBinaryOp(op, jsep.binary_ops['<']);
    jsep.hooks.add('gobble-token', function (env) {
      const stack = tokenStarts.get(this) ?? [];
      tokenStarts.set(this, stack);
      stack.push(this.index);
      // jsep returns number literals without running 'after-token'; parse them here so each start is popped.
      if ((this.code >= 48 && this.code <= 57) || this.char === '.') env.node = this.gobbleNumericLiteral();
    });
    jsep.hooks.add('after-token', function (env) {
      const start = tokenStarts.get(this)?.pop();
      if (env.node && start !== undefined && env.node.start === undefined) env.node.start = start;
    });
  },
});

const CORE_TYPES: ReadonlySet<string> = new Set([
  'Compound',
  'SequenceExpression',
  'Identifier',
  'MemberExpression',
  'Literal',
  'ThisExpression',
  'CallExpression',
  'UnaryExpression',
  'BinaryExpression',
  'ConditionalExpression',
  'ArrayExpression',
]);

function isCore(node: jsep.Expression): node is jsep.CoreExpression {
  return CORE_TYPES.has(node.type);
}

function isCompareOp(op: string): op is CompareOp {
  return COMPARE_OPS.has(op);
}

function isFunctionName(name: string): name is FunctionName {
  return Object.hasOwn(FUNCTIONS, name);
}

/** Offset where a node starts: tokens carry it; a compound node starts where its first part does. */
function startOf(node: jsep.Expression): number {
  // A loop, not recursion: it runs before the depth of the tree is known to be safe.
  for (let n: jsep.Expression | undefined = node; n !== undefined; n = firstPart(n)) {
    if (typeof n.start === 'number') return n.start;
  }
  return 0;
}

function firstPart(node: jsep.Expression): jsep.Expression | undefined {
  if (!isCore(node)) return undefined;
  switch (node.type) {
    case 'BinaryExpression':
      return node.left;
    case 'MemberExpression':
      return node.object;
    case 'CallExpression':
      return node.callee;
    case 'ConditionalExpression':
      return node.test;
    case 'Compound':
      return node.body[0];
    default:
      return undefined;
  }
}

const TOO_DEEP = `nested more than ${MAX_CONDITION_DEPTH} levels deep (brackets, "!" and operators); split it into several expect: entries`;

/**
 * Refuses, before jsep sees it, a condition too long or with brackets and unary operators nested
 * too deep. The count is a lower bound of the tree's depth, which is checked exactly after parsing.
 */
function checkSize(source: string): void {
  if (source.length > MAX_CONDITION_LENGTH) {
    throw new ConditionSyntaxError(`a condition may be at most ${MAX_CONDITION_LENGTH} characters; this one has ${source.length}`, MAX_CONDITION_LENGTH);
  }
  let brackets = 0;
  let unary = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '"' || c === "'") {
      i = endOfString(source, i);
      unary = 0;
      continue;
    }
    if (c === '(' || c === '[') brackets++;
    else if (c === ')' || c === ']') {
      brackets = Math.max(0, brackets - 1);
      unary = 0;
    } else if ('!-+~'.includes(c) && source[i + 1] !== '=') unary++;
    else if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') unary = 0;
    if (brackets + unary > MAX_CONDITION_DEPTH) throw new ConditionSyntaxError(TOO_DEEP, i);
  }
}

/** Offset of the quote closing the string that opens at `start` (the end of the source when unclosed). */
function endOfString(source: string, start: number): number {
  for (let i = start + 1; i < source.length; i++) {
    if (source[i] === '\\') i++;
    else if (source[i] === source[start]) return i;
  }
  return source.length;
}

/** The exact depth check, on the parsed tree, with an explicit stack (the tree may be deep). */
function checkDepth(root: jsep.Expression): void {
  const stack: { node: jsep.Expression; depth: number }[] = [{ node: root, depth: 1 }];
  // Every condition of a config is checked at load: one list of children reused, no arrays per node.
  const children: jsep.Expression[] = [];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    if (top.depth > MAX_CONDITION_DEPTH) throw new ConditionSyntaxError(TOO_DEEP, startOf(top.node));
    children.length = 0;
    for (const value of Object.values(top.node)) {
      if (Array.isArray(value)) {
        for (const v of value) if (isNode(v)) children.push(v);
      } else if (isNode(value)) children.push(value);
    }
    // Children pushed last to first, so the leftmost too-deep node is the one reported.
    for (let i = children.length - 1; i >= 0; i--) stack.push({ node: children[i], depth: top.depth + 1 });
  }
}

function isNode(value: unknown): value is jsep.Expression {
  return typeof value === 'object' && value !== null && 'type' in value && typeof value.type === 'string';
}

/** Offset in a string literal's source text of the `index`th character of its value (escapes are two characters). */
function rawOffset(raw: string, index: number): number {
  let offset = 1; // the opening quote
  for (let i = 0; i < index && offset < raw.length; i++) offset += raw[offset] === '\\' ? 2 : 1;
  return offset;
}

/** Renders a path the same way whatever quoting the author used: `headers["content-type"]`, `body.items[0]`. */
function pathText(root: string, keys: readonly (string | number)[]): string {
  return keys.reduce<string>((text, key) => {
    if (typeof key === 'number') return `${text}[${key}]`;
    return /^[A-Za-z_$][\w$]*$/.test(key) ? `${text}.${key}` : `${text}[${JSON.stringify(key)}]`;
  }, root);
}

/** Parses and validates `source`; root identifiers must be one of `fields`. Throws ConditionSyntaxError. */
export function compileCondition(source: string, fields: readonly string[]): Expr {
  checkSize(source);
  let root: jsep.Expression;
  try {
    root = jsep(source);
  } catch (e) {
    throw fromJsepError(e);
  }
  checkDepth(root);
  const { expr, shape } = compile(root);
  if (shape !== 'boolean' && shape !== 'unknown') {
    throw new ConditionSyntaxError(`a condition must be true or false, but this one is ${SHAPE_NAMES[shape]}`, 0);
  }
  return expr;

  function compile(node: jsep.Expression): { expr: Expr; shape: Shape } {
    if (!isCore(node)) throw new ConditionSyntaxError(`unsupported syntax (${node.type})`, startOf(node));
    switch (node.type) {
      case 'Literal': {
        const value = node.value;
        if (value instanceof RegExp) throw new ConditionSyntaxError('regular expression literals are not supported; write x matches "..."', startOf(node));
        if (typeof value === 'string') checkEscapes(node);
        const shape: Shape = value === null ? 'null' : typeof value === 'number' ? 'number' : typeof value === 'string' ? 'string' : 'boolean';
        return { expr: { kind: 'literal', value }, shape };
      }
      case 'ArrayExpression': {
        const items = node.elements.map((element) => {
          if (element === null) throw new ConditionSyntaxError('empty slot in list', startOf(node));
          return compile(element).expr;
        });
        return { expr: { kind: 'list', items }, shape: 'list' };
      }
      case 'Identifier':
      case 'MemberExpression':
        return { expr: path(node), shape: 'unknown' };
      case 'ThisExpression':
        throw new ConditionSyntaxError(unknownField('this'), startOf(node));
      case 'CallExpression':
        return call(node);
      case 'UnaryExpression':
        return unary(node);
      case 'BinaryExpression':
        return binary(node);
      case 'Compound':
        if (node.body.length === 0) throw new ConditionSyntaxError('empty condition', 0);
        throw new ConditionSyntaxError('missing operator before this (like ==, && or matches)', startOf(node.body[1]));
      case 'SequenceExpression':
        throw new ConditionSyntaxError('missing operator before this (like ==, && or matches)', startOf(node.expressions[1]));
      case 'ConditionalExpression':
        throw new ConditionSyntaxError('"? :" is not supported; combine conditions with && and ||', source.lastIndexOf('?', startOf(node.consequent)));
    }
  }

  // jsep turns an unknown escape into the bare letter, so "\d+" would silently become the regex "d+".
  function checkEscapes(node: jsep.Literal): void {
    for (const m of node.raw.matchAll(/\\(.)/gs)) {
      if (!'nrtbfv\\\'"'.includes(m[1])) {
        throw new ConditionSyntaxError(`unknown escape "\\${m[1]}" in a string (for a regular expression, write "\\\\${m[1]}")`, startOf(node) + m.index);
      }
    }
  }

  function unknownField(name: string): string {
    return `unknown field "${name}" (expected one of: ${fields.join(', ')})`;
  }

  function path(node: jsep.Identifier | jsep.MemberExpression): Expr {
    const keys: (string | number)[] = [];
    let current: jsep.Expression = node;
    while (isCore(current) && current.type === 'MemberExpression') {
      keys.unshift(memberKey(current));
      current = current.object;
    }
    if (!isCore(current) || current.type !== 'Identifier') {
      throw new ConditionSyntaxError('only fields have members, like body.status', startOf(current));
    }
    const root = current.name;
    if (!fields.includes(root)) {
      const message = isFunctionName(root) ? `${root} is a function: write ${root}(...)` : unknownField(root);
      throw new ConditionSyntaxError(message, startOf(node));
    }
    return { kind: 'path', root, keys, text: pathText(root, keys) };
  }

  function memberKey(node: jsep.MemberExpression): string | number {
    const property = node.property;
    if (!node.computed && isCore(property) && property.type === 'Identifier') return property.name;
    if (isCore(property) && property.type === 'Literal') {
      const value = property.value;
      if (typeof value === 'string') {
        checkEscapes(property);
        return value;
      }
      if (typeof value === 'number' && Number.isInteger(value)) return value;
    }
    throw new ConditionSyntaxError('an index must be a quoted name or a whole number, like headers["content-type"] or body.items[0]', startOf(property));
  }

  function call(node: jsep.CallExpression): { expr: Expr; shape: Shape } {
    const callee = node.callee;
    const name = isCore(callee) && callee.type === 'Identifier' ? callee.name : undefined;
    if (name === undefined || !isFunctionName(name)) {
      const known = Object.keys(FUNCTIONS).join(', ');
      throw new ConditionSyntaxError(`unknown function${name === undefined ? '' : ` "${name}"`} (expected one of: ${known})`, startOf(node));
    }
    if (node.arguments.length !== 1) {
      throw new ConditionSyntaxError(`${name}() takes one value, got ${node.arguments.length}`, startOf(node));
    }
    const arg = compile(node.arguments[0]);
    const { accepts, returns } = FUNCTIONS[name];
    if (!accepts.includes(arg.shape)) {
      throw new ConditionSyntaxError(`${name}() cannot take ${SHAPE_NAMES[arg.shape]}`, startOf(node.arguments[0]));
    }
    return { expr: { kind: 'call', fn: name, arg: arg.expr }, shape: returns };
  }

  function unary(node: jsep.UnaryExpression): { expr: Expr; shape: Shape } {
    const argument = node.argument;
    if (node.operator === '!') {
      return { expr: { kind: 'not', arg: condition(argument, '"!" negates a condition') }, shape: 'boolean' };
    }
    if (node.operator === '-' && isCore(argument) && argument.type === 'Literal' && typeof argument.value === 'number') {
      return { expr: { kind: 'literal', value: -argument.value }, shape: 'number' };
    }
    throw new ConditionSyntaxError(`operator "${node.operator}" is not supported here`, startOf(node));
  }

  /** Compiles an operand of && || !: it must be able to be true or false. */
  function condition(node: jsep.Expression, what: string): Expr {
    const { expr, shape } = compile(node);
    if (shape !== 'boolean' && shape !== 'unknown') {
      throw new ConditionSyntaxError(`${what}, not ${SHAPE_NAMES[shape]}`, startOf(node));
    }
    return expr;
  }

  function binary(node: jsep.BinaryExpression): { expr: Expr; shape: Shape } {
    const op = node.operator;
    // The operator sits between its operands: the last occurrence before the right one starts.
    const at = Math.max(0, source.lastIndexOf(op, startOf(node.right) - op.length));
    if (op === '&&' || op === '||') {
      const left = condition(node.left, `"${op}" joins conditions`);
      const right = condition(node.right, `"${op}" joins conditions`);
      return { expr: { kind: 'logic', op, left, right }, shape: 'boolean' };
    }
    if (op === 'matches') {
      const left = compile(node.left);
      expectShape(left.shape, ['string', 'unknown'], '"matches" needs a string on its left', node.left);
      return { expr: { kind: 'matches', left: left.expr, pattern: pattern(node.right) }, shape: 'boolean' };
    }
    if (isCompareOp(op)) {
      const left = compile(node.left);
      const right = compile(node.right);
      compareShapes(op, left.shape, right.shape, node, at);
      return { expr: { kind: 'compare', op, left: left.expr, right: right.expr }, shape: 'boolean' };
    }
    if (op === '===' || op === '!==') throw new ConditionSyntaxError(`write ${op.slice(0, 2)}, not ${op}`, at);
    const hint = op === '-' ? ' (a name with "-" needs quotes: headers["content-type"])' : '';
    throw new ConditionSyntaxError(`operator "${op}" is not supported${hint}`, at);
  }

  function compareShapes(op: CompareOp, left: Shape, right: Shape, node: jsep.BinaryExpression, at: number): void {
    if (ORDERING_OPS.includes(op)) {
      expectShape(left, ['number', 'unknown'], `"${op}" compares numbers`, node.left);
      expectShape(right, ['number', 'unknown'], `"${op}" compares numbers`, node.right);
    } else if (op === 'contains') {
      expectShape(left, ['string', 'list', 'unknown'], '"contains" needs a string or a list on its left', node.left);
    } else if (op === 'in') {
      expectShape(right, ['list', 'unknown'], '"in" needs a list on its right, like [200, 204]', node.right);
    } else if (left !== right && ![left, right].some((s) => s === 'unknown' || s === 'null')) {
      throw new ConditionSyntaxError(`"${op}" compares ${SHAPE_NAMES[left]} with ${SHAPE_NAMES[right]}, which are never equal`, at);
    }
  }

  function expectShape(shape: Shape, allowed: readonly Shape[], what: string, node: jsep.Expression): void {
    if (!allowed.includes(shape)) throw new ConditionSyntaxError(`${what}, not ${SHAPE_NAMES[shape]}`, startOf(node));
  }

  /** Compiled now for the linear-time engine: a pattern it cannot take is a load error inside the quotes. */
  function pattern(node: jsep.Expression): Pattern {
    if (!isCore(node) || node.type !== 'Literal' || typeof node.value !== 'string') {
      throw new ConditionSyntaxError('"matches" needs a regular expression in quotes on its right', startOf(node));
    }
    checkEscapes(node);
    const r = compilePattern(node.value, { maxScan: MAX_MATCHED_TEXT });
    if (!r.ok) throw new ConditionSyntaxError(`invalid regular expression: ${r.error}`, startOf(node) + rawOffset(node.raw, r.column));
    return r.pattern;
  }
}

function fromJsepError(e: unknown): ConditionSyntaxError {
  if (!(e instanceof Error)) return new ConditionSyntaxError(String(e), 0);
  const column = 'index' in e && typeof e.index === 'number' ? e.index : 0;
  const description = 'description' in e && typeof e.description === 'string' ? e.description : e.message;
  const hint = description === 'Unexpected "="' ? ' (compare with ==)' : '';
  return new ConditionSyntaxError(`${description}${hint}`, column);
}
