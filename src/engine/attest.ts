// Giving an attestation: the one path by which sign-offs, waivers and revocations enter the
// record. The authority check runs here, in the library, so no surface (CLI, dashboard) can skip
// it; a refusal records nothing and names the rule that refused.
import type { LoadedConfig } from '../config/load.js';
import { configRedactor } from '../config/redactor.js';
import type { Attestation, NewAttestation, Signoff, SignoffTarget } from '../model.js';
import type { Store } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { authorize, targetKey } from './authority.js';
import type { AttestRequest } from './authority.js';
import type { Release } from './release.js';
import { rulesOf } from './rules.js';
import { gateState, readStateInputs } from './state.js';
import type { GateState, StateCache } from './state.js';

/** An attestation refused: `rule` says which rule refused it. Nothing was recorded. */
export class AuthorityError extends Error {
  constructor(readonly rule: string) {
    super(`refused: ${rule}; nothing was recorded`);
    this.name = 'AuthorityError';
  }
}

/** Where an attestation is given: the config, the store, the release and its environment. */
export interface AttestContext {
  loaded: LoadedConfig;
  store: Store;
  clock: Clock;
  release: Release;
  /** The environment whose state a decision or stage sign-off signs (default: the config's first). */
  envName?: string;
  /** Where the config's `${VAR}` values are read from, so that free text naming one is stored redacted (default: process.env). */
  processEnv?: Readonly<Record<string, string | undefined>>;
  /** Keeps the states' store reads while the store does not change (gateState). */
  cache?: StateCache;
}

/** Free text a person typed (a note, a mitigation, a reason) as it may be stored: no secret of the config in any encoding. */
function redactText(ctx: AttestContext): (s: string) => string {
  const redactor = configRedactor(ctx.loaded, ctx.processEnv);
  return (s) => redactor.text(s);
}

const iso = (clock: Clock): string => new Date(clock.now()).toISOString();
const shortId = (id: string): string => id.slice(-8);

function check(ctx: AttestContext, req: AttestRequest): void {
  const verdict = authorize(rulesOf(ctx.loaded).authority, req, ctx.release.author);
  if (!verdict.ok) throw new AuthorityError(verdict.rule);
}

/** A person who already has a sign-off that counts for this target cannot add a second approval. */
function refuseDuplicate(state: GateState, by: string, target: SignoffTarget): void {
  const key = targetKey(target);
  const mine = state.attestations.find((v) => v.standing === 'counts' && v.attestation.kind === 'signoff' && targetKey(v.attestation.target) === key && v.attestation.by === by);
  if (mine) throw new AuthorityError(`${by} already signed ${key} for release ${state.release} (attestation ${mine.attestation.id}); approvals are counted per person`);
}

/**
 * Records a sign-off. A decision sign-off signs the newest completed run of the release (`runId`
 * may name it, and must); a stage sign-off binds to the stage's last run; an item sign-off (manual
 * items) to the release, for `signoffTtl`.
 */
export async function giveSignoff(ctx: AttestContext, req: { target: SignoffTarget; by: string; role: string; note?: string; runId?: string }): Promise<{ attestation: Attestation; state: GateState }> {
  check(ctx, { action: 'signoff', target: req.target, by: req.by, role: req.role });
  // The store is read once: the state before, the verdict signed and the state after all come from it.
  const inputs = await readStateInputs({ ...ctx });
  const state = await gateState({ ...ctx, inputs });
  refuseDuplicate(state, req.by, req.target);
  const base = { kind: 'signoff' as const, gate: ctx.loaded.gate, release: ctx.release.id, target: req.target, by: req.by, role: req.role, at: iso(ctx.clock), ...(req.note !== undefined ? { note: redactText(ctx)(req.note) } : {}) };
  let signoff: Omit<Signoff, 'id'>;
  if (req.target.type === 'item') {
    signoff = base;
  } else {
    const runId = req.target.type === 'decision' ? state.binding.decisionRun : state.binding.stageRuns[req.target.id];
    const what = req.target.type === 'decision' ? `release ${ctx.release.id}` : `stage ${req.target.id} of release ${ctx.release.id}`;
    if (runId === undefined) throw new AuthorityError(`there is no completed run of ${what} in ${state.env} to sign: run it first`);
    if (req.runId !== undefined && req.runId !== runId) throw new AuthorityError(`run ${req.runId} is not the newest completed run of ${what} in ${state.env} (${runId} is): a sign-off counts only for the newest`);
    if (state.configChanged && state.lastRun) throw new AuthorityError(`the config changed since run ${shortId(state.lastRun.id)}: run again and sign the new run`);
    const draft: Omit<Signoff, 'id'> = { ...base, env: state.env, run: { id: runId, verdict: state.decision.verdict, configHash: ctx.loaded.hash } };
    // The verdict signed is the one this sign-off makes: the state with it counted.
    const withIt = await gateState({ ...ctx, inputs, pending: { ...draft, id: '~pending' } });
    signoff = { ...draft, run: { id: runId, verdict: withIt.decision.verdict, configHash: ctx.loaded.hash } };
  }
  const attestation = await ctx.store.addAttestation(signoff);
  // The state it leaves: the rows read above with this sign-off, now recorded, counted.
  return { attestation, state: await gateState({ ...ctx, inputs, pending: attestation }) };
}

/** Records a waiver of a failed item until `expires` (ms since the epoch); it may span releases until then. */
export async function giveWaiver(ctx: AttestContext, req: { itemId: string; by: string; role: string; mitigation: string; owner: string; expires: number }): Promise<Attestation> {
  check(ctx, { action: 'waive', itemId: req.itemId, by: req.by, role: req.role });
  if (req.expires <= ctx.clock.now()) throw new AuthorityError(`a waiver's expiry must be in the future (got ${new Date(req.expires).toISOString()})`);
  const clean = redactText(ctx);
  const waiver: NewAttestation = { kind: 'waiver', gate: ctx.loaded.gate, release: ctx.release.id, itemId: req.itemId, mitigation: clean(req.mitigation), owner: clean(req.owner), expires: new Date(req.expires).toISOString(), by: req.by, role: req.role, at: iso(ctx.clock) };
  return ctx.store.addAttestation(waiver);
}

/** Appends a revocation of an attestation of this gate; nothing is deleted. */
export async function giveRevocation(ctx: AttestContext, req: { attestationId: string; by: string; role: string; reason: string }): Promise<Attestation> {
  if (req.reason.trim() === '') throw new AuthorityError('a revocation says why (--reason)');
  const all = await ctx.store.listAttestations(ctx.loaded.gate);
  const target = all.find((a) => a.id === req.attestationId);
  if (!target) throw new AuthorityError(`no attestation ${req.attestationId} in gate ${ctx.loaded.gate} (gonogo status lists them with their ids)`);
  const earlier = all.find((a) => a.kind === 'revocation' && a.attestationId === target.id);
  if (earlier) throw new AuthorityError(`attestation ${target.id} was already revoked by ${earlier.by} at ${earlier.at}`);
  check(ctx, { action: 'revoke', attestation: target, by: req.by, role: req.role });
  return ctx.store.addAttestation({ kind: 'revocation', gate: ctx.loaded.gate, release: ctx.release.id, attestationId: target.id, reason: redactText(ctx)(req.reason), by: req.by, role: req.role, at: iso(ctx.clock) });
}
