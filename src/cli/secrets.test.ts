// No secret leaves its place: ten secrets, echoed back by a hostile target in every encoding it
// can take, must appear on no surface gonogo writes: stdout and stderr in every format, --out
// files, the GitHub step summary, the store's rows and bytes, and the later status, history and
// report. The target and the store are real; the CLI runs in-process.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { serve, readBody } from '../test-support/server.js';
import type { TestServer } from '../test-support/server.js';
import { runCli } from '../test-support/cli.js';

const SECRETS = [
  'hunter2-password',
  'p@ss w0rd/+=?&x',
  'quote"back\\slash',
  'ünïcødé-sécret',
  'tok_5f3a9c0e1b2d',
  'a%2Fb%20c-d',
  "it's<tag>&amp;",
  'longsecret'.repeat(5),
  'spaces in the middle',
  'sk-Zm9vYmFyYmF6',
];
const ENV = Object.fromEntries(SECRETS.map((s, i) => [`S${i}`, s]));

/** Every form of a secret a leak could take, written independently of the redactor under test. */
function forms(secret: string): string[] {
  const all = [
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
    JSON.stringify(secret).slice(1, -1),
    Buffer.from(secret).toString('base64'),
    Buffer.from(`alice:${secret}`).toString('base64'),
    Buffer.from(`bob:${secret}`).toString('base64url'),
  ];
  return [...new Set(all)];
}

function leaks(surface: string, text: string): string[] {
  const found: string[] = [];
  SECRETS.forEach((secret, i) => {
    for (const f of forms(secret)) if (text.includes(f)) found.push(`${surface}: S${i} as ${JSON.stringify(f)}`);
  });
  return found;
}

let server: TestServer;
const received: string[] = [];

before(async () => {
  // The hostile target: echoes what it was sent, in every encoding a secret can take.
  server = await serve(async (req, res) => {
    const body = await readBody(req);
    const token = String(req.headers['x-token'] ?? '');
    received.push(`${req.url ?? ''} ${token} ${body}`);
    let parsed: { s?: string } = {};
    try {
      parsed = JSON.parse(body);
    } catch {
      // not JSON
    }
    const s = parsed.s ?? token;
    const echo = {
      raw: s,
      url: req.url,
      uri: encodeURIComponent(s),
      basic: Buffer.from(`alice:${s}`).toString('base64'),
      basicUrl: Buffer.from(`bob:${s}`).toString('base64url'),
      b64: Buffer.from(s).toString('base64'),
      json: JSON.stringify({ s }),
    };
    res.writeHead(500, { 'content-type': 'application/json', 'x-echo': encodeURIComponent(s), 'x-basic': `Basic ${echo.basic}` }).end(JSON.stringify(echo));
  });
});
after(() => server.close());

function workspace(): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-secrets-'));
  const items = SECRETS.map(
    (_, i) => `  - id: ECHO-${i}
    title: echo ${i}
    tier: high
    check:
      kind: http
      method: POST
      url: "{{env.url}}/echo/${i}?q=\${S${i}}"
      headers: { x-token: "tok-\${S${i}}" }
      json: { s: "\${S${i}}" }
      retries: 1
      backoff: 1ms
      expect: ['text contains "never"', 'body.raw == "never"', 'headers["x-basic"] == "never"']
`,
  );
  const command = `  - id: CMD-1
    title: a script that prints its secrets
    tier: critical
    check:
      kind: command
      run: { sh: 'printf "%s|%s|%s" "$S0" "$S3" "$S7"; exit 3' }
      expect: ['stdout contains "never"']
`;
  const config = join(dir, 'gonogo.yaml');
  writeFileSync(
    config,
    `version: 1
name: secrets
roles: { lead: ['*'] }
environments:
  staging: { url: ${server.url} }
items:
${items.join('')}${command}`,
  );
  return { dir, config };
}

test('secrets: 10 secrets x every output surface, 0 leaks', async () => {
  const w = workspace();
  const summary = join(w.dir, 'summary.md');
  const env = { ...process.env, ...ENV, CI: '1', GITHUB_STEP_SUMMARY: summary };
  const c = ['--config', w.config];
  const outputs: [string, string][] = [];
  const run = async (name: string, args: string[]): Promise<number> => {
    const r = await runCli([...c, ...args], env);
    outputs.push([`${name} stdout`, r.stdout], [`${name} stderr`, r.stderr]);
    return r.code;
  };
  assert.equal(await run('check text', ['check']), 1);
  assert.equal(await run('check json', ['check', '--format', 'json']), 1);
  assert.equal(await run('check junit', ['check', '--format', 'junit', '--out', join(w.dir, 'out', 'junit.xml')]), 1);
  assert.equal(await run('check markdown', ['check', '--format', 'markdown', '--out', join(w.dir, 'out', 'run.md')]), 1);
  assert.equal(await run('validate-less status', ['status']), 1, 'status exits with the NO-GO state');
  await run('status json', ['status', '--format', 'json']);
  await run('history', ['history', '--format', 'json']);
  await run('report', ['report']);
  await run('report json', ['report', '--format', 'json']);
  // Free text a person types is stored redacted too: a waiver's mitigation and owner, a note, a reason.
  assert.equal(await run('waive', ['waive', 'ECHO-0', '--as', 'alice', '--role', 'lead', '--mitigation', `rotated ${SECRETS[1]}`, '--owner', `ops ${SECRETS[2]}`, '--expires', '2099-01-01']), 0);
  await run('signoff', ['signoff', '--decision', '--as', 'bob', '--role', 'lead', '--note', `checked with ${SECRETS[4]}`]);
  const listed = await runCli([...c, 'status', '--format', 'json'], env);
  const waiverId = (JSON.parse(listed.stdout) as { attestations: { id: string; kind: string }[] }).attestations.find((v) => v.kind === 'waiver')?.id;
  assert.ok(waiverId, 'the waiver is listed');
  assert.equal(await run('revoke', ['revoke', waiverId, '--as', 'carol', '--role', 'lead', '--reason', `leaked ${SECRETS[9]}`]), 0);
  for (const f of readdirSync(join(w.dir, 'out'))) outputs.push([`--out ${f}`, readFileSync(join(w.dir, 'out', f), 'utf8')]);
  outputs.push(['step summary', readFileSync(summary, 'utf8')]);

  // The store: every column of every row, and the raw bytes of the database and its WAL.
  const db = new Database(join(w.dir, '.gonogo', 'gonogo.db'), { readonly: true });
  const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all();
  for (const { name } of tables) outputs.push([`store ${name}`, JSON.stringify(db.prepare(`SELECT * FROM "${name}"`).all())]);
  db.close();
  for (const f of ['gonogo.db', 'gonogo.db-wal']) {
    const p = join(w.dir, '.gonogo', f);
    if (existsSync(p)) outputs.push([`store file ${f}`, readFileSync(p).toString('utf8')]);
  }

  // The test is only worth something if the secrets really went out and came back.
  assert.ok(received.some((r) => r.includes('hunter2-password')), 'the target received the secrets');
  const retried = outputs.find(([n]) => n === 'check text stderr')?.[1] ?? '';
  assert.match(retried, /↻ ECHO-0 attempt 1 failed/, 'the retry progress line was printed');
  assert.match(outputs.find(([n]) => n === 'check json stdout')?.[1] ?? '', /\*\*\*/, 'redaction happened where the echo was');
  assert.match(outputs.find(([n]) => n === 'check json stdout')?.[1] ?? '', /\*\*\*\|\*\*\*\|\*\*\*/, "the script printed its secrets (from the run's environment) and they were redacted");

  const found = outputs.flatMap(([name, text]) => leaks(name, text));
  assert.deepEqual(found, []);
});

test('secrets: a command-line --url is literal: ${VAR} in it is never expanded', async () => {
  const w = workspace();
  const before = received.length;
  const r = await runCli(['--config', w.config, 'check', '--only', 'ECHO-0', '--url', `${server.url}/?leak=\${RUNNER_TOKEN}`], { ...process.env, ...ENV, RUNNER_TOKEN: 'runner-token-value', CI: '1' });
  // A lone high item cannot block (floor(0.9 x 1) = 0 high items needed): what matters is what was sent.
  assert.notEqual(r.code, 2, r.stderr);
  const sent = received.slice(before);
  assert.ok(sent.length > 0, 'the check reached the target');
  assert.ok(sent.every((x) => !x.includes('runner-token-value')), `the runner's token was sent: ${sent.join('\n')}`);
  assert.ok(sent.some((x) => x.includes('leak=${RUNNER_TOKEN}') || x.includes('leak=$%7BRUNNER_TOKEN%7D')), `the literal text was sent: ${sent.join('\n')}`);
});

test('secrets: a referenced secret shorter than 4 characters is refused at load with its position, exit 2', async () => {
  const w = workspace();
  const r = await runCli(['--config', w.config, 'check'], { ...process.env, ...ENV, S4: 'abc', CI: '1' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /gonogo\.yaml:\d+:\d+: .*S4.*too short to redact safely/);
  assert.doesNotMatch(r.stderr, /abc/);
});

test('shell injection: --url reaches a sh script only as $GONOGO_URL, never as script text', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-inject-'));
  const config = join(dir, 'gonogo.yaml');
  writeFileSync(
    config,
    `version: 1
environments:
  staging: { url: ${server.url} }
items:
  - id: SH-1
    title: the script sees the URL as data
    tier: critical
    check: { kind: command, run: { sh: 'printf "%s" "$GONOGO_URL"' }, expect: ['stdout == "http://127.0.0.1:3000/;touch PWNED;#"'] }
`,
  );
  const r = await runCli(['--config', config, 'check', '--url', 'http://127.0.0.1:3000/;touch PWNED;#']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(existsSync(join(dir, 'PWNED')), false);

  writeFileSync(config, readFileSync(config, 'utf8').replace(`'printf "%s" "$GONOGO_URL"'`, `'curl {{env.url}}/health'`));
  const refused = await runCli(['--config', config, 'check']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /gonogo\.yaml:8:\d+: .*run\.sh.*\$GONOGO_URL/);
});
