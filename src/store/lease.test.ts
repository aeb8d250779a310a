import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeClock } from '../test-support/clock.js';
import { newRun, T0 } from './contract.js';
import { StoreError } from './errors.js';
import { DEFAULT_LEASE_MS, keepAlive, leaseLapsed } from './lease.js';
import { openSqliteStore } from './sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'gonogo-lease-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newFile = (): string => join(dir, `store-${++files}.db`);
const iso = (ms: number): string => new Date(ms).toISOString();

describe('leaseLapsed', () => {
  const beat = '2026-03-01T10:00:00.000Z';
  for (const [name, now, lapsed] of [
    ['within the lease', T0 + 59_999, false],
    ['exactly at its end', T0 + 60_000, false],
    ['past it', T0 + 60_001, true],
  ] as const) {
    it(`${name}: ${lapsed ? 'lapsed' : 'holds'}`, () => assert.equal(leaseLapsed(beat, now, 60_000), lapsed));
  }
  it('a heartbeat that cannot be read counts as lapsed', () => assert.equal(leaseLapsed('not a time', T0, 60_000), true));
});

describe('keepAlive', () => {
  it('keeps a run alive past many leases; once stopped, the next opener after the lease ends it at its last heartbeat', async () => {
    const file = newFile();
    const clock = fakeClock(T0);
    const store = await openSqliteStore(file, { clock });
    const id = await store.beginRun(newRun());
    const lease = keepAlive(store, id, clock, { everyMs: 15_000, onError: (error) => assert.fail(String(error)) });
    await clock.advance(5 * DEFAULT_LEASE_MS);

    const meanwhile = await openSqliteStore(file, { clock });
    assert.equal((await meanwhile.getRun(id))?.status, 'running');
    await meanwhile.close();

    await lease.stop();
    assert.equal(clock.waiting, 0, 'no renewal pending after stop');
    await clock.advance(DEFAULT_LEASE_MS + 1);
    const next = await openSqliteStore(file, { clock });
    try {
      const run = await next.getRun(id);
      assert.equal(run?.status, 'aborted');
      assert.equal(run?.finishedAt, iso(T0 + 5 * DEFAULT_LEASE_MS), 'the last renewal');
    } finally {
      await next.close();
      await store.close();
    }
  });

  it('renews every quarter of the default lease unless told otherwise, with the clock\'s time', async () => {
    const clock = fakeClock(T0);
    const beats: string[] = [];
    const lease = keepAlive({ heartbeat: async (_id, at) => void beats.push(at) }, 'run-1', clock);
    await clock.advance(DEFAULT_LEASE_MS / 4 - 1);
    assert.deepEqual(beats, []);
    await clock.advance(1 + DEFAULT_LEASE_MS / 4);
    assert.deepEqual(beats, [iso(T0 + DEFAULT_LEASE_MS / 4), iso(T0 + DEFAULT_LEASE_MS / 2)]);
    await lease.stop();
  });

  it('reports a failed renewal and goes on renewing; a throwing callback crashes nothing', async () => {
    const clock = fakeClock(T0);
    const errors: unknown[] = [];
    let calls = 0;
    const flaky = {
      async heartbeat() {
        calls += 1;
        if (calls <= 2) throw new StoreError('could not record to /x/gonogo.db: database or disk is full', { kind: 'full' });
      },
    };
    const lease = keepAlive(flaky, 'run-1', clock, {
      everyMs: 1000,
      onError(error) {
        errors.push(error);
        throw new Error('a careless callback');
      },
    });
    await clock.advance(4000);
    assert.equal(calls, 4);
    assert.equal(errors.length, 2);
    assert.ok(errors.every((e) => e instanceof StoreError && e.kind === 'full'));
    await lease.stop();
  });

  it('stops renewing once the run has ended: no renewal can succeed again', async () => {
    const clock = fakeClock(T0);
    const store = await openSqliteStore(newFile(), { clock });
    const id = await store.beginRun(newRun());
    const errors: unknown[] = [];
    const lease = keepAlive(store, id, clock, { everyMs: 1000, onError: (e) => errors.push(e) });
    await store.endRun(id, { status: 'aborted', finishedAt: iso(T0) });
    await clock.advance(5000);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof StoreError && errors[0].kind === 'run-ended');
    assert.equal(clock.waiting, 0);
    await lease.stop();
    await store.close();
  });

  it('stop() waits for a renewal in flight, so nothing renews after it returns', async () => {
    const clock = fakeClock(T0);
    let release = (): void => undefined;
    const events: string[] = [];
    const slow = {
      heartbeat: () =>
        new Promise<void>((resolve) => {
          events.push('renewing');
          release = () => {
            events.push('renewed');
            resolve();
          };
        }),
    };
    const lease = keepAlive(slow, 'run-1', clock, { everyMs: 1000 });
    await clock.advance(1000);
    assert.deepEqual(events, ['renewing']);
    const stopping = lease.stop().then(() => events.push('stopped'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(events, ['renewing']);
    release();
    await stopping;
    assert.deepEqual(events, ['renewing', 'renewed', 'stopped']);
  });
});
