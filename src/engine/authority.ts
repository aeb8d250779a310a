// Who may attest what: one check for every sign-off, waiver and revocation, applied when it is
// given (a refusal records nothing) and again whenever it is counted (a role withdrawn from the
// config, or a row written past this check, does not count). Pure: no store, no clock, no git.
import type { Config } from '../config/schema.js';
import type { Attestation, SignoffTarget } from '../model.js';

/** The config's authority rules, in the shape the check needs. */
export interface Authority {
  /** Role -> permissions: `decision`, `stage`, `stage:<id>`, `item`, `item:<id>`, `waive`, `revoke`, `rollback`, `*`. */
  roles: Readonly<Record<string, readonly string[]>>;
  /** Who holds which role; when absent, a name is taken as given (the config says so on `status`). */
  people?: Readonly<Record<string, { roles: readonly string[]; emails: readonly string[] }>>;
  /** Stages by id, merged across stage sets (a stage id names one stage wherever it is listed). */
  stages: Readonly<Record<string, { signoff?: readonly string[]; requiredApprovals: number; selfApproval: boolean }>>;
  /** Items by id: only manual items are attested; `signers` narrows who may. */
  items: Readonly<Record<string, { manual: boolean; signers?: readonly string[] }>>;
  decision: { requiredApprovals: number; selfApproval: boolean };
}

/** The author of the release, as git recorded it: matched against a signer's name and emails. */
export interface ReleaseAuthor {
  name: string;
  email: string;
}

/** An attestation someone asks to give: who, in which role, what. */
export type AttestRequest =
  | { action: 'signoff'; target: SignoffTarget; by: string; role: string }
  | { action: 'waive'; itemId: string; by: string; role: string }
  | { action: 'revoke'; attestation: Attestation; by: string; role: string }
  /** Rolling a release back by hand, or answering a conditional trigger (`decide-rollback`). */
  | { action: 'rollback'; by: string; role: string };

/** Allowed, or refused with the rule that refused it. */
export type AuthorityVerdict = { ok: true } | { ok: false; rule: string };

export function authorityOf(config: Config): Authority {
  const people = config.people
    ? Object.fromEntries(Object.entries(config.people).map(([name, p]) => [name, Array.isArray(p) ? { roles: p, emails: [] } : { roles: p.roles, emails: p.emails ?? [] }]))
    : undefined;
  const stages: Record<string, Authority['stages'][string]> = {};
  for (const stage of Object.values(config.stages).flat()) {
    stages[stage.id] ??= { signoff: stage.signoff, requiredApprovals: stage.requiredApprovals ?? 1, selfApproval: stage.selfApproval ?? true };
  }
  const items = Object.fromEntries(config.items.map((i) => [i.id, { manual: i.manual === true, signers: i.signers }]));
  return { roles: config.roles, people, stages, items, decision: { requiredApprovals: config.rules.requiredApprovals, selfApproval: config.rules.selfApproval } };
}

/** The permission a target needs: `decision`, `stage:<id>` or `item:<id>`. */
export function targetKey(target: SignoffTarget): string {
  return target.type === 'decision' ? 'decision' : `${target.type}:${target.id}`;
}

/** Does the role's grant list cover `permission`? A family (`stage`) covers its members (`stage:x`); `*` covers all. */
export function permits(grants: readonly string[] | undefined, permission: string): boolean {
  if (!grants) return false;
  const family = permission.split(':')[0];
  return grants.includes(permission) || grants.includes('*') || (family !== permission && grants.includes(family));
}

function sameIdentity(by: string, emails: readonly string[], author: ReleaseAuthor): boolean {
  const name = by.trim().toLowerCase();
  const email = author.email.trim().toLowerCase();
  return name === author.name.trim().toLowerCase() || name === email || emails.some((e) => e.trim().toLowerCase() === email);
}

const refuse = (rule: string): AuthorityVerdict => ({ ok: false, rule });

/** The one authority check: may `by`, in `role`, give this attestation? */
export function authorize(auth: Authority, req: AttestRequest, author?: ReleaseAuthor): AuthorityVerdict {
  if (req.by.trim() === '') return refuse('an attestation names who gives it (--as NAME)');
  const grants = auth.roles[req.role];
  if (!grants) {
    const known = Object.keys(auth.roles);
    return refuse(`role "${req.role}" is not defined in roles: (${known.length > 0 ? `defined: ${known.join(', ')}` : 'none defined'})`);
  }
  const person = auth.people?.[req.by];
  if (auth.people && !person) return refuse(`${req.by} is not listed in people:, so may attest nothing`);
  if (person && !person.roles.includes(req.role)) return refuse(`${req.by} does not hold the role ${req.role} (people: lists ${person.roles.join(', ') || 'no roles'})`);

  if (req.action === 'waive') {
    if (!auth.items[req.itemId]) return refuse(`unknown item ${req.itemId}`);
    return permits(grants, 'waive') ? { ok: true } : refuse(`role ${req.role} may not waive: it lacks the waive permission`);
  }
  if (req.action === 'rollback') {
    return permits(grants, 'rollback') ? { ok: true } : refuse(`role ${req.role} may not decide a rollback: it lacks the rollback permission`);
  }
  if (req.action === 'revoke') {
    const a = req.attestation;
    if (a.kind === 'revocation') return refuse('a revocation cannot itself be revoked: give the attestation again');
    if (a.by === req.by || permits(grants, 'revoke')) return { ok: true };
    return refuse(`role ${req.role} may not revoke ${a.by}'s ${a.kind}: it lacks the revoke permission (anyone may revoke their own)`);
  }

  const key = targetKey(req.target);
  if (req.target.type === 'item') {
    const item = auth.items[req.target.id];
    if (!item) return refuse(`unknown item ${req.target.id}`);
    if (!item.manual) return refuse(`item ${req.target.id} is automated: its check decides it (a failing one can be waived)`);
    if (item.signers && !item.signers.includes(req.role)) return refuse(`item ${req.target.id} is attested by ${item.signers.join(' or ')} (signers:), not ${req.role}`);
    return permits(grants, key) ? { ok: true } : refuse(`role ${req.role} may not sign ${key}: it lacks the item or ${key} permission`);
  }
  const approval = req.target.type === 'stage' ? auth.stages[req.target.id] : auth.decision;
  if (!approval) return refuse(`unknown stage ${req.target.type === 'stage' ? req.target.id : ''}`);
  if (req.target.type === 'stage') {
    const named = auth.stages[req.target.id]?.signoff;
    if (named && !named.includes(req.role)) return refuse(`stage ${req.target.id} is signed by ${named.join(' or ')} (its signoff:), not ${req.role}`);
  }
  if (!permits(grants, key)) return refuse(`role ${req.role} may not sign ${key}: it lacks the ${req.target.type === 'decision' ? 'decision' : `stage or ${key}`} permission`);
  if (!approval.selfApproval && author && sameIdentity(req.by, person?.emails ?? [], author)) {
    return refuse(`${req.by} is the author of this release (${author.name} <${author.email}>) and may not sign its ${req.target.type === 'decision' ? 'decision' : `stage ${req.target.id}`} (selfApproval: false)`);
  }
  return { ok: true };
}

/** The request an attestation already given stands for, to check it again under today's config. */
export function requestOf(a: Attestation, byId: ReadonlyMap<string, Attestation>): AttestRequest | undefined {
  if (a.kind === 'signoff') return { action: 'signoff', target: a.target, by: a.by, role: a.role };
  if (a.kind === 'waiver') return { action: 'waive', itemId: a.itemId, by: a.by, role: a.role };
  const target = byId.get(a.attestationId);
  return target && { action: 'revoke', attestation: target, by: a.by, role: a.role };
}
