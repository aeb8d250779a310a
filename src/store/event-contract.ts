// The event log's and the leases' contract (types.ts EventLog), run against every store
// (sqlite.test.ts, postgres.test.ts): appending and listing, a key held by one event of a gate even
// when many connections race for it, leases judged by the times given (no sleeps), and events
// changed, deleted or inserted directly in the database found by the audit chain.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { fakeClock } from '../test-support/clock.js';
import { checkRecorded, exportEntries, verifyChain } from './audit.js';
import type { ChainProblem } from './audit.js';
import { lit } from './audit-contract.js';
import type { TamperableStorage } from './audit-contract.js';
import { newRun, rejectsAsStoreError, T0 } from './contract.js';
import type { Opener } from './contract.js';
import type { NewEvent, Store, WatchEvent } from './types.js';

/** An event of gate `web`'s watch W1 of release r1 in production, at minute `minute` after T0. */
export function newEvent(over: Partial<NewEvent> = {}, minute = 0): NewEvent {
  return { gate: 'web', env: 'production', release: 'r1', watchId: 'W1', kind: 'evaluation', at: new Date(T0 + minute * 60_000).toISOString(), data: { error_rate: 0.01, samples: 40 }, ...over };
}

/** ISO time `seconds` after T0. */
const after = (seconds: number): string => new Date(T0 + seconds * 1000).toISOString();

/** Opens `n` stores on one location (separate connections: SQLite handles, PostgreSQL pools). */
async function openMany(open: Opener, n: number): Promise<Store[]> {
  const stores: Store[] = [];
  for (let i = 0; i < n; i++) stores.push(await open({ clock: fakeClock(T0) }));
  return stores;
}

async function closeAll(stores: readonly Store[]): Promise<void> {
  for (const s of stores) await s.close();
}

/** A store's location, as another process opens it (a file path or a postgres:// URL), with what the audit tests need. */
export interface EventStorage extends TamperableStorage {
  location: string;
}

const childScript = fileURLToPath(new URL('./test-child.ts', import.meta.url));

/**
 * Starts `processes` gonogo-like processes (test-child.ts `claim`) on `location`, lets each open the
 * store, then lets all of them append `each` events holding `key` at once; returns the ids won.
 */
async function claimInProcesses(location: string, key: string, processes: number, each: number): Promise<string[]> {
  const children = Array.from({ length: processes }, () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', childScript, 'claim', location, 'web', String(each), key], { stdio: 'pipe' });
    let stderr = '';
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
    const nextLine = async (): Promise<string> => {
      const next = await lines.next();
      if (next.done) throw new Error(`claim child ended without output; stderr:\n${stderr}`);
      return next.value;
    };
    return { proc, nextLine };
  });
  try {
    // Every process has its store open before any appends: the appends race, not the openings.
    for (const c of children) assert.equal(await c.nextLine(), 'ready');
    for (const c of children) c.proc.stdin.end('go\n');
    const won: string[] = [];
    for (const c of children) {
      const report: { won: string[] } = JSON.parse(await c.nextLine());
      won.push(...report.won);
    }
    return won;
  } finally {
    for (const c of children) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) {
        c.proc.kill('SIGKILL');
        await once(c.proc, 'exit');
      }
    }
  }
}

/** A watch's record every tampering case starts from: begun, an evaluation, a claimed rollback, its end. */
async function watchHistory(store: Store): Promise<WatchEvent[]> {
  const added: WatchEvent[] = [];
  for (const e of [
    newEvent({ kind: 'watch-begin', data: { window: '30m' } }, 0),
    newEvent({ kind: 'evaluation', data: { error_rate: 0.31, samples: 40, threshold: 0.05 } }, 1),
    newEvent({ kind: 'rollback-claim', key: 'rollback:W1', data: { trigger: 'errors', by: 'watcher-a' } }, 2),
    newEvent({ kind: 'rollback-end', data: { outcome: 'rolled-back' } }, 3),
  ]) {
    const stored = await store.addEvent(e);
    assert.ok(stored, `${e.kind} was appended`);
    added.push(stored);
  }
  return added;
}

export function eventContract(name: string, storage: () => Promise<EventStorage>): void {
  async function withStore(fn: (store: Store, s: TamperableStorage) => Promise<void>): Promise<void> {
    const s = await storage();
    const store = await s.open({ clock: fakeClock(T0) });
    try {
      await fn(store, s);
    } finally {
      await store.close();
    }
  }

  describe(`Event log contract: ${name}`, () => {
    it('appends events numbered per gate and lists them oldest first, as appended', () =>
      withStore(async (store) => {
        const added: WatchEvent[] = [];
        const given = [
          newEvent({ kind: 'baseline', watchId: undefined, data: { p95_ms: 120, samples: 200 } }, 0),
          newEvent({ kind: 'watch-begin' }, 1),
          newEvent({ gate: 'api', kind: 'watch-begin', watchId: 'A1' }, 1),
          newEvent({}, 2),
          newEvent({ kind: 'trigger', data: { id: 'errors', nested: { values: [1, 2.5, null], text: 'é "quoted"\n' } } }, 3),
        ];
        for (const e of given) {
          const stored = await store.addEvent(e);
          assert.ok(stored);
          added.push(stored);
        }
        const { watchId: _none, ...baseline } = given[0];
        assert.deepEqual(added[0], { ...baseline, id: added[0].id, seq: 1 });
        assert.equal('watchId' in added[0] || 'key' in added[0], false, 'absent watch and key stay absent');
        assert.deepEqual(added.map((e) => [e.gate, e.seq]), [['web', 1], ['web', 2], ['api', 1], ['web', 3], ['web', 4]]);
        assert.deepEqual([...added.map((e) => e.id)].sort(), added.map((e) => e.id), 'ids sort in the order of appending');
        assert.deepEqual(await store.listEvents({ gate: 'web' }), [added[0], added[1], added[3], added[4]]);
        assert.deepEqual(await store.listEvents({ gate: 'api' }), [added[2]]);
        assert.deepEqual(await store.listEvents({ gate: 'no-such-gate' }), []);
      }));

    it('narrows a listing by watch, environment, release, kinds and seq, and keeps the newest `limit`', () =>
      withStore(async (store) => {
        const add = async (e: NewEvent): Promise<WatchEvent> => {
          const stored = await store.addEvent(e);
          assert.ok(stored);
          return stored;
        };
        const w1Begin = await add(newEvent({ kind: 'watch-begin' }, 0));
        const w1Eval = await add(newEvent({}, 1));
        const stagingEval = await add(newEvent({ env: 'staging', watchId: 'S1' }, 2));
        const r2Eval = await add(newEvent({ release: 'r2', watchId: 'W2' }, 3));
        const w1Trigger = await add(newEvent({ kind: 'trigger' }, 4));
        const report = await add(newEvent({ kind: 'issue-report', watchId: undefined, data: { by: 'ana', text: 'checkout fails' } }, 5));
        const w1Eval2 = await add(newEvent({}, 6));

        const list = (q: Omit<Parameters<Store['listEvents']>[0], 'gate'>) => store.listEvents({ gate: 'web', ...q });
        assert.deepEqual(await list({ watchId: 'W1' }), [w1Begin, w1Eval, w1Trigger, w1Eval2]);
        assert.deepEqual(await list({ env: 'staging' }), [stagingEval]);
        assert.deepEqual(await list({ release: 'r2' }), [r2Eval]);
        assert.deepEqual(await list({ env: 'production', release: 'r1', kinds: ['evaluation'] }), [w1Eval, w1Eval2]);
        assert.deepEqual(await list({ kinds: ['trigger', 'issue-report'] }), [w1Trigger, report]);
        assert.deepEqual(await list({ kinds: [] }), []);
        assert.deepEqual(await list({ afterSeq: w1Trigger.seq }), [report, w1Eval2]);
        assert.deepEqual(await list({ watchId: 'W1', afterSeq: w1Eval.seq }), [w1Trigger, w1Eval2]);
        assert.deepEqual(await list({ limit: 2 }), [report, w1Eval2], 'the newest two, oldest first');
        assert.deepEqual(await list({ watchId: 'W1', kinds: ['evaluation'], limit: 1 }), [w1Eval2]);
        assert.deepEqual(await list({ limit: 0 }), []);
        assert.deepEqual(await list({ afterSeq: w1Eval2.seq }), []);
        for (const bad of [{ limit: -1 }, { limit: 1.5 }, { afterSeq: -1 }]) await assert.rejects(list(bad), /limit|afterSeq/);
      }));

    it('lets one event of a gate hold a key: a second append with it appends nothing, not even to the chain', () =>
      withStore(async (store) => {
        const claim = await store.addEvent(newEvent({ kind: 'rollback-claim', key: 'rollback:W1', data: { by: 'watcher-a' } }, 1));
        assert.ok(claim);
        assert.equal(claim.key, 'rollback:W1');
        const head = await store.auditHead('web');
        assert.equal(await store.addEvent(newEvent({ kind: 'rollback-claim', key: 'rollback:W1', data: { by: 'watcher-b' } }, 2)), undefined);
        assert.deepEqual(await store.auditHead('web'), head, 'the refused append made no entry');
        assert.deepEqual(await store.eventByKey('web', 'rollback:W1'), claim);
        assert.equal(await store.eventByKey('web', 'rollback:W9'), undefined);
        // The key is the gate's: another gate may hold the same one; events without a key never clash.
        const other = await store.addEvent(newEvent({ gate: 'api', kind: 'rollback-claim', key: 'rollback:W1' }, 3));
        assert.ok(other);
        assert.equal(other.seq, 1);
        const plain = [await store.addEvent(newEvent({}, 4)), await store.addEvent(newEvent({}, 5))];
        assert.deepEqual(plain.map((e) => e?.seq), [2, 3], 'the refused append took no seq');
        assert.deepEqual((await store.listEvents({ gate: 'web' })).map((e) => e.id), [claim.id, ...plain.map((e) => e?.id)]);
        assert.equal((await verifyChain(store, 'web')).intact, true);
      }));

    it('gives a key to exactly one of 20 appends racing for it from 20 connections', async () => {
      const s = await storage();
      const stores = await openMany(s.open, 20);
      try {
        // Events without a key first, from every connection at once: each lands, numbered without a gap.
        const plain = await Promise.all(stores.map((store, i) => store.addEvent(newEvent({ data: { from: i } }))));
        assert.deepEqual(plain.map((e) => e?.seq).sort((a = 0, b = 0) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
        const claims = await Promise.all(stores.map((store, i) => store.addEvent(newEvent({ kind: 'rollback-claim', key: 'rollback:W1', data: { by: `watcher-${i}` } }))));
        const won = claims.filter((c) => c !== undefined);
        assert.equal(won.length, 1, `claims won: ${won.length}`);
        assert.deepEqual(await stores[0].eventByKey('web', 'rollback:W1'), won[0]);
        assert.equal((await stores[0].listEvents({ gate: 'web', kinds: ['rollback-claim'] })).length, 1);
        const report = await verifyChain(stores[0], 'web');
        assert.deepEqual([report.intact, report.entries], [true, 21]);
      } finally {
        await closeAll(stores);
      }
    });

    it('gives a key to exactly one append of two processes racing for it, ten appends each', async () => {
      const s = await storage();
      // The store exists, at the current schema, before the processes open it.
      await (await s.open({ clock: fakeClock(T0) })).close();
      const won = await claimInProcesses(s.location, 'rollback:W1', 2, 10);
      assert.equal(won.length, 1, `appends that got the key: ${won.length}`);
      const store = await s.open({ readonly: true, clock: fakeClock(T0) });
      try {
        assert.equal((await store.eventByKey('web', 'rollback:W1'))?.id, won[0]);
        assert.equal((await store.listEvents({ gate: 'web' })).length, 1);
        assert.deepEqual(await verifyChain(store, 'web').then((r) => [r.intact, r.entries]), [true, 1]);
      } finally {
        await store.close();
      }
    });

    it('refuses an event it could not keep: an unknown kind, a time that is not ISO 8601, an empty key', () =>
      withStore(async (store) => {
        // A kind as untyped input would bring it (a JSON body, an old config).
        await assert.rejects(store.addEvent({ ...newEvent(), kind: JSON.parse('"reboot"') }), /kind must be one of/);
        await assert.rejects(store.addEvent(newEvent({ at: 'soon' })), /ISO 8601/);
        await assert.rejects(store.addEvent(newEvent({ key: '' })), /key must not be empty/);
        assert.deepEqual(await store.listEvents({ gate: 'web' }), []);
      }));

    it('takes a lease, renews it for its holder, refuses it to another while fresh, hands it over once lapsed, and releases it', () =>
      withStore(async (store) => {
        const lease = 'watch:web:production';
        const ms = 30_000;
        assert.equal(await store.leaseOf(lease), undefined);
        assert.equal(await store.acquireLease(lease, 'watcher-a', after(0), ms), true);
        assert.deepEqual(await store.leaseOf(lease), { holder: 'watcher-a', at: after(0) });
        assert.equal(await store.acquireLease(lease, 'watcher-b', after(10), ms), false, 'fresh: refused');
        assert.equal(await store.acquireLease(lease, 'watcher-a', after(20), ms), true, 'renewed by its holder');
        assert.deepEqual(await store.leaseOf(lease), { holder: 'watcher-a', at: after(20) });
        assert.equal(await store.acquireLease(lease, 'watcher-b', after(45), ms), false, '25 s after the renewal');
        assert.equal(await store.acquireLease(lease, 'watcher-b', after(50), ms), false, 'exactly the lease length: still held');
        assert.equal(await store.acquireLease(lease, 'watcher-b', after(50.001), ms), true, 'lapsed: taken over');
        assert.deepEqual(await store.leaseOf(lease), { holder: 'watcher-b', at: after(50.001) });
        assert.equal(await store.acquireLease(lease, 'watcher-a', after(51), ms), false, 'the old holder lost it');
        // Leases are apart from each other and from the audit chain.
        assert.equal(await store.acquireLease('watch:api:production', 'watcher-a', after(51), ms), true);
        assert.equal(await store.auditHead('web'), undefined);

        await store.releaseLease(lease, 'watcher-a'); // not the holder: nothing changes
        assert.equal((await store.leaseOf(lease))?.holder, 'watcher-b');
        await store.releaseLease(lease, 'watcher-b');
        assert.equal(await store.leaseOf(lease), undefined);
        assert.equal(await store.acquireLease(lease, 'watcher-a', after(52), ms), true, 'free again');
        await assert.rejects(store.acquireLease(lease, 'watcher-a', 'now', ms), /ISO 8601/);
        await assert.rejects(store.acquireLease(lease, 'watcher-a', after(53), 0), /leaseMs/);
      }));

    it('judges a lease by the instant, whatever offset its times are written with', () =>
      withStore(async (store) => {
        assert.equal(await store.acquireLease('l', 'a', '2026-03-01T11:00:00+01:00', 60_000), true);
        assert.deepEqual(await store.leaseOf('l'), { holder: 'a', at: '2026-03-01T10:00:00.000Z' });
        // 10:00:59Z is within the lease, though "09:..." sorts before "10:..." as text.
        assert.equal(await store.acquireLease('l', 'b', '2026-03-01T09:00:59-01:00', 60_000), false);
        assert.equal(await store.acquireLease('l', 'b', '2026-03-01T10:01:01Z', 60_000), true);
      }));

    it('gives a free lease to exactly one of 10 holders racing for it from 10 connections', async () => {
      const s = await storage();
      const stores = await openMany(s.open, 10);
      try {
        const got = await Promise.all(stores.map((store, i) => store.acquireLease('watch:web', `watcher-${i}`, after(0), 30_000)));
        assert.equal(got.filter(Boolean).length, 1);
        const winner = got.indexOf(true);
        assert.deepEqual(await stores[0].leaseOf('watch:web'), { holder: `watcher-${winner}`, at: after(0) });
      } finally {
        await closeAll(stores);
      }
    });

    it('reads events and leases read-only, and refuses every write there', async () => {
      const s = await storage();
      const writer = await s.open({ clock: fakeClock(T0) });
      const [first] = await watchHistory(writer);
      await writer.acquireLease('watch:web', 'watcher-a', after(0), 30_000);
      await writer.close();
      const reader = await s.open({ readonly: true, clock: fakeClock(T0) });
      try {
        assert.equal((await reader.listEvents({ gate: 'web' })).length, 4);
        assert.deepEqual((await reader.listEvents({ gate: 'web', limit: 1 }))[0].kind, 'rollback-end');
        assert.equal((await reader.eventByKey('web', 'rollback:W1'))?.kind, 'rollback-claim');
        assert.equal((await reader.leaseOf('watch:web'))?.holder, 'watcher-a');
        const refused = /the store was opened read-only/;
        await rejectsAsStoreError(reader.addEvent(newEvent()), 'read-only', refused);
        await rejectsAsStoreError(reader.acquireLease('watch:web', 'watcher-b', after(100), 30_000), 'read-only', refused);
        await rejectsAsStoreError(reader.releaseLease('watch:web', 'watcher-a'), 'read-only', refused);
        assert.equal((await reader.listEvents({ gate: 'web' }))[0].id, first.id);
      } finally {
        await reader.close();
      }
    });
  });

  describe(`Event log audit: ${name}`, () => {
    async function withWatch(fn: (s: TamperableStorage, events: WatchEvent[]) => Promise<void>): Promise<void> {
      const s = await storage();
      const store = await s.open({ clock: fakeClock(T0) });
      let events: WatchEvent[];
      try {
        events = await watchHistory(store);
      } finally {
        await store.close();
      }
      await fn(s, events);
    }

    async function reading<T>(s: TamperableStorage, fn: (store: Store) => Promise<T>): Promise<T> {
      const reader = await s.open({ readonly: true, clock: fakeClock(T0) });
      try {
        return await fn(reader);
      } finally {
        await reader.close();
      }
    }

    /** What a status over every event of the gate would check: each event's row, and events recorded but gone. */
    const checked = (s: TamperableStorage) =>
      reading(s, async (store) => {
        const refs: string[] = [];
        await store.auditRows('web', (ref) => refs.push(ref));
        return checkRecorded(store, 'web', refs, ['event:']);
      });

    it('records each event in its gate\'s chain beside runs and attestations, and exports it', async () => {
      const s = await storage();
      const store = await s.open({ clock: fakeClock(T0) });
      try {
        const run = await store.beginRun(newRun());
        const claim = await store.addEvent(newEvent({ kind: 'rollback-claim', key: 'rollback:W1', data: { trigger: 'errors' } }));
        const signoff = await store.addAttestation({ kind: 'signoff', gate: 'web', release: 'r1', target: { type: 'decision' }, by: 'ana', role: 'release-manager', at: after(60) });
        assert.ok(claim);
        const entries = await store.auditEntries('web', 0, 10);
        assert.deepEqual(entries.map((e) => [e.seq, e.ref]), [[1, `run:${run}`], [2, `event:${claim.id}`], [3, `attestation:${signoff.id}`]]);
        const body = JSON.parse(entries[1].body);
        assert.equal(body.kind, 'event');
        assert.deepEqual(body.data, { id: claim.id, seq: 1, event: 'rollback-claim', env: 'production', release: 'r1', at: claim.at, watch: 'W1', key: 'rollback:W1' });
        assert.deepEqual(await verifyChain(store, 'web').then((r) => [r.intact, r.entries]), [true, 3]);
        const lines: Array<{ seq: number; ref: string; entry: { kind: string; data: { event?: string } } }> = [];
        for await (const line of exportEntries(store, 'web')) lines.push(JSON.parse(line));
        assert.deepEqual(lines.map((l) => [l.seq, l.entry.kind, l.entry.data.event]), [[1, 'run-begin', undefined], [2, 'event', 'rollback-claim'], [3, 'attestation', undefined]]);
      } finally {
        await store.close();
      }
    });

    it('finds an intact watch intact, through verify and through the rows status reads', () =>
      withWatch(async (s) => {
        assert.deepEqual(await reading(s, (store) => verifyChain(store, 'web')).then((r) => [r.intact, r.entries]), [true, 4]);
        assert.deepEqual(await checked(s).then((r) => [r.intact, r.problem?.message]), [true, undefined]);
      }));

    // Each forgery is made directly in the database; verify names the first thing it changed.
    const forgeries: Array<{ name: string; sql: (events: WatchEvent[]) => string[]; kind: ChainProblem['kind']; message: RegExp }> = [
      { name: 'an evaluation\'s observed value changed', sql: ([, evaluation]) => [`UPDATE events SET body = REPLACE(body, '0.31', '0.01') WHERE id = ${lit(evaluation.id)}`], kind: 'row-changed', message: /event .* was changed after entry 2 recorded it/ },
      { name: 'a claimed rollback released (its key cleared)', sql: ([, , claim]) => [`UPDATE events SET key = NULL WHERE id = ${lit(claim.id)}`], kind: 'row-changed', message: /event .* was changed after entry 3 recorded it/ },
      { name: 'an event moved to another watch', sql: ([, evaluation]) => [`UPDATE events SET watch_id = 'W2' WHERE id = ${lit(evaluation.id)}`], kind: 'row-changed', message: /event .* was changed after entry 2/ },
      { name: 'an event deleted', sql: ([, , , end]) => [`DELETE FROM events WHERE id = ${lit(end.id)}`], kind: 'row-deleted', message: /event .* recorded by entry 4 was deleted/ },
      {
        name: 'an event inserted',
        sql: () => [`INSERT INTO events (id, gate, seq, env, release_id, watch_id, kind, at, key, body) VALUES ('FORGED', 'web', 5, 'production', 'r1', 'W1', 'watch-end', ${lit(after(300))}, NULL, '{"outcome":"passed"}')`],
        kind: 'row-inserted',
        message: /event FORGED is in the store but not in the audit log: it was inserted/,
      },
      { name: 'an event\'s entry changed', sql: () => ["UPDATE audit_entries SET body = REPLACE(body, 'rollback-claim', 'evaluation') WHERE gate = 'web' AND seq = 3"], kind: 'entry-changed', message: /entry 3 \(event .*\) was changed: its hash does not match/ },
    ];
    for (const f of forgeries) {
      it(`finds ${f.name}`, () =>
        withWatch(async (s, events) => {
          for (const sql of f.sql(events)) await s.exec(sql);
          const report = await reading(s, (store) => verifyChain(store, 'web'));
          assert.equal(report.intact, false, `${f.name} went unnoticed`);
          assert.equal(report.problem?.kind, f.kind, report.problem?.message);
          assert.match(report.problem?.message ?? '', f.message);
          const quick = await checked(s);
          assert.equal(quick.intact, false, `${f.name} went unnoticed by checkRecorded`);
        }));
    }
  });
}
