import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, NO_AUTHORITY, SEED_RULES } from './decide.js';
import type { DecisionItem, DecisionRules } from './decide.js';
import type { Authority } from './authority.js';
import type { Binding } from './standing.js';
import type { Attestation, ItemResult, Signoff, Status, Tier, Verdict } from '../model.js';

const NOW = Date.parse('2026-11-26T12:00:00Z');

/** The release being decided, its newest completed run and the config it ran under. */
const BINDING: Binding = { release: 'r7', env: 'staging', configHash: 'cfg-1', decisionRun: 'RUN-2', stageRuns: { security: 'RUN-2' }, signoffTtlMs: 7 * 86_400_000 };

const authority = (roles: Authority['roles'], over: Partial<Authority> = {}): Authority => ({
  ...NO_AUTHORITY,
  roles,
  items: Object.fromEntries(seedItems().map((i) => [i.id, { manual: false }])),
  ...over,
});

let nextId = 0;
const id = (): string => `A${String(++nextId).padStart(3, '0')}`;
const decisionSignoff = (by: string, role: string, over: Partial<Signoff> = {}): Signoff => ({
  id: id(),
  kind: 'signoff',
  gate: 'g',
  release: 'r7',
  env: 'staging',
  target: { type: 'decision' },
  run: { id: 'RUN-2', verdict: 'GO', configHash: 'cfg-1' },
  by,
  role,
  at: '2026-11-26T11:00:00Z',
  ...over,
});

/** The seed's checklist shape: 25 critical, 18 high, 15 recommended. */
function seedItems(): DecisionItem[] {
  const make = (tier: Tier, n: number, prefix: string): DecisionItem[] =>
    Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${String(i + 1).padStart(2, '0')}`, tier }));
  return [...make('critical', 25, 'C'), ...make('high', 18, 'H'), ...make('recommended', 15, 'R')];
}

function results(items: DecisionItem[], overrides: Record<string, Status> = {}): ItemResult[] {
  return items.map((i) => ({ id: i.id, tier: i.tier, status: overrides[i.id] ?? 'pass', message: '', durationMs: 1, attempts: [] }));
}

const failHigh = (n: number, status: Status = 'fail'): Record<string, Status> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`H-${String(i + 1).padStart(2, '0')}`, status]));

const waive = (ids: string[], expires = '2026-12-31T00:00:00Z'): Attestation[] =>
  ids.map((itemId) => ({ id: id(), kind: 'waiver', gate: 'g', release: 'r6', itemId, mitigation: 'feature flag off', owner: 'dana', expires, by: 'dana', role: 'eng-lead', at: '2026-11-25T00:00:00Z' }));

const highIds = (n: number): string[] => Object.keys(failHigh(n));

const scenarios: { name: string; overrides?: Record<string, Status>; attestations?: Attestation[]; rules?: Partial<DecisionRules>; binding?: Partial<Binding>; items?: DecisionItem[]; verdict: Verdict; reason?: RegExp }[] = [
  { name: 'everything passes', verdict: 'GO' },
  { name: '16 of 18 high passed is GO (seed)', overrides: failHigh(2), verdict: 'GO' },
  { name: '15 of 18 high, failures unwaived, is NO-GO', overrides: failHigh(3), verdict: 'NO_GO', reason: /not waived: H-01, H-02, H-03/ },
  { name: '15 of 18 high, all failures waived, is GO WITH CONDITIONS', overrides: failHigh(3), attestations: waive(highIds(3)), verdict: 'GO_WITH_CONDITIONS' },
  { name: '12 of 18 high waived is GO WITH CONDITIONS (seed floor)', overrides: failHigh(6), attestations: waive(highIds(6)), verdict: 'GO_WITH_CONDITIONS' },
  { name: '11 of 18 high is NO-GO even when waived', overrides: failHigh(7), attestations: waive(highIds(7)), verdict: 'NO_GO', reason: /fewer than 12/ },
  { name: 'an expired waiver no longer counts', overrides: failHigh(3), attestations: waive(highIds(3), '2026-11-01T00:00:00Z'), verdict: 'NO_GO' },
  { name: 'one critical failure is NO-GO', overrides: { 'C-07': 'fail' }, verdict: 'NO_GO', reason: /1 of 25 critical/ },
  { name: 'a critical error never counts as passed', overrides: { 'C-01': 'error' }, verdict: 'NO_GO' },
  { name: 'a critical pending never counts as passed', overrides: { 'C-01': 'pending' }, verdict: 'NO_GO' },
  { name: 'a waived critical item still blocks', overrides: { 'C-02': 'fail' }, attestations: waive(['C-02']), verdict: 'NO_GO' },
  { name: 'high errors count as not passed', overrides: failHigh(3, 'error'), verdict: 'NO_GO' },
  { name: 'recommended failures never block', overrides: { 'R-01': 'fail', 'R-02': 'error', 'R-03': 'pending' }, verdict: 'GO', reason: /3 recommended items open/ },
  { name: 'a failing blocker item is NO-GO', items: seedItems().map((i) => (i.id === 'R-04' ? { ...i, blocker: true } : i)), overrides: { 'R-04': 'fail' }, verdict: 'NO_GO', reason: /blocker items not passed: R-04/ },
  { name: 'a missing required sign-off is NO-GO', rules: { requiredSignoffs: ['decision'] }, verdict: 'NO_GO', reason: /missing sign-offs: decision/ },
  {
    name: 'the required sign-off by an allowed role is GO',
    rules: { requiredSignoffs: ['decision'], authority: authority({ 'release-manager': ['decision'] }) },
    attestations: [decisionSignoff('erin', 'release-manager')],
    verdict: 'GO',
  },
  {
    name: 'a sign-off by a role without authority does not count',
    rules: { requiredSignoffs: ['decision'], authority: authority({ 'release-manager': ['decision'], engineer: ['item'] }) },
    attestations: [decisionSignoff('frank', 'engineer')],
    verdict: 'NO_GO',
  },
  {
    name: 'a decision sign-off from an older release (2020) never counts',
    rules: { requiredSignoffs: ['decision'], authority: authority({ 'release-manager': ['decision'] }) },
    attestations: [decisionSignoff('erin', 'release-manager', { release: 'r1', at: '2020-05-01T09:00:00Z', run: { id: 'RUN-OLD', verdict: 'GO', configHash: 'cfg-0' } })],
    verdict: 'NO_GO',
    reason: /missing sign-offs: decision/,
  },
  {
    name: 'a decision sign-off of an older run of the release is stale once a newer run exists',
    rules: { requiredSignoffs: ['decision'], authority: authority({ 'release-manager': ['decision'] }) },
    attestations: [decisionSignoff('erin', 'release-manager', { run: { id: 'RUN-1', verdict: 'GO', configHash: 'cfg-1' } })],
    verdict: 'NO_GO',
  },
  {
    name: 'a decision sign-off made under another config no longer counts',
    rules: { requiredSignoffs: ['decision'], authority: authority({ 'release-manager': ['decision'] }) },
    attestations: [decisionSignoff('erin', 'release-manager', { run: { id: 'RUN-2', verdict: 'GO', configHash: 'cfg-0' } })],
    verdict: 'NO_GO',
  },
  {
    name: 'a revoked decision sign-off no longer counts',
    rules: { requiredSignoffs: ['decision'], authority: authority({ 'release-manager': ['decision'] }) },
    attestations: [
      decisionSignoff('erin', 'release-manager', { id: 'SIGNED' }),
      { id: 'REVOKE', kind: 'revocation', gate: 'g', release: 'r7', attestationId: 'SIGNED', reason: 'smoke test was run on the wrong build', by: 'erin', role: 'release-manager', at: '2026-11-26T11:30:00Z' },
    ],
    verdict: 'NO_GO',
  },
  {
    name: 'requiredApprovals: 2 needs two distinct people, not one person twice',
    rules: { requiredSignoffs: ['decision'], authority: authority({ 'release-manager': ['decision'] }, { decision: { requiredApprovals: 2, selfApproval: true } }) },
    attestations: [decisionSignoff('erin', 'release-manager'), decisionSignoff('erin', 'release-manager')],
    verdict: 'NO_GO',
    reason: /decision \(1 of 2 approvals\)/,
  },
  {
    name: 'requiredApprovals: 2 met by two people is GO',
    rules: { requiredSignoffs: ['decision'], authority: authority({ 'release-manager': ['decision'] }, { decision: { requiredApprovals: 2, selfApproval: true } }) },
    attestations: [decisionSignoff('erin', 'release-manager'), decisionSignoff('omar', 'release-manager')],
    verdict: 'GO',
  },
  {
    name: "the release's author may not sign its decision (selfApproval: false)",
    rules: { requiredSignoffs: ['decision'], authority: authority({ 'release-manager': ['decision'] }) },
    binding: { releaseAuthor: { name: 'Erin Q', email: 'erin@example.com' } },
    attestations: [decisionSignoff('erin@example.com', 'release-manager')],
    verdict: 'NO_GO',
  },
  {
    name: 'a QA lead may not close the security stage, which names the security lead',
    rules: { requiredSignoffs: ['stage:security'], authority: authority({ 'qa-lead': ['stage'], 'security-lead': ['stage'] }, { stages: { security: { signoff: ['security-lead'], requiredApprovals: 1, selfApproval: true } } }) },
    attestations: [decisionSignoff('quinn', 'qa-lead', { target: { type: 'stage', id: 'security' } })],
    verdict: 'NO_GO',
    reason: /missing sign-offs: stage:security/,
  },
  {
    name: 'the security lead closes the security stage',
    rules: { requiredSignoffs: ['stage:security'], authority: authority({ 'qa-lead': ['stage'], 'security-lead': ['stage'] }, { stages: { security: { signoff: ['security-lead'], requiredApprovals: 1, selfApproval: true } } }) },
    attestations: [decisionSignoff('sam', 'security-lead', { target: { type: 'stage', id: 'security' } })],
    verdict: 'GO',
  },
  {
    name: 'a waiver given by a role without the waive permission does not count',
    overrides: failHigh(3),
    rules: { authority: authority({ engineer: ['item'] }) },
    attestations: waive(highIds(3)),
    verdict: 'NO_GO',
  },
  { name: 'configurable thresholds: 0.5 lets 9 of 18 high be GO', overrides: failHigh(9), rules: { goHighRatio: 0.5 }, verdict: 'GO' },
  { name: 'skipped items are not applicable, not failures', overrides: { 'C-03': 'skipped' }, verdict: 'GO' },
];

for (const s of scenarios) {
  test(`decide: ${s.name}`, () => {
    const items = s.items ?? seedItems();
    const rules: DecisionRules = { ...SEED_RULES, authority: authority({ 'eng-lead': ['waive'] }), ...s.rules };
    const { decision } = decide({ items, results: results(items, s.overrides), attestations: s.attestations ?? [], rules, binding: { ...BINDING, ...s.binding }, now: NOW });
    assert.equal(decision.verdict, s.verdict, decision.reasons.join('\n'));
    if (s.reason) assert.match(decision.reasons.join('\n'), s.reason);
  });
}

test('decide: manual items pass only when signed by an allowed role', () => {
  const items: DecisionItem[] = [
    { id: 'RUNBOOK-01', tier: 'critical', manual: true, signers: ['sre'] },
    { id: 'H-1', tier: 'high' },
  ];
  const rules = { ...SEED_RULES, authority: authority({ sre: ['item'], engineer: ['item'] }, { items: { 'RUNBOOK-01': { manual: true, signers: ['sre'] }, 'H-1': { manual: false } } }) };
  const base = { items, results: results(items.filter((i) => !i.manual)), rules, binding: BINDING, now: NOW };
  const sign = (role: string, over: Partial<Signoff> = {}): Signoff => ({ id: id(), kind: 'signoff', gate: 'g', release: 'r7', target: { type: 'item', id: 'RUNBOOK-01' }, by: 'gus', role, at: '2026-11-26T10:00:00Z', ...over });
  assert.equal(decide({ ...base, attestations: [] }).results[0].status, 'pending');
  assert.equal(decide({ ...base, attestations: [sign('engineer')] }).results[0].status, 'pending');
  const signed = decide({ ...base, attestations: [sign('sre')] });
  assert.equal(signed.results[0].status, 'pass');
  assert.equal(signed.decision.verdict, 'GO');
  // An item sign-off binds to its release and lapses after signoffTtl (7 days).
  assert.equal(decide({ ...base, attestations: [sign('sre', { release: 'r6' })] }).results[0].status, 'pending');
  assert.equal(decide({ ...base, attestations: [sign('sre', { at: '2026-11-19T11:59:00Z' })] }).results[0].status, 'pending');
  const views = decide({ ...base, attestations: [sign('sre', { at: '2026-11-19T11:59:00Z' })] }).attestations;
  assert.deepEqual(views.map((v) => v.standing), ['expired']);
});

test('decide: readiness is the share of critical items passed, as the seed counts it', () => {
  const items = seedItems();
  const fails = Object.fromEntries(items.filter((i) => i.tier === 'critical').slice(10).map((i) => [i.id, 'fail' as Status]));
  const { decision } = decide({ items, results: results(items, fails), attestations: [], rules: SEED_RULES, binding: BINDING, now: NOW });
  assert.equal(decision.readiness, 40);
  assert.equal(decision.tiers.critical.passed, 10);
  assert.equal(decision.blockers.length, 15);
});

test('decide: GO WITH CONDITIONS lists the waived items and increased monitoring', () => {
  const items = seedItems();
  const { decision } = decide({ items, results: results(items, failHigh(4)), attestations: waive(highIds(4)), rules: { ...SEED_RULES, authority: authority({ 'eng-lead': ['waive'] }) }, binding: BINDING, now: NOW });
  assert.equal(decision.verdict, 'GO_WITH_CONDITIONS');
  assert.equal(decision.conditions.length, 5);
  assert.match(decision.conditions[0], /H-01: .*waived until 2026-12-31.*feature flag off/);
});

test('decide: a checklist without high items states no high threshold ("0 of 0 high" nowhere)', () => {
  const items: DecisionItem[] = [{ id: 'C-1', tier: 'critical' }];
  const { decision } = decide({ items, results: results(items), attestations: [], rules: SEED_RULES, binding: BINDING, now: NOW });
  assert.equal(decision.verdict, 'GO');
  assert.doesNotMatch(decision.reasons.join('\n'), /0 of 0/);
});
