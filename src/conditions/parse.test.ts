import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeFields, parseCondition } from './index.js';

const HTTP_FIELDS = ['status', 'headers', 'body', 'text', 'latency_ms'];
const UNKNOWN = '(expected one of: status, headers, body, text, latency_ms)';

// `at` marks the expected column with ^ under the source, so the table reads like the error would.
const rejected: { name: string; source: string; at: string; error: string | RegExp }[] = [
  { name: 'misspelt field', source: 'stauts == 200', at: '^', error: `unknown field "stauts" ${UNKNOWN}` },
  { name: 'misspelt field after &&', source: 'status == 200 && bdy.status == "ok"', at: '                 ^', error: `unknown field "bdy" ${UNKNOWN}` },
  { name: 'misspelt field inside a function', source: 'len(bdy) > 0', at: '    ^', error: `unknown field "bdy" ${UNKNOWN}` },
  { name: 'misspelt field inside a list', source: 'status in [200, stat]', at: '                ^', error: `unknown field "stat" ${UNKNOWN}` },
  { name: 'unknown function', source: 'size(body) > 0', at: '^', error: 'unknown function "size" (expected one of: len, lower, exists)' },
  { name: 'function used as a field', source: 'len > 0', at: '^', error: 'len is a function: write len(...)' },
  { name: 'function with two values', source: 'len(body, text) > 0', at: '^', error: 'len() takes one value, got 2' },
  { name: 'bad regular expression, at the offending character', source: 'text matches "(["', at: '               ^', error: 'invalid regular expression: missing closing ]: `[`' },
  { name: 'backreference (the linear engine cannot)', source: 'text matches "(a)\\\\1"', at: '                 ^', error: /^invalid regular expression: backreference "\\1" is not supported/ },
  { name: 'lookahead (the linear engine cannot)', source: 'text matches "(?=x)"', at: '              ^', error: /^invalid regular expression: lookahead "\(\?=" is not supported/ },
  { name: 'lookbehind after an escape', source: 'text matches "\\\\d(?<!x)"', at: '                 ^', error: /^invalid regular expression: lookbehind/ },
  { name: 'regex escape that a string would eat', source: 'text matches "^\\d+ passed"', at: '               ^', error: 'unknown escape "\\d" in a string (for a regular expression, write "\\\\d")' },
  { name: 'matches a field, not a literal', source: 'text matches body.pattern', at: '             ^', error: /"matches" needs a regular expression in quotes/ },
  { name: 'syntax: nothing after ==', source: 'status == ', at: '          ^', error: 'Expected expression after ==' },
  { name: 'syntax: single =', source: 'status = 200', at: '       ^', error: 'Unexpected "=" (compare with ==)' },
  { name: 'syntax: unclosed parenthesis', source: '(status == 200', at: '              ^', error: 'Unclosed (' },
  { name: 'syntax: unclosed quote', source: 'body.status == "ok', at: '                  ^', error: /Unclosed quote/ },
  { name: 'syntax: missing operator', source: 'status 200', at: '       ^', error: /missing operator/ },
  { name: 'empty condition', source: '   ', at: '^', error: 'empty condition' },
  { name: 'JavaScript ===', source: 'status === 200', at: '       ^', error: 'write ==, not ===' },
  { name: 'arithmetic', source: 'latency_ms * 2 < 100', at: '           ^', error: 'operator "*" is not supported' },
  { name: 'dashed name without quotes', source: 'headers.content-type == "x"', at: '               ^', error: /needs quotes: headers\["content-type"\]/ },
  { name: 'ternary', source: 'status ? true : false', at: '       ^', error: /"\? :" is not supported/ },
  { name: 'negative index', source: 'body.items[-1] == 1', at: '           ^', error: /an index must be a quoted name or a whole number/ },
  { name: 'member of a function result', source: 'lower(text).x == 1', at: '^', error: /only fields have members/ },
  { name: 'result is a number', source: 'len(text)', at: '^', error: 'a condition must be true or false, but this one is a number' },
  { name: 'result is a string', source: '"ok"', at: '^', error: /must be true or false, but this one is a string/ },
  { name: '! binds tighter than ==', source: '!status == 200', at: '        ^', error: '"==" compares true/false with a number, which are never equal' },
  { name: 'string compared with number', source: 'lower(text) == 200', at: '            ^', error: /compares a string with a number/ },
  { name: 'ordering on a string literal', source: 'latency_ms < "500"', at: '             ^', error: '"<" compares numbers, not a string' },
  { name: '&& on a number', source: 'status == 200 && len(text)', at: '                 ^', error: '"&&" joins conditions, not a number' },
  { name: 'in without a list', source: 'status in 200', at: '          ^', error: /"in" needs a list on its right/ },
  { name: 'matches on a number', source: 'len(text) matches "^1"', at: '^', error: '"matches" needs a string on its left, not a number' },
  { name: 'lower of a number', source: 'lower(200) == "x"', at: '      ^', error: 'lower() cannot take a number' },
];

// Refused before jsep parses them: jsep recurses on brackets and unary operators, and 10,000 of
// them used to end in "Maximum call stack size exceeded" instead of an error with a position.
const tooLong = /^a condition may be at most 4096 characters; this one has \d+$/;
const tooDeep = 'nested more than 64 levels deep (brackets, "!" and operators); split it into several expect: entries';
const oversized: { name: string; source: string; column: number; error: string | RegExp }[] = [
  { name: '1 MB condition', source: `text contains "${'a'.repeat(1_000_000)}"`, column: 4096, error: tooLong },
  { name: '10,000 nested parentheses', source: `${'('.repeat(10_000)}status == 200${')'.repeat(10_000)}`, column: 4096, error: tooLong },
  { name: '100 nested parentheses', source: `${'('.repeat(100)}status == 200${')'.repeat(100)}`, column: 64, error: tooDeep },
  { name: '100 nested lists', source: `status in ${'['.repeat(100)}200${']'.repeat(100)}`, column: 74, error: tooDeep },
  { name: '100 negations', source: `${'!'.repeat(100)}exists(text)`, column: 64, error: tooDeep },
  { name: 'negated groups', source: `${'!('.repeat(40)}exists(text)${')'.repeat(40)}`, column: 64, error: tooDeep },
  { name: '70 conditions joined by && (a tree too deep)', source: Array(70).fill('status == 200').join(' && '), column: 0, error: tooDeep },
];

for (const c of oversized) {
  test(`parse rejects, with a position: ${c.name}`, () => {
    const r = parseCondition(c.source, HTTP_FIELDS);
    assert.equal(r.ok, false, 'expected a parse error');
    if (r.ok) return;
    if (typeof c.error === 'string') assert.equal(r.error, c.error);
    else assert.match(r.error, c.error);
    assert.equal(r.column, c.column, r.error);
  });
}

test('brackets and "!" inside a string do not count as nesting', () => {
  const r = parseCondition(`text contains "${'(['.repeat(200)}!!!!"`, HTTP_FIELDS);
  assert.ok(r.ok, r.ok ? '' : r.error);
});

for (const c of rejected) {
  test(`parse rejects: ${c.name}`, () => {
    const r = parseCondition(c.source, HTTP_FIELDS);
    assert.equal(r.ok, false, 'expected a parse error');
    if (r.ok) return;
    if (typeof c.error === 'string') assert.equal(r.error, c.error);
    else assert.match(r.error, c.error);
    assert.equal(r.column, c.at.indexOf('^'), `column of: ${r.error}`);
  });
}

const accepted: { name: string; source: string; fields?: string[] }[] = [
  { name: 'status equality', source: 'status == 200' },
  { name: 'status range', source: 'status >= 200 && status < 400' },
  { name: 'status in a list', source: 'status in [200, 204]' },
  { name: 'header by any case', source: 'headers["Content-Type"] matches "^application/json"' },
  { name: 'single-quoted strings', source: "body.status == 'ok'" },
  { name: 'nested JSON path', source: 'body.items[0].name != null' },
  { name: 'functions', source: 'len(body.items) > 0 && lower(text) contains "ok" && exists(body.id)' },
  { name: 'negation and parentheses', source: '!(text contains "error") || status == 503' },
  { name: 'negative number', source: 'latency_ms > -1' },
  { name: 'a bare boolean field', source: 'clean', fields: ['clean'] },
  { name: 'command fields', source: 'exit_code == 0 && stdout matches "\\\\d+ passed"', fields: ['exit_code', 'stdout', 'stderr'] },
  { name: 'field name with underscore', source: 'latency_ms <= 2000' },
  { name: 'catastrophic for a backtracking engine, linear here', source: 'text matches "(a+)+$"' },
  { name: 'named group and \\u escape', source: 'text matches "(?<v>\\\\u0041)"' },
  { name: '30 conditions joined by &&', source: Array(30).fill('status == 200').join(' && ') },
  { name: '60 nested parentheses', source: `${'('.repeat(60)}status == 200${')'.repeat(60)}` },
];

for (const c of accepted) {
  test(`parse accepts: ${c.name}`, () => {
    const r = parseCondition(c.source, c.fields ?? HTTP_FIELDS);
    assert.ok(r.ok, r.ok ? '' : `${r.error} at ${r.column}`);
    assert.equal(r.condition.source, c.source);
  });
}

test('describeFields names the fields, operators and functions', () => {
  const text = describeFields(['exit_code', 'stdout']);
  assert.match(text, /exit_code, stdout/);
  assert.match(text, /matches/);
  assert.match(text, /len\(x\), lower\(x\), exists\(x\)/);
});
