import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import envKind from './index.js';
import { testContext } from '../../test-support/context.js';

// Each test file runs in its own process, so setting process.env here touches no other suite.
function setEnv(t: { after: (fn: () => void) => void }, vars: Record<string, string>): void {
  for (const [name, value] of Object.entries(vars)) {
    process.env[name] = value;
    t.after(() => delete process.env[name]);
  }
}

function configDir(t: { after: (fn: () => void) => void }, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-env-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

test('placeholders are recognised; real values are not mistaken for them', async (t) => {
  const placeholders: Record<string, string> = {
    GONOGO_T_EMPTY: '',
    GONOGO_T_BLANK: '   ',
    GONOGO_T_CHANGEME: 'changeme',
    GONOGO_T_CHANGE_ME: 'CHANGE_ME',
    GONOGO_T_CHANGEME_INSIDE: 'postgres://app:change-me@db/app',
    GONOGO_T_TODO: 'TODO',
    GONOGO_T_XXX: 'xxxxxxxx',
    GONOGO_T_YOUR: 'your-api-key-here',
    GONOGO_T_ANGLE: '<stripe secret key>',
    GONOGO_T_UNEXPANDED: '${SESSION_SECRET}',
    GONOGO_T_UNDEFINED: 'undefined',
  };
  const real: Record<string, string> = {
    GONOGO_T_URL: 'https://exchange-metrics.example.com',
    GONOGO_T_PORT: '3000',
    GONOGO_T_SECRET: 'kq8-Zt2v-XX91-rr7Q',
    GONOGO_T_MODE: 'production',
    GONOGO_T_EXTRA: 'xx',
  };
  setEnv(t, { ...placeholders, ...real });
  const required = [...Object.keys(placeholders), ...Object.keys(real)];
  const { observations } = await envKind.run({ required }, testContext());
  assert.deepEqual(observations.placeholders, Object.keys(placeholders));
  assert.deepEqual(observations.missing, []);
  assert.deepEqual(observations.checked, required);
});

test('unset variables are missing', async (t) => {
  setEnv(t, { GONOGO_T_DATABASE_URL: 'postgres://db/app' });
  const { observations } = await envKind.run({ required: ['GONOGO_T_DATABASE_URL', 'GONOGO_T_NEVER_SET'] }, testContext());
  assert.deepEqual(observations.missing, ['GONOGO_T_NEVER_SET']);
  assert.deepEqual(observations.placeholders, []);
});

test('every key of the example file is required; its values are ignored', async (t) => {
  const dir = configDir(t, {
    '.env.example': [
      '# copy to .env and fill in',
      'export GONOGO_T_SESSION_SECRET=changeme',
      'GONOGO_T_SMTP_HOST="smtp.example.com" # default',
      'GONOGO_T_BARE_KEY',
      'GONOGO_T_STRIPE_KEY=',
      '',
    ].join('\n'),
  });
  setEnv(t, { GONOGO_T_SESSION_SECRET: 'a-real-secret-value', GONOGO_T_SMTP_HOST: 'smtp.example.com', GONOGO_T_BARE_KEY: 'set' });
  const { observations } = await envKind.run({ example: '.env.example', required: ['GONOGO_T_EXTRA_REQUIRED'] }, testContext({ configDir: dir }));
  // `required` in its order, then the example's keys sorted.
  assert.deepEqual(observations.checked, ['GONOGO_T_EXTRA_REQUIRED', 'GONOGO_T_BARE_KEY', 'GONOGO_T_SESSION_SECRET', 'GONOGO_T_SMTP_HOST', 'GONOGO_T_STRIPE_KEY']);
  assert.deepEqual(observations.missing, ['GONOGO_T_EXTRA_REQUIRED', 'GONOGO_T_STRIPE_KEY']);
  assert.deepEqual(observations.placeholders, []);
});

test('values come from the dotenv file too, and the process environment wins', async (t) => {
  const dir = configDir(t, {
    '.env': ['GONOGO_T_FROM_FILE=file-value-123', 'GONOGO_T_OVERRIDDEN=changeme', 'GONOGO_T_FILE_REAL=real-in-file', ''].join('\n'),
  });
  setEnv(t, { GONOGO_T_OVERRIDDEN: 'real-in-process', GONOGO_T_FILE_REAL: 'TODO' });
  const { observations, evidence } = await envKind.run(
    { required: ['GONOGO_T_FROM_FILE', 'GONOGO_T_OVERRIDDEN', 'GONOGO_T_FILE_REAL'], file: '.env' },
    testContext({ configDir: dir }),
  );
  assert.deepEqual(observations.missing, []);
  assert.deepEqual(observations.placeholders, ['GONOGO_T_FILE_REAL']);
  assert.deepEqual(Reflect.get(Object(evidence), 'sources'), {
    GONOGO_T_FROM_FILE: 'file',
    GONOGO_T_OVERRIDDEN: 'process',
    GONOGO_T_FILE_REAL: 'process',
  });
});

test('a missing dotenv file reads as empty (it can only add missing names); a missing example is an error', async (t) => {
  const dir = configDir(t, {});
  const { observations, evidence } = await envKind.run({ required: ['GONOGO_T_ONLY_IN_ABSENT_FILE'], file: '.env' }, testContext({ configDir: dir }));
  assert.deepEqual(observations.missing, ['GONOGO_T_ONLY_IN_ABSENT_FILE']);
  assert.equal(Reflect.get(Object(evidence), 'fileFound'), false);
  await assert.rejects(envKind.run({ example: '.env.example' }, testContext({ configDir: dir })), /cannot read example file .*\.env\.example: no such file/);
});

test('a FIFO, a folder or a device as `file:` or `example:` is an error at once, never a stall', async (t) => {
  const dir = configDir(t, {});
  const fifo = join(dir, 'env-pipe');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
  t.after(() => {
    // Should a reader be stuck on the FIFO (the defect this guards), give it end-of-file so the process can exit.
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // no reader: nothing is stuck
    }
  });
  const cases = [
    { options: { required: ['GONOGO_T_X'], file: 'env-pipe' }, error: /cannot read env file: .*env-pipe is a FIFO \(named pipe\), not a regular file: not read$/ },
    { options: { example: 'env-pipe' }, error: /cannot read example file: .*env-pipe is a FIFO \(named pipe\), not a regular file: not read$/ },
    { options: { required: ['GONOGO_T_X'], file: '.' }, error: /cannot read env file: .* is a directory, not a regular file/ },
    { options: { example: '/dev/zero' }, error: /cannot read example file: \/dev\/zero is a device, not a regular file/ },
  ];
  for (const c of cases) await assert.rejects(envKind.run(c.options, testContext({ configDir: dir })), c.error);
});

test('values never reach observations, evidence or errors', async (t) => {
  const secret = 'sk_live_51HxTopSecretValue';
  const dir = configDir(t, { '.env': `GONOGO_T_FILE_SECRET=${secret}-file\nGONOGO_T_FILE_PLACEHOLDER=<set me>\n` });
  setEnv(t, { GONOGO_T_PROCESS_SECRET: secret });
  const outcome = await envKind.run(
    { required: ['GONOGO_T_PROCESS_SECRET', 'GONOGO_T_FILE_SECRET', 'GONOGO_T_FILE_PLACEHOLDER', 'GONOGO_T_ABSENT'], file: '.env' },
    testContext({ configDir: dir }),
  );
  const text = JSON.stringify(outcome);
  assert.equal(text.includes(secret), false);
  assert.equal(text.includes('set me'), false);
  assert.deepEqual(outcome.observations.placeholders, ['GONOGO_T_FILE_PLACEHOLDER']);
});

test('custom placeholder patterns replace the defaults', async (t) => {
  setEnv(t, { GONOGO_T_STAGE_KEY: 'pk_test_123', GONOGO_T_EMPTY_OK: '' });
  const { observations } = await envKind.run(
    { required: ['GONOGO_T_STAGE_KEY', 'GONOGO_T_EMPTY_OK'], placeholders: ['^pk_test_'] },
    testContext(),
  );
  assert.deepEqual(observations.placeholders, ['GONOGO_T_STAGE_KEY']);
});

test('a catastrophic placeholder pattern is judged on a hostile value', async (t) => {
  setEnv(t, { GONOGO_T_HOSTILE: `${'a'.repeat(50_000)}!`, GONOGO_T_AAA: 'aaaa' });
  const { observations } = await envKind.run({ required: ['GONOGO_T_HOSTILE', 'GONOGO_T_AAA'], placeholders: ['^(a+)+$'] }, testContext());
  assert.deepEqual(observations.placeholders, ['GONOGO_T_AAA']);
});

test('options are validated at load; default expect', () => {
  assert.equal(envKind.options.safeParse({}).success, false, 'nothing to check');
  assert.equal(envKind.options.safeParse({ required: ['A'], placeholders: ['(unclosed'] }).success, false);
  // Placeholders run on the linear-time engine: what it cannot take is refused at load, saying why.
  const lookahead = envKind.options.safeParse({ required: ['A'], placeholders: ['^(?!real)'] });
  assert.match(lookahead.error?.issues[0]?.message ?? '', /^invalid regular expression: lookahead "\(\?!" is not supported.*, at character 2$/);
  assert.equal(envKind.options.safeParse({ example: '.env.example' }).success, true);
  assert.deepEqual(envKind.defaultExpect({ required: ['A'] }), ['len(missing) == 0 && len(placeholders) == 0']);
});
