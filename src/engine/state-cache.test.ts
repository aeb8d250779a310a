import { after, describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// parseConfig checks options against loaded kinds: the registry loads them all.
import '../checks/index.js';
import { parseConfig } from '../config/load.js';
import type { OpenStoreOptions, Store } from '../store/types.js';
import { fakeClock } from '../test-support/clock.js';
import { postgresBinDir, requirePostgres, startCluster } from '../test-support/postgres.js';
import type { PgCluster } from '../test-support/postgres.js';
import { tamperablePostgres, tamperableSqlite } from '../test-support/tamper.js';
import { giveSignoff, giveWaiver } from './attest.js';
import { runGate } from './gate.js';
import type { Release } from './release.js';
import { gateState, StateCache } from './state.js';

// The dashboard keeps a state's store reads (StateCache) while the store's change token is the
// same: whatever is committed meanwhile, by another process or by hand in the database, shows on
// the very next read, and what depends on the clock (a waiver's expiry) is judged on every read.
// Each case runs on SQLite and on PostgreSQL; the writes come from another connection than the
// dashboard's, as a CI job's or a forger's would.

const R1: Release = { id: 'r1', source: 'option' };
const T0 = Date.parse('2026-11-30T09:00:00Z');
const loaded = parseConfig(
  `version: 1
name: shop
environments: { staging: { url: "http://127.0.0.1:9" } }
rules: { requiredSignoffs: [decision] }
roles: { release-manager: [decision, waive] }
people: { erin: [release-manager] }
items:
  - { id: CONFIG, title: config set, tier: critical, check: { kind: env, required: [APP_CONFIG] } }
  - { id: SECRET, title: secret set, tier: high, check: { kind: env, required: [APP_SECRET] } }
`,
  'gonogo.yaml',
);
/** SECRET is unset: it fails (a high item, waivable). */
const processEnv = { APP_CONFIG: 'prod.yaml' };

/** A store location: an opener for it, and SQL run on its database by a connection of its own. */
interface Location {
  open(options?: OpenStoreOptions): Promise<Store>;
  exec(sql: string): Promise<void>;
}

/** The dashboard's store, counting the reads gateState makes, so that a test can tell a kept state from a read one. */
function counted(store: Store): { store: Store; reads: () => number } {
  let reads = 0;
  const wrapped = new Proxy(store, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (name === 'listRuns' || name === 'latestResults' || name === 'listAttestations' || name === 'auditRecords') reads++;
        return Reflect.apply(value, target, args);
      };
    },
  });
  return { store: wrapped, reads: () => reads };
}

function cases(name: string, location: () => Promise<Location>): void {
  describe(`the state cache on ${name}`, () => {
    /** The dashboard's store and cache, and a second store on the same database (a CI job, a person's laptop). */
    async function setUp(): Promise<{ at: Location; dash: Store; reads: () => number; other: Store; clock: ReturnType<typeof fakeClock>; state: () => ReturnType<typeof gateState>; close(): Promise<void> }> {
      const at = await location();
      const clock = fakeClock(T0);
      const other = await at.open({ clock });
      await runGate({ loaded, store: other, clock, release: R1, processEnv });
      const { store: dash, reads } = counted(await at.open({ clock }));
      const cache = new StateCache();
      return {
        at, dash, reads, other, clock,
        state: () => gateState({ loaded, store: dash, clock, release: R1, cache }),
        close: async () => {
          await dash.close();
          await other.close();
        },
      };
    }

    it('keeps the reads while nothing is committed', async () => {
      const t = await setUp();
      try {
        const first = await t.state();
        const read = t.reads();
        assert.ok(read > 0);
        const again = await t.state();
        assert.equal(t.reads(), read, 'nothing committed: nothing read again');
        assert.deepEqual(again, first);
      } finally {
        await t.close();
      }
    });

    it('shows a run and a sign-off recorded through another connection on the next read', async () => {
      const t = await setUp();
      try {
        const before = await t.state();
        assert.equal(before.decision.verdict, 'NO_GO');
        assert.deepEqual(before.decision.missingSignoffs, ['decision']);

        const second = await runGate({ loaded, store: t.other, clock: t.clock, release: R1, processEnv, withoutState: true });
        const afterRun = await t.state();
        assert.equal(afterRun.lastRun?.id, second.runId, 'the new run is the state\'s last run');

        await giveWaiver({ loaded, store: t.other, clock: t.clock, release: R1 }, { itemId: 'SECRET', by: 'erin', role: 'release-manager', mitigation: 'rotated by hand', owner: 'erin', expires: T0 + 3_600_000 });
        await giveSignoff({ loaded, store: t.other, clock: t.clock, release: R1 }, { target: { type: 'decision' }, by: 'erin', role: 'release-manager' });
        const signed = await t.state();
        assert.equal(signed.decision.verdict, 'GO');
        assert.deepEqual(signed.decision.missingSignoffs, []);
        assert.equal(signed.chain.intact, true);
      } finally {
        await t.close();
      }
    });

    it('shows a result forged by hand in the database as a broken chain on the next read', async () => {
      const t = await setUp();
      try {
        const before = await t.state();
        assert.equal(before.chain.intact, true);
        const runId = before.lastRun?.id ?? '';
        await t.at.exec(`UPDATE results SET status = 'pass', message = 'ok' WHERE run_id = '${runId}' AND item_id = 'SECRET'`);
        const forged = await t.state();
        assert.equal(forged.chain.intact, false);
        assert.equal(forged.chain.problem?.kind, 'row-changed');
        assert.match(forged.chain.problem?.message ?? '', /result of SECRET in run .* was changed/);
      } finally {
        await t.close();
      }
    });

    it('judges a waiver\'s expiry on every read, from the kept reads', async () => {
      const t = await setUp();
      try {
        await giveWaiver({ loaded, store: t.other, clock: t.clock, release: R1 }, { itemId: 'SECRET', by: 'erin', role: 'release-manager', mitigation: 'rotated by hand', owner: 'erin', expires: T0 + 60_000 });
        const waived = await t.state();
        assert.equal(waived.results.find((r) => r.id === 'SECRET')?.status, 'waived');
        const read = t.reads();
        await t.clock.advance(120_000);
        const expired = await t.state();
        assert.equal(t.reads(), read, 'nothing committed: the kept reads');
        assert.equal(expired.results.find((r) => r.id === 'SECRET')?.status, 'fail');
        assert.equal(expired.attestations.find((a) => a.attestation.kind === 'waiver')?.standing, 'expired');
      } finally {
        await t.close();
      }
    });
  });
}

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

cases('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-state-cache-'));
  dirs.push(dir);
  return tamperableSqlite(join(dir, 'gonogo.db'));
});

if (postgresBinDir() === undefined) {
  test('the state cache on PostgreSQL', (t) => {
    requirePostgres(t);
  });
} else {
  let cluster: Promise<PgCluster> | undefined;
  after(async () => (await cluster)?.stop());
  cases('PostgreSQL', async () => {
    cluster ??= startCluster();
    return tamperablePostgres(await (await cluster).createStore());
  });
}
