// The rollout tools' questions, answered from the release's state (the library's gateState) and its
// watch (foldWatch): Argo Rollouts' `web` metric reads a field of a JSON document, Flagger's
// webhooks read the status code (2xx proceeds; for the rollback hook, 2xx rolls back). Pure: the
// routes in api.ts fetch the state and the watch, these functions say what they mean.
import type { GateState } from '../engine/state.js';
import type { Verdict } from '../model.js';
import type { WatchState } from '../watch/state.js';
import { awaitingDecision } from '../watch/state.js';

/**
 * The decision as Argo Rollouts' `web` metric provider reads it (`jsonPath: "{$.go}"`,
 * `successCondition: result == true`): `go` is true only for GO, or for GO WITH CONDITIONS when the
 * caller accepts conditions (as `gonogo status --accept-conditions`).
 */
export interface DecisionDocument {
  gate: string;
  env: string;
  release: string;
  verdict: Verdict;
  go: boolean;
  readiness: number;
  reasons: string[];
  blockers: string[];
  missingSignoffs: string[];
  /** The audit chain's head the state was read under, and whether the rows read match it. */
  chain: { intact: boolean; head: string };
}

export function decisionDocument(state: GateState, acceptConditions: boolean): DecisionDocument {
  const d = state.decision;
  return {
    gate: state.gate,
    env: state.env,
    release: state.release,
    verdict: d.verdict,
    go: isGo(d.verdict, acceptConditions) && state.chain.intact,
    readiness: d.readiness,
    reasons: d.reasons,
    blockers: d.blockers,
    missingSignoffs: d.missingSignoffs,
    chain: { intact: state.chain.intact, head: state.chain.head },
  };
}

function isGo(verdict: Verdict, acceptConditions: boolean): boolean {
  return verdict === 'GO' || (acceptConditions && verdict === 'GO_WITH_CONDITIONS');
}

/** The webhook types of a Flagger Canary that gonogo answers. */
export const FLAGGER_HOOKS = ['confirm-rollout', 'confirm-promotion', 'rollback'] as const;
export type FlaggerHook = (typeof FLAGGER_HOOKS)[number];

/** The JSON body Flagger POSTs to every webhook (CanaryWebhookPayload in Flagger's source). */
export interface FlaggerPayload {
  name: string;
  namespace: string;
  phase: string;
  checksum: string;
  metadata: Record<string, string>;
}

/** Reads Flagger's body; undefined when it is not one (a 400, never a guess). */
export function readFlaggerPayload(body: unknown): FlaggerPayload | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  if (typeof b.name !== 'string' || typeof b.namespace !== 'string') return undefined;
  const metadata: Record<string, string> = {};
  if (b.metadata !== undefined && b.metadata !== null) {
    if (typeof b.metadata !== 'object' || Array.isArray(b.metadata)) return undefined;
    for (const [k, v] of Object.entries(b.metadata)) if (typeof v === 'string') metadata[k] = v;
  }
  return { name: b.name, namespace: b.namespace, phase: typeof b.phase === 'string' ? b.phase : '', checksum: typeof b.checksum === 'string' ? b.checksum : '', metadata };
}

/** What a hook answers: `status` is what Flagger acts on (2xx: proceed, or for `rollback`, roll back). */
export interface FlaggerAnswer {
  hook: FlaggerHook;
  status: 200 | 403;
  /** confirm hooks: proceed; rollback hook: roll back. */
  answer: 'proceed' | 'halt' | 'rollback' | 'no-rollback';
  verdict: Verdict;
  release: string;
  env: string;
  reasons: string[];
}

/**
 * The answer to one of Flagger's hooks for the release's state and its newest watch:
 * - `confirm-rollout`: proceed only on GO (GO WITH CONDITIONS when accepted) with the chain intact;
 * - `confirm-promotion`: the same, and no watch of the release rolled back, failed or waits for a
 *   person's decision on a conditional trigger;
 * - `rollback`: roll back when the release's watch rolled back (or claimed a rollback), failed, had
 *   an immediate trigger fire or a person decided to roll back, or when the release is NO-GO.
 * Anything not verified does not count as passing: a broken chain halts.
 */
export function flaggerAnswer(hook: FlaggerHook, state: GateState, watch: WatchState | undefined, acceptConditions: boolean): FlaggerAnswer {
  const base = { hook, verdict: state.decision.verdict, release: state.release, env: state.env };
  const stop = watchStop(watch);
  if (hook === 'rollback') {
    const why = [...(stop ? [stop] : []), ...(state.decision.verdict === 'NO_GO' ? [`release ${state.release} is NO-GO in ${state.env}: ${state.decision.reasons.join('; ')}`] : [])];
    return why.length > 0 ? { ...base, status: 200, answer: 'rollback', reasons: why } : { ...base, status: 403, answer: 'no-rollback', reasons: [`no rollback: release ${state.release} is ${state.decision.verdict} in ${state.env}${watch ? ` and its watch ${watch.watchId} ${watch.outcome ?? 'is running'}` : ''}`] };
  }
  const why: string[] = [];
  if (!state.chain.intact) why.push(`the audit chain does not match the record: ${state.chain.problem?.message ?? 'broken'}`);
  if (!isGo(state.decision.verdict, acceptConditions)) why.push(`release ${state.release} is ${state.decision.verdict} in ${state.env}: ${state.decision.reasons.join('; ')}`);
  if (hook === 'confirm-promotion') {
    if (stop) why.push(stop);
    const waiting = watch && !watch.outcome ? awaitingDecision(watch) : [];
    if (waiting.length > 0) why.push(`watch ${watch?.watchId} waits for a decision on ${waiting.map((f) => f.id).join(', ')} (gonogo decide-rollback)`);
  }
  return why.length > 0 ? { ...base, status: 403, answer: 'halt', reasons: why } : { ...base, status: 200, answer: 'proceed', reasons: [`release ${state.release} is ${state.decision.verdict} in ${state.env}`] };
}

/** Why a release's watch says stop (it rolled back, failed, an immediate trigger fired, a person decided to roll back), if it does. */
function watchStop(watch: WatchState | undefined): string | undefined {
  if (!watch) return undefined;
  if (watch.outcome === 'rolled-back' || watch.rollback) return `watch ${watch.watchId} rolled back release ${watch.release}${watch.rollback?.reason ? `: ${watch.rollback.reason}` : ''}`;
  if (watch.outcome === 'failed') return `watch ${watch.watchId} failed: ${watch.reasons.join('; ')}`;
  const immediate = watch.fired.find((f) => f.severity === 'immediate');
  if (immediate) return `immediate trigger ${immediate.id} fired: ${immediate.message}`;
  const decided = watch.fired.find((f) => f.decision?.decision === 'rollback');
  if (decided?.decision) return `${decided.decision.by} (${decided.decision.role}) decided to roll back on ${decided.id}`;
  return undefined;
}
