// decide-rollback as the library records it for the CLI and the dashboard alike: the rollback
// permission first, then a running watch of the gate that waits; the note stored redacted; a refusal
// records nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/load.js';
import { AuthorityError } from '../engine/attest.js';
import { openStore } from '../store/index.js';
import { fakeClock } from '../test-support/clock.js';
import { decideRollback, DecideRollbackError } from './decide-rollback.js';

const CONFIG = `version: 1
name: shop
environments: { production: { url: "\${SHOP_URL}" } }
roles: { oncall: [rollback], viewer: [stage] }
people: { olga: [oncall], vic: [viewer] }
items:
  - { id: DOC, title: Runbook, tier: recommended, manual: true }
`;

test('decideRollback: the permission, a running watch waiting for an answer, the note redacted; refusals record nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-decide-'));
  const loaded = parseConfig(CONFIG, join(dir, 'gonogo.yaml'));
  const store = await openStore(join(dir, 'gonogo.db'));
  const clock = fakeClock();
  const processEnv = { SHOP_URL: 'https://shop.internal/secret-path-1234' };
  const at = new Date(clock.now()).toISOString();
  const base = { gate: 'shop', env: 'production', release: 'v2', at };
  const begin = (watchId: string) => store.addEvent({ ...base, watchId, kind: 'watch-begin', data: { stageSet: 'production', windows: [] } });
  try {
    await begin('quiet');
    await begin('waiting');
    await store.addEvent({ ...base, watchId: 'waiting', kind: 'trigger', data: { window: 'immediate', trigger: 'latency', severity: 'conditional', message: 'p95 high' } });
    await begin('ended');
    await store.addEvent({ ...base, watchId: 'ended', kind: 'trigger', data: { window: 'immediate', trigger: 'latency', severity: 'conditional', message: 'p95 high' } });
    await store.addEvent({ ...base, watchId: 'ended', kind: 'watch-end', data: { outcome: 'passed', reasons: [] } });
    const req = { loaded, store, clock, processEnv, decision: 'rollback' as const, by: 'olga', role: 'oncall' };
    const recorded = async () => (await store.listEvents({ gate: 'shop', kinds: ['decide-rollback'] })).length;

    await assert.rejects(decideRollback({ ...req, watchId: 'waiting', by: 'vic', role: 'viewer' }), (e: unknown) => e instanceof AuthorityError && e.rule === 'role viewer may not decide a rollback: it lacks the rollback permission');
    await assert.rejects(decideRollback({ ...req, watchId: 'nope', by: 'vic', role: 'viewer' }), AuthorityError, 'the permission is judged before the watch is looked up');
    await assert.rejects(decideRollback({ ...req, watchId: 'nope' }), (e: unknown) => e instanceof DecideRollbackError && e.reason === 'unknown' && /no watch nope in gate shop/.test(e.message));
    await assert.rejects(decideRollback({ ...req, watchId: 'ended' }), (e: unknown) => e instanceof DecideRollbackError && e.reason === 'ended');
    await assert.rejects(decideRollback({ ...req, watchId: 'quiet' }), (e: unknown) => e instanceof DecideRollbackError && e.reason === 'not-waiting');
    assert.equal(await recorded(), 0, 'no refusal recorded anything');

    const r = await decideRollback({ ...req, watchId: 'waiting', note: `see ${processEnv.SHOP_URL}` });
    assert.deepEqual(r.triggers, ['latency']);
    assert.deepEqual(r.event.data, { decision: 'rollback', by: 'olga', role: 'oncall', note: 'see ***', triggers: ['latency'] });
    assert.equal(r.event.watchId, 'waiting');
    await assert.rejects(decideRollback({ ...req, watchId: 'waiting' }), (e: unknown) => e instanceof DecideRollbackError && e.reason === 'not-waiting', 'answered once');
  } finally {
    await store.close();
  }
});
