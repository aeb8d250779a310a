import type { ItemConfig } from '../config/schema.js';
import type { GateOutcome } from '../engine/gate.js';

/** The JSON document of a run, as CI consumes it (`--format json`). Field names are a stable contract. */
export function renderJson(outcome: GateOutcome, items: readonly ItemConfig[]): string {
  const byId = new Map(items.map((i) => [i.id, i]));
  const d = outcome.decision;
  return `${JSON.stringify(
    {
      gate: outcome.gate,
      env: outcome.env,
      command: outcome.command,
      runId: outcome.runId,
      status: outcome.status,
      startedAt: outcome.startedAt,
      finishedAt: outcome.finishedAt,
      partial: outcome.partial,
      decision: d?.verdict ?? null,
      readiness: d?.readiness ?? null,
      tiers: d?.tiers ?? null,
      reasons: d?.reasons ?? ['run aborted: no decision'],
      conditions: d?.conditions ?? [],
      blockers: d?.blockers ?? [],
      missingSignoffs: d?.missingSignoffs ?? [],
      stages: outcome.stages,
      items: outcome.results.map((r) => ({
        id: r.id,
        title: byId.get(r.id)?.title ?? null,
        tier: r.tier,
        category: byId.get(r.id)?.category ?? null,
        status: r.status,
        message: r.message,
        evidence: r.evidence ?? null,
        durationMs: r.durationMs,
        attempts: r.attempts.length,
      })),
    },
    null,
    2,
  )}\n`;
}
