// `--format json`: the run document (`check`, `validate`) and the state document (`status`,
// `report`), both built here field by field so that their shape is what output-schema.ts says and
// nothing else (a field added to the model does not leak into the contract by accident).
import type { ItemConfig } from '../config/schema.js';
import type { GateOutcome } from '../engine/gate.js';
import type { AttestationView, GateState } from '../engine/state.js';
import type { Decision, ItemResult } from '../model.js';
import { isPartial } from '../model.js';
import type { RunSummary } from '../store/types.js';
import { rootCauses } from './explain.js';
import type { DocumentAttestation, DocumentItem, RunDocument, StateDocument } from './output-schema.js';

/**
 * The documents' version (output-schema.ts holds their shape): it changes when a field is removed or
 * changes meaning. Here, not there, so that writing a document never loads the schema's zod.
 */
export const SCHEMA_VERSION = 1;

function items(results: readonly ItemResult[], config: readonly ItemConfig[]): DocumentItem[] {
  const byId = new Map(config.map((i) => [i.id, i]));
  return results.map((r) => ({
    id: r.id,
    title: byId.get(r.id)?.title ?? null,
    tier: r.tier,
    category: byId.get(r.id)?.category ?? null,
    status: r.status,
    message: r.message,
    evidence: r.evidence ?? null,
    durationMs: r.durationMs,
    attempts: r.attempts.length,
    ...(r.runId !== undefined ? { runId: r.runId } : {}),
  }));
}

/** The fields both documents share: the decision (or its absence) and every item's result. */
function decisionAndResults(d: Decision | undefined, results: readonly ItemResult[], config: readonly ItemConfig[]) {
  return {
    decision: d?.verdict ?? null,
    readiness: d?.readiness ?? null,
    tiers: d?.tiers ?? null,
    reasons: d?.reasons ?? ['run aborted: no decision'],
    conditions: d?.conditions ?? [],
    blockers: d?.blockers ?? [],
    missingSignoffs: d?.missingSignoffs ?? [],
    causes: rootCauses(results),
    items: items(results, config),
  };
}

function attestation(v: AttestationView): DocumentAttestation {
  const a = v.attestation;
  const base = { id: a.id, release: a.release, by: a.by, role: a.role, at: a.at, standing: v.standing, why: v.why };
  switch (a.kind) {
    case 'signoff':
      return { kind: a.kind, ...base, target: a.target, env: a.env ?? null, run: a.run ?? null, note: a.note ?? null };
    case 'waiver':
      return { kind: a.kind, ...base, itemId: a.itemId, mitigation: a.mitigation, owner: a.owner, expires: a.expires };
    case 'revocation':
      return { kind: a.kind, ...base, attestationId: a.attestationId, reason: a.reason };
  }
}

function runSummary(r: RunSummary): StateDocument['lastRun'] {
  return {
    id: r.id,
    command: r.command,
    env: r.env,
    release: r.release,
    status: r.status,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt ?? null,
    partial: isPartial(r.selection),
    decision: r.verdict ?? null,
    readiness: r.readiness ?? null,
    configHash: r.configHash,
  };
}

/** The gate's state for one release as a plain object (`status --format json`, `report --format json`). */
export function stateDocument(state: GateState, config: readonly ItemConfig[], generatedAt: string): StateDocument {
  return {
    schemaVersion: SCHEMA_VERSION,
    document: 'state',
    gate: state.gate,
    env: state.env,
    release: state.release,
    generatedAt,
    configHash: state.configHash,
    configChanged: state.configChanged,
    staleItems: [...state.staleItems],
    lastRun: state.lastRun ? runSummary(state.lastRun) : null,
    ...decisionAndResults(state.decision, state.results, config),
    attestations: state.attestations.map(attestation),
  };
}

/** One run as a plain object (`check --format json`, `validate --format json`), with the state after it when known. */
export function runDocument(outcome: GateOutcome, config: readonly ItemConfig[]): RunDocument {
  return {
    schemaVersion: SCHEMA_VERSION,
    document: 'run',
    gate: outcome.gate,
    env: outcome.env,
    release: outcome.release,
    command: outcome.command,
    runId: outcome.runId,
    status: outcome.status,
    startedAt: outcome.startedAt,
    finishedAt: outcome.finishedAt,
    partial: outcome.partial,
    selection: outcome.selection,
    ...decisionAndResults(outcome.decision, outcome.results, config),
    stages: outcome.stages ?? null,
    ...(outcome.state ? { state: stateDocument(outcome.state, config, outcome.finishedAt) } : {}),
  };
}

const text = (doc: RunDocument | StateDocument): string => `${JSON.stringify(doc, null, 2)}\n`;

/** The run document as CI consumes it (`--format json` of `check` and `validate`). */
export function renderJson(outcome: GateOutcome, config: readonly ItemConfig[]): string {
  return text(runDocument(outcome, config));
}

/** The state document as text (`--format json` of `status` and `report`). */
export function renderStateJson(state: GateState, config: readonly ItemConfig[], generatedAt: string): string {
  return text(stateDocument(state, config, generatedAt));
}
