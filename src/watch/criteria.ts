// A window's verdict at its end: its success criteria (config/watch-schema.ts, defaults the seed's
// 24-hour success metrics) judged against what the whole window saw. Pure: the engine gathers the
// record, this judges it. Fail closed: a criterion without the data to judge it fails, saying so.
import type { CriteriaConfig } from '../config/watch-schema.js';
import type { Status } from '../model.js';
import { parseDuration } from '../util/duration.js';
import { formatMetric } from './triggers.js';
import type { MetricValues, TriggerSeverity } from './types.js';

/** What a window saw, as its criteria need it. */
export interface WindowRecord {
  /** Metrics over the whole window (not the sliding window the triggers use). */
  metrics: MetricValues;
  /** The items the window was to check (the stage's items the watch runs). */
  stageItems: readonly string[];
  /** Each item's status at its last evaluation in the window; an item never checked is absent. */
  items: Readonly<Record<string, Status>>;
  /** The triggers that fired during the window. */
  fired: readonly { id: string; severity: TriggerSeverity }[];
  /** Fewer samples than this and the error rate and p95 are not judged: they fail (default 1: some data). */
  minSamples?: number;
}

/** One criterion's judgement. */
export interface CriterionVerdict {
  criterion: 'errorRate' | 'p95' | 'items' | 'triggers';
  passed: boolean;
  /** What was seen against what was asked, in words. */
  message: string;
}

/** The window's verdict: passed when every criterion holds; `reasons` explains each one that does not. */
export interface WindowVerdict {
  passed: boolean;
  reasons: string[];
  criteria: CriterionVerdict[];
}

/** Statuses that count as passing at a window's end: a skipped item is not applicable, never failing. */
const PASSING: ReadonlySet<Status> = new Set(['pass', 'skipped']);

function judgeErrorRate(limit: number, m: MetricValues, minSamples: number): CriterionVerdict {
  const criterion = 'errorRate';
  const v = m.error_rate;
  if (v === undefined || !Number.isFinite(v)) return { criterion, passed: false, message: `error rate: no value measured over the window, so "below ${formatMetric('error_rate', limit)}" cannot be shown` };
  if (m.samples < minSamples) return { criterion, passed: false, message: `error rate: ${m.samples} sample${m.samples === 1 ? '' : 's'} over the window, fewer than ${minSamples}: too few to show it below ${formatMetric('error_rate', limit)}` };
  const passed = v < limit;
  return { criterion, passed, message: `error rate ${formatMetric('error_rate', v)} ${passed ? '<' : '>='} ${formatMetric('error_rate', limit)} over ${m.samples} samples` };
}

function judgeP95(limitMs: number, m: MetricValues, minSamples: number): CriterionVerdict {
  const criterion = 'p95';
  const v = m.p95_ms;
  if (v === undefined || !Number.isFinite(v)) return { criterion, passed: false, message: `p95: no latency measured over the window, so "below ${formatMetric('p95_ms', limitMs)}" cannot be shown` };
  if (m.samples < minSamples) return { criterion, passed: false, message: `p95: ${m.samples} sample${m.samples === 1 ? '' : 's'} over the window, fewer than ${minSamples}: too few to show it below ${formatMetric('p95_ms', limitMs)}` };
  const passed = v < limitMs;
  return { criterion, passed, message: `p95 ${formatMetric('p95_ms', v)} ${passed ? '<' : '>='} ${formatMetric('p95_ms', limitMs)} over ${m.samples} samples` };
}

function judgeItems(r: WindowRecord): CriterionVerdict {
  const criterion = 'items';
  const missing = r.stageItems.filter((id) => !Object.hasOwn(r.items, id));
  const failing = r.stageItems.filter((id) => Object.hasOwn(r.items, id) && !PASSING.has(r.items[id]));
  const problems = [...failing.map((id) => `${id} ${r.items[id]}`), ...missing.map((id) => `${id} never checked in the window`)];
  if (problems.length === 0) return { criterion, passed: true, message: `all ${r.stageItems.length} items passing at their last evaluation` };
  return { criterion, passed: false, message: `${problems.length} of ${r.stageItems.length} items not passing at their last evaluation: ${problems.join(', ')}` };
}

function judgeTriggers(policy: CriteriaConfig['triggers'], fired: WindowRecord['fired']): CriterionVerdict {
  const criterion = 'triggers';
  const counted = policy === 'immediate' ? fired.filter((f) => f.severity === 'immediate') : fired;
  const what = policy === 'immediate' ? 'immediate trigger' : 'trigger';
  if (counted.length === 0) {
    const ridden = fired.length > 0 ? ` (${fired.length} conditional fired, allowed by triggers: immediate)` : '';
    return { criterion, passed: true, message: `no ${what} fired${ridden}` };
  }
  return { criterion, passed: false, message: `${counted.length} ${what}${counted.length === 1 ? '' : 's'} fired during the window: ${counted.map((f) => `${f.id} (${f.severity})`).join(', ')}` };
}

/** Judges a window's record against its criteria: every criterion, each explained; passed only when all hold. */
export function judgeWindow(criteria: CriteriaConfig, record: WindowRecord): WindowVerdict {
  const minSamples = Math.max(1, record.minSamples ?? 1);
  const verdicts = [
    judgeErrorRate(criteria.errorRate, record.metrics, minSamples),
    judgeP95(parseDuration(criteria.p95), record.metrics, minSamples),
    ...(criteria.items === 'passing' ? [judgeItems(record)] : []),
    judgeTriggers(criteria.triggers, record.fired),
  ];
  const reasons = verdicts.filter((v) => !v.passed).map((v) => v.message);
  return { passed: reasons.length === 0, reasons, criteria: verdicts };
}
