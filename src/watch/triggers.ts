// The triggers' judgement of one evaluation: a pure function of the triggers, what was observed and
// each trigger's running streak. No clock, no I/O: the watch, the replay and the tests call the same
// code, and a resumed watch carries on from the streaks it stored.
import type { MetricName, MetricValues, Observation, TriggerConfig, TriggerState, TriggerVerdict } from './types.js';

/** Every trigger's streak, by trigger id (plain data: stored, and rebuilt on resume). */
export type TriggerStates = Readonly<Record<string, TriggerState>>;

const FRESH: TriggerState = { streak: 0, fired: false };

/** A metric's value as a person reads it: a rate as a percentage, a latency in milliseconds. */
export function formatMetric(metric: MetricName, value: number): string {
  if (metric === 'error_rate') return `${Number((value * 100).toFixed(2))}%`;
  return `${Number(value.toFixed(1))} ms`;
}

/** What one trigger saw in one evaluation, before its streak is applied. */
interface Judgement {
  state: 'ok' | 'breach' | 'no-data';
  value?: number;
  threshold?: number;
  message: string;
}

function judgeItems(ids: readonly string[], items: Observation['items']): Judgement {
  const seen = ids.filter((id) => Object.hasOwn(items, id));
  if (seen.length === 0) return { state: 'no-data', message: `none of its items (${ids.join(', ')}) was checked in this evaluation` };
  // Fail closed: an item that could not be verified (error) counts as not passing.
  const failing = seen.filter((id) => items[id] === 'fail' || items[id] === 'error');
  const detail = failing.length > 0 ? `: ${failing.map((id) => `${id} ${items[id]}`).join(', ')}` : '';
  const unseen = seen.length < ids.length ? ` (${ids.length - seen.length} not checked this time)` : '';
  return { state: failing.length > 0 ? 'breach' : 'ok', value: failing.length, threshold: 0, message: `${failing.length} of ${seen.length} item${seen.length === 1 ? '' : 's'} not passing${detail}${unseen}` };
}

function judgeMetric(t: TriggerConfig, metric: MetricName, metrics: MetricValues, baseline: MetricValues | undefined): Judgement {
  const value = metrics[metric];
  if (value === undefined || !Number.isFinite(value)) return { state: 'no-data', message: `${metric}: no value in this evaluation` };
  // Infinite samples: a count the source does not give (a replayed series without one): the guard cannot apply.
  const counted = Number.isFinite(metrics.samples);
  const over = counted ? ` over ${metrics.samples} samples` : '';
  if (counted && metrics.samples < t.minSamples) return { state: 'no-data', value, message: `${metric} ${formatMetric(metric, value)} stands on ${metrics.samples} sample${metrics.samples === 1 ? '' : 's'}, fewer than ${t.minSamples}: not judged` };
  let threshold: number;
  let against: string;
  if (t.aboveBaseline !== undefined) {
    const base = baseline?.[metric];
    const missing = baseline === undefined ? 'no baseline recorded' : base === undefined || !Number.isFinite(base) ? `the baseline has no ${metric}` : undefined;
    if (missing !== undefined && t.above === undefined) return { state: 'no-data', value, message: `${metric} ${formatMetric(metric, value)}: ${missing}, so ${t.aboveBaseline} x baseline cannot be judged${baseline === undefined ? ' (gonogo baseline record)' : ''}` };
    if (missing !== undefined || base === undefined) {
      // With a floor given too, the floor alone is judged until there is a baseline.
      threshold = t.above ?? 0;
      against = `${formatMetric(metric, threshold)} (the floor: ${missing})`;
    } else {
      const relative = t.aboveBaseline * base;
      // `above:` beside `aboveBaseline:` is a floor: a fast service's noise never fires a relative trigger.
      threshold = t.above !== undefined ? Math.max(t.above, relative) : relative;
      against = `${formatMetric(metric, threshold)} (${t.aboveBaseline} x baseline ${formatMetric(metric, base)}${t.above !== undefined ? `, at least ${formatMetric(metric, t.above)}` : ''})`;
    }
  } else if (t.above !== undefined) {
    threshold = t.above;
    against = formatMetric(metric, threshold);
  } else {
    return { state: 'no-data', value, message: `${metric}: the trigger has no threshold (above or aboveBaseline)` };
  }
  const breach = value > threshold;
  return { state: breach ? 'breach' : 'ok', value, threshold, message: `${metric} ${formatMetric(metric, value)} ${breach ? '>' : '<='} ${against}${over}` };
}

function judgeReports(reports: number): Judgement {
  if (!Number.isFinite(reports)) return { state: 'no-data', message: 'reported issues: not known in this evaluation' };
  return { state: reports > 0 ? 'breach' : 'ok', value: reports, threshold: 0, message: `${reports} open issue report${reports === 1 ? '' : 's'} (fires above 0)` };
}

/** What a trigger makes of an observation, before its streak. */
function judge(t: TriggerConfig, o: Observation): Judgement {
  if (t.items !== undefined) return judgeItems(t.items, o.items);
  if (t.metric !== undefined) return judgeMetric(t, t.metric, o.metrics, o.baseline);
  if (t.reports) return judgeReports(o.reports);
  // The schema refuses a trigger watching nothing; one built by hand is judged as seeing nothing.
  return { state: 'no-data', message: 'the trigger watches nothing (items, metric or reports)' };
}

/**
 * One trigger's verdict and next state. A breach grows the streak; ok resets it (and re-arms the
 * trigger); no data counts as the trigger's `noData` policy says, `unknown` leaving the streak as it
 * is. The trigger fires once, on the evaluation where the streak reaches `consecutive`, and not
 * again until the streak has been reset.
 */
export function evaluateTrigger(t: TriggerConfig, o: Observation, previous: TriggerState = FRESH): { verdict: TriggerVerdict; state: TriggerState } {
  const j = judge(t, o);
  const counted = j.state === 'no-data' ? t.noData : j.state;
  let state: TriggerState;
  if (counted === 'breach') state = { streak: previous.streak + 1, fired: previous.fired };
  else if (counted === 'ok') state = FRESH;
  else state = previous;
  const fired = counted === 'breach' && !state.fired && state.streak >= t.consecutive;
  if (fired) state = { ...state, fired: true };
  const verdictState = j.state === 'no-data' && t.noData === 'unknown' ? 'unknown' : j.state;
  const noData = j.state === 'no-data' ? ` [no data: counted as ${t.noData === 'unknown' ? 'unknown, streak kept' : t.noData}]` : '';
  const streak = counted === 'breach' || state.streak > 0 ? ` (${state.streak}/${t.consecutive} consecutive)` : '';
  return {
    verdict: {
      id: t.id,
      severity: t.severity,
      state: verdictState,
      ...(j.value !== undefined ? { value: j.value } : {}),
      ...(j.threshold !== undefined ? { threshold: j.threshold } : {}),
      streak: state.streak,
      fired,
      message: `${j.message}${noData}${streak}${fired ? ': fired' : ''}`,
    },
    state,
  };
}

/** Every trigger's verdict on one observation, and the states to carry to the next (see evaluateTrigger). */
export function evaluateTriggers(triggers: readonly TriggerConfig[], observation: Observation, states: TriggerStates = {}): { verdicts: TriggerVerdict[]; states: Record<string, TriggerState> } {
  const next: Record<string, TriggerState> = { ...states };
  const verdicts = triggers.map((t) => {
    // Own keys only: a trigger may be called `constructor`.
    const r = evaluateTrigger(t, observation, Object.hasOwn(states, t.id) ? states[t.id] : undefined);
    next[t.id] = r.state;
    return r.verdict;
  });
  return { verdicts, states: next };
}
