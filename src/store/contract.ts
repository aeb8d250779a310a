// The behaviour every Store must have, as a suite each implementation's test file runs
// (STYLE habit 9). Not a test file itself: sqlite.test.ts calls it, and the PostgreSQL tests will.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Attestation, Decision, ItemResult, NewAttestation, Signoff, Status, Tier, Waiver } from '../model.js';

type NewSignoff = Omit<Signoff, 'id'>;
type NewWaiver = Omit<Waiver, 'id'>;
import { fakeClock } from '../test-support/clock.js';
import type { FakeClock } from '../test-support/clock.js';
import { StoreError } from './errors.js';
import type { StoreFaultKind } from './errors.js';
import { DEFAULT_LEASE_MS } from './lease.js';
import type { NewRun, OpenStoreOptions, Store } from './types.js';

/** Opens one store location, as often as a test needs (a second process, a later opener). */
export type Opener = (options?: OpenStoreOptions) => Promise<Store>;

/** The time the contract's runs start at; a fake clock set to it keeps their leases fresh. */
export const T0 = Date.parse('2026-03-01T10:00:00.000Z');

/** Asserts a rejection is a StoreError of `kind` whose message matches `pattern`. */
export async function rejectsAsStoreError(promise: Promise<unknown>, kind: StoreFaultKind, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
    assert.equal(error.kind, kind);
    assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  });
}

/** A run of the `web` gate as `gonogo check` would begin it. */
export function newRun(over: Partial<NewRun> = {}): NewRun {
  return { gate: 'web', env: 'staging', command: 'check', release: 'r1', selection: {}, configHash: 'sha256:c0ffee', startedAt: '2026-03-01T10:00:00.000Z', ...over };
}

/** A result with two attempts' evidence, as a flaky check that passed on retry produces. */
export function itemResult(id: string, status: Status = 'pass', tier: Tier = 'critical'): ItemResult {
  return {
    id,
    tier,
    status,
    message: `${id}: ${status}`,
    evidence: { request: { method: 'GET', url: `https://staging.example/${id}` }, response: { status: 200, headers: { 'x-id': id } } },
    durationMs: 12.5,
    attempts: [
      { attempt: 1, status: 'error', message: 'connection reset', evidence: { code: 'ECONNRESET' }, durationMs: 3, startedAt: '2026-03-01T10:00:01.000Z' },
      { attempt: 2, status, message: 'ok', durationMs: 9.5, startedAt: '2026-03-01T10:00:02.000Z' },
    ],
  };
}

const emptyCount = { total: 0, passed: 0, failed: 0, error: 0, pending: 0, skipped: 0, waived: 0 };

/** A GO WITH CONDITIONS decision with its reasons, conditions and counts. */
export function decision(verdict: Decision['verdict'] = 'GO_WITH_CONDITIONS', readiness = 92.5): Decision {
  return {
    verdict,
    readiness,
    tiers: { critical: { ...emptyCount, total: 25, passed: 25 }, high: { ...emptyCount, total: 18, passed: 13, failed: 2, waived: 3 }, recommended: emptyCount },
    reasons: ['every critical item passes', '13 of 18 high items passed (needs 12)'],
    conditions: ['H-04 waived: rate limiting on login (mitigation: WAF rule; owner: ana; until 2026-03-15)'],
    blockers: [],
    missingSignoffs: [],
  };
}

/**
 * Registers the store contract's tests. `storage` gives each test a new, empty store location and
 * an opener for it; the stores are opened on a fake clock at T0 unless a test says otherwise.
 */
export function storeContract(name: string, storage: () => Promise<Opener>): void {
  async function withStore(fn: (store: Store, clock: FakeClock, open: Opener) => Promise<void>): Promise<void> {
    const open = await storage();
    const clock = fakeClock(T0);
    const store = await open({ clock });
    try {
      await fn(store, clock, open);
    } finally {
      await store.close();
    }
  }

  describe(`Store contract: ${name}`, () => {
    it('round-trips a run with its results in the order saved and its decision', () =>
      withStore(async (store) => {
        const id = await store.beginRun(newRun());
        assert.deepEqual(await store.getRun(id), {
          id, gate: 'web', env: 'staging', command: 'check', release: 'r1', selection: {}, status: 'running', startedAt: '2026-03-01T10:00:00.000Z', configHash: 'sha256:c0ffee', results: [],
        });

        const noEvidence: ItemResult = { id: 'R-01', tier: 'recommended', status: 'skipped', message: 'not applicable on plain HTTP', durationMs: 0, attempts: [] };
        const nullEvidence: ItemResult = { ...itemResult('H-02', 'fail', 'high'), evidence: null };
        await store.saveResult(id, itemResult('C-01'));
        await store.saveResult(id, noEvidence);
        await store.saveResult(id, nullEvidence);
        await store.saveResult(id, itemResult('C-02', 'error'));
        // A retried item is saved again: it replaces the earlier result and keeps its place.
        const waived = { ...itemResult('H-02', 'waived', 'high'), message: 'waived: WAF rule' };
        await store.saveResult(id, waived);

        await store.endRun(id, { status: 'completed', finishedAt: '2026-03-01T10:05:00.000Z', decision: decision() });
        assert.deepEqual(await store.getRun(id), {
          id, gate: 'web', env: 'staging', command: 'check', release: 'r1', selection: {}, status: 'completed',
          startedAt: '2026-03-01T10:00:00.000Z', finishedAt: '2026-03-01T10:05:00.000Z', configHash: 'sha256:c0ffee',
          decision: decision(),
          results: [itemResult('C-01'), noEvidence, waived, itemResult('C-02', 'error')],
        });
      }));

    it('keeps a JSON null evidence distinct from no evidence', () =>
      withStore(async (store) => {
        const id = await store.beginRun(newRun());
        await store.saveResult(id, { ...itemResult('C-01'), evidence: null });
        const { evidence: _dropped, ...withoutEvidence } = itemResult('C-02');
        await store.saveResult(id, withoutEvidence);
        const [withNull, without] = (await store.getRun(id))?.results ?? [];
        assert.equal(withNull.evidence, null);
        assert.equal('evidence' in without, false);
      }));

    it('returns undefined for an unknown run', () =>
      withStore(async (store) => {
        assert.equal(await store.getRun('no-such-run'), undefined);
      }));

    it('gives run ids that are unique and sort in creation order', () =>
      withStore(async (store) => {
        const ids: string[] = [];
        for (let i = 0; i < 20; i++) ids.push(await store.beginRun(newRun()));
        assert.equal(new Set(ids).size, ids.length);
        assert.deepEqual([...ids].sort(), ids);
      }));

    it('lists runs newest first, filtered by gate and limited', () =>
      withStore(async (store) => {
        const web1 = await store.beginRun(newRun({ startedAt: '2026-03-01T10:00:00.000Z' }));
        const api1 = await store.beginRun(newRun({ gate: 'api', env: 'production', command: 'validate:production', startedAt: '2026-03-01T11:00:00.000Z' }));
        const web2 = await store.beginRun(newRun({ startedAt: '2026-03-01T12:00:00.000Z' }));
        await store.endRun(web1, { status: 'completed', finishedAt: '2026-03-01T10:05:00.000Z', decision: decision('NO_GO', 40) });
        await store.endRun(api1, { status: 'aborted', finishedAt: '2026-03-01T11:01:00.000Z' });

        const all = await store.listRuns({});
        assert.deepEqual(all.map((r) => r.id), [web2, api1, web1]);
        assert.deepEqual(all, [
          { id: web2, gate: 'web', env: 'staging', command: 'check', release: 'r1', selection: {}, status: 'running', startedAt: '2026-03-01T12:00:00.000Z', configHash: 'sha256:c0ffee' },
          { id: api1, gate: 'api', env: 'production', command: 'validate:production', release: 'r1', selection: {}, status: 'aborted', startedAt: '2026-03-01T11:00:00.000Z', finishedAt: '2026-03-01T11:01:00.000Z', configHash: 'sha256:c0ffee' },
          { id: web1, gate: 'web', env: 'staging', command: 'check', release: 'r1', selection: {}, status: 'completed', startedAt: '2026-03-01T10:00:00.000Z', finishedAt: '2026-03-01T10:05:00.000Z', configHash: 'sha256:c0ffee', verdict: 'NO_GO', readiness: 40 },
        ]);
        assert.deepEqual((await store.listRuns({ gate: 'web' })).map((r) => r.id), [web2, web1]);
        assert.deepEqual((await store.listRuns({ limit: 2 })).map((r) => r.id), [web2, api1]);
        assert.deepEqual((await store.listRuns({ gate: 'web', limit: 1 })).map((r) => r.id), [web2]);
        assert.deepEqual(await store.listRuns({ limit: 0 }), []);
        assert.deepEqual(await store.listRuns({ gate: 'no-such-gate' }), []);
        await assert.rejects(store.listRuns({ limit: -1 }), /limit/);
        await assert.rejects(store.listRuns({ limit: 1.5 }), /limit/);
      }));

    it('round-trips sign-offs and waivers in the order they were added, per gate', () =>
      withStore(async (store) => {
        const stage: NewSignoff = { kind: 'signoff', gate: 'web', release: 'r1', env: 'staging', run: { id: 'RUN-1', verdict: 'GO', configHash: 'sha256:c0ffee' }, target: { type: 'stage', id: 'security' }, by: 'ana@example.com', role: 'security-lead', note: 'pen test report attached', at: '2026-03-01T10:10:00.000Z' };
        const waiver: NewWaiver = { kind: 'waiver', gate: 'web', release: 'r1', itemId: 'H-04', mitigation: 'WAF rule limits login to 10/min', owner: 'ben', expires: '2026-03-15T00:00:00.000Z', by: 'ben', role: 'eng-lead', at: '2026-03-01T10:11:00.000Z' };
        const otherGate: NewSignoff = { kind: 'signoff', gate: 'api', release: 'r9', target: { type: 'decision' }, by: 'cy', role: 'release-manager', at: '2026-03-01T10:12:00.000Z' };
        const item: NewSignoff = { kind: 'signoff', gate: 'web', release: 'r1', target: { type: 'item', id: 'C-17' }, by: 'dee', role: 'qa', at: '2026-03-01T10:13:00.000Z' };
        const decisionSignoff: NewSignoff = { kind: 'signoff', gate: 'web', release: 'r2', target: { type: 'decision' }, by: 'ana@example.com', role: 'release-manager', at: '2026-03-01T10:14:00.000Z' };
        const waiverBy: NewWaiver = { ...waiver, itemId: 'H-09', by: 'ana@example.com', at: '2026-03-01T10:15:00.000Z' };
        const added: NewAttestation[] = [stage, waiver, otherGate, item, decisionSignoff, waiverBy];
        const stored: Attestation[] = [];
        for (const a of added) stored.push(await store.addAttestation(a));

        // Each comes back as given, with the id the store gave it; ids sort in the order of adding.
        for (const [i, a] of stored.entries()) assert.deepEqual(a, { ...added[i], id: a.id });
        assert.deepEqual([...stored.map((a) => a.id)].sort(), stored.map((a) => a.id));
        assert.equal(new Set(stored.map((a) => a.id)).size, stored.length);
        const revocation = await store.addAttestation({ kind: 'revocation', gate: 'web', release: 'r1', attestationId: stored[0].id, reason: 'pen test redone', by: 'ana@example.com', role: 'security-lead', at: '2026-03-01T10:16:00.000Z' });
        assert.deepEqual(await store.listAttestations('web'), [stored[0], stored[1], stored[3], stored[4], stored[5], revocation]);
        assert.deepEqual(await store.listAttestations('api'), [stored[2]]);
        assert.deepEqual(await store.listAttestations('no-such-gate'), []);
      }));

    it('keeps two identical attestations: the log is append-only, nothing is merged', () =>
      withStore(async (store) => {
        const signoff: NewSignoff = { kind: 'signoff', gate: 'web', release: 'r1', target: { type: 'decision' }, by: 'ana', role: 'release-manager', at: '2026-03-01T10:14:00.000Z' };
        const first = await store.addAttestation(signoff);
        const second = await store.addAttestation(signoff);
        assert.notEqual(first.id, second.id);
        assert.deepEqual(await store.listAttestations('web'), [first, second]);
      }));

    it('lists runs by release and environment, and keeps what a run selected and its stages', () =>
      withStore(async (store) => {
        const a = await store.beginRun(newRun({ release: 'r1', selection: { tiers: ['critical'] } }));
        const b = await store.beginRun(newRun({ release: 'r2', env: 'production', selection: { stageSet: 'production' } }));
        const c = await store.beginRun(newRun({ release: 'r1', gate: 'api' }));
        const stages = [{ id: 'smoke', title: 'Smoke', budgetMs: 900_000, durationMs: 12, overBudget: false, status: 'passed' as const, items: ['C-1'], failedCritical: [], signoffRoles: ['qa'], signedOff: false }];
        await store.endRun(b, { status: 'completed', finishedAt: '2026-03-01T10:05:00.000Z', decision: decision('GO'), stages });
        assert.deepEqual((await store.listRuns({ release: 'r1' })).map((r) => r.id), [c, a]);
        assert.deepEqual((await store.listRuns({ gate: 'web', release: 'r1' })).map((r) => r.id), [a]);
        assert.deepEqual((await store.listRuns({ env: 'production' })).map((r) => r.id), [b]);
        assert.deepEqual((await store.listRuns({ release: 'r3' })).map((r) => r.id), []);
        const [summary] = await store.listRuns({ release: 'r2' });
        assert.equal(summary.release, 'r2');
        assert.deepEqual(summary.selection, { stageSet: 'production' });
        assert.deepEqual(summary.stages, stages);
        const run = await store.getRun(a);
        assert.deepEqual(run?.selection, { tiers: ['critical'] });
        assert.equal(run?.release, 'r1');
      }));

    it('gives the newest result of each item across the completed runs of one release and environment', () =>
      withStore(async (store) => {
        const full = await store.beginRun(newRun({ release: 'r1' }));
        await store.saveResult(full, { ...itemResult('C-1', 'fail'), definition: 'd1' });
        await store.saveResult(full, { ...itemResult('C-2', 'pass'), definition: 'd2' });
        await store.endRun(full, { status: 'completed', finishedAt: '2026-03-01T10:01:00.000Z', decision: decision('NO_GO') });
        const partial = await store.beginRun(newRun({ release: 'r1', selection: { only: ['C-1'] } }));
        await store.saveResult(partial, { ...itemResult('C-1', 'pass'), definition: 'd1' });
        await store.endRun(partial, { status: 'completed', finishedAt: '2026-03-01T10:02:00.000Z', decision: decision('GO') });
        // Neither an aborted run, another release, another environment nor another gate changes it.
        const aborted = await store.beginRun(newRun({ release: 'r1' }));
        await store.saveResult(aborted, itemResult('C-2', 'fail'));
        await store.endRun(aborted, { status: 'aborted', finishedAt: '2026-03-01T10:03:00.000Z' });
        for (const over of [{ release: 'r2' }, { env: 'production' }, { gate: 'api' }]) {
          const other = await store.beginRun(newRun(over));
          await store.saveResult(other, itemResult('C-1', 'error'));
          await store.endRun(other, { status: 'completed', finishedAt: '2026-03-01T10:04:00.000Z', decision: decision('NO_GO') });
        }
        const latest = (await store.latestResults({ gate: 'web', release: 'r1', env: 'staging' })).sort((x, y) => x.id.localeCompare(y.id));
        assert.deepEqual(latest.map((r) => [r.id, r.status, r.runId, r.definition]), [['C-1', 'pass', partial, 'd1'], ['C-2', 'pass', full, 'd2']]);
        assert.deepEqual(latest[0].attempts, itemResult('C-1', 'pass').attempts);
        assert.deepEqual(await store.latestResults({ gate: 'web', release: 'r9', env: 'staging' }), []);
      }));

    it('refuses to complete a run that has already ended', () =>
      withStore(async (store) => {
        const completed = await store.beginRun(newRun());
        await store.endRun(completed, { status: 'completed', finishedAt: '2026-03-01T10:05:00.000Z', decision: decision('NO_GO', 40) });
        await rejectsAsStoreError(
          store.endRun(completed, { status: 'completed', finishedAt: '2026-03-01T10:06:00.000Z', decision: decision('GO', 100) }),
          'run-ended',
          /already ended \(completed\)/,
        );
        // Ctrl-C after the end: aborting changes nothing.
        await store.endRun(completed, { status: 'aborted', finishedAt: '2026-03-01T10:07:00.000Z' });
        const after = await store.getRun(completed);
        assert.equal(after?.status, 'completed');
        assert.equal(after?.finishedAt, '2026-03-01T10:05:00.000Z');
        assert.equal(after?.decision?.verdict, 'NO_GO');

        const aborted = await store.beginRun(newRun());
        await store.endRun(aborted, { status: 'aborted', finishedAt: '2026-03-01T10:01:00.000Z' });
        await rejectsAsStoreError(store.endRun(aborted, { status: 'completed', finishedAt: '2026-03-01T10:02:00.000Z', decision: decision('GO', 100) }), 'run-ended', /already ended \(aborted\)/);
        assert.equal((await store.getRun(aborted))?.decision, undefined);
      }));

    it('stores no decision for an aborted run, and keeps the results it had', () =>
      withStore(async (store) => {
        const id = await store.beginRun(newRun());
        await store.saveResult(id, itemResult('C-01'));
        await store.endRun(id, { status: 'aborted', finishedAt: '2026-03-01T10:01:00.000Z', decision: decision('GO', 100) });
        const run = await store.getRun(id);
        assert.equal(run?.status, 'aborted');
        assert.equal(run?.finishedAt, '2026-03-01T10:01:00.000Z');
        assert.equal(run !== undefined && 'decision' in run, false);
        assert.deepEqual(run?.results, [itemResult('C-01')]);
        const [summary] = await store.listRuns({});
        assert.equal(summary.verdict, undefined);
        assert.equal(summary.readiness, undefined);
      }));

    it('completes a run without a decision when none is given', () =>
      withStore(async (store) => {
        const id = await store.beginRun(newRun());
        await store.endRun(id, { status: 'completed', finishedAt: '2026-03-01T10:01:00.000Z' });
        const run = await store.getRun(id);
        assert.equal(run?.status, 'completed');
        assert.equal(run !== undefined && 'decision' in run, false);
      }));

    it('rejects results and ends for an unknown run, and results for an ended run', () =>
      withStore(async (store) => {
        await rejectsAsStoreError(store.saveResult('no-such-run', itemResult('C-01')), 'unknown-run', /unknown run no-such-run/);
        await rejectsAsStoreError(store.endRun('no-such-run', { status: 'completed', finishedAt: '2026-03-01T10:01:00.000Z' }), 'unknown-run', /unknown run no-such-run/);
        await rejectsAsStoreError(store.endRun('no-such-run', { status: 'aborted', finishedAt: '2026-03-01T10:01:00.000Z' }), 'unknown-run', /unknown run no-such-run/);

        const id = await store.beginRun(newRun());
        await store.saveResult(id, itemResult('C-01'));
        await store.endRun(id, { status: 'completed', finishedAt: '2026-03-01T10:01:00.000Z', decision: decision() });
        await rejectsAsStoreError(store.saveResult(id, itemResult('C-01', 'fail')), 'run-ended', /is completed/);
        await rejectsAsStoreError(store.saveResult(id, itemResult('C-02')), 'run-ended', /is completed/);
        assert.deepEqual((await store.getRun(id))?.results, [itemResult('C-01')]);
      }));

    it('keeps the runs of parallel writers apart', () =>
      withStore(async (store) => {
        const [a, b] = await Promise.all([store.beginRun(newRun({ gate: 'web' })), store.beginRun(newRun({ gate: 'api' }))]);
        const items = Array.from({ length: 30 }, (_, i) => `C-${String(i + 1).padStart(2, '0')}`);
        await Promise.all(items.flatMap((item) => [store.saveResult(a, itemResult(item)), store.saveResult(b, itemResult(item, 'fail'))]));
        await Promise.all([
          store.endRun(a, { status: 'completed', finishedAt: '2026-03-01T10:05:00.000Z', decision: decision('GO', 100) }),
          store.endRun(b, { status: 'completed', finishedAt: '2026-03-01T10:05:00.000Z', decision: decision('NO_GO', 0) }),
        ]);
        const runA = await store.getRun(a);
        const runB = await store.getRun(b);
        assert.deepEqual(runA?.results, items.map((item) => itemResult(item)));
        assert.deepEqual(runB?.results, items.map((item) => itemResult(item, 'fail')));
        assert.equal(runA?.decision?.verdict, 'GO');
        assert.equal(runB?.decision?.verdict, 'NO_GO');
      }));

    it('renews a running run\'s heartbeat, and refuses to once the run has ended', () =>
      withStore(async (store) => {
        const id = await store.beginRun(newRun());
        await store.heartbeat(id, '2026-03-01T10:00:45.000Z');
        await store.endRun(id, { status: 'completed', finishedAt: '2026-03-01T10:01:00.000Z', decision: decision() });
        await rejectsAsStoreError(store.heartbeat(id, '2026-03-01T10:01:30.000Z'), 'run-ended', /is completed: its lease can no longer be renewed/);
        await rejectsAsStoreError(store.heartbeat('no-such-run', '2026-03-01T10:01:30.000Z'), 'unknown-run', /unknown run no-such-run/);
        await assert.rejects(store.heartbeat(id, 'soon'), /ISO 8601/);
      }));

    it('ends as aborted, at its last heartbeat, a run whose lease lapsed: the next opener finds it, wherever it ran', () =>
      withStore(async (store, clock, open) => {
        // One run renews its lease, one goes silent, one was begun on another host that died.
        const renewed = await store.beginRun(newRun());
        const silent = await store.beginRun(newRun());
        const elsewhere = await store.beginRun(newRun({ pid: 999_999_999, host: 'ci-runner-7.example' }));
        await store.saveResult(silent, itemResult('C-01'));
        await clock.advance(DEFAULT_LEASE_MS - 10_000);
        await store.heartbeat(renewed, new Date(clock.now()).toISOString());
        await clock.advance(20_000); // 70 s after the start: two leases lapsed, one renewed 20 s ago

        const next = await open({ clock });
        try {
          assert.equal((await next.getRun(renewed))?.status, 'running');
          for (const id of [silent, elsewhere]) {
            const run = await next.getRun(id);
            assert.equal(run?.status, 'aborted');
            assert.equal(run?.finishedAt, '2026-03-01T10:00:00.000Z', 'finished at its last heartbeat');
            assert.equal(run !== undefined && 'decision' in run, false);
          }
          assert.deepEqual((await next.getRun(silent))?.results, [itemResult('C-01')]);
          // Ended for good: the run cannot be completed or renewed now.
          await rejectsAsStoreError(next.endRun(silent, { status: 'completed', finishedAt: '2026-03-01T10:02:00.000Z', decision: decision('GO', 100) }), 'run-ended', /already ended \(aborted\)/);
          await rejectsAsStoreError(store.heartbeat(elsewhere, new Date(clock.now()).toISOString()), 'run-ended', /is aborted/);
        } finally {
          await next.close();
        }
      }));

    it('lets a run that lapsed but was not yet ended by anyone renew its lease', () =>
      withStore(async (store, clock, open) => {
        const id = await store.beginRun(newRun());
        await clock.advance(DEFAULT_LEASE_MS + 1);
        // Read as aborted meanwhile, but nobody opened the store to end it: a late heartbeat revives it.
        assert.equal((await store.getRun(id))?.status, 'aborted');
        await store.heartbeat(id, new Date(clock.now()).toISOString());
        assert.equal((await store.getRun(id))?.status, 'running');
        const next = await open({ clock });
        try {
          assert.equal((await next.getRun(id))?.status, 'running');
        } finally {
          await next.close();
        }
      }));

    it('honours the opener\'s lease length', () =>
      withStore(async (store, clock, open) => {
        const id = await store.beginRun(newRun());
        await clock.advance(10_001);
        const patient = await open({ clock, readonly: true });
        try {
          assert.equal((await patient.getRun(id))?.status, 'running');
        } finally {
          await patient.close();
        }
        const strict = await open({ clock, leaseMs: 10_000 });
        try {
          assert.equal((await strict.getRun(id))?.status, 'aborted');
        } finally {
          await strict.close();
        }
      }));

    it('reads read-only: a lapsed run reads as aborted but is not ended, and every write is refused', () =>
      withStore(async (store, clock, open) => {
        const id = await store.beginRun(newRun());
        await store.saveResult(id, itemResult('C-01'));
        const signoff = await store.addAttestation({ kind: 'signoff', gate: 'web', release: 'r1', target: { type: 'decision' }, by: 'ana', role: 'release-manager', at: '2026-03-01T10:00:30.000Z' });
        await store.close();

        const later = fakeClock(T0 + DEFAULT_LEASE_MS + 1);
        const reader = await open({ readonly: true, clock: later });
        try {
          const run = await reader.getRun(id);
          assert.equal(run?.status, 'aborted');
          assert.deepEqual(run?.results, [itemResult('C-01')]);
          assert.deepEqual((await reader.listRuns({})).map((r) => [r.id, r.status]), [[id, 'aborted']]);
          assert.deepEqual(await reader.listAttestations('web'), [signoff]);
          const refused = /the store was opened read-only/;
          await rejectsAsStoreError(reader.beginRun(newRun()), 'read-only', refused);
          await rejectsAsStoreError(reader.saveResult(id, itemResult('C-02')), 'read-only', refused);
          await rejectsAsStoreError(reader.heartbeat(id, '2026-03-01T10:02:00.000Z'), 'read-only', refused);
          await rejectsAsStoreError(reader.endRun(id, { status: 'aborted', finishedAt: '2026-03-01T10:02:00.000Z' }), 'read-only', refused);
          await rejectsAsStoreError(reader.addAttestation(signoff), 'read-only', refused);
        } finally {
          await reader.close();
        }
        // Nothing was written: an opener before the lease lapsed still finds the run running.
        const before = await open({ readonly: true, clock: fakeClock(T0 + 1000) });
        try {
          assert.equal((await before.getRun(id))?.status, 'running');
          assert.equal((await before.listAttestations('web')).length, 1);
        } finally {
          await before.close();
        }
      }));
  });
}
