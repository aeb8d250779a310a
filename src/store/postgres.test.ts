// The PostgreSQL store against a throwaway cluster (test-support/postgres.ts): the same contract
// suites as SQLite, and what only a server has (connection faults, many processes on one database).
import { after, before, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { postgresBinDir, requirePostgres, startCluster } from '../test-support/postgres.js';
import type { PgCluster } from '../test-support/postgres.js';
import { tamperablePostgres } from '../test-support/tamper.js';
import { auditContract } from './audit-contract.js';
import { eventContract, newEvent } from './event-contract.js';
import type { EventStorage } from './event-contract.js';
import { newRun, rejectsAsStoreError, storeContract, T0 } from './contract.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeClock } from '../test-support/clock.js';
import { verifyChain } from './audit.js';
import { copyStore } from './copy.js';
import { openStore } from './index.js';
import { EVENTS_VERSION } from './schema.js';
import { openSqliteStore } from './sqlite.js';
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

  /** A new store, and SQL run on it directly (a client of its own), as a forger would. */
  const tamperable = async (): Promise<EventStorage> => tamperablePostgres(await (await started()).createStore());
  auditContract('PostgreSQL', tamperable);
  eventContract('PostgreSQL', tamperable);

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

    it('reads a store from before the event log read-only as one without events; a read-write opener adds it', async () => {
      const s = await tamperable();
      const writer = await s.open({ clock: fakeClock(T0) });
      await writer.beginRun(newRun());
      await writer.close();
      await s.exec(`DROP TABLE events; DROP TABLE leases; UPDATE schema_version SET version = ${EVENTS_VERSION - 1}`);
      const reader = await s.open({ readonly: true, clock: fakeClock(T0) });
      try {
        assert.deepEqual(await reader.listEvents({ gate: 'web' }), []);
        assert.equal(await reader.eventByKey('web', 'rollback:W1'), undefined);
        assert.equal(await reader.leaseOf('watch:web'), undefined);
        assert.deepEqual(await reader.auditOrphans('web', 'event:'), []);
        assert.deepEqual(await reader.auditRecords('web', ['event:GONE']), [{ ref: 'event:GONE' }]);
        assert.equal((await verifyChain(reader, 'web')).intact, true);
      } finally {
        await reader.close();
      }
      const store = await s.open({ clock: fakeClock(T0) });
      try {
        assert.equal((await store.addEvent(newEvent()))?.seq, 1);
        assert.deepEqual(await verifyChain(store, 'web').then((r) => [r.intact, r.entries]), [true, 2]);
      } finally {
        await store.close();
      }
    });

    it('store copy brings a SQLite file\'s events, their keys and their chain entries over, and not its leases', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gonogo-copy-'));
      try {
        const file = join(dir, 'laptop.db');
        const local = await openSqliteStore(file, { clock: fakeClock(T0) });
        const run = await local.beginRun(newRun());
        await local.endRun(run, { status: 'aborted', finishedAt: new Date(T0).toISOString() });
        const events = [
          await local.addEvent(newEvent({ kind: 'watch-begin' })),
          await local.addEvent(newEvent({ kind: 'rollback-claim', key: 'rollback:W1', data: { by: 'watcher-a' } })),
          await local.addEvent(newEvent({ gate: 'api', watchId: 'A1' })),
        ];
        await local.acquireLease('watch:web', 'watcher-a', new Date(T0).toISOString(), 30_000);
        const head = await local.auditHead('web');
        await local.close();

        const to = await (await started()).createStore();
        const result = await copyStore(file, to);
        assert.deepEqual([result.runs, result.events, result.entries], [1, 3, 5]);
        assert.deepEqual(result.reports.map((r) => [r.gate, r.intact, r.entries]), [['api', true, 1], ['web', true, 4]]);
        const remote = await openPostgresStore(to, { clock: fakeClock(T0) });
        try {
          assert.deepEqual(await remote.listEvents({ gate: 'web' }), events.slice(0, 2));
          assert.deepEqual(await remote.listEvents({ gate: 'api' }), events.slice(2));
          assert.equal((await remote.getRun(run))?.id, run);
          assert.deepEqual(await remote.auditHead('web'), head);
          assert.equal(await remote.leaseOf('watch:web'), undefined, 'a lease says who acts on the store it was taken on');
          // The key stays held on the copy, and the copy goes on numbering after the copied events.
          assert.equal(await remote.addEvent(newEvent({ kind: 'rollback-claim', key: 'rollback:W1' })), undefined);
          assert.equal((await remote.addEvent(newEvent()))?.seq, 3);
          assert.equal((await verifyChain(remote, 'web')).intact, true);
        } finally {
          await remote.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
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
