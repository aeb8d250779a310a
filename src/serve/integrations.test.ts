// What the rollout tools are told, as a table: the release's verdict, its audit chain and its
// watch (folded from events as the store keeps them) against each Flagger hook and Argo's `go`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GateState } from '../engine/state.js';
import type { TierCount, Verdict } from '../model.js';
import type { WatchEvent } from '../store/types.js';
import { foldWatch } from '../watch/state.js';
import type { WatchState } from '../watch/state.js';
import { decisionDocument, flaggerAnswer, readFlaggerPayload } from './integrations.js';
import type { FlaggerHook } from './integrations.js';

const count = (): TierCount => ({ total: 1, passed: 1, failed: 0, error: 0, pending: 0, skipped: 0, waived: 0 });

function state(verdict: Verdict, intact = true): GateState {
  return {
    gate: 'shop',
    release: 'v2',
    env: 'production',
    configHash: 'c'.repeat(64),
    decision: { verdict, readiness: verdict === 'NO_GO' ? 50 : 100, tiers: { critical: count(), high: count(), recommended: count() }, reasons: [`the reasons for ${verdict}`], conditions: [], blockers: [], missingSignoffs: [] },
    results: [],
    staleItems: [],
    configChanged: false,
    attestations: [],
    binding: { release: 'v2', env: 'production', configHash: 'c'.repeat(64), stageRuns: {}, signoffTtlMs: 1 },
    chain: intact ? { gate: 'shop', entries: 9, head: 'h'.repeat(64), intact } : { gate: 'shop', entries: 4, head: 'h'.repeat(64), intact, problem: { kind: 'row-changed', seq: 5, message: 'entry 5: the row changed' } },
  };
}

/** A watch of v2 from its events, with `extra` kinds after the first evaluation. */
function watch(...extra: [WatchEvent['kind'], Record<string, unknown>][]): WatchState {
  let seq = 0;
  const ev = (kind: WatchEvent['kind'], data: Record<string, unknown>): WatchEvent => ({ id: `e${++seq}`, seq, gate: 'shop', env: 'production', release: 'v2', watchId: 'w1', kind, at: new Date(Date.UTC(2026, 11, 1, 10, seq)).toISOString(), data });
  const events = [ev('watch-begin', { stageSet: 'production', windows: [{ id: 'immediate', title: 'Immediate', windowMs: 900_000, everyMs: 60_000 }] }), ev('window-begin', { window: 'immediate' }), ...extra.map(([k, d]) => ev(k, d))];
  const folded = foldWatch(events);
  assert.ok(folded);
  return folded;
}

const conditional: [WatchEvent['kind'], Record<string, unknown>] = ['trigger', { window: 'immediate', trigger: 'latency', severity: 'conditional', message: 'p95 700 ms' }];
const immediate: [WatchEvent['kind'], Record<string, unknown>] = ['trigger', { window: 'immediate', trigger: 'app-down', severity: 'immediate', message: 'HEALTH failed twice' }];

const rows: { name: string; hook: FlaggerHook; state: GateState; watch?: WatchState; accept?: boolean; status: number; answer: string; says?: RegExp }[] = [
  { name: 'GO proceeds', hook: 'confirm-rollout', state: state('GO'), status: 200, answer: 'proceed' },
  { name: 'NO-GO halts, with its reasons', hook: 'confirm-rollout', state: state('NO_GO'), status: 403, answer: 'halt', says: /NO_GO in production: the reasons for NO_GO/ },
  { name: 'conditions halt unless accepted', hook: 'confirm-rollout', state: state('GO_WITH_CONDITIONS'), status: 403, answer: 'halt' },
  { name: 'conditions accepted proceed', hook: 'confirm-rollout', state: state('GO_WITH_CONDITIONS'), accept: true, status: 200, answer: 'proceed' },
  { name: 'a broken audit chain halts even a GO', hook: 'confirm-rollout', state: state('GO', false), status: 403, answer: 'halt', says: /audit chain does not match the record: entry 5/ },
  { name: 'promotion of GO with a quiet watch proceeds', hook: 'confirm-promotion', state: state('GO'), watch: watch(['evaluation', { window: 'immediate', verdicts: [] }]), status: 200, answer: 'proceed' },
  { name: 'promotion waits for a decision on a conditional trigger', hook: 'confirm-promotion', state: state('GO'), watch: watch(conditional), status: 403, answer: 'halt', says: /waits for a decision on latency/ },
  { name: 'promotion proceeds once a person decided to continue', hook: 'confirm-promotion', state: state('GO'), watch: watch(conditional, ['decide-rollback', { decision: 'continue', by: 'rick', role: 'release-manager' }]), status: 200, answer: 'proceed' },
  { name: 'promotion halts after an immediate trigger', hook: 'confirm-promotion', state: state('GO'), watch: watch(immediate), status: 403, answer: 'halt', says: /immediate trigger app-down fired/ },
  { name: 'no rollback for a GO release with a quiet watch', hook: 'rollback', state: state('GO'), watch: watch(), status: 403, answer: 'no-rollback' },
  { name: 'no rollback while a conditional trigger only waits', hook: 'rollback', state: state('GO'), watch: watch(conditional), status: 403, answer: 'no-rollback' },
  { name: 'rollback when the watch rolled back', hook: 'rollback', state: state('GO'), watch: watch(['rollback-claim', { holder: 'watcher', reason: 'immediate trigger app-down' }]), status: 200, answer: 'rollback', says: /rolled back release v2: immediate trigger app-down/ },
  { name: 'rollback when a person decided so', hook: 'rollback', state: state('GO'), watch: watch(conditional, ['decide-rollback', { decision: 'rollback', by: 'rick', role: 'release-manager' }]), status: 200, answer: 'rollback', says: /rick \(release-manager\) decided to roll back on latency/ },
  { name: 'rollback when the watch failed', hook: 'rollback', state: state('GO'), watch: watch(['watch-end', { outcome: 'failed', reasons: ['window immediate failed'] }]), status: 200, answer: 'rollback' },
  { name: 'rollback of a NO-GO release', hook: 'rollback', state: state('NO_GO'), status: 200, answer: 'rollback', says: /is NO-GO in production/ },
];

for (const row of rows) {
  test(`flagger ${row.hook}: ${row.name}`, () => {
    const a = flaggerAnswer(row.hook, row.state, row.watch, row.accept ?? false);
    assert.equal(a.status, row.status, a.reasons.join('; '));
    assert.equal(a.answer, row.answer);
    if (row.says) assert.match(a.reasons.join('; '), row.says);
  });
}

test("Argo's go: GO only, conditions when accepted, never on a broken chain", () => {
  assert.equal(decisionDocument(state('GO'), false).go, true);
  assert.equal(decisionDocument(state('NO_GO'), true).go, false);
  assert.equal(decisionDocument(state('GO_WITH_CONDITIONS'), false).go, false);
  assert.equal(decisionDocument(state('GO_WITH_CONDITIONS'), true).go, true);
  assert.equal(decisionDocument(state('GO', false), false).go, false);
  assert.deepEqual(Object.keys(decisionDocument(state('GO'), false)), ['gate', 'env', 'release', 'verdict', 'go', 'readiness', 'reasons', 'blockers', 'missingSignoffs', 'chain']);
});

test("Flagger's body is read as its source defines it; anything else is no payload", () => {
  assert.deepEqual(readFlaggerPayload({ name: 'podinfo', namespace: 'test', phase: 'Progressing', checksum: 'abc', metadata: { token: 't', n: 3 } }), { name: 'podinfo', namespace: 'test', phase: 'Progressing', checksum: 'abc', metadata: { token: 't' } });
  assert.deepEqual(readFlaggerPayload({ name: 'podinfo', namespace: 'test' }), { name: 'podinfo', namespace: 'test', phase: '', checksum: '', metadata: {} }, 'an older Flagger without phase and checksum');
  for (const bad of [undefined, null, [], 'x', { name: 'p' }, { name: 'p', namespace: 'n', metadata: [] }]) assert.equal(readFlaggerPayload(bad), undefined, JSON.stringify(bad));
});
