import type { Attestation, Decision, ItemResult, Signoff, Status, Tier, TierCount, Verdict, Waiver } from '../model.js';
import { TIERS } from '../model.js';
import { targetKey } from './authority.js';
import type { Authority } from './authority.js';
import { judgeAttestations } from './standing.js';
import type { Binding } from './standing.js';
import type { AttestationView } from './state.js';

/** What the decision needs to know of an item; the config's items fit this shape. */
export interface DecisionItem {
  id: string;
  title?: string;
  tier: Tier;
  manual?: boolean;
  blocker?: boolean;
  /** Roles whose sign-off attests a manual item (when absent, any role allowed to sign items). */
  signers?: readonly string[];
}

/** The decision rules; the defaults reproduce the seed. */
export interface DecisionRules {
  /** GO needs at least floor(goHighRatio x N_high) high items passed (seed: 0.9 -> 16 of 18). */
  goHighRatio: number;
  /** GO WITH CONDITIONS needs at least floor(conditionsHighRatio x N_high) (seed: 0.7 -> 12 of 18). */
  conditionsHighRatio: number;
  /** Sign-offs that must be present: `decision`, `stage:<id>`, `item:<id>`. */
  requiredSignoffs: readonly string[];
  /** Who may attest what (authority.ts): every attestation is judged by it before it counts. */
  authority: Authority;
}

export const NO_AUTHORITY: Authority = { roles: {}, stages: {}, items: {}, decision: { requiredApprovals: 1, selfApproval: false } };

export const SEED_RULES: DecisionRules = {
  goHighRatio: 0.9,
  conditionsHighRatio: 0.7,
  requiredSignoffs: [],
  authority: NO_AUTHORITY,
};

export interface DecideInput {
  items: readonly DecisionItem[];
  /** Results of automated items (manual items are resolved here from sign-offs). */
  results: readonly ItemResult[];
  /** The gate's attestations, oldest first; only those that count under `binding` are used. */
  attestations: readonly Attestation[];
  rules: DecisionRules;
  /** The release, environment, config and runs the attestations must be bound to. */
  binding: Binding;
  /** The moment the decision is made, ms since the epoch: waivers and item sign-offs past their time no longer count. */
  now: number;
}

export interface DecideOutput {
  decision: Decision;
  /** Every item's final status, in item order: manual items attested, waivers applied. */
  results: ItemResult[];
  /** Every attestation with its standing: what counted, and why the others did not. */
  attestations: AttestationView[];
}

/** `decision`, `stage:<id>` or `item:<id>`. */
export function signoffKey(s: Signoff): string {
  return targetKey(s.target);
}

/** How many distinct people must sign `key`. */
function approvalsNeeded(authority: Authority, key: string): number {
  if (key === 'decision') return authority.decision.requiredApprovals;
  if (key.startsWith('stage:')) return authority.stages[key.slice('stage:'.length)]?.requiredApprovals ?? 1;
  return 1;
}

function emptyCount(): TierCount {
  return { total: 0, passed: 0, failed: 0, error: 0, pending: 0, skipped: 0, waived: 0 };
}

const COUNT_FIELD: Record<Status, keyof TierCount> = {
  pass: 'passed',
  fail: 'failed',
  error: 'error',
  pending: 'pending',
  skipped: 'skipped',
  waived: 'waived',
};

/** Counts statuses; `total` excludes skipped items (not applicable). */
export function countStatuses(statuses: Iterable<Status>): TierCount {
  const c = emptyCount();
  for (const s of statuses) {
    c[COUNT_FIELD[s]] += 1;
    if (s !== 'skipped') c.total += 1;
  }
  return c;
}

/** The newest waiver of the item among those that count (expired and revoked ones were judged out). */
function liveWaiver(waivers: readonly Waiver[], itemId: string): Waiver | undefined {
  return waivers.filter((w) => w.itemId === itemId).at(-1);
}

/**
 * The go/no-go decision as a pure function of items, results, attestations and rules (PRODUCT.md):
 * no clock, no I/O. `error` and `pending` never count as passed; recommended items never block.
 */
export function decide(input: DecideInput): DecideOutput {
  const { items, rules, now } = input;
  const byId = new Map(input.results.map((r) => [r.id, r]));
  const views = judgeAttestations(input.attestations, rules.authority, input.binding, now);
  const counting = views.filter((v) => v.standing === 'counts').map((v) => v.attestation);
  const validSignoffs = counting.filter((a): a is Signoff => a.kind === 'signoff');
  const waivers = counting.filter((a): a is Waiver => a.kind === 'waiver');
  const approvers = new Map<string, Set<string>>();
  for (const s of validSignoffs) approvers.set(signoffKey(s), (approvers.get(signoffKey(s)) ?? new Set()).add(s.by));

  const results: ItemResult[] = items.map((item) => {
    let r: ItemResult = byId.get(item.id) ?? {
      id: item.id,
      tier: item.tier,
      status: item.manual ? 'pending' : 'error',
      message: item.manual ? 'awaiting sign-off' : 'not run',
      durationMs: 0,
      attempts: [],
    };
    if (item.manual) {
      const s = validSignoffs.filter((x) => signoffKey(x) === `item:${item.id}`);
      const last = s.at(-1);
      r = last
        ? { ...r, status: 'pass', message: `signed by ${last.by} (${last.role}) at ${last.at}${last.note ? `: ${last.note}` : ''}` }
        : { ...r, status: 'pending', message: `awaiting sign-off${item.signers ? ` by ${item.signers.join(' or ')}` : ''}` };
    }
    if (r.status === 'fail' || r.status === 'error' || r.status === 'pending') {
      const w = liveWaiver(waivers, item.id);
      if (w) r = { ...r, status: 'waived', message: `${r.message} — waived until ${w.expires}: ${w.mitigation} (owner ${w.owner})` };
    }
    return r;
  });

  const tiers = Object.fromEntries(TIERS.map((t) => [t, countStatuses(results.filter((r) => r.tier === t).map((r) => r.status))])) as Record<Tier, TierCount>;
  const itemOf = new Map(items.map((i) => [i.id, i]));
  const label = (r: ItemResult): string => `${r.id} (${r.status}${r.message ? `: ${r.message}` : ''})`;

  const critical = tiers.critical;
  const readiness = critical.total === 0 ? 100 : Math.floor((100 * critical.passed) / critical.total);
  const criticalOpen = results.filter((r) => r.tier === 'critical' && r.status !== 'pass' && r.status !== 'skipped');
  const blockerOpen = results.filter((r) => itemOf.get(r.id)?.blocker && r.status !== 'pass' && r.status !== 'skipped');
  const highOpen = results.filter((r) => r.tier === 'high' && r.status !== 'pass' && r.status !== 'skipped');
  const highUnwaived = highOpen.filter((r) => r.status !== 'waived');
  const goMin = Math.floor(rules.goHighRatio * tiers.high.total);
  const condMin = Math.floor(rules.conditionsHighRatio * tiers.high.total);
  const missingSignoffs = rules.requiredSignoffs.flatMap((k) => {
    const have = approvers.get(k)?.size ?? 0;
    const need = approvalsNeeded(rules.authority, k);
    if (have >= need) return [];
    return [need > 1 ? `${k} (${have} of ${need} approvals)` : k];
  });

  const reasons: string[] = [];
  const blockers = [...new Set([...criticalOpen, ...blockerOpen].map((r) => r.id))];
  if (criticalOpen.length > 0) {
    reasons.push(`${criticalOpen.length} of ${critical.total} critical items not passed: ${criticalOpen.map(label).join('; ')}`);
  } else {
    reasons.push(`all ${critical.total} critical items passed`);
  }
  if (blockerOpen.length > 0) reasons.push(`blocker items not passed: ${blockerOpen.map((r) => r.id).join(', ')}`);
  // A gate (or a selection) without high items has no threshold to state.
  if (tiers.high.total > 0) reasons.push(`${tiers.high.passed} of ${tiers.high.total} high items passed (GO needs ${goMin}, GO WITH CONDITIONS ${condMin})`);
  if (missingSignoffs.length > 0) reasons.push(`missing sign-offs: ${missingSignoffs.join(', ')}`);

  const baseOk = criticalOpen.length === 0 && blockerOpen.length === 0 && missingSignoffs.length === 0;
  let verdict: Verdict = 'NO_GO';
  const conditions: string[] = [];
  if (baseOk && tiers.high.passed >= goMin) {
    verdict = 'GO';
  } else if (baseOk && tiers.high.passed >= condMin) {
    if (highUnwaived.length === 0) {
      verdict = 'GO_WITH_CONDITIONS';
      for (const r of highOpen) conditions.push(`${r.id}: ${r.message}`);
      conditions.push('increased monitoring during the post-deploy watch');
    } else {
      reasons.push(`high items not passed and not waived: ${highUnwaived.map((r) => r.id).join(', ')}`);
    }
  } else if (baseOk) {
    reasons.push(`fewer than ${condMin} high items passed`);
  }
  const recommendedOpen = results.filter((r) => r.tier === 'recommended' && r.status !== 'pass' && r.status !== 'skipped');
  if (recommendedOpen.length > 0) reasons.push(`${recommendedOpen.length} recommended items open (never blocking): ${recommendedOpen.map((r) => r.id).join(', ')}`);

  return { decision: { verdict, readiness, tiers, reasons, conditions, blockers, missingSignoffs }, results, attestations: views };
}
