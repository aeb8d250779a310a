// `gonogo user ...` and `gonogo token ...` in-process on a real SQLite store (the password through
// $GONOGO_NEW_PASSWORD, as CI passes it), checked against the library that verifies them; then the
// two other ways a password arrives, in a real process: piped on stdin, and typed at a terminal
// (a pseudo-terminal from util-linux `script`), where it must not be echoed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyPassword, verifyToken } from '../auth/accounts.js';
import type { Account } from '../auth/accounts.js';
import { loadConfig } from '../config/load.js';
import { AuthorityError, giveSignoff } from '../engine/attest.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { runCli } from '../test-support/cli.js';
import type { CliRun } from '../test-support/cli.js';
import { fakeClock } from '../test-support/clock.js';

const CONFIG = `version: 1
name: recipes
environments:
  staging: { url: http://127.0.0.1:9 }
roles:
  release-manager: [decision, waive, revoke, item]
  qa: [item]
people:
  alice: [release-manager]
  quinn: [qa]
items:
  - { id: M-1, title: Restore drill done, tier: critical, manual: true }
`;
const ALICE = 'correct horse battery staple';
const QUINN = 'quinn: p@ss w0rd/+=?&x ünï';

function workspace(): { dir: string; config: string; db: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-accounts-cli-'));
  writeFileSync(join(dir, 'gonogo.yaml'), CONFIG);
  return { dir, config: join(dir, 'gonogo.yaml'), db: join(dir, '.gonogo', 'gonogo.db') };
}

describe('gonogo user and gonogo token', () => {
  const w = workspace();
  const clock = fakeClock(Date.parse('2026-03-01T09:00:00Z'));
  const runs: CliRun[] = [];
  const gonogo = async (args: string[], password?: string): Promise<CliRun> => {
    const env: Record<string, string | undefined> = { ...process.env, CI: '1', GONOGO_NEW_PASSWORD: password };
    const r = await runCli(['--config', w.config, '--release', 'r1', ...args], env, clock);
    runs.push(r);
    return r;
  };
  /** The store as the dashboard reads it, opened per check (nothing cached across a revocation). */
  const withStore = async <T>(fn: (store: Store) => Promise<T>): Promise<T> => {
    const store = await openStore(w.db);
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  };
  const signIn = (name: string, password: string): Promise<Account | undefined> => withStore((s) => verifyPassword(s, { gate: 'recipes', name, password }));
  after(() => rmSync(w.dir, { recursive: true, force: true }));

  it('user add takes the password from GONOGO_NEW_PASSWORD, and the person can sign in with it', async () => {
    const r = await gonogo(['user', 'add', 'alice', '--role', 'release-manager'], ALICE);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'added alice as release-manager (gate recipes)\n');
    assert.deepEqual(await signIn('alice', ALICE), { name: 'alice', role: 'release-manager', kind: 'person' });
    assert.equal(await signIn('alice', 'correct horse battery stapler'), undefined);
    assert.equal((await gonogo(['user', 'add', 'quinn', '--role', 'qa'], QUINN)).code, 0);
  });

  it('refuses a role not in roles:, a person people: does not list in it, a short or missing password, and a password on the command line; exit 2, nothing recorded', async () => {
    const refused: Array<[string[], string | undefined, RegExp]> = [
      [['user', 'add', 'alice', '--role', 'admin'], ALICE, /^gonogo user add: role "admin" is not defined in roles: \(defined: release-manager, qa\); nothing was recorded\n$/],
      [['user', 'add', 'alice', '--role', 'qa'], ALICE, /alice does not hold the role qa \(people: lists release-manager\)/],
      [['user', 'add', 'bob', '--role', 'qa'], ALICE, /bob is not listed in people:/],
      [['user', 'add', 'alice', '--role', 'release-manager'], 'short-pw', /at least 12 characters \(this one has 8\)/],
      [['user', 'add', 'alice smith', '--role', 'release-manager'], ALICE, /account name is 1 to 64/],
      [['user', 'add', 'alice', '--role', 'release-manager', '--password', 'given on argv!'], undefined, /unknown option '--password'/],
      [['user', 'add', 'alice'], ALICE, /required option '--role <role>' not specified/],
      [['token', 'create', 'ci-deploy', '--role', 'operator'], undefined, /^gonogo token create: role "operator" is not defined in roles:/],
    ];
    for (const [args, password, message] of refused) {
      const r = await gonogo(args, password);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
    assert.deepEqual(await signIn('alice', ALICE), { name: 'alice', role: 'release-manager', kind: 'person' }, 'alice is unchanged');
    const listed = JSON.parse((await gonogo(['user', 'list', '--format', 'json'])).stdout) as { users: Array<{ name: string }> };
    assert.deepEqual(listed.users.map((u) => u.name), ['alice', 'quinn']);
  });

  it('a signed-in person signs as themself, under the authority rules unchanged', async () => {
    const loaded = await loadConfig(w.config);
    const quinn = await signIn('quinn', QUINN);
    assert.ok(quinn);
    await withStore(async (store) => {
      const ctx = { loaded, store, clock, release: { id: 'r1', source: 'option' as const }, processEnv: {} };
      const { attestation } = await giveSignoff(ctx, { target: { type: 'item', id: 'M-1' }, by: quinn.name, role: quinn.role });
      assert.deepEqual([attestation.by, attestation.role], ['quinn', 'qa']);
      // qa may not sign the decision: the rule that refuses a name typed on the CLI refuses the account too.
      await assert.rejects(giveSignoff(ctx, { target: { type: 'decision' }, by: quinn.name, role: quinn.role }), (err: unknown) => err instanceof AuthorityError && /role qa may not sign decision/.test(err.message));
    });
  });

  it('user list shows names, roles and state, never a hash; user disable stops the sign-in; user add enables again', async () => {
    const list = await gonogo(['user', 'list']);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^NAME +ROLE +STATE +SINCE +BY\nalice +release-manager +enabled +2026-03-01T09:00:00.000Z +cli:\S+\nquinn +qa +enabled/);
    await clock.advance(60_000);
    const disabled = await gonogo(['user', 'disable', 'alice']);
    assert.equal(disabled.code, 0, disabled.stderr);
    assert.equal(disabled.stdout, 'disabled alice (gate recipes): they can no longer sign in\n');
    assert.equal(await signIn('alice', ALICE), undefined);
    assert.match((await gonogo(['user', 'list'])).stdout, /\nalice +release-manager +disabled +2026-03-01T09:01:00.000Z/);
    const again = await gonogo(['user', 'disable', 'alice']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already disabled/);
    assert.match((await gonogo(['user', 'disable', 'nobody'])).stderr, /no account "nobody" in gate recipes/);
    const back = await gonogo(['user', 'add', 'alice', '--role', 'release-manager'], `${ALICE} 2`);
    assert.equal(back.stdout, 'alice: new password, role release-manager, enabled (gate recipes)\n');
    assert.equal(await signIn('alice', ALICE), undefined, 'the old password stays dead');
    assert.ok(await signIn('alice', `${ALICE} 2`));
  });

  let tokenId = '';
  let token = '';
  it('token create prints the token once on stdout; it verifies; token list shows it without it', async () => {
    const r = await gonogo(['token', 'create', 'ci-deploy', '--role', 'qa']);
    assert.equal(r.code, 0, r.stderr);
    const printed = /^(gng_[A-Za-z0-9_-]{43})\n$/.exec(r.stdout);
    assert.ok(printed, r.stdout);
    token = printed[1];
    const id = /^token ([0-9a-f]{12}) for ci-deploy as qa \(gate recipes\); shown once/.exec(r.stderr);
    assert.ok(id, r.stderr);
    tokenId = id[1];
    assert.deepEqual(await withStore((s) => verifyToken(s, { gate: 'recipes', token })), { id: tokenId, name: 'ci-deploy', role: 'qa', kind: 'token' });
    const list = await gonogo(['token', 'list']);
    assert.match(list.stdout, new RegExp(`^ID +NAME +ROLE +CREATED +REVOKED\\n${tokenId} +ci-deploy +qa +2026-03-01T09:01:00.000Z\\n$`));
    const json = JSON.parse((await gonogo(['token', 'list', '--format', 'json'])).stdout) as { gate: string; tokens: Array<Record<string, string>> };
    assert.equal(json.gate, 'recipes');
    const { createdBy, ...rest } = json.tokens[0] ?? {};
    assert.deepEqual([json.tokens.length, rest], [1, { id: tokenId, name: 'ci-deploy', role: 'qa', createdAt: '2026-03-01T09:01:00.000Z' }]);
    assert.match(createdBy ?? '', /^cli:\S+$/, 'who ran the command, for the record');
  });

  it('token revoke: the token no longer verifies, from the next request on', async () => {
    await clock.advance(1000);
    const r = await gonogo(['token', 'revoke', tokenId]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `revoked token ${tokenId} (gate recipes)\n`);
    assert.equal(await withStore((s) => verifyToken(s, { gate: 'recipes', token })), undefined);
    assert.match((await gonogo(['token', 'list'])).stdout, new RegExp(`\\n${tokenId} +ci-deploy +qa +2026-03-01T09:01:00.000Z +2026-03-01T09:01:01.000Z\\n$`));
    const again = await gonogo(['token', 'revoke', tokenId]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already revoked/);
    assert.match((await gonogo(['token', 'revoke', 'feedfacecafe'])).stderr, /no token "feedfacecafe"/);
  });

  it('no password is printed by any command, and the token only by the one that created it', async () => {
    const passwords = [ALICE, `${ALICE} 2`, QUINN, 'short-pw', 'given on argv!'];
    const creators = runs.filter((r) => r.stdout.startsWith('gng_'));
    assert.equal(creators.length, 1);
    for (const r of runs) {
      for (const p of passwords) assert.ok(!r.stdout.includes(p) && !r.stderr.includes(p), `a password in ${JSON.stringify(r.stdout + r.stderr)}`);
      if (r !== creators[0]) assert.ok(!r.stdout.includes(token.slice(4)) && !r.stderr.includes(token.slice(4)));
    }
  });

  it('help lists the commands and says where the password comes from', async () => {
    const help = await runCli(['--help']);
    assert.match(help.stdout, /\n {2}user /);
    assert.match(help.stdout, /\n {2}token /);
    const add = await runCli(['user', 'add', '--help']);
    assert.match(add.stdout.replace(/\s+/g, ' '), /\$GONOGO_NEW_PASSWORD, else from stdin when it is not a terminal, else prompted without echo \(never from the command line/);
  });
});

// The real entry point, for the two ways a password arrives that an in-process run cannot give.
describe('gonogo user add in a process', () => {
  const BIN = join(import.meta.dirname, 'bin.ts');
  const TSX = import.meta.resolve('tsx');
  const w = workspace();
  let env: Record<string, string | undefined>;
  before(() => {
    env = { ...process.env, CI: '1' };
    delete env.GONOGO_NEW_PASSWORD;
  });
  after(() => rmSync(w.dir, { recursive: true, force: true }));

  /** Runs `command`, bounded in time, writing each answer to its stdin once its prompt has been printed (typed ahead, a terminal would echo it before the program could turn echo off). */
  const run = (command: string, args: string[], answers: Array<[prompt: string, input: string]> | string): Promise<{ code: number | null; out: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(command, args, { cwd: w.dir, env, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 });
      let out = '';
      let answered = 0;
      const onOutput = (d: Buffer): void => {
        out += d.toString('utf8');
        if (typeof answers === 'string') return;
        let from = 0;
        for (let i = 0; i < answers.length; i++) {
          const at = out.indexOf(answers[i][0], from);
          if (at < 0) break;
          from = at + answers[i][0].length;
          if (i === answered) {
            child.stdin.write(answers[i][1]);
            answered++;
          }
        }
      };
      child.stdout.on('data', onOutput);
      child.stderr.on('data', onOutput);
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out }));
      if (typeof answers === 'string') child.stdin.end(answers);
    });
  const gonogo = [process.execPath, '--import', TSX, BIN, '--config', w.config, 'user', 'add'];

  it('reads the password piped on stdin (less its final line break)', async () => {
    const r = await run(gonogo[0], [...gonogo.slice(1), 'alice', '--role', 'release-manager'], `${ALICE}\n`);
    assert.equal(r.code, 0, r.out);
    assert.ok(!r.out.includes(ALICE));
    const store = await openStore(w.db);
    try {
      assert.ok(await verifyPassword(store, { gate: 'recipes', name: 'alice', password: ALICE }));
    } finally {
      await store.close();
    }
    const empty = await run(gonogo[0], [...gonogo.slice(1), 'quinn', '--role', 'qa'], '');
    assert.equal(empty.code, 2);
    assert.match(empty.out, /no password: type it at the prompt, pipe it on stdin or set GONOGO_NEW_PASSWORD/);
  });

  it('at a terminal, asks twice without echoing what is typed', async (t) => {
    if (spawnSync('script', ['--version']).status !== 0) {
      const message = 'util-linux script is not installed (apt-get install bsdutils): it gives the test a pseudo-terminal';
      if (process.env.GONOGO_REQUIRE_ALL === '1') throw new Error(message);
      t.skip(message);
      return;
    }
    const quote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;
    const command = [...gonogo, 'quinn', '--role', 'qa'].map(quote).join(' ');
    // `script` gives the command a pseudo-terminal and types our stdin into it; it prints what the terminal shows.
    const r = await run('script', ['-q', '-e', '-c', command, '/dev/null'], [['New password: ', `${QUINN}\r`], ['Repeat it: ', `${QUINN}\r`]]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /New password: /);
    assert.match(r.out, /Repeat it: /);
    assert.match(r.out, /added quinn as qa/);
    assert.ok(!r.out.includes(QUINN), `the password was echoed: ${JSON.stringify(r.out)}`);
    const store = await openStore(w.db);
    try {
      assert.ok(await verifyPassword(store, { gate: 'recipes', name: 'quinn', password: QUINN }));
    } finally {
      await store.close();
    }
  });
});
