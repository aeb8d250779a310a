import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorize, permits } from './authority.js';
import type { AttestRequest, Authority, ReleaseAuthor } from './authority.js';
import type { Signoff } from '../model.js';

// The seed's decision authority: a release manager decides, the security lead closes security,
// the QA lead closes functional testing, engineers attest manual items, an engineering lead waives.
const AUTHORITY: Authority = {
  roles: {
    'release-manager': ['decision', 'revoke'],
    'security-lead': ['stage'],
    'qa-lead': ['stage', 'item:RUNBOOK-1'],
    engineer: ['item'],
    'eng-lead': ['waive'],
    admin: ['*'],
  },
  people: {
    erin: { roles: ['release-manager', 'admin'], emails: ['erin@example.com'] },
    sam: { roles: ['security-lead'], emails: [] },
    quinn: { roles: ['qa-lead'], emails: [] },
    gus: { roles: ['engineer'], emails: [] },
    lee: { roles: ['eng-lead', 'engineer'], emails: [] },
  },
  stages: {
    security: { signoff: ['security-lead'], requiredApprovals: 1, selfApproval: true },
    functional: { requiredApprovals: 1, selfApproval: false },
  },
  items: { 'RUNBOOK-1': { manual: true }, 'ONCALL-1': { manual: true, signers: ['qa-lead'] }, 'SEC-1': { manual: false } },
  decision: { requiredApprovals: 1, selfApproval: false },
};

const AUTHOR: ReleaseAuthor = { name: 'Gus Dev', email: 'gus@example.com' };
const ERIN_AUTHOR: ReleaseAuthor = { name: 'Erin R', email: 'erin@example.com' };

const given: Signoff = { id: 'A1', kind: 'signoff', gate: 'g', release: 'r1', target: { type: 'item', id: 'RUNBOOK-1' }, by: 'gus', role: 'engineer', at: '2026-11-26T10:00:00Z' };

const cases: { name: string; req: AttestRequest; author?: ReleaseAuthor; allowed: boolean; rule?: RegExp }[] = [
  { name: 'the release manager signs the decision', req: { action: 'signoff', target: { type: 'decision' }, by: 'erin', role: 'release-manager' }, author: AUTHOR, allowed: true },
  { name: 'a role without decision may not sign it', req: { action: 'signoff', target: { type: 'decision' }, by: 'quinn', role: 'qa-lead' }, allowed: false, rule: /qa-lead may not sign decision/ },
  { name: 'an undefined role is refused', req: { action: 'signoff', target: { type: 'decision' }, by: 'erin', role: 'cto' }, allowed: false, rule: /role "cto" is not defined/ },
  { name: 'a person not in people: may attest nothing', req: { action: 'signoff', target: { type: 'decision' }, by: 'mallory', role: 'release-manager' }, allowed: false, rule: /mallory is not listed in people/ },
  { name: 'a person may not claim a role they do not hold', req: { action: 'signoff', target: { type: 'decision' }, by: 'gus', role: 'release-manager' }, allowed: false, rule: /gus does not hold the role release-manager/ },
  { name: "a QA lead with stage may not close security, whose signoff: names the security lead", req: { action: 'signoff', target: { type: 'stage', id: 'security' }, by: 'quinn', role: 'qa-lead' }, allowed: false, rule: /stage security is signed by security-lead/ },
  { name: 'the security lead closes security', req: { action: 'signoff', target: { type: 'stage', id: 'security' }, by: 'sam', role: 'security-lead' }, allowed: true },
  { name: 'a stage without signoff: takes any role with stage', req: { action: 'signoff', target: { type: 'stage', id: 'functional' }, by: 'quinn', role: 'qa-lead' }, author: AUTHOR, allowed: true },
  { name: 'an unknown stage is refused', req: { action: 'signoff', target: { type: 'stage', id: 'nope' }, by: 'sam', role: 'security-lead' }, allowed: false, rule: /unknown stage nope/ },
  { name: "the release's author may not sign its decision (selfApproval: false by default)", req: { action: 'signoff', target: { type: 'decision' }, by: 'erin', role: 'release-manager' }, author: ERIN_AUTHOR, allowed: false, rule: /author of this release.*selfApproval: false/ },
  { name: 'the author is matched by git name too', req: { action: 'signoff', target: { type: 'stage', id: 'functional' }, by: 'quinn', role: 'qa-lead' }, author: { name: 'quinn', email: 'q@example.com' }, allowed: false, rule: /selfApproval/ },
  { name: 'a stage allowing self-approval takes the author', req: { action: 'signoff', target: { type: 'stage', id: 'security' }, by: 'sam', role: 'security-lead' }, author: { name: 'sam', email: 'sam@example.com' }, allowed: true },
  { name: 'an engineer attests a manual item', req: { action: 'signoff', target: { type: 'item', id: 'RUNBOOK-1' }, by: 'gus', role: 'engineer' }, allowed: true },
  { name: 'item:<id> grants one item', req: { action: 'signoff', target: { type: 'item', id: 'RUNBOOK-1' }, by: 'quinn', role: 'qa-lead' }, allowed: true },
  { name: "an item's signers: narrow who may attest it", req: { action: 'signoff', target: { type: 'item', id: 'ONCALL-1' }, by: 'gus', role: 'engineer' }, allowed: false, rule: /ONCALL-1 is attested by qa-lead/ },
  { name: 'an automated item is not signed: its check decides it', req: { action: 'signoff', target: { type: 'item', id: 'SEC-1' }, by: 'gus', role: 'engineer' }, allowed: false, rule: /automated/ },
  { name: 'a waiver needs the waive permission', req: { action: 'waive', itemId: 'SEC-1', by: 'gus', role: 'engineer' }, allowed: false, rule: /lacks the waive permission/ },
  { name: 'the engineering lead waives', req: { action: 'waive', itemId: 'SEC-1', by: 'lee', role: 'eng-lead' }, allowed: true },
  { name: 'a waiver of an unknown item is refused', req: { action: 'waive', itemId: 'NOPE', by: 'lee', role: 'eng-lead' }, allowed: false, rule: /unknown item NOPE/ },
  { name: 'anyone may revoke their own attestation', req: { action: 'revoke', attestation: given, by: 'gus', role: 'engineer' }, allowed: true },
  { name: "another person's needs the revoke permission", req: { action: 'revoke', attestation: given, by: 'sam', role: 'security-lead' }, allowed: false, rule: /lacks the revoke permission/ },
  { name: 'the release manager may revoke any', req: { action: 'revoke', attestation: given, by: 'erin', role: 'release-manager' }, allowed: true },
  { name: 'a revocation cannot be revoked', req: { action: 'revoke', attestation: { id: 'R1', kind: 'revocation', gate: 'g', release: 'r1', attestationId: 'A1', reason: 'x', by: 'erin', role: 'release-manager', at: '2026-11-26T10:00:00Z' }, by: 'erin', role: 'release-manager' }, allowed: false, rule: /cannot itself be revoked/ },
  { name: 'a rollback decision needs the rollback permission', req: { action: 'rollback', by: 'erin', role: 'release-manager' }, allowed: false, rule: /lacks the rollback permission/ },
  { name: '* grants the rollback decision', req: { action: 'rollback', by: 'erin', role: 'admin' }, allowed: true },
  { name: 'an empty name is refused', req: { action: 'signoff', target: { type: 'decision' }, by: ' ', role: 'release-manager' }, allowed: false, rule: /names who gives it/ },
];

for (const c of cases) {
  test(`authorize: ${c.name}`, () => {
    const verdict = authorize(AUTHORITY, c.req, c.author);
    assert.equal(verdict.ok, c.allowed, verdict.ok ? 'allowed' : verdict.rule);
    if (!verdict.ok && c.rule) assert.match(verdict.rule, c.rule);
  });
}

test('authorize: without people:, names are taken as given but roles still bind', () => {
  const open: Authority = { ...AUTHORITY, people: undefined };
  assert.equal(authorize(open, { action: 'signoff', target: { type: 'decision' }, by: 'anyone', role: 'release-manager' }).ok, true);
  assert.equal(authorize(open, { action: 'waive', itemId: 'SEC-1', by: 'anyone', role: 'engineer' }).ok, false);
});

test('permits: a family covers its members, * covers all, a member does not cover its family', () => {
  assert.equal(permits(['stage'], 'stage:security'), true);
  assert.equal(permits(['stage:security'], 'stage:functional'), false);
  assert.equal(permits(['item:A'], 'item'), false);
  assert.equal(permits(['*'], 'revoke'), true);
  assert.equal(permits(['decision'], 'waive'), false);
  assert.equal(permits(undefined, 'decision'), false);
});
