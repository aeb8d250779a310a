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

/** An attestation: who approved what, when, with a note. */
export interface Signoff {
  kind: 'signoff';
  gate: string;
  target: SignoffTarget;
  by: string;
  role: string;
  note?: string;
  /** ISO 8601 time. */
  at: string;
}

/** A failed item accepted with a mitigation, an owner and an expiry. */
export interface Waiver {
  kind: 'waiver';
  gate: string;
  itemId: string;
  mitigation: string;
  owner: string;
  /** ISO 8601; from then on the waiver no longer counts. */
  expires: string;
  by?: string;
  at: string;
}

export type Attestation = Signoff | Waiver;

export type RunStatus = 'running' | 'completed' | 'aborted';

/** A run as stored: what ran, under which config, and what was decided. */
export interface RunRecord {
  id: string;
  gate: string;
  env: string;
  /** `check`, or `validate:<stage-set>`. */
  command: string;
  status: RunStatus;
  startedAt: string;
  finishedAt?: string;
  /** sha256 of the config file's bytes the run was made under. */
  configHash: string;
  decision?: Decision;
  results: ItemResult[];
}
