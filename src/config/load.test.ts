import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSecretValues, ConfigError, DEFAULT_MAX_CONFIG_BYTES, firstInvalidUtf8, formatProblem, loadConfig, parseConfig, selectEnvironment } from './load.js';
import { registry } from '../checks/index.js';
import { isValidatedBy } from '../checks/types.js';
import { configProblems } from '../test-support/config.js';

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

const problems = configProblems;

test('config: the documented shape loads, with conditions parsed', () => {
  const loaded = parseConfig(VALID, 'gonogo.yaml');
  assert.equal(loaded.config.items.length, 2);
  assert.equal(loaded.conditions.get('HEALTH-01')?.length, 3);
  assert.match(loaded.hash, /^[0-9a-f]{64}$/);
  assert.equal(selectEnvironment(loaded).name, 'staging');
});

test('config: a loaded check is marked as validated by its kind (the engine re-parses only what expansion changes); a copy of it is not', () => {
  const check = parseConfig(VALID, 'gonogo.yaml').config.items[0].check;
  assert.ok(check);
  assert.ok(isValidatedBy(check, registry.http));
  assert.ok(!isValidatedBy(check, registry.headers), 'marked by its own kind only');
  assert.ok(!isValidatedBy(JSON.parse(JSON.stringify(check)), registry.http), 'a JSON copy is parsed in full (the config cache marks what it reads itself)');
  assert.ok(!isValidatedBy({ ...check }, registry.http), 'nor a spread copy');
  assert.ok(!Object.keys(check).some((k) => k.includes('valid')), 'the mark is no option');
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

/** Problems of loading `file` with loadConfig, formatted. */
async function loadProblems(file: string, opts?: { maxBytes?: number }): Promise<string[]> {
  try {
    await loadConfig(file, opts);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map(formatProblem);
  }
  assert.fail('expected a ConfigError');
}

function withTempDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gonogo-load-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('config: a YAML syntax error is reported where it is, not at 1:1 (an unclosed quote on line 6)', () => {
  const text = `version: 1
environments:
  staging: { url: http://127.0.0.1:3000 }
items:
  - id: RUNBOOK-01
    title: "Runbook reviewed
    tier: recommended
    manual: true
`;
  const got = problems(text);
  assert.equal(got.length, 1, got.join('\n'));
  // The parser stops at the end of the file: the problem points at the opening quote and says so.
  assert.equal(got[0], 'gonogo.yaml:6:12: YAML: Missing closing "quote (the value quoted here runs on to line 9, column 1)');
});

test('config: other syntax errors carry the line where the parser stopped', () => {
  const got = problems(VALID.replace('      timeout: 2s', '      timeout: 2s\n     bad: [1, 2'));
  assert.ok(got.length > 0);
  for (const p of got) assert.match(p, /^gonogo\.yaml:(1[2-9]):\d+: YAML: /, got.join('\n'));
});

// "Billion laughs": nine nested aliases of nine make 9^5 strings from a few hundred bytes.
const ALIAS_BOMB = `version: 1
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
`;

test('config: an alias bomb is a positioned problem, not a crash or a hang', () => {
  const got = problems(ALIAS_BOMB);
  assert.equal(got.length, 1, got.join('\n'));
  assert.match(got[0], /^gonogo\.yaml:5:8: YAML: alias \*c brings the uses of aliases past 100 .*alias bomb/);
});

test('config: an anchor used a few times is fine', () => {
  const text = VALID.replace('    check:\n      kind: http', '    check: &probe\n      kind: http').replace('    manual: true\n', '    check: *probe\n');
  const loaded = parseConfig(text.replace('id: RUNBOOK-01', 'id: HEALTH-02'), 'gonogo.yaml');
  assert.deepEqual(loaded.config.items[1].check, loaded.config.items[0].check);
});

test(
  'config: a file over the size cap is refused before it is read, naming its size and how to raise the cap',
  withTempDir(async (dir) => {
    const file = join(dir, 'gonogo.yaml');
    const big = VALID + `# ${'x'.repeat(99)}\n`.repeat((6 * 1024 * 1024) / 102);
    writeFileSync(file, big);
    const size = Buffer.byteLength(big);
    assert.ok(size > DEFAULT_MAX_CONFIG_BYTES);
    const got = await loadProblems(file);
    assert.equal(got.length, 1);
    assert.equal(got[0], `${file}:1:1: the config file is ${size} bytes, over the limit of ${5 * 1024 * 1024} bytes: not read (raise the limit with --max-config-bytes)`);
    // Raised, the same file loads.
    const loaded = await loadConfig(file, { maxBytes: 7 * 1024 * 1024 });
    assert.equal(loaded.config.items.length, 2);
    assert.match((await loadProblems(file, { maxBytes: 1000 }))[0], /over the limit of 1000 bytes/);
  }),
);

test(
  'config: a config path that is a FIFO is refused at once (reading it would block for ever)',
  { timeout: 10_000 },
  withTempDir(async (dir) => {
    const file = join(dir, 'gonogo.yaml');
    execFileSync('mkfifo', [file]);
    const got = await loadProblems(file);
    assert.match(got[0], /:1:1: .*is a FIFO \(named pipe\), not a regular file: not read/);
  }),
);

test(
  'config: a directory or a missing file is a ConfigError',
  withTempDir(async (dir) => {
    assert.match((await loadProblems(dir))[0], /is a directory, not a regular file/);
    assert.match((await loadProblems(join(dir, 'nope.yaml')))[0], /config file not found \(run `gonogo init` to write one\)/);
  }),
);

test('config: invalid UTF-8 is refused at the line and column of its first bad byte', () => {
  // Line 6 is `    title: Health endpoint answers`: the é is one character, the bad byte the 21st.
  const text = VALID.replace('title: Health endpoint answers', 'title: Healthé endp\u0000int answers');
  const bytes = Buffer.from(text, 'utf8');
  bytes[bytes.indexOf(0)] = 0xff;
  const got = problems(bytes);
  assert.deepEqual(got, ['gonogo.yaml:6:24: not valid UTF-8 (bytes ff 69 6e 74 here): save the file as UTF-8']);
});

test('config: a truncated sequence at the end of the file, a surrogate and an overlong form are refused', () => {
  const cases: [Buffer, string][] = [
    [Buffer.concat([Buffer.from(VALID), Buffer.from([0x23, 0x20, 0xe2, 0x82])]), 'gonogo.yaml:17:3:'],
    [Buffer.concat([Buffer.from(VALID), Buffer.from([0x23, 0xed, 0xa0, 0x80, 0x0a])]), 'gonogo.yaml:17:2:'],
    [Buffer.concat([Buffer.from('# '), Buffer.from([0xc0, 0xaf, 0x0a]), Buffer.from(VALID)]), 'gonogo.yaml:1:3:'],
  ];
  for (const [bytes, at] of cases) assert.ok(problems(bytes)[0].startsWith(at), `${problems(bytes)[0]} (expected at ${at})`);
});

test('config: firstInvalidUtf8 agrees with the fatal TextDecoder on random bytes', () => {
  // A fixed LCG: the same 3000 byte strings every run, biased toward the bytes where UTF-8 is subtle.
  let seed = 42;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const subtle = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
  for (let n = 0; n < 3000; n++) {
    const bytes = Uint8Array.from({ length: 1 + (next() % 8) }, () => (next() % 2 === 0 ? subtle[next() % subtle.length] : next() % 256));
    let valid = true;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      valid = false;
    }
    const bad = firstInvalidUtf8(bytes);
    assert.equal(bad === -1, valid, `bytes ${Buffer.from(bytes).toString('hex')}: first invalid at ${bad}`);
    if (bad > 0) assert.doesNotThrow(() => new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, bad)), 'the bytes before it are valid');
  }
});

test(
  'config: the hash is the SHA-256 of the bytes as read (a BOM and CRLF line ends included)',
  withTempDir(async (dir) => {
    const file = join(dir, 'gonogo.yaml');
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(VALID.replace(/\n/g, '\r\n'))]);
    writeFileSync(file, bytes);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const loaded = await loadConfig(file);
    assert.equal(loaded.hash, sha);
    assert.equal(parseConfig(bytes, 'gonogo.yaml').hash, sha);
    assert.equal(loaded.config.version, 1, 'the BOM is not part of the first key');
    assert.equal(parseConfig(VALID, 'gonogo.yaml').hash, createHash('sha256').update(Buffer.from(VALID)).digest('hex'), 'text is hashed as its UTF-8 bytes');
  }),
);

const COMMAND = `version: 1
environments:
  staging: { url: http://127.0.0.1:3000, region: eu-west-1 }
items:
  - id: SMOKE-01
    title: Smoke test
    tier: critical
    check:
      kind: command
      run:
        sh: |
          set -e
          curl -fsS {{env.url}}/health
          echo "\${DEPLOY_TOKEN}" | login --region {{ env.region }}
`;

test('config: {{...}} inside a shell script is refused where it is written, saying what to write instead', { skip: registry.command.verbatim.includes('run.sh') ? false : 'the command kind does not declare run.sh verbatim' }, () => {
  assert.deepEqual(problems(COMMAND), [
    'gonogo.yaml:13:21: items.0.check.run.sh: {{env.url}} is not expanded inside a shell script (a value spliced into a script could run as code): use "$GONOGO_URL" (environment fields: "$GONOGO_ENV_<FIELD>")',
    'gonogo.yaml:14:51: items.0.check.run.sh: {{ env.region }} is not expanded inside a shell script (a value spliced into a script could run as code): use "$GONOGO_ENV_REGION"',
  ]);
});

test('config: ${VAR}, "$GONOGO_URL" and Go templates in a script pass; {{env.url}} in an argv list is expanded as before', () => {
  const sh = COMMAND.replace('{{env.url}}', '"$GONOGO_URL"').replace('{{ env.region }}', '"$GONOGO_ENV_REGION"; docker ps --format \'{{.Names}} {{json .}}\'');
  assert.equal(parseConfig(sh, 'gonogo.yaml').config.items.length, 1);
  const argv = COMMAND.replace(/run:\n[\s\S]*$/, 'run: ["curl", "-fsS", "{{env.url}}/health"]\n');
  assert.equal(parseConfig(argv, 'gonogo.yaml').config.items.length, 1);
});

const SECRETS = `version: 1
environments:
  staging: { url: http://127.0.0.1:3000, token: "\${STAGING_TOKEN}" }
auth:
  login: { url: /api/login }
  users:
    alice: { username: alice, password: "\${ALICE_PASSWORD}" }
items:
  - id: API-01
    title: API answers with the token
    tier: critical
    check:
      kind: http
      url: "{{env.url}}/api"
      headers: { authorization: "Bearer \${API_TOKEN}", x-twice: "\${API_TOKEN}:\${API_TOKEN}" }
  - id: DB-01
    title: Database reachable
    tier: high
    check:
      kind: command
      run: { sh: 'psql "\${DATABASE_URL}" -c "select 1"' }
`;

test('config: secretRefs lists every ${VAR} of the file where it is written, scripts and environments included', () => {
  const { secretRefs } = parseConfig(SECRETS, 'gonogo.yaml');
  assert.deepEqual(secretRefs, [
    { name: 'STAGING_TOKEN', file: 'gonogo.yaml', path: 'environments.staging.token', line: 3, column: 50 },
    { name: 'ALICE_PASSWORD', file: 'gonogo.yaml', path: 'auth.users.alice.password', line: 7, column: 42 },
    { name: 'API_TOKEN', file: 'gonogo.yaml', path: 'items.0.check.headers.authorization', line: 15, column: 41 },
    { name: 'API_TOKEN', file: 'gonogo.yaml', path: 'items.0.check.headers.x-twice', line: 15, column: 66 },
    { name: 'API_TOKEN', file: 'gonogo.yaml', path: 'items.0.check.headers.x-twice', line: 15, column: 79 },
    { name: 'DATABASE_URL', file: 'gonogo.yaml', path: 'items.1.check.run.sh', line: 21, column: 25 },
  ]);
  for (const r of secretRefs) assert.equal(SECRETS.split('\n')[r.line - 1].slice(r.column - 1).indexOf(`\${${r.name}}`), 0, `${r.name} is at ${r.line}:${r.column}`);
});

test('config: checkSecretValues refuses, where referenced, a set secret shorter than 4 characters', () => {
  const loaded = parseConfig(SECRETS, 'gonogo.yaml');
  const env = { STAGING_TOKEN: 'abc', ALICE_PASSWORD: 'correct horse', API_TOKEN: 'x', DATABASE_URL: undefined };
  assert.deepEqual(checkSecretValues(loaded, env).map(formatProblem), [
    'gonogo.yaml:3:50: environments.staging.token: environment variable STAGING_TOKEN is 3 characters long, shorter than 4: too short to redact safely',
    'gonogo.yaml:15:41: items.0.check.headers.authorization: environment variable API_TOKEN is 1 character long, shorter than 4: too short to redact safely',
    'gonogo.yaml:15:66: items.0.check.headers.x-twice: environment variable API_TOKEN is 1 character long, shorter than 4: too short to redact safely',
    'gonogo.yaml:15:79: items.0.check.headers.x-twice: environment variable API_TOKEN is 1 character long, shorter than 4: too short to redact safely',
  ]);
  assert.deepEqual(checkSecretValues(loaded, { STAGING_TOKEN: 'abcd', API_TOKEN: '' }), [], 'unset and empty variables are reported where they are used, not here');
});
