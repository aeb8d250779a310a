// Broken references are config problems at load, each at the name that is wrong; and the abilities
// that come with them: YAML merge keys, `extends`, placeholders in `expect:`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, formatProblem, loadConfig, parseConfig } from './load.js';
// parseConfig checks options against the kinds loaded: the registry loads them all.
import '../checks/index.js';
import { bindCondition, judge } from '../conditions/index.js';
import { checkUrl } from './url.js';
import { configProblems } from '../test-support/config.js';

const BASE = `version: 1
environments:
  staging: { url: "http://127.0.0.1:3000", region: eu }
  production: { url: "https://example.com", region: us }
roles:
  release-manager: [decision, stage, item]
  security-lead: ["stage:security", item]
people:
  erin: [release-manager]
  sam: { roles: [security-lead], emails: [sam@example.com] }
auth:
  login: { url: /api/login }
  users:
    alice: { username: alice, password: "\${ALICE_PASSWORD}" }
    bob: { username: bob, password: "\${BOB_PASSWORD}" }
rules:
  requiredSignoffs: [decision, "stage:security", "item:RUNBOOK-01"]
stages:
  staging:
    - { id: security, title: Security, budget: 1h, items: [CSRF-01], signoff: [security-lead] }
items:
  - id: CSRF-01
    title: CSRF defences
    tier: critical
    check: { kind: csrf, loginAs: alice, request: { method: POST, path: /api/x } }
  - id: HEALTH-01
    title: Health
    tier: critical
    check: { kind: http, url: "{{env.url}}/health/{{env.region}}" }
  - id: RUNBOOK-01
    title: Runbook reviewed
    tier: recommended
    manual: true
    signers: [release-manager]
`;

const problems = configProblems;

/** 1-based line and column of the `nth` occurrence of `needle` in `text`. */
function positionOf(text: string, needle: string, nth = 0): string {
  let at = -1;
  for (let k = 0; k <= nth; k++) at = text.indexOf(needle, at + 1);
  assert.ok(at >= 0, `${needle} is in the text`);
  const before = text.slice(0, at).split('\n');
  return `${before.length}:${before[before.length - 1].length + 1}`;
}

test('references: the base config loads (every reference resolves)', () => {
  const loaded = parseConfig(BASE, 'gonogo.yaml');
  assert.equal(loaded.config.items.length, 3);
});

// Each row breaks one reference; the problem is at the broken name, with the dotted path and what was expected.
const refusals: { name: string; from: string; to: string; at: string; nth?: number; expect: RegExp }[] = [
  { name: 'loginAs names no test user', from: 'loginAs: alice', to: 'loginAs: alicia', at: 'alicia', expect: /items\.0\.check\.loginAs: test user "alicia" is not in auth\.users \(defined: alice, bob\)/ },
  { name: 'a stage signed off by an unknown role', from: 'signoff: [security-lead]', to: 'signoff: [security-led]', at: 'security-led', expect: /stages\.staging\.0\.signoff\.0: sign-off role "security-led" is not a role in roles: \(defined: release-manager, security-lead\)/ },
  { name: 'a signer role that does not exist', from: 'signers: [release-manager]', to: 'signers: [release-manger]', at: 'release-manger', expect: /items\.2\.signers\.0: signer role "release-manger" is not a role/ },
  { name: 'a person holding an unknown role (list form)', from: 'erin: [release-manager]', to: 'erin: [relase-manager]', at: 'relase-manager', expect: /people\.erin\.0: erin's role "relase-manager" is not a role/ },
  { name: 'a person holding an unknown role ({roles, emails} form)', from: 'roles: [security-lead]', to: 'roles: [sec-lead]', at: 'sec-lead', expect: /people\.sam\.roles\.0: sam's role "sec-lead" is not a role/ },
  { name: 'a required stage sign-off naming no stage', from: '"stage:security", "item:RUNBOOK-01"]', to: '"stage:secure", "item:RUNBOOK-01"]', at: '"stage:secure"', expect: /rules\.requiredSignoffs\.1: required sign-off "stage:secure" names no stage of any stage set \(defined: security\)/ },
  { name: 'a required item sign-off naming no item', from: '"item:RUNBOOK-01"]', to: '"item:RUNBOK-01"]', at: '"item:RUNBOK-01"', expect: /rules\.requiredSignoffs\.2: required sign-off "item:RUNBOK-01" names no item/ },
  { name: 'a permission stage:<id> naming no stage', from: '["stage:security", item]', to: '["stage:sec", item]', at: '"stage:sec"', expect: /roles\.security-lead\.0: permission "stage:sec" names no stage/ },
  { name: 'a permission item:<id> naming no item', from: 'release-manager: [decision, stage, item]', to: 'release-manager: [decision, stage, "item:NOPE"]', at: '"item:NOPE"', expect: /roles\.release-manager\.2: permission "item:NOPE" names no item/ },
  { name: 'a permission outside the grammar', from: 'release-manager: [decision, stage, item]', to: 'release-manager: [decision, stage, sign]', at: 'sign]', expect: /roles\.release-manager\.2: a permission: decision, stage, stage:<id>, item, item:<id>, waive, revoke, rollback or \*/ },
  { name: '{{env.x}} that one environment lacks', from: '{ url: "https://example.com", region: us }', to: '{ url: "https://example.com" }', at: '{{env.region}}', expect: /items\.1\.check\.url: \{\{env\.region\}\}: environment "production" lacks a field "region"/ },
  { name: '{{env.x}} that no environment has', from: '/health/{{env.region}}', to: '/health/{{env.zone}}', at: '{{env.zone}}', expect: /items\.1\.check\.url: \{\{env\.zone\}\}: no environment has a field "zone"/ },
  { name: 'an environment field named release', from: 'region: eu }', to: 'region: eu, release: "1.0" }', at: '"1.0"', expect: /environments\.staging\.release: "release" is reserved/ },
  { name: 'an environment url that is not absolute', from: '"http://127.0.0.1:3000"', to: '"localhost:3000"', at: '"localhost:3000"', expect: /environments\.staging\.url: "localhost:3000" is not an http or https URL/ },
  { name: 'a check with loginAs and no auth section', from: 'check: { kind: csrf, loginAs: alice', to: 'check: { kind: csrf, loginAs: carol', at: 'carol', expect: /test user "carol" is not in auth\.users/ },
];

for (const c of refusals) {
  test(`references: refuses ${c.name}`, () => {
    assert.ok(BASE.includes(c.from), `the row's text is in the base config: ${c.from}`);
    const text = BASE.replace(c.from, c.to);
    const got = problems(text);
    assert.equal(got.length, 1, got.join('\n'));
    assert.match(got[0], c.expect);
    assert.ok(got[0].startsWith(`gonogo.yaml:${positionOf(text, c.at, c.nth)}: `), `${got[0]} is at ${c.at} (${positionOf(text, c.at, c.nth)})`);
  });
}

test('references: loginAs anonymous is the principal without credentials, not a missing user', () => {
  assert.equal(parseConfig(BASE.replace('loginAs: alice', 'loginAs: anonymous'), 'gonogo.yaml').config.items.length, 3);
});

test('references: every broken reference at once, in file order', () => {
  const text = BASE.replace('loginAs: alice', 'loginAs: x').replace('signers: [release-manager]', 'signers: [y]').replace('signoff: [security-lead]', 'signoff: [z]');
  const got = problems(text);
  assert.equal(got.length, 3, got.join('\n'));
  assert.match(got[0], /signoff\.0: .*"z"/);
  assert.match(got[1], /loginAs: .*"x"/);
  assert.match(got[2], /signers\.0: .*"y"/);
});

test('references: {{env.x}} in a shell script is refused as before, not reported twice as a missing field', () => {
  const text = BASE.replace('title: Health\n', 'title: Health\n').replace('check: { kind: http, url: "{{env.url}}/health/{{env.region}}" }', 'check: { kind: command, run: { sh: "curl {{env.zone}}" } }');
  const got = problems(text);
  assert.equal(got.length, 1, got.join('\n'));
  assert.match(got[0], /is not expanded inside a shell script/);
});

test('config: YAML merge keys (<<) share a block between items', () => {
  const text = `${BASE}  - id: HEALTH-02
    title: Health again
    tier: high
    check:
      <<: { kind: http, timeout: 2s }
      url: "{{env.url}}/ready"
`;
  const loaded = parseConfig(text, 'gonogo.yaml');
  const check = loaded.config.items[3].check;
  assert.equal(check?.kind, 'http');
  assert.equal(check?.timeout, '2s');
  assert.equal(check?.url, '{{env.url}}/ready');
});

// --- placeholders in expect: ------------------------------------------------------------------

const EXPECTING = (expect: string): string =>
  BASE.replace('check: { kind: http, url: "{{env.url}}/health/{{env.region}}" }', `check:\n      kind: http\n      url: "{{env.url}}/version"\n      expect: ['${expect}']`);

test('expect: {{release}} and {{env.x}} are filled in as quoted strings before judging', () => {
  const loaded = parseConfig(EXPECTING('body.version == {{release}} && body.region == {{env.region}}'), 'gonogo.yaml');
  const [cond] = loaded.conditions.get('HEALTH-01') ?? [];
  const bound = bindCondition(cond, { url: 'http://x', region: 'eu', release: '1.4.2' });
  assert.ok(bound.ok);
  assert.equal(bound.condition.source, 'body.version == "1.4.2" && body.region == "eu"');
  assert.equal(judge(bound.condition, { body: { version: '1.4.2', region: 'eu' } }).ok, true);
  assert.equal(judge(bound.condition, { body: { version: '1.4.3', region: 'eu' } }).ok, false);
});

test('expect: a value can never inject syntax: it is compared as a string, quotes and operators included', () => {
  const loaded = parseConfig(EXPECTING('body.version == {{release}}'), 'gonogo.yaml');
  const [cond] = loaded.conditions.get('HEALTH-01') ?? [];
  const hostile = '1" || true || "';
  const bound = bindCondition(cond, { release: hostile });
  assert.ok(bound.ok);
  assert.equal(judge(bound.condition, { body: { version: 'other' } }).ok, false, 'the injected || true is text, not an operator');
  assert.equal(judge(bound.condition, { body: { version: hostile } }).ok, true);
});

test('expect: a placeholder without a value in this run is an error naming it', () => {
  const loaded = parseConfig(EXPECTING('body.version == {{release}}'), 'gonogo.yaml');
  const [cond] = loaded.conditions.get('HEALTH-01') ?? [];
  const bound = bindCondition(cond, { url: 'http://x' });
  assert.ok(!bound.ok);
  assert.match(bound.error, /\{\{release\}\} has no value in this run \(no release given\)/);
});

const expectRefusals: { name: string; expect: string; at: string; message: RegExp }[] = [
  { name: '${VAR} in a condition', expect: 'body.token == "${API_TOKEN}"', at: '${API_TOKEN}', message: /\$\{API_TOKEN\} is a secret and is never put into a condition/ },
  { name: 'a placeholder inside quotes', expect: 'body.version == "v{{release}}"', at: '{{release}}', message: /\{\{release\}\} inside a quoted string is not filled in: write it unquoted/ },
  { name: 'an unknown environment field', expect: 'body.region == {{env.zone}}', at: '{{env.zone}}', message: /\{\{env\.zone\}\}: no environment has a field "zone"/ },
  { name: 'a field holding a secret', expect: 'body.t == {{env.token}}', at: '{{env.token}}', message: /\{\{env\.token\}\} holds a \$\{VAR\} \(a secret\) in some environment/ },
];

for (const c of expectRefusals) {
  test(`expect: refuses ${c.name}, at its position`, () => {
    const text = EXPECTING(c.expect).replace('region: eu }', 'region: eu, token: "${STAGING_TOKEN}" }').replace('region: us }', 'region: us, token: x }');
    const got = problems(text);
    assert.equal(got.length, 1, got.join('\n'));
    assert.match(got[0], c.message);
    assert.ok(got[0].startsWith(`gonogo.yaml:${positionOf(text, c.at)}: items.1.check.expect.0: `), `${got[0]} at ${positionOf(text, c.at)}`);
  });
}

// --- extends ------------------------------------------------------------------------------------

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-extends-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function loadProblems(file: string): Promise<string[]> {
  try {
    await loadConfig(file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map(formatProblem);
  }
  assert.fail('expected a ConfigError');
}

const SHARED = `version: 1
environments:
  staging: { url: "http://127.0.0.1:3000" }
defaults: { timeout: 5s, concurrency: 4 }
roles:
  release-manager: [decision, stage, item]
items:
  - id: SHARED-01
    title: Shared health check
    tier: critical
    check: { kind: http, url: "{{env.url}}/health" }
`;

test('extends: maps merge deeply, later files override, items add up, the hash covers every file', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'shared'));
  writeFileSync(join(dir, 'shared', 'base.yaml'), SHARED);
  writeFileSync(join(dir, 'shared', 'security.yaml'), 'roles:\n  security-lead: [stage, item]\ndefaults: { timeout: 8s }\n');
  const root = join(dir, 'gonogo.yaml');
  writeFileSync(root, `extends: [shared/base.yaml, shared/security.yaml]\nname: app\ndefaults: { concurrency: 2 }\nitems:\n  - { id: OWN-01, title: Own, tier: high, manual: true, signers: [security-lead] }\n`);
  const loaded = await loadConfig(root);
  assert.deepEqual(loaded.config.items.map((i) => i.id), ['SHARED-01', 'OWN-01']);
  assert.deepEqual(loaded.config.defaults, { timeout: '8s', concurrency: 2, perHost: 4 });
  assert.deepEqual(Object.keys(loaded.config.roles), ['release-manager', 'security-lead']);
  assert.deepEqual(loaded.files, [join(dir, 'shared/base.yaml'), join(dir, 'shared/security.yaml'), root]);
  const before = loaded.hash;
  writeFileSync(join(dir, 'shared', 'security.yaml'), 'roles:\n  security-lead: [stage, item]\ndefaults: { timeout: 9s }\n');
  assert.notEqual((await loadConfig(root)).hash, before, 'an edit to an extended file changes the config hash');
});

test('extends: a problem points into the file where the value was written', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'base.yaml'), SHARED.replace('timeout: 5s', 'timeout: 0s'));
  const root = join(dir, 'gonogo.yaml');
  const own = 'extends: [base.yaml]\nitems:\n  - { id: OWN-01, title: Own, tier: high, manual: true, signers: [nobody] }\n';
  writeFileSync(root, own);
  const got = await loadProblems(root);
  assert.equal(got.length, 2, got.join('\n'));
  assert.match(got[0], new RegExp(`^${join(dir, 'base.yaml')}:${positionOf(SHARED, '5s')}: defaults\\.timeout: a timeout of 0`));
  assert.match(got[1], new RegExp(`^${root}:${positionOf(own, 'nobody')}: items\\.0\\.signers\\.0: signer role "nobody"`));
});

test('extends: an item id in two files is refused in the later one, naming the other file', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'base.yaml'), SHARED);
  const root = join(dir, 'gonogo.yaml');
  writeFileSync(root, 'extends: [base.yaml]\nitems:\n  - { id: SHARED-01, title: Mine, tier: high, manual: true }\n');
  const got = await loadProblems(root);
  assert.equal(got.length, 1, got.join('\n'));
  assert.match(got[0], new RegExp(`^${root}:3:11: items\\.0\\.id: duplicate id "SHARED-01" \\(also in ${join(dir, 'base.yaml')} at items\\.0`));
});

const extendsRefusals: { name: string; files: Record<string, string>; expect: RegExp }[] = [
  { name: 'a cycle', files: { 'gonogo.yaml': 'extends: [a.yaml]\n', 'a.yaml': 'extends: [gonogo.yaml]\n' }, expect: /a\.yaml:1:11: extends\.0: gonogo\.yaml is already being extended: a cycle \(.*gonogo\.yaml -> .*a\.yaml -> .*gonogo\.yaml\) is refused/ },
  { name: 'a file extending itself', files: { 'gonogo.yaml': 'extends: [./gonogo.yaml]\n' }, expect: /gonogo\.yaml:1:11: extends\.0: \.\/gonogo\.yaml is already being extended: a cycle/ },
  { name: 'a missing file', files: { 'gonogo.yaml': 'extends: [nope.yaml]\n' }, expect: /gonogo\.yaml:1:11: extends\.0: .*nope\.yaml: config file not found/ },
  { name: 'an extended file over the size cap', files: { 'gonogo.yaml': 'extends: [big.yaml]\n', 'big.yaml': `# ${'x'.repeat(2000)}\n` }, expect: /gonogo\.yaml:1:11: extends\.0: .*big\.yaml: the config file is \d+ bytes, over the limit of 1000 bytes/ },
  { name: 'extends that is not a list', files: { 'gonogo.yaml': 'extends: base.yaml\n' }, expect: /gonogo\.yaml:1:10: extends: expected a list of files/ },
];

for (const c of extendsRefusals) {
  test(`extends: refuses ${c.name}`, async (t) => {
    const dir = tempDir(t);
    for (const [name, text] of Object.entries(c.files)) writeFileSync(join(dir, name), text);
    let got: string[] = [];
    try {
      await loadConfig(join(dir, 'gonogo.yaml'), { maxBytes: 1000 });
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      got = err.problems.map(formatProblem);
    }
    assert.equal(got.length, 1, got.join('\n'));
    assert.match(got[0], c.expect);
  });
}

test('extends: parseConfig (one text, no files) says to use loadConfig', () => {
  assert.match(problems('extends: [base.yaml]\nversion: 1\n')[0], /^gonogo\.yaml:1:10: extends: .*loadConfig/);
});

test('checkUrl: absolute http(s) URLs only', () => {
  assert.equal(checkUrl('https://example.com/app'), undefined);
  assert.equal(checkUrl('http://127.0.0.1:3000'), undefined);
  assert.match(checkUrl('localhost:3000') ?? '', /not an http or https URL/);
  assert.match(checkUrl('/health') ?? '', /not an absolute URL/);
  assert.match(checkUrl('ftp://example.com') ?? '', /not an http or https URL \(scheme ftp\)/);
});
