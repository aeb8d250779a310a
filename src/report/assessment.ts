// The readiness assessment as plain data (the seed's PRODUCTION_READINESS_ASSESSMENT): readiness,
// counts per tier, category and phase, blockers, risks and the remaining-time estimate. The
// renderers print it; the dashboard and JSON output serve it as is.
import type { ItemConfig } from '../config/schema.js';
import { countStatuses } from '../engine/decide.js';
import type { Decision, ItemResult, Status, Tier, TierCount, Verdict } from '../model.js';
import { TIERS } from '../model.js';

/** Counts of one group of items (a tier, a category or a phase) and the share passed. */
export interface GroupCount {
  name: string;
  count: TierCount;
  /** Passed out of applicable (not skipped) items, 0-100, rounded down like the readiness. */
  percentPassed: number;
}

/** A phase of the critical path: done when every applicable item passed, not started when none did. */
export type PhaseState = 'done' | 'in-progress' | 'not-started';

export interface PhaseStatus extends GroupCount {
  state: PhaseState;
}

/** An item that stands between the release and GO. */
export interface BlockerEntry {
  id: string;
  title: string;
  tier: Tier;
  status: Status;
  message: string;
  owner?: string;
}

/** An open item marked as a high or medium risk. */
export interface RiskEntry {
  id: string;
  title: string;
  risk: 'high' | 'medium';
  status: Status;
  owner?: string;
}

/** Hours of work left on the open items, as the seed's optimistic / realistic / pessimistic. */
export interface RemainingTime {
  optimistic: number;
  /** The sum of the `likely` estimates. */
  realistic: number;
  pessimistic: number;
  /** Items neither passed nor skipped. */
  openItems: number;
  /** Open items without an estimate: not in the sums. */
  unestimated: number;
}

/** The readiness assessment of one gate at one moment. */
export interface Assessment {
  verdict: Verdict;
  /** Share of critical items passed, 0-100: the decision's own figure. */
  readiness: number;
  critical: { passed: number; total: number };
  tiers: GroupCount[];
  /** In order of first appearance in the checklist; items without a category are `uncategorized`. */
  categories: GroupCount[];
  /** In checklist order; items without a phase are not on the critical path and not listed. */
  phases: PhaseStatus[];
  blockers: BlockerEntry[];
  /** High risks first, then medium, each in checklist order. */
  risks: RiskEntry[];
  remaining: RemainingTime;
}

export const UNCATEGORIZED = 'uncategorized';

/** Passed out of applicable items; an empty group is complete, as the decision's readiness has it. */
export function percentPassed(c: TierCount): number {
  return c.total === 0 ? 100 : Math.floor((100 * c.passed) / c.total);
}

const isOpen = (s: Status): boolean => s !== 'pass' && s !== 'skipped';

function group(name: string, statuses: Status[]): GroupCount {
  const count = countStatuses(statuses);
  return { name, count, percentPassed: percentPassed(count) };
}

function groupBy(results: readonly ItemResult[], key: (r: ItemResult) => string | undefined): GroupCount[] {
  const groups = new Map<string, Status[]>();
  for (const r of results) {
    const k = key(r);
    if (k === undefined) continue;
    const list = groups.get(k) ?? [];
    list.push(r.status);
    groups.set(k, list);
  }
  return [...groups].map(([name, statuses]) => group(name, statuses));
}

function phaseState(c: TierCount): PhaseState {
  if (c.passed === c.total) return 'done';
  return c.passed === 0 ? 'not-started' : 'in-progress';
}

// Sums of fractional hours: keep two decimals so 0.1 + 0.2 prints as 0.3.
const hours = (n: number): number => Math.round(n * 100) / 100;

/**
 * Assesses readiness from the checklist, the results (every item's final status, as `decide`
 * returns them) and the decision. Results drive the figures, so a partial run is assessed on its
 * selection; the items give titles, categories, phases, owners, risks and estimates.
 */
export function assess(items: readonly ItemConfig[], results: readonly ItemResult[], decision: Decision): Assessment {
  const itemOf = new Map(items.map((i) => [i.id, i]));
  const resultOf = new Map(results.map((r) => [r.id, r]));
  const critical = decision.tiers.critical;

  const blockers = decision.blockers.map((id): BlockerEntry => {
    const item = itemOf.get(id);
    const r = resultOf.get(id);
    return { id, title: item?.title ?? id, tier: r?.tier ?? item?.tier ?? 'critical', status: r?.status ?? 'error', message: r?.message ?? 'no result', owner: item?.owner };
  });

  const open = results.filter((r) => isOpen(r.status));
  const risks: RiskEntry[] = [];
  for (const level of ['high', 'medium'] as const) {
    for (const r of open) {
      const item = itemOf.get(r.id);
      if (item?.risk === level) risks.push({ id: r.id, title: item.title, risk: level, status: r.status, owner: item.owner });
    }
  }

  let optimistic = 0;
  let realistic = 0;
  let pessimistic = 0;
  let unestimated = 0;
  for (const r of open) {
    const e = itemOf.get(r.id)?.estimate;
    if (!e) {
      unestimated += 1;
      continue;
    }
    optimistic += e.optimistic;
    realistic += e.likely;
    pessimistic += e.pessimistic;
  }

  return {
    verdict: decision.verdict,
    readiness: decision.readiness,
    critical: { passed: critical.passed, total: critical.total },
    tiers: TIERS.map((t) => ({ name: t, count: decision.tiers[t], percentPassed: percentPassed(decision.tiers[t]) })),
    categories: groupBy(results, (r) => itemOf.get(r.id)?.category ?? UNCATEGORIZED),
    phases: groupBy(results, (r) => itemOf.get(r.id)?.phase).map((g) => ({ ...g, state: phaseState(g.count) })),
    blockers,
    risks,
    remaining: { optimistic: hours(optimistic), realistic: hours(realistic), pessimistic: hours(pessimistic), openItems: open.length, unestimated },
  };
}
