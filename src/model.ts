// Results, decisions and attestations as plain data: what the engine returns, the store keeps,
// the renderers print and the dashboard will serve. No classes, no methods.

export const TIERS = ['critical', 'high', 'recommended'] as const;
export type Tier = (typeof TIERS)[number];

/**
 * Result statuses, best first. "Worst of" is the highest index (STYLE habit 4). `error` (could not
 * verify) and `pending` (manual, not attested) never count as passed.
 */
export const STATUS_ORDER = ['pass', 'skipped', 'waived', 'pending', 'fail', 'error'] as const;
export type Status = (typeof STATUS_ORDER)[number];

export function worstStatus(statuses: Iterable<Status>): Status {
  let worst = 0;
  for (const s of statuses) worst = Math.max(worst, STATUS_ORDER.indexOf(s));
  return STATUS_ORDER[worst];
}

/** One try at a check; every attempt's evidence is kept, not only the last. */
export interface Attempt {
  attempt: number;
  status: Status;
  message: string;
  evidence?: unknown;
  durationMs: number;
  startedAt: string;
}

/** The result of one item in one run. */
export interface ItemResult {
  id: string;
  tier: Tier;
  status: Status;
  message: string;
  evidence?: unknown;
  durationMs: number;
  attempts: Attempt[];
  /** sha256 of the item's definition the result was made under: a changed definition makes the result stale. */
  definition?: string;
  /** In a gate's state: the run the result comes from. */
  runId?: string;
}

export const VERDICTS = ['GO', 'GO_WITH_CONDITIONS', 'NO_GO'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** Counts of one tier (or category, or phase). */
export interface TierCount {
  total: number;
  passed: number;
  failed: number;
  error: number;
  pending: number;
  skipped: number;
  waived: number;
}

/** A decision always carries its reasons. */
export interface Decision {
  verdict: Verdict;
  /** Share of critical items passed, 0-100 (the seed's headline "10/25 critical (40%)"). */
  readiness: number;
  tiers: Record<Tier, TierCount>;
  reasons: string[];
  /** For GO WITH CONDITIONS: the waived items with their mitigations, and increased monitoring. */
  conditions: string[];
  /** Items whose failure blocks GO (critical items not passed, failing `blocker` items). */
  blockers: string[];
  /** Required sign-offs not yet given (`decision`, `stage:security`, ...). */
  missingSignoffs: string[];
}

/** What a sign-off approves. */
export type SignoffTarget = { type: 'item'; id: string } | { type: 'stage'; id: string } | { type: 'decision' };

/** The completed run a decision or stage sign-off is bound to, as the signer saw it. */
export interface SignedRun {
  id: string;
  /** The verdict the sign-off approves: the state's verdict with this sign-off counted. */
  verdict: Verdict;
  configHash: string;
}

/** What every attestation records: who, in which role, for which release, when. */
interface AttestationBase {
  /** Assigned by the store; sorts by creation time. `gonogo revoke ID` names it. */
  id: string;
  gate: string;
  /** The release it was given for (`--release`, the git commit, or the config hash). */
  release: string;
  by: string;
  role: string;
  /** ISO 8601 time. */
  at: string;
}

/** An attestation: who approved what, for which release, when, with a note. */
export interface Signoff extends AttestationBase {
  kind: 'signoff';
  target: SignoffTarget;
  /** The environment whose state was signed (decision and stage sign-offs). */
  env?: string;
  /** Decision: the run signed. Stage: the stage's last run when signed. Items bind to the release only. */
  run?: SignedRun;
  note?: string;
}

/** A failed item accepted with a mitigation, an owner and an expiry; it may span releases until then. */
export interface Waiver extends AttestationBase {
  kind: 'waiver';
  itemId: string;
  mitigation: string;
  owner: string;
  /** ISO 8601; from then on the waiver no longer counts. */
  expires: string;
}

/** Withdraws an attestation: appended, never deleting what it revokes. */
export interface Revocation extends AttestationBase {
  kind: 'revocation';
  attestationId: string;
  reason: string;
}

export type Attestation = Signoff | Waiver | Revocation;

/** An attestation before the store has given it an id. */
export type NewAttestation = Omit<Signoff, 'id'> | Omit<Waiver, 'id'> | Omit<Revocation, 'id'>;

export type RunStatus = 'running' | 'completed' | 'aborted';

/** Which items a run covered; absent fields mean "all". A run with `only` or `tiers` is partial. */
export interface RunSelection {
  only?: string[];
  tiers?: Tier[];
  /** `validate <set>`: the stage set run. */
  stageSet?: string;
}

/** How one stage of `validate` went: time against budget, failures, sign-offs. */
export interface StageReport {
  id: string;
  title: string;
  budgetMs: number;
  durationMs: number;
  overBudget: boolean;
  status: 'passed' | 'failed' | 'not-run';
  items: string[];
  failedCritical: string[];
  /** Roles asked to sign this stage, and whether a sign-off that counts exists. */
  signoffRoles: string[];
  signedOff: boolean;
}

/** A run as stored: what ran, for which release, under which config, and what was decided. */
export interface RunRecord {
  id: string;
  gate: string;
  env: string;
  /** `check`, or `validate:<stage-set>`. */
  command: string;
  /** What is being decided: `--release`, the git commit (`+dirty`), or the config hash. */
  release: string;
  selection: RunSelection;
  status: RunStatus;
  startedAt: string;
  finishedAt?: string;
  /** sha256 of the config file's bytes the run was made under. */
  configHash: string;
  decision?: Decision;
  results: ItemResult[];
  /** `validate` runs: each stage's report. */
  stages?: StageReport[];
}

/** True when the run left items out on purpose (`--only`, `--tier`): its verdict covers its selection only. */
export function isPartial(selection: RunSelection): boolean {
  return selection.only !== undefined || selection.tiers !== undefined;
}
