// Conditions as a config file carries them: every refusal of the parser reaches the user as a
// config problem at file:line:column, inside the quoted condition, never as a stack overflow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, formatProblem, parseConfig } from '../config/load.js';
// parseConfig checks options against the kinds loaded: the registry loads them all.
import '../checks/index.js';

// The condition's first character is at line 13, column 12 (after `- '`).
function config(condition: string): string {
  return `version: 1
environments:
  staging: { url: http://127.0.0.1:3000 }
items:
  - id: HEALTH-01
    title: Health endpoint answers
    tier: critical
    check:
      kind: http
      url: "{{env.url}}/health"
      timeout: 2s
      expect:
        - '${condition}'
`;
}

function onlyProblem(text: string): string {
  let problems: string[] = [];
  try {
    parseConfig(text, 'gonogo.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    problems = err.problems.map(formatProblem);
  }
  assert.equal(problems.length, 1, problems.map((p) => p.slice(0, 200)).join('\n'));
  return problems[0];
}

const cases: { name: string; condition: string; at: string; says: string }[] = [
  { name: '1 MB expression', condition: `text contains "${'a'.repeat(1_000_000)}"`, at: `13:${12 + 4096}`, says: 'a condition may be at most 4096 characters; this one has 1000016' },
  { name: '10,000-deep expression', condition: `${'('.repeat(10_000)}status == 200${')'.repeat(10_000)}`, at: `13:${12 + 4096}`, says: 'a condition may be at most 4096 characters' },
  { name: '100-deep expression', condition: `${'('.repeat(100)}status == 200${')'.repeat(100)}`, at: `13:${12 + 64}`, says: 'nested more than 64 levels deep' },
  // YAML single quotes keep backslashes, so `\\1` is the condition's escape for the pattern's `\1`.
  { name: 'backreference', condition: 'text matches "(a)\\\\1"', at: `13:${12 + 17}`, says: 'invalid regular expression: backreference "\\1" is not supported' },
  { name: 'lookahead', condition: 'text matches "(?=x)"', at: `13:${12 + 14}`, says: 'invalid regular expression: lookahead "(?=" is not supported' },
];

for (const c of cases) {
  test(`config: ${c.name} in expect: is a positioned problem`, () => {
    const problem = onlyProblem(config(c.condition));
    assert.ok(problem.startsWith(`gonogo.yaml:${c.at}: items.0.check.expect.0: bad condition `), problem.slice(0, 200));
    assert.ok(problem.includes(c.says), problem.slice(-300));
    assert.ok(problem.length < 500, `the problem quotes the condition whole: ${problem.length} characters`);
  });
}

test('config: a catastrophic pattern loads (it runs on the linear engine)', () => {
  const loaded = parseConfig(config('text matches "(a+)+$"'), 'gonogo.yaml');
  assert.equal(loaded.conditions.get('HEALTH-01')?.length, 1);
});
