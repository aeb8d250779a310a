// A watch's state is what its events say: the engine resumes from it after a restart, `watch
// status` and the dashboard show it. Pure: a fold over the stored events, oldest first.
import type { WatchEvent } from '../store/types.js';
import type { MetricValues, TriggerSeverity, TriggerState, TriggerVerdict, WatchOutcome } from './types.js';

/** A window as the watch planned it (stored in `watch-begin`). */
export interface PlannedWindow {
  id: string;
  title: string;
  windowMs: number;
  everyMs: number;
}

export interface WindowState extends PlannedWindow {
  startedAt?: string;
  endedAt?: string;
  passed?: boolean;
  reasons?: string[];
  evaluations: number;
}

export interface FiredTrigger {
  seq: number;
  at: string;
  window: string;
  id: string;
  severity: TriggerSeverity;
  message: string;
  /** For a conditional trigger: what a person decided, once they did. */
  decision?: { decision: 'rollback' | 'continue'; by: string; role: string; at: string };
}

export interface RollbackState {
  at: string;
  holder: string;
  reason: string;
  steps: { step: string; ok: boolean; message: string }[];
  /** Absent while it runs (or when the rollback's process died before it ended: see `interrupted`). */
  ok?: boolean;
  endedAt?: string;
}

export interface WatchState {
  watchId: string;
  gate: string;
  env: string;
  release: string;
  previous?: string;
  stageSet: string;
  startedAt: string;
  windows: WindowState[];
  /** The window in progress, if any. */
  current?: WindowState;
  /** The triggers' streaks after the last evaluation. */
  triggers: Record<string, TriggerState>;
  lastEvaluation?: { at: string; window: string; metrics: MetricValues; verdicts: TriggerVerdict[] };
  fired: FiredTrigger[];
  /** Issues reported by people, not yet answered by a decide-rollback. */
  openReports: { at: string; by: string; summary: string }[];
  rollback?: RollbackState;
  outcome?: WatchOutcome;
  endedAt?: string;
  reasons: string[];
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** The state of one watch from its events (all of them, oldest first); undefined without its `watch-begin`. */
export function foldWatch(events: readonly WatchEvent[]): WatchState | undefined {
  const begin = events.find((e) => e.kind === 'watch-begin');
  if (!begin || begin.watchId === undefined) return undefined;
  const planned = (begin.data.windows ?? []) as PlannedWindow[];
  const s: WatchState = {
    watchId: begin.watchId,
    gate: begin.gate,
    env: begin.env,
    release: begin.release,
    ...(typeof begin.data.previous === 'string' ? { previous: begin.data.previous } : {}),
    stageSet: str(begin.data.stageSet),
    startedAt: begin.at,
    windows: planned.map((w) => ({ ...w, evaluations: 0 })),
    triggers: {},
    fired: [],
    openReports: [],
    reasons: [],
  };
  const windowOf = (id: unknown): WindowState | undefined => s.windows.find((w) => w.id === id);
  for (const e of events) {
    if (e.watchId !== s.watchId && e.kind !== 'rollback-claim' && e.kind !== 'rollback-step' && e.kind !== 'rollback-end') continue;
    const d = e.data;
    switch (e.kind) {
      case 'window-begin': {
        const w = windowOf(d.window);
        if (w) {
          w.startedAt = e.at;
          s.current = w;
        }
        break;
      }
      case 'evaluation': {
        const w = windowOf(d.window);
        if (w) w.evaluations++;
        const verdicts = (d.verdicts ?? []) as TriggerVerdict[];
        s.triggers = Object.fromEntries(verdicts.map((v) => [v.id, { streak: v.streak, fired: v.fired || (s.triggers[v.id]?.fired === true && v.streak > 0) }]));
        s.lastEvaluation = { at: e.at, window: str(d.window), metrics: (d.metrics ?? { samples: 0 }) as MetricValues, verdicts };
        break;
      }
      case 'trigger':
        s.fired.push({ seq: e.seq, at: e.at, window: str(d.window), id: str(d.trigger), severity: d.severity === 'immediate' ? 'immediate' : 'conditional', message: str(d.message) });
        break;
      case 'decide-rollback': {
        const decision = { decision: d.decision === 'rollback' ? ('rollback' as const) : ('continue' as const), by: str(d.by), role: str(d.role), at: e.at };
        for (const f of s.fired) if (f.severity === 'conditional' && !f.decision) f.decision = decision;
        s.openReports = [];
        break;
      }
      case 'issue-report':
        s.openReports.push({ at: e.at, by: str(d.by), summary: str(d.summary) });
        break;
      case 'window-end': {
        const w = windowOf(d.window);
        if (w) {
          w.endedAt = e.at;
          w.passed = d.passed === true;
          w.reasons = (d.reasons ?? []) as string[];
          if (s.current === w) s.current = undefined;
        }
        break;
      }
      case 'rollback-claim':
        if (e.release === s.release && e.env === s.env) s.rollback = { at: e.at, holder: str(d.holder), reason: str(d.reason), steps: [] };
        break;
      case 'rollback-step':
        if (s.rollback && e.release === s.release && e.env === s.env) s.rollback.steps.push({ step: str(d.step), ok: d.ok === true, message: str(d.message) });
        break;
      case 'rollback-end':
        if (s.rollback && e.release === s.release && e.env === s.env) {
          s.rollback.ok = d.ok === true;
          s.rollback.endedAt = e.at;
        }
        break;
      case 'watch-end':
        s.outcome = (d.outcome as WatchOutcome) ?? 'aborted';
        s.endedAt = e.at;
        s.reasons = (d.reasons ?? []) as string[];
        break;
      default:
        break;
    }
  }
  return s;
}

/** Conditional triggers that fired and that no person has answered yet. */
export function awaitingDecision(s: WatchState): FiredTrigger[] {
  return s.fired.filter((f) => f.severity === 'conditional' && !f.decision);
}

/** The key that makes a rollback of a release in an environment happen at most once, whoever asks for it. */
export function rollbackKey(env: string, release: string): string {
  return `rollback:${env}:${release}`;
}
