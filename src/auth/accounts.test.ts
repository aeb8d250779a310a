// The dashboard's accounts against both stores (a SQLite file and the PostgreSQL test cluster): what
// verifies and what does not, that the newest event of a name wins, that every refusal records
// nothing, and that neither a password nor a token reaches any row of any table (or the SQLite
// file's bytes) in any encoding. Hashing cost is checked by counting scrypt calls, never by timing.
import { after, before, describe, it, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { verifyChain } from '../store/audit.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { fakeClock } from '../test-support/clock.js';
import { postgresBinDir, requirePostgres, startCluster } from '../test-support/postgres.js';
import type { PgCluster } from '../test-support/postgres.js';
import {
  ACCOUNT_SCOPE,
  AccountError,
  addUser,
  createToken,
  disableUser,
  hashPassword,
  listTokens,
  listUsers,
  PASSWORD_MIN_LENGTH,
  revokeToken,
  verifyPassword,
  verifyToken,
} from './accounts.js';

const GATE = 'recipes';
const ROLES = { 'release-manager': ['decision', 'waive', 'revoke'], qa: ['item', 'stage'], viewer: [] };
const ALICE_PASSWORD = 'correct horse battery staple';
const ALICE_NEW_PASSWORD = 'Tr0ub4dor&3-but-longer ünïcødé';
const BOB_PASSWORD = 'p@ss w0rd/+=?&x"\\<tag>';

/** A store the test can open, and read every row of every table of, as an auditor (or a thief) would. */
interface Backend {
  name: string;
  open(): Promise<{ store: Store; dump(): Promise<Array<[string, string]>>; cleanup(): void }>;
}

const sqlite: Backend = {
  name: 'SQLite',
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'gonogo-accounts-'));
    const file = join(dir, 'gonogo.db');
    const store = await openStore(file);
    return {
      store,
      async dump() {
        const out: Array<[string, string]> = [];
        const db = new Database(file, { readonly: true });
        try {
          const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all();
          for (const { name } of tables) out.push([`table ${name}`, JSON.stringify(db.prepare(`SELECT * FROM "${name}"`).all())]);
        } finally {
          db.close();
        }
        for (const f of ['gonogo.db', 'gonogo.db-wal']) if (existsSync(join(dir, f))) out.push([`file ${f}`, readFileSync(join(dir, f)).toString('latin1')]);
        return out;
      },
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  },
};

let cluster: PgCluster | undefined;
const postgres: Backend = {
  name: 'PostgreSQL',
  async open() {
    cluster ??= await startCluster();
    const url = await cluster.createStore();
    const store = await openStore(url);
    return {
      store,
      async dump() {
        const { default: pg } = await import('pg');
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          const tables = await client.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'");
          assert.ok(tables.rows.length > 0, 'the store has tables in its schema');
          const out: Array<[string, string]> = [];
          for (const { table_name } of tables.rows) out.push([`table ${table_name}`, JSON.stringify((await client.query(`SELECT * FROM ${pg.escapeIdentifier(table_name)}`)).rows)]);
          return out;
        } finally {
          await client.end();
        }
      },
      cleanup: () => undefined,
    };
  },
};
after(() => cluster?.stop());

/** Every form a secret could be stored in, written independently of the code under test. */
function forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  return [...new Set([secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret), bytes.toString('base64'), bytes.toString('base64url'), bytes.toString('hex')])];
}

function leaks(rows: Array<[string, string]>, secrets: Record<string, string>): string[] {
  const found: string[] = [];
  for (const [where, text] of rows) {
    for (const [name, secret] of Object.entries(secrets)) for (const f of forms(secret)) if (text.includes(f)) found.push(`${where}: ${name} as ${JSON.stringify(f)}`);
  }
  return found;
}

const accountEvents = (store: Store) => store.listEvents({ gate: GATE, kinds: ['account', 'token'] });

/** Counts node:crypto's scrypt calls made by `fn` (the ESM named export is re-synced so the module under test sees the spy). */
async function countScrypt<T>(fn: () => Promise<T>): Promise<{ value: T; calls: number }> {
  const spy = mock.method(crypto, 'scrypt');
  syncBuiltinESMExports();
  try {
    const value = await fn();
    return { value, calls: spy.mock.callCount() };
  } finally {
    spy.mock.restore();
    syncBuiltinESMExports();
  }
}

function suite(backend: Backend): void {
  describe(`accounts (${backend.name})`, () => {
    let store: Store;
    let dump: () => Promise<Array<[string, string]>>;
    let cleanup = (): void => undefined;
    const clock = fakeClock(Date.parse('2026-03-01T09:00:00Z'));
    before(async () => {
      ({ store, dump, cleanup } = await backend.open());
    });
    after(async () => {
      await store?.close();
      cleanup();
    });

    it('stores a password only as its scrypt hash, salted afresh each time', async () => {
      const added = await addUser(store, clock, { gate: GATE, name: 'alice', role: 'release-manager', password: ALICE_PASSWORD, roles: ROLES, by: 'admin' });
      assert.deepEqual(added, { name: 'alice', role: 'release-manager', disabled: false, createdAt: '2026-03-01T09:00:00.000Z', updatedAt: '2026-03-01T09:00:00.000Z', by: 'admin' });
      const [event] = await accountEvents(store);
      assert.equal(event.kind, 'account');
      assert.equal(event.env, ACCOUNT_SCOPE.env);
      assert.equal(event.release, ACCOUNT_SCOPE.release);
      const hash = String(event.data.hash);
      assert.match(hash, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
      assert.notEqual(hash, ALICE_PASSWORD);
      for (const f of forms(ALICE_PASSWORD)) assert.ok(!hash.includes(f), `the hash does not contain the password as ${f}`);
      assert.notEqual(await hashPassword(ALICE_PASSWORD), await hashPassword(ALICE_PASSWORD), 'two hashes of one password differ (random salt)');
    });

    it('verifies the right password and answers undefined, after one scrypt each, to a wrong one or an unknown name', async () => {
      const right = await countScrypt(() => verifyPassword(store, { gate: GATE, name: 'alice', password: ALICE_PASSWORD }));
      assert.deepEqual(right.value, { name: 'alice', role: 'release-manager', kind: 'person' });
      const wrong = await countScrypt(() => verifyPassword(store, { gate: GATE, name: 'alice', password: `${ALICE_PASSWORD}!` }));
      const unknown = await countScrypt(() => verifyPassword(store, { gate: GATE, name: 'mallory', password: ALICE_PASSWORD }));
      assert.equal(wrong.value, undefined);
      assert.equal(unknown.value, undefined);
      assert.deepEqual([right.calls, wrong.calls, unknown.calls], [1, 1, 1], 'the same work whether the name exists or not');
      assert.equal(await verifyPassword(store, { gate: GATE, name: 'alice', password: '' }), undefined);
      assert.equal(await verifyPassword(store, { gate: GATE, name: 'Alice', password: ALICE_PASSWORD }), undefined, 'names are exact');
      assert.equal(await verifyPassword(store, { gate: 'another-gate', name: 'alice', password: ALICE_PASSWORD }), undefined, 'accounts belong to their gate');
    });

    it('refuses a short password, an undefined role, a name that is not plain, and a person people: does not list in that role; none recorded', async () => {
      const before = (await accountEvents(store)).length;
      const refused = async (req: Partial<Parameters<typeof addUser>[2]>, message: RegExp): Promise<void> => {
        await assert.rejects(addUser(store, clock, { gate: GATE, name: 'carol', role: 'qa', password: 'a long enough password', roles: ROLES, ...req }), (err: unknown) => err instanceof AccountError && message.test(err.message));
      };
      await refused({ password: 'x'.repeat(PASSWORD_MIN_LENGTH - 1) }, /at least 12 characters \(this one has 11\)/);
      await refused({ password: '' }, /at least 12/);
      await refused({ role: 'admin' }, /role "admin" is not defined in roles: \(defined: release-manager, qa, viewer\)/);
      await refused({ role: 'toString' }, /role "toString" is not defined/);
      await refused({ name: 'carol smith' }, /account name is 1 to 64/);
      await refused({ name: '../carol' }, /account name/);
      await refused({ name: '' }, /account name/);
      await refused({ people: { alice: { roles: ['qa'] } } }, /carol is not listed in people:/);
      await refused({ people: { carol: { roles: ['viewer'] } } }, /carol does not hold the role qa \(people: lists viewer\)/);
      assert.equal((await accountEvents(store)).length, before);
      // Twelve characters, counted as characters (not UTF-16 units or bytes), is enough.
      await addUser(store, clock, { gate: GATE, name: 'carol', role: 'qa', password: 'ünïcødé-12ch', roles: ROLES, people: { carol: { roles: ['qa'] } } });
      assert.deepEqual(await verifyPassword(store, { gate: GATE, name: 'carol', password: 'ünïcødé-12ch' }), { name: 'carol', role: 'qa', kind: 'person' });
    });

    it('the newest event of a name wins: adding again changes the password and the role', async () => {
      await clock.advance(60_000);
      await addUser(store, clock, { gate: GATE, name: 'alice', role: 'qa', password: ALICE_NEW_PASSWORD, roles: ROLES, by: 'admin' });
      assert.equal(await verifyPassword(store, { gate: GATE, name: 'alice', password: ALICE_PASSWORD }), undefined, 'the old password no longer works');
      assert.deepEqual(await verifyPassword(store, { gate: GATE, name: 'alice', password: ALICE_NEW_PASSWORD }), { name: 'alice', role: 'qa', kind: 'person' });
      const alice = (await listUsers(store, GATE)).filter((u) => u.name === 'alice');
      assert.deepEqual(alice, [{ name: 'alice', role: 'qa', disabled: false, createdAt: '2026-03-01T09:00:00.000Z', updatedAt: '2026-03-01T09:01:00.000Z', by: 'admin' }]);
    });

    it('a disabled person cannot sign in (still one scrypt), until added again', async () => {
      await addUser(store, clock, { gate: GATE, name: 'bob', role: 'viewer', password: BOB_PASSWORD, roles: ROLES });
      assert.deepEqual(await verifyPassword(store, { gate: GATE, name: 'bob', password: BOB_PASSWORD }), { name: 'bob', role: 'viewer', kind: 'person' });
      await clock.advance(1000);
      await disableUser(store, clock, { gate: GATE, name: 'bob', by: 'alice' });
      const disabled = await countScrypt(() => verifyPassword(store, { gate: GATE, name: 'bob', password: BOB_PASSWORD }));
      assert.equal(disabled.value, undefined);
      assert.equal(disabled.calls, 1);
      assert.deepEqual((await listUsers(store, GATE)).find((u) => u.name === 'bob'), { name: 'bob', role: 'viewer', disabled: true, createdAt: '2026-03-01T09:01:00.000Z', updatedAt: '2026-03-01T09:01:01.000Z', by: 'alice' });
      await assert.rejects(disableUser(store, clock, { gate: GATE, name: 'bob' }), /already disabled/);
      await assert.rejects(disableUser(store, clock, { gate: GATE, name: 'nobody' }), /no account "nobody" in gate recipes/);
      await addUser(store, clock, { gate: GATE, name: 'bob', role: 'viewer', password: BOB_PASSWORD, roles: ROLES });
      assert.ok(await verifyPassword(store, { gate: GATE, name: 'bob', password: BOB_PASSWORD }), 'enabled again');
      await disableUser(store, clock, { gate: GATE, name: 'bob' });
    });

    it('fails closed on an account event it cannot read: that person cannot sign in', async () => {
      await addUser(store, clock, { gate: GATE, name: 'dave', role: 'qa', password: 'dave-has-a-long-password', roles: ROLES });
      await store.addEvent({ gate: GATE, ...ACCOUNT_SCOPE, kind: 'account', at: new Date(clock.now()).toISOString(), data: { action: 'add', name: 'dave', role: 'qa' } });
      assert.equal(await verifyPassword(store, { gate: GATE, name: 'dave', password: 'dave-has-a-long-password' }), undefined);
      assert.equal((await listUsers(store, GATE)).find((u) => u.name === 'dave')?.disabled, true);
      // A hash naming a cost too high to run is refused, not run.
      await store.addEvent({ gate: GATE, ...ACCOUNT_SCOPE, kind: 'account', at: new Date(clock.now()).toISOString(), data: { action: 'add', name: 'erin', role: 'qa', hash: `scrypt$${2 ** 24}$8$1$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}` } });
      assert.equal(await verifyPassword(store, { gate: GATE, name: 'erin', password: 'erin-has-a-long-password' }), undefined);
    });

    let ciToken = '';
    let ciId = '';
    it('a token is shown once, verifies, and is listed without its hash', async () => {
      await assert.rejects(createToken(store, clock, { gate: GATE, name: 'ci-deploy', role: 'operator', roles: ROLES }), /role "operator" is not defined/);
      await assert.rejects(createToken(store, clock, { gate: GATE, name: 'ci deploy', role: 'viewer', roles: ROLES }), /account name/);
      const created = await createToken(store, clock, { gate: GATE, name: 'ci-deploy', role: 'release-manager', roles: ROLES, by: 'alice' });
      ciToken = created.token;
      ciId = created.id;
      assert.match(created.token, /^gng_[A-Za-z0-9_-]{43}$/);
      assert.match(created.id, /^[0-9a-f]{12}$/);
      assert.deepEqual(await verifyToken(store, { gate: GATE, token: created.token }), { id: created.id, name: 'ci-deploy', role: 'release-manager', kind: 'token' });
      const other = await createToken(store, clock, { gate: GATE, name: 'argo', role: 'viewer', roles: ROLES });
      assert.notEqual(other.token, created.token);
      assert.deepEqual(await verifyToken(store, { gate: GATE, token: other.token }), { id: other.id, name: 'argo', role: 'viewer', kind: 'token' });
      const listed = await listTokens(store, GATE);
      assert.deepEqual(listed, [
        { id: created.id, name: 'ci-deploy', role: 'release-manager', createdAt: new Date(clock.now()).toISOString(), createdBy: 'alice' },
        { id: other.id, name: 'argo', role: 'viewer', createdAt: new Date(clock.now()).toISOString() },
      ]);
      const stored = (await accountEvents(store)).find((e) => e.kind === 'token' && e.data.id === created.id);
      assert.equal(stored?.data.sha256, crypto.createHash('sha256').update(created.token).digest('hex'), 'only the SHA-256 is kept');
      assert.ok(!JSON.stringify(listed).includes(String(stored?.data.sha256)), 'the list never shows a hash');
    });

    it('a wrong, altered, foreign or malformed token does not verify', async () => {
      const flipped = `${ciToken.slice(0, -1)}${ciToken.endsWith('A') ? 'B' : 'A'}`;
      for (const token of [flipped, ciToken.slice(4), `${ciToken} `, '', 'gng_', 'Bearer x'.repeat(3)]) assert.equal(await verifyToken(store, { gate: GATE, token }), undefined, JSON.stringify(token));
      assert.equal(await verifyToken(store, { gate: 'another-gate', token: ciToken }), undefined, 'tokens belong to their gate');
    });

    it('a revoked token does not verify, and is listed as revoked', async () => {
      await clock.advance(5000);
      await revokeToken(store, clock, { gate: GATE, id: ciId, by: 'alice' });
      assert.equal(await verifyToken(store, { gate: GATE, token: ciToken }), undefined);
      assert.deepEqual((await listTokens(store, GATE)).find((t) => t.id === ciId), { id: ciId, name: 'ci-deploy', role: 'release-manager', createdAt: new Date(clock.now() - 5000).toISOString(), createdBy: 'alice', revokedAt: new Date(clock.now()).toISOString(), revokedBy: 'alice' });
      await assert.rejects(revokeToken(store, clock, { gate: GATE, id: ciId }), /already revoked/);
      await assert.rejects(revokeToken(store, clock, { gate: GATE, id: 'feedfacecafe' }), /no token "feedfacecafe"/);
    });

    it('no password and no token is in any row of any table, in any encoding; the audit chain holds every change', async () => {
      const rows = await dump();
      assert.ok(rows.some(([, text]) => text.includes('scrypt$')), 'the dump reaches the event log');
      const secrets: Record<string, string> = { ALICE_PASSWORD, ALICE_NEW_PASSWORD, BOB_PASSWORD, carol: 'ünïcødé-12ch', dave: 'dave-has-a-long-password', token: ciToken, tokenBody: ciToken.slice(4) };
      assert.deepEqual(leaks(rows, secrets), []);
      const chain = await verifyChain(store, GATE);
      assert.equal(chain.intact, true, chain.problem?.message);
      assert.equal(chain.entries, (await accountEvents(store)).length, 'every account and token event is an audit entry');
    });
  });
}

suite(sqlite);
if (postgresBinDir() === undefined) {
  test('accounts (PostgreSQL)', (t) => {
    requirePostgres(t);
  });
} else suite(postgres);
