import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, formatProblem, parseConfig, selectEnvironment } from './load.js';

const VALID = `version: 1
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
      expect: ['status == 200', 'body.status == "ok"', 'latency_ms < 500']
  - id: RUNBOOK-01
    title: Runbook reviewed
    tier: recommended
    manual: true
`;

function problems(text: string): string[] {
  try {
    parseConfig(text, 'gonogo.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map(formatProblem);
  }
  assert.fail('expected a ConfigError');
}

test('config: the documented shape loads, with conditions parsed', () => {
  const loaded = parseConfig(VALID, 'gonogo.yaml');
  assert.equal(loaded.config.items.length, 2);
  assert.equal(loaded.conditions.get('HEALTH-01')?.length, 3);
  assert.match(loaded.hash, /^[0-9a-f]{64}$/);
  assert.equal(selectEnvironment(loaded).name, 'staging');
});

const cases: { name: string; text: string; expect: RegExp[] }[] = [
  { name: 'malformed YAML', text: 'version: 1\nitems: [\n  - id: x\n', expect: [/^gonogo\.yaml:\d+:\d+: YAML: /, /YAML/] },
  { name: 'unknown key', text: VALID.replace('    tier: critical', '    tier: critical\n    tierr: high'), expect: [/^gonogo\.yaml:8:5: items\.0\.tierr: unknown key "tierr"/] },
  { name: 'wrong type', text: VALID.replace('version: 1', 'version: "one"'), expect: [/^gonogo\.yaml:1:10: version: /] },
  { name: 'wrong tier', text: VALID.replace('tier: recommended', 'tier: nice-to-have'), expect: [/^gonogo\.yaml:15:11: items\.1\.tier: .*critical.*high.*recommended/] },
  { name: 'duplicate ids', text: VALID.replace('id: RUNBOOK-01', 'id: HEALTH-01'), expect: [/^gonogo\.yaml:13:9: items\.1\.id: duplicate id "HEALTH-01" \(first at items\.0\)/] },
  { name: 'unknown kind', text: VALID.replace('kind: http', 'kind: htp'), expect: [/^gonogo\.yaml:9:13: items\.0\.check\.kind: unknown check kind "htp" \(expected one of: http, /] },
  { name: 'bad expression points into the string', text: VALID.replace("'status == 200'", "'stauts == 200'"), expect: [/^gonogo\.yaml:12:17: items\.0\.check\.expect\.0: bad condition "stauts == 200": unknown field "stauts"/] },
  { name: 'missing required field', text: VALID.replace('    title: Runbook reviewed\n', ''), expect: [/^gonogo\.yaml:13:\d+: items\.1: missing required field "title"/] },
  { name: 'neither check nor manual', text: VALID.replace('    manual: true\n', ''), expect: [/items\.1: expected a "check" or "manual: true"/] },
  {
    name: 'every problem at once, in file order',
    text: VALID.replace('kind: http', 'kind: htp').replace('id: RUNBOOK-01', 'id: HEALTH-01').replace('version: 1', 'version: 2'),
    expect: [/:1:10: version/, /:9:13: .*unknown check kind/, /:13:9: .*duplicate id/],
  },
];

for (const c of cases) {
  test(`config: ${c.name}`, () => {
    const got = problems(c.text);
    assert.equal(got.length, c.expect.length, got.join('\n'));
    c.expect.forEach((re, i) => assert.match(got[i], re, got.join('\n')));
  });
}

test('config: an undefined --env names the defined ones at the environments key', () => {
  const loaded = parseConfig(VALID, 'gonogo.yaml');
  assert.throws(() => selectEnvironment(loaded, 'prod'), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(formatProblem(err.problems[0]), /^gonogo\.yaml:2:1: environments: environment "prod" is not defined \(defined: staging\)/);
    return true;
  });
});

test('config: a stage naming an unknown item is a problem', () => {
  const text = `${VALID}stages:\n  staging:\n    - id: deploy\n      title: Deploy\n      budget: 15m\n      items: [HEALTH-01, NOPE-1]\n`;
  assert.match(problems(text)[0], /stages\.staging\.0\.items\.1: unknown item id "NOPE-1"/);
});

// Durations a timer cannot keep: setTimeout fires at once for 0 and for anything over 2^31-1 ms.
const durationCases: { name: string; text: string; expect: RegExp[] }[] = [
  ...['0', '0ms', '0s'].map((zero) => ({
    name: `a check timeout of ${zero}`,
    text: VALID.replace('timeout: 2s', `timeout: ${zero}`),
    expect: [/^gonogo\.yaml:11:16: items\.0\.check\.timeout: a timeout of 0 would end every check at once$/],
  })),
  {
    name: 'a default timeout of 0',
    text: `${VALID}defaults:\n  timeout: 0s\n`,
    expect: [/^gonogo\.yaml:18:12: defaults\.timeout: a timeout of 0 would end every check at once$/],
  },
  {
    name: 'a timeout of 2^31 ms',
    text: VALID.replace('timeout: 2s', `timeout: ${2 ** 31}`),
    expect: [/^gonogo\.yaml:11:16: items\.0\.check\.timeout: longer than the longest timer Node\.js can set \(2147483647 ms/],
  },
  {
    name: 'a timeout of 25 days',
    text: VALID.replace('timeout: 2s', 'timeout: 25d'),
    expect: [/^gonogo\.yaml:11:16: items\.0\.check\.timeout: "25d" is longer than the longest timer Node\.js can set/],
  },
  {
    name: 'a stage budget of 0',
    text: `${VALID}stages:\n  staging:\n    - { id: deploy, title: Deploy, budget: 0ms, items: [HEALTH-01] }\n`,
    expect: [/^gonogo\.yaml:19:44: stages\.staging\.0\.budget: a budget of 0 would put the stage over budget/],
  },
  {
    name: 'a stage budget of 2^31 ms',
    text: `${VALID}stages:\n  staging:\n    - { id: deploy, title: Deploy, budget: 2147483648ms, items: [HEALTH-01] }\n`,
    expect: [/stages\.staging\.0\.budget: "2147483648ms" is longer than the longest timer/],
  },
  { name: 'a duration with a tab in it', text: VALID.replace('timeout: 2s', 'timeout: "2\\ts"'), expect: [/items\.0\.check\.timeout: expected a duration such as 500ms/] },
];

for (const c of durationCases) {
  test(`config: refuses ${c.name}`, () => {
    const got = problems(c.text);
    assert.equal(got.length, c.expect.length, got.join('\n'));
    c.expect.forEach((re, i) => assert.match(got[i], re, got.join('\n')));
  });
}

test('config: a backoff of 0 and the longest timer are fine', () => {
  const loaded = parseConfig(VALID.replace('timeout: 2s', `timeout: ${2 ** 31 - 1}, backoff: 0`.replace(', ', '\n      ')), 'gonogo.yaml');
  assert.equal(loaded.config.items[0].check?.timeout, 2 ** 31 - 1);
});
