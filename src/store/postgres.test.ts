// The PostgreSQL store against a throwaway cluster (test-support/postgres.ts): the same contract
// suites as SQLite, and what only a server has (connection faults, many processes on one database).
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { postgresBinDir, requirePostgres, startCluster } from '../test-support/postgres.js';
import type { PgCluster } from '../test-support/postgres.js';
import { auditContract } from './audit-contract.js';
import { newRun, rejectsAsStoreError, storeContract } from './contract.js';
import { openStore } from './index.js';
import { numbered, openPostgresStore, safeLocation } from './postgres.js';

if (postgresBinDir() === undefined) {
  test('PostgreSQL store', (t) => {
    requirePostgres(t);
  });
} else {
  let cluster: PgCluster | undefined;
  const started = (): Promise<PgCluster> => (cluster ? Promise.resolve(cluster) : startCluster().then((c) => (cluster = c)));
  before(async () => {
    await started();
  });
  after(() => cluster?.stop());

  storeContract('PostgreSQL', async () => {
    const url = await (await started()).createStore();
    return (options) => openPostgresStore(url, options);
  });

  auditContract('PostgreSQL', async () => {
    const url = await (await started()).createStore();
    return {
      open: (options) => openPostgresStore(url, options),
      async exec(sql) {
        const { default: pg } = await import('pg');
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(sql);
        } finally {
          await client.end();
        }
      },
    };
  });

  describe('PostgreSQL store', () => {
    it('opens through openStore with a postgres:// or postgresql:// URL, and migrates once', async () => {
      const url = await (await started()).createStore();
      const first = await openStore(url);
      const id = await first.beginRun(newRun({ startedAt: new Date().toISOString() }));
      await first.close();
      const again = await openStore(url.replace(/^postgres:/, 'postgresql:'));
      try {
        assert.deepEqual((await again.listRuns({})).map((r) => r.id), [id]);
      } finally {
        await again.close();
      }
    });

    it('reads a database without gonogo tables as an empty store when read-only, writing nothing', async () => {
      const url = await (await started()).createStore();
      const reader = await openPostgresStore(url, { readonly: true });
      try {
        assert.deepEqual(await reader.listRuns({}), []);
        assert.deepEqual(await reader.listAttestations('web'), []);
        await rejectsAsStoreError(reader.beginRun(newRun()), 'read-only', /opened read-only/);
      } finally {
        await reader.close();
      }
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = current_schema()");
        assert.equal(rows[0].n, 0);
      } finally {
        await client.end();
      }
    });

    it('refuses a missing database and a closed port with one line that hides the password', async () => {
      const c = await started();
      await rejectsAsStoreError(openPostgresStore(c.url('no_such_db').replace('gonogo@', 'gonogo:s3cret@')), 'unreachable', /could not open the store postgres:\/\/gonogo@127\.0\.0\.1:\d+\/no_such_db: .*does not exist/);
      // Port 1 on loopback: nothing listens there.
      await assert.rejects(openPostgresStore('postgres://gonogo:s3cret@127.0.0.1:1/x'), (error: Error) => {
        assert.match(error.message, /^could not open the store postgres:\/\/gonogo@127\.0\.0\.1:1\/x: connection refused/);
        assert.doesNotMatch(error.message, /s3cret|\n/);
        return true;
      });
    });

    it('refuses a wrong password as an authentication failure', async () => {
      const c = await started();
      const url = await c.createStore();
      const { default: pg } = await import('pg');
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        await admin.query("CREATE ROLE auditor LOGIN PASSWORD 'right'");
        // Trust lets everyone in; a role that must not log in shows the server's refusal just as well.
        await admin.query('CREATE ROLE nologin_user NOLOGIN');
      } finally {
        await admin.end();
      }
      await rejectsAsStoreError(openPostgresStore(url.replace('gonogo@', 'nologin_user:wrong@')), 'auth', /not permitted to log in/);
    });
  });
}

test('numbered placeholders and a shown URL without its password', () => {
  assert.equal(numbered('SELECT ? , ?, ?'), 'SELECT $1 , $2, $3');
  assert.equal(safeLocation('postgres://ana:pw@db.example:5432/gonogo'), 'postgres://ana@db.example:5432/gonogo');
  assert.equal(safeLocation('postgresql://db.example/gonogo'), 'postgresql://db.example/gonogo');
});
