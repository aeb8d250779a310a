import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judge, judgeAll, parseCondition } from './index.js';
import type { Condition } from './index.js';

const HTTP_FIELDS = ['status', 'headers', 'body', 'text', 'latency_ms'];
const COMMAND_FIELDS = ['exit_code', 'stdout', 'stderr'];

function parse(source: string, fields: readonly string[] = HTTP_FIELDS): Condition {
  const r = parseCondition(source, fields);
  if (!r.ok) throw new Error(`${source}: ${r.error} at ${r.column}`);
  return r.condition;
}

const healthy = {
  status: 200,
  headers: { 'content-type': 'application/json; charset=utf-8', 'x-frame-options': 'DENY' },
  body: { status: 'ok', version: '1.4.2', items: [{ name: 'soup' }, { name: 'bread' }], tags: ['a', 'b'], count: '3', error: null },
  text: '{"status":"ok"}',
  latency_ms: 12.5,
};
const down = { status: 503, headers: { 'content-type': 'text/html' }, body: undefined, text: '<h1>Service Unavailable</h1>', latency_ms: 3012 };
const build = { exit_code: 0, stdout: 'Tests: 42 passed, 0 failed\n', stderr: '' };

const judgements: { name: string; source: string; observations: Record<string, unknown>; fields?: string[]; ok: boolean; detail?: string }[] = [
  { name: 'status passes', source: 'status == 200', observations: healthy, ok: true, detail: 'status == 200: status was 200' },
  { name: 'status fails, naming the status', source: 'status == 200', observations: down, ok: false, detail: 'status == 200: status was 503' },
  { name: 'range', source: 'status >= 200 && status < 400', observations: healthy, ok: true },
  { name: 'status in list', source: 'status in [200, 204]', observations: down, ok: false, detail: 'status in [200, 204]: status was 503' },
  { name: 'JSON body path', source: 'body.status == "ok"', observations: healthy, ok: true },
  { name: 'JSON body missing', source: 'body.status == "ok"', observations: down, ok: false, detail: 'body.status == "ok": body.status was undefined' },
  { name: 'header in lower case', source: 'headers["content-type"] matches "^application/json"', observations: healthy, ok: true },
  {
    name: 'header by its canonical case',
    source: 'headers["Content-Type"] contains "json"',
    observations: healthy,
    ok: true,
    detail: 'headers["Content-Type"] contains "json": headers["Content-Type"] was "application/json; charset=utf-8"',
  },
  { name: 'header in mixed case', source: 'headers["X-Frame-Options"] == "DENY"', observations: healthy, ok: true },
  { name: 'array index', source: 'body.items[1].name == "bread"', observations: healthy, ok: true },
  { name: 'array out of range', source: 'body.items[5].name == "bread"', observations: healthy, ok: false, detail: 'body.items[5].name == "bread": body.items[5].name was undefined' },
  { name: 'list contains', source: 'body.tags contains "b"', observations: healthy, ok: true },
  { name: 'substring', source: 'text contains "ok"', observations: healthy, ok: true },
  { name: 'deep list equality', source: 'body.tags == ["a", "b"]', observations: healthy, ok: true },
  { name: 'len of list', source: 'len(body.items) == 2', observations: healthy, ok: true },
  { name: 'len of object', source: 'len(headers) == 2', observations: healthy, ok: true },
  { name: 'lower', source: 'lower(text) contains "unavailable"', observations: down, ok: true },
  { name: 'exists on a value', source: 'exists(body.version)', observations: healthy, ok: true },
  { name: 'exists on null', source: 'exists(body.error)', observations: healthy, ok: false },
  { name: 'null equals missing', source: 'body.missing == null && body.error == null', observations: healthy, ok: true },
  { name: 'negation', source: '!(text contains "Unavailable")', observations: down, ok: false },
  { name: 'or', source: 'status == 200 || status == 503', observations: down, ok: true },
  { name: 'latency', source: 'latency_ms < 500', observations: down, ok: false, detail: 'latency_ms < 500: latency_ms was 3012' },
  {
    name: 'every path named',
    source: 'status == 200 && body.status == "ok"',
    observations: down,
    ok: false,
    detail: 'status == 200 && body.status == "ok": status was 503, body.status was undefined',
  },
  { name: 'command passes', source: 'exit_code == 0 && stdout matches "\\\\d+ passed"', fields: COMMAND_FIELDS, observations: build, ok: true },
  { name: 'command stderr empty', source: 'len(stderr) == 0', fields: COMMAND_FIELDS, observations: build, ok: true },
  { name: 'constant condition', source: '1 == 1', observations: healthy, ok: true, detail: '1 == 1: was true' },
];

for (const c of judgements) {
  test(`judge: ${c.name}`, () => {
    const j = judge(parse(c.source, c.fields), c.observations);
    assert.equal(j.ok, c.ok, j.detail);
    assert.equal(j.source, c.source);
    if (c.detail !== undefined) assert.equal(j.detail, c.detail);
  });
}

// Each of these must fail, and say why, rather than pass by coercion or throw.
const failClosed: { name: string; source: string; observations: Record<string, unknown>; fields?: string[]; detail: string | RegExp }[] = [
  { name: '< on a missing value', source: 'latency_ms < 500', observations: {}, detail: 'latency_ms < 500: latency_ms was undefined' },
  { name: '>= on a missing value', source: 'latency_ms >= 0', observations: {}, detail: 'latency_ms >= 0: latency_ms was undefined' },
  { name: 'a number in a string is not a number', source: 'body.count > 2', observations: healthy, detail: 'body.count > 2: body.count was "3"' },
  { name: 'a number in a string does not equal it', source: 'body.count == 3', observations: healthy, detail: 'body.count == 3: body.count was "3"' },
  { name: '< on null', source: 'body.error < 1', observations: healthy, detail: 'body.error < 1: body.error was null' },
  { name: 'matches on a missing value', source: 'text matches ".*"', observations: {}, detail: 'text matches ".*": text was undefined' },
  { name: 'matches on a number', source: 'status matches "^2"', observations: healthy, detail: 'status matches "^2": status was 200' },
  { name: 'contains on a missing value', source: 'text contains ""', observations: {}, detail: 'text contains "": text was undefined' },
  { name: 'contains a missing value', source: 'body.tags contains body.nothing', observations: { body: { tags: [null] } }, detail: /body.nothing was undefined/ },
  { name: 'in with a missing value', source: 'body.nothing in [null]', observations: { body: {} }, detail: /body.nothing was undefined/ },
  { name: 'a path through a string', source: 'text.length == 15', observations: healthy, detail: 'text.length == 15: text.length was undefined' },
  { name: 'no inherited properties', source: 'body.constructor != null', observations: healthy, detail: /body.constructor was undefined/ },
  { name: 'len of a number', source: 'len(status) > 0', observations: healthy, detail: 'len(status) > 0: status was 200' },
  { name: 'result that is not a boolean', source: 'status', observations: down, detail: 'status: result was 503, not true or false; status was 503' },
  { name: 'missing boolean field', source: 'clean', fields: ['clean'], observations: {}, detail: 'clean: result was undefined, not true or false; clean was undefined' },
  { name: '&& on a non-boolean field', source: 'status && true', observations: healthy, detail: 'status && true: "&&" needs true or false, got 200; status was 200' },
  { name: '! on a string field', source: '!text', observations: healthy, detail: /^!text: "!" needs true or false, got ".*"; text was ".*"$/ },
  { name: 'a getter that throws', source: 'body.boom == 1', observations: { body: Object.defineProperty({}, 'boom', { enumerable: true, get: () => { throw new Error('kaput'); } }) }, detail: /could not be judged: kaput; body.boom was \(unreadable\)/ },
];

for (const c of failClosed) {
  test(`fail closed: ${c.name}`, () => {
    const j = judge(parse(c.source, c.fields), c.observations);
    assert.equal(j.ok, false, j.detail);
    if (typeof c.detail === 'string') assert.equal(j.detail, c.detail);
    else assert.match(j.detail, c.detail);
  });
}

test('long values are cut to about 120 characters in the detail', () => {
  const text = 'x'.repeat(5000);
  const j = judge(parse('text contains "needle"'), { text, body: { big: Array.from({ length: 500 }, (_, i) => i) } });
  assert.equal(j.ok, false);
  assert.ok(j.detail.length < 200, j.detail);
  assert.match(j.detail, /text was "x{120}…" \(5000 chars\)$/);
  const list = judge(parse('len(body.big) == 0'), { body: { big: Array.from({ length: 500 }, (_, i) => i) } });
  assert.match(list.detail, /body\.big was \[0,1,2,.*…$/);
  assert.ok(list.detail.length < 180, list.detail);
});

test('judgeAll reports every failure, not only the first', () => {
  const conditions = ['status == 200', 'body.status == "ok"', 'latency_ms < 5000'].map((s) => parse(s));
  const all = judgeAll(conditions, down);
  assert.equal(all.ok, false);
  assert.deepEqual(
    all.failed.map((j) => j.source),
    ['status == 200', 'body.status == "ok"'],
  );
  assert.equal(all.judgements.length, 3);
  assert.equal(judgeAll(conditions, healthy).ok, true);
  assert.deepEqual(judgeAll([], healthy), { ok: true, failed: [], judgements: [] });
});

test('a condition is judged the same way every time (no regex state)', () => {
  const c = parse('text matches "ok"');
  for (let i = 0; i < 3; i++) assert.equal(judge(c, healthy).ok, true);
});

// The guarantee is structural (the engine is linear), so these assert results, not timings: on
// V8's backtracking engine the first one alone ran for more than a minute.
test('catastrophic patterns are judged on 1 MB of hostile text', () => {
  const hostile = `${'a'.repeat(1_000_000)}!`;
  const cases: { source: string; ok: boolean }[] = [
    { source: 'text matches "(a+)+$"', ok: false },
    { source: 'text matches "(a|aa)+$"', ok: false },
    { source: 'text matches "^(\\\\w+\\\\s?)*$"', ok: false },
    { source: 'text matches "(.*a){10}$"', ok: false },
    { source: '!(text matches "(a+)+$")', ok: true },
    { source: 'text matches "^(a+)+!$"', ok: true },
  ];
  for (const c of cases) {
    const j = judge(parse(c.source), { text: hostile });
    assert.equal(j.ok, c.ok, j.detail);
    assert.match(j.detail, /text was "a{120}…" \(1000001 chars\)$/);
  }
});

test('matches fails closed, saying why, on a value over 1 MiB', () => {
  const j = judge(parse('text matches "a"'), { text: 'a'.repeat(1024 * 1024 + 1) });
  assert.equal(j.ok, false);
  assert.match(j.detail, /^text matches "a": "matches" reads at most 1048576 characters, and this value has 1048577; text was/);
  assert.equal(judge(parse('text matches "a$"'), { text: 'a'.repeat(1024 * 1024) }).ok, true);
});
