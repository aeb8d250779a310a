// Which attestations count for one release's state, and why the others do not. The decision,
// `status`, `report` and the dashboard all read attestations through this one judgement.
import type { Attestation } from '../model.js';
import { authorize, requestOf } from './authority.js';
import type { Authority, ReleaseAuthor } from './authority.js';
import type { AttestationView } from './state.js';

/** What attestations are bound to: the release, the environment, the config and the runs they sign. */
export interface Binding {
  release: string;
  env: string;
  /** sha256 of the config the state is judged under. */
  configHash: string;
  /** The run a decision sign-off must name to count: the newest completed run of this release. */
  decisionRun?: string;
  /** Per stage id: its last completed run for this release; a stage sign-off must name it. */
  stageRuns: Readonly<Record<string, string>>;
  /** The release's author, for `selfApproval: false`; unknown outside git. */
  releaseAuthor?: ReleaseAuthor;
  /** How long an item sign-off counts (`rules.signoffTtl`). */
  signoffTtlMs: number;
}

const shortId = (id: string): string => id.slice(-8);

function standingOf(a: Attestation, binding: Binding, now: number): Pick<AttestationView, 'standing' | 'why'> {
  if (a.kind === 'revocation') return { standing: 'counts', why: `revokes ${a.attestationId}: ${a.reason}` };
  if (a.kind === 'waiver') {
    const expires = Date.parse(a.expires);
    return expires > now ? { standing: 'counts', why: `until ${a.expires}` } : { standing: 'expired', why: `expired ${a.expires}` };
  }
  if (a.release !== binding.release) return { standing: 'other-release', why: `given for release ${a.release || '(none: recorded before releases)'}, not ${binding.release}` };
  if (a.target.type === 'item') {
    const until = Date.parse(a.at) + binding.signoffTtlMs;
    return until > now ? { standing: 'counts', why: `until ${new Date(until).toISOString()} (signoffTtl)` } : { standing: 'expired', why: `older than signoffTtl (given ${a.at})` };
  }
  if (a.env !== binding.env) return { standing: 'stale', why: `signed for environment ${a.env ?? '(none)'}, not ${binding.env}` };
  const current = a.target.type === 'decision' ? binding.decisionRun : binding.stageRuns[a.target.id];
  const what = a.target.type === 'decision' ? 'this release' : `stage ${a.target.id}`;
  if (!a.run || current === undefined) return { standing: 'stale', why: `names no run of ${what}` };
  if (a.run.id !== current) return { standing: 'stale', why: `signed run ${shortId(a.run.id)}; run ${shortId(current)} of ${what} is newer` };
  if (a.run.configHash !== binding.configHash) return { standing: 'stale', why: 'the config changed since it was signed' };
  return { standing: 'counts', why: `signs run ${shortId(a.run.id)} (${a.run.verdict})` };
}

/**
 * Every attestation with its standing, oldest first: revoked (by a revocation that counts), given
 * for another release, refused by today's authority rules, expired, stale, or counting.
 */
export function judgeAttestations(attestations: readonly Attestation[], authority: Authority, binding: Binding, now: number): AttestationView[] {
  const byId = new Map(attestations.map((a) => [a.id, a]));
  const refusal = (a: Attestation): string | undefined => {
    const req = requestOf(a, byId);
    if (!req) return `revokes ${a.kind === 'revocation' ? a.attestationId : a.id}, which is not in this gate's record`;
    // The author rule applies to attestations of the release being judged; others are judged by their release.
    const verdict = authorize(authority, req, a.release === binding.release ? binding.releaseAuthor : undefined);
    return verdict.ok ? undefined : verdict.rule;
  };
  const revokedBy = new Map<string, Attestation>();
  for (const a of attestations) if (a.kind === 'revocation' && refusal(a) === undefined) revokedBy.set(a.attestationId, a);

  return attestations.map((a): AttestationView => {
    const revocation = revokedBy.get(a.id);
    if (revocation && revocation.kind === 'revocation') return { attestation: a, standing: 'revoked', why: `revoked by ${revocation.by} (${revocation.role}) at ${revocation.at}: ${revocation.reason}` };
    const rule = refusal(a);
    if (rule !== undefined) return { attestation: a, standing: 'refused', why: rule };
    return { attestation: a, ...standingOf(a, binding, now) };
  });
}
