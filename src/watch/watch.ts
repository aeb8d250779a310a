// The watch after a deploy: the production stage set as windows in turn, each stage's items run
// every `every:` for its `window:`; each evaluation's observation judged by the triggers; an
// immediate trigger rolls back (exactly once), a conditional one waits for a person; each window
// ends with its criteria's verdict. Every step is an event in the store, so a watcher that dies is
// resumed by the same command from where it was, and `watch status` and the dashboard read the same
// record. Time goes through the clock: a 24-hour watch runs in seconds on a fake one.
import { hostname } from 'node:os';
import type { Dispatcher } from 'undici';
import type { LoadedConfig } from '../config/load.js';
import { configRedactor } from '../config/redactor.js';
import type { StageConfig } from '../config/schema.js';
import { stageWatch, triggersFor } from '../config/watch-schema.js';
import type { CriteriaConfig } from '../config/watch-schema.js';
import type { Release } from '../engine/release.js';
import type { Status } from '../model.js';
import { idGenerator } from '../store/id.js';
import type { NewEvent, Store, WatchEvent } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { parseDuration } from '../util/duration.js';
import type { Reaper } from '../util/reaper.js';
import type { Redactor } from '../util/redact.js';
import { currentBaseline } from './baseline.js';
import { judgeWindow } from './criteria.js';
import { SampleWindow, wholeWindow } from './metrics.js';
import { createNotifier, resolveTargets } from './notify.js';
import type { Notifier } from './notify.js';
import { readPrometheusMetrics } from './prometheus-metrics.js';
import { performRollback } from './rollback.js';
import type { StepOutcome } from './steps.js';
import { briefResult } from './steps.js';
import { foldWatch } from './state.js';
import type { PlannedWindow, WatchState } from './state.js';
import { evaluateTriggers } from './triggers.js';
import type { MetricValues, Observation, TriggerConfig, TriggerState, TriggerVerdict, WatchOutcome } from './types.js';

/** The lease a watcher holds while it watches: one watcher per gate, environment and release. */
export const DEFAULT_WATCH_LEASE_MS = 60_000;

/**
 * The page cache of the store a watch writes, in KiB: SQLite's own default (better-sqlite3 raises
 * it to 16 MB). The watch appends and reads back only its newest events, by index; a cache of
 * 16 MB filled as the file grew and was some 13 MB of a watch's growth after 100 evaluations of
 * 100 items.
 */
export const WATCH_PAGE_CACHE_KIB = 2000;

export interface WatchOptions {
  loaded: LoadedConfig;
  store: Store;
  clock: Clock;
  stageSet: string;
  envName: string;
  release: Release;
  /** The release a rollback returns to ($GONOGO_PREVIOUS). */
  previous?: string;
  /** This watcher's name in the lease and the record (default: host:pid:random). */
  holder?: string;
  leaseMs?: number;
  /** Ctrl-C: the watch stops where it is and resumes with the same command. */
  signal?: AbortSignal;
  processEnv?: Readonly<Record<string, string | undefined>>;
  reaper?: Reaper;
  /** Default: the config's `watch.notify` targets. */
  notifier?: Notifier;
  onProgress?: (p: WatchProgress) => void;
  /** The HTTP connection pool every evaluation uses (default: one of the watch's own, kept across evaluations). */
  dispatcher?: Dispatcher;
}

/** What the CLI's live view hears. */
export type WatchProgress =
  | { type: 'begin'; watchId: string; resumed: boolean; windows: PlannedWindow[] }
  | { type: 'window-begin'; window: PlannedWindow; resumed: boolean }
  /** The watch sleeps `ms` until its next evaluation (or the window's end); nothing of it runs meanwhile. */
  | { type: 'pause'; ms: number; until: number }
  | { type: 'evaluation'; window: string; at: number; metrics: MetricValues; items: Record<string, Status>; verdicts: TriggerVerdict[] }
  | { type: 'trigger'; verdict: TriggerVerdict; action: 'rollback' | 'await-decision' }
  | { type: 'rollback-step'; step: StepOutcome }
  | { type: 'rollback-taken'; by: string }
  | { type: 'window-end'; window: PlannedWindow; passed: boolean; reasons: string[]; signoff: readonly string[] };

export interface WatchResult {
  watchId: string;
  /** `interrupted`: stopped by the signal; the record stays open and the same command resumes it. */
  outcome: WatchOutcome | 'interrupted';
  resumed: boolean;
  state: WatchState;
}

/** Another watcher holds the watch of this release. Nothing was run. */
export class WatchBusyError extends Error {
  constructor(readonly holder: string, readonly since: string) {
    super(`another watcher (${holder}) is watching this release, last seen at ${since}; it is resumed here once its lease lapses`);
    this.name = 'WatchBusyError';
  }
}

const iso = (ms: number): string => new Date(ms).toISOString();
const newId = idGenerator();

/** The windows of a stage set, as `gonogo watch` runs them. */
export function plannedWindows(stages: readonly StageConfig[]): (PlannedWindow & { items: string[]; criteria: CriteriaConfig; signoff: readonly string[] })[] {
  return stages.map((s) => {
    const w = stageWatch(s);
    return { id: s.id, title: s.title, windowMs: w.windowMs, everyMs: w.everyMs, criteria: w.criteria, items: s.items, signoff: s.signoff ?? [] };
  });
}

/** The watch's record of one release: the newest watch of it in the environment, if any. */
export async function latestWatch(store: Store, gate: string, env: string, release: string): Promise<WatchState | undefined> {
  const begins = await store.listEvents({ gate, env, release, kinds: ['watch-begin'] });
  const last = begins.at(-1);
  if (!last?.watchId) return undefined;
  return foldWatch(await watchEvents(store, gate, env, release, last.watchId));
}

/** A watch's events, and the release's rollback events (they are the release's, whoever ran them); only those after `afterSeq` when given. */
async function watchEvents(store: Store, gate: string, env: string, release: string, watchId: string, afterSeq?: number): Promise<WatchEvent[]> {
  const after = afterSeq === undefined ? {} : { afterSeq };
  const [own, rollback] = await Promise.all([store.listEvents({ gate, watchId, ...after }), store.listEvents({ gate, env, release, kinds: ['rollback-claim', 'rollback-step', 'rollback-end', 'issue-report'], ...after })]);
  const seen = new Set(own.map((e) => e.id));
  return [...own, ...rollback.filter((e) => !seen.has(e.id))].sort((a, b) => a.seq - b.seq);
}

/** Runs (or resumes) the watch of a release. */
export async function runWatch(o: WatchOptions): Promise<WatchResult> {
  const { loaded, store, clock } = o;
  const gate = loaded.gate;
  const stages = loaded.config.stages[o.stageSet];
  if (!stages) throw new Error(`no stage set "${o.stageSet}" in ${loaded.file} (defined: ${Object.keys(loaded.config.stages).join(', ') || 'none'})`);
  const windows = plannedWindows(stages);
  const triggers = triggersFor(loaded.config, o.stageSet);
  const holder = o.holder ?? `${hostname()}:${process.pid}:${newId().slice(-6)}`;
  const leaseMs = o.leaseMs ?? DEFAULT_WATCH_LEASE_MS;
  const leaseName = `watch:${gate}:${o.envName}:${o.release.id}`;
  if (!(await store.acquireLease(leaseName, holder, iso(clock.now()), leaseMs))) {
    const held = await store.leaseOf(leaseName);
    throw new WatchBusyError(held?.holder ?? 'unknown', held?.at ?? 'unknown');
  }
  const notifier = o.notifier ?? notifierFor(loaded, clock, o.processEnv ?? process.env);
  // The lease is renewed on its own beat, not only at evaluations: an `every:` longer than the lease
  // would otherwise let it lapse while this watcher is alive, and a second watcher take over.
  const lost = new AbortController();
  const renewal = renewLease(store, clock, leaseName, holder, leaseMs, lost);
  const signal = o.signal ? AbortSignal.any([o.signal, lost.signal]) : lost.signal;
  // One pool for the whole watch: a new pool per evaluation opened new connections every time.
  const pool = o.dispatcher ?? (await (await import('../util/http.js')).createHttpAgent());
  const run = new Watcher({ ...o, signal, dispatcher: pool }, windows, triggers, holder, leaseName, leaseMs, notifier);
  try {
    const result = await run.watch();
    if (lost.signal.aborted && result.outcome === 'interrupted' && !o.signal?.aborted) throw lost.signal.reason;
    return result;
  } finally {
    if (pool !== o.dispatcher) await pool.destroy().catch(() => undefined);
    await renewal.stop();
    await notifier.flush(5_000).catch(() => undefined);
    await store.releaseLease(leaseName, holder).catch(() => undefined);
  }
}

/** Renews the watch's lease every third of its length until stopped; aborts `lost` when another holder has it. */
function renewLease(store: Store, clock: Clock, name: string, holder: string, leaseMs: number, lost: AbortController): { stop(): Promise<void> } {
  const stopped = new AbortController();
  const loop = (async () => {
    while (!stopped.signal.aborted) {
      try {
        await clock.sleep(Math.max(1, Math.floor(leaseMs / 3)), stopped.signal);
      } catch {
        return;
      }
      // A renewal lost to a busy store is survivable: the lease outlasts two more tries.
      const ok = await store.acquireLease(name, holder, iso(clock.now()), leaseMs).catch(() => true);
      if (!ok) {
        lost.abort(new Error('this watcher lost its lease to another watcher: stopping so that only one watches (the other resumes the watch)'));
        return;
      }
    }
  })();
  return {
    stop: async () => {
      stopped.abort();
      await loop;
    },
  };
}

type Window = ReturnType<typeof plannedWindows>[number];

/** The config's `watch.notify` receivers, their URLs (secrets) redacted from everything sent. */
function notifierFor(loaded: LoadedConfig, clock: Clock, processEnv: Readonly<Record<string, string | undefined>>): Notifier {
  const { targets, secrets } = resolveTargets(loaded.config.watch.notify, processEnv);
  return createNotifier({ targets, clock, redactor: configRedactor(loaded, processEnv).with(secrets) });
}

/** An evaluation event as the watch keeps it in memory: what foldWatch reads (its results and items stay in the store). */
function withoutResults(e: WatchEvent): WatchEvent {
  const { results: _results, items: _items, ...data } = e.data;
  return { ...e, data };
}

class Watcher {
  private watchId = '';
  private state!: WatchState;
  private states: Record<string, TriggerState> = {};
  private readonly gate: string;
  private readonly redactor: Redactor;
  private readonly metricsWindowMs: number;
  private recent!: SampleWindow;
  private baseline: MetricValues | undefined;
  private seenDecisions = 0;
  /** The watch's events read so far, oldest first (refresh folds them). */
  private readonly seen: WatchEvent[] = [];
  /** Where the newest evaluation is in `seen`. */
  private lastEvaluation: number | undefined;

  constructor(
    private readonly o: WatchOptions,
    private readonly windows: Window[],
    private readonly triggers: TriggerConfig[],
    private readonly holder: string,
    private readonly leaseName: string,
    private readonly leaseMs: number,
    private readonly notifier: Notifier,
  ) {
    this.gate = o.loaded.gate;
    this.redactor = configRedactor(o.loaded, o.processEnv ?? process.env);
    this.metricsWindowMs = parseDuration(o.loaded.config.watch.metrics.window);
  }

  /** Appends an event of this watch; its data redacted like every result (an answer may echo a secret). */
  private event(kind: NewEvent['kind'], data: Record<string, unknown>, key?: string): Promise<WatchEvent | undefined> {
    return this.o.store.addEvent({ gate: this.gate, env: this.o.envName, release: this.o.release.id, watchId: this.watchId, kind, at: iso(this.o.clock.now()), data: this.redactor.value(data), ...(key ? { key } : {}) });
  }

  private async refresh(): Promise<WatchState> {
    // Only the events appended since the last refresh are read (seq grows in commit order: one writer
    // at a time per gate): reading the whole record at every evaluation made a watch's store reads
    // grow with its length (quadratic over a 24-hour watch).
    const fresh = await watchEvents(this.o.store, this.gate, this.o.envName, this.o.release.id, this.watchId, this.seen.at(-1)?.seq ?? 0);
    for (const e of fresh) {
      if (e.kind === 'evaluation') {
        // Only the newest evaluation is kept whole (its verdicts and metrics are the state's); an
        // older one is kept as its window alone, which is all foldWatch counts: a watch's memory
        // must not grow with its length (86,400 evaluations in a day at every: 1s).
        if (this.lastEvaluation !== undefined) this.seen[this.lastEvaluation] = { ...this.seen[this.lastEvaluation], data: { window: this.seen[this.lastEvaluation].data.window } };
        this.lastEvaluation = this.seen.length;
        this.seen.push(withoutResults(e));
      } else {
        this.seen.push(e);
      }
    }
    const s = foldWatch(this.seen);
    if (!s) throw new Error(`internal: watch ${this.watchId} has no watch-begin event`);
    this.state = s;
    return s;
  }

  private notify(event: string, severity: 'info' | 'warning' | 'critical', summary: string, details: Record<string, unknown> = {}): void {
    this.notifier.notify({ event, severity, summary, gate: this.gate, env: this.o.envName, release: this.o.release.id, at: this.o.clock.now(), details: { watchId: this.watchId, ...details } });
  }

  async watch(): Promise<WatchResult> {
    const { o } = this;
    const existing = await latestWatch(o.store, this.gate, o.envName, o.release.id);
    const resumed = existing !== undefined && existing.outcome === undefined;
    if (existing && existing.outcome !== undefined) return { watchId: existing.watchId, outcome: existing.outcome, resumed: false, state: existing };
    if (existing) {
      this.watchId = existing.watchId;
    } else {
      this.watchId = newId();
      await this.event('watch-begin', {
        stageSet: o.stageSet,
        previous: o.previous ?? '',
        holder: this.holder,
        configHash: o.loaded.hash,
        windows: this.windows.map(({ id, title, windowMs, everyMs }) => ({ id, title, windowMs, everyMs })),
        triggers: this.triggers.map((t) => t.id),
      });
    }
    let s = await this.refresh();
    this.states = { ...s.triggers };
    this.seenDecisions = s.fired.filter((f) => f.decision).length;
    o.onProgress?.({ type: 'begin', watchId: this.watchId, resumed, windows: s.windows });
    this.baseline = await currentBaseline(o.store, this.gate, o.envName, o.release.id);

    // A watcher that died during a rollback: the claim stands (never run twice); what is left is to
    // find out where the target is, so the validation runs again and the watch ends rolled back.
    if (s.rollback) return this.finishRollback(s);

    this.recent = new SampleWindow({ windowMs: this.metricsWindowMs });
    for (const w of this.windows) {
      const ws = s.windows.find((x) => x.id === w.id);
      if (ws?.endedAt) {
        if (ws.passed === false) return this.end('failed', [`window ${w.id} failed: ${(ws.reasons ?? []).join('; ')}`]);
        continue;
      }
      const outcome = await this.watchWindow(w, ws?.startedAt, ws?.evaluations ?? 0);
      if (outcome) return outcome;
      s = this.state;
    }
    return this.end('passed', ['every window passed its criteria']);
  }

  /** Watches one window to its end; returns the watch's result when the watch ends in it. */
  private async watchWindow(w: Window, startedAt: string | undefined, done: number): Promise<WatchResult | undefined> {
    const { o } = this;
    const resumed = startedAt !== undefined;
    if (!resumed) await this.event('window-begin', { window: w.id });
    const start = resumed ? Date.parse(startedAt) : o.clock.now();
    const end = start + w.windowMs;
    const whole = wholeWindow(w.windowMs);
    if (resumed) await this.replaySamples(w.id, whole, start);
    o.onProgress?.({ type: 'window-begin', window: w, resumed });
    let lastItems: Record<string, Status> = {};
    // Resumed: the next evaluation not yet done and not yet past (one missed while no watcher ran is not made up).
    // A new window starts at once (a millisecond spent printing must not round its first evaluation away).
    for (let k = resumed ? Math.max(done, Math.ceil((o.clock.now() - start) / w.everyMs)) : 0; ; k++) {
      const due = start + k * w.everyMs;
      if (due >= end) break;
      if (!(await this.pause(due - o.clock.now()))) return this.interrupted();
      if (!(await o.store.acquireLease(this.leaseName, this.holder, iso(o.clock.now()), this.leaseMs))) {
        throw new Error('this watcher lost its lease to another watcher (it was paused longer than the lease): stopping so that only one watches');
      }
      const ev = await this.evaluate(w, whole);
      if (!ev) return this.interrupted();
      lastItems = ev.items;
      for (const v of ev.verdicts.filter((x) => x.fired)) {
        const immediate = v.severity === 'immediate';
        await this.event('trigger', { window: w.id, trigger: v.id, severity: v.severity, value: v.value, threshold: v.threshold, streak: v.streak, message: v.message, metrics: ev.metrics, baseline: this.baseline ?? null, action: immediate ? 'rollback' : 'await-decision' });
        o.onProgress?.({ type: 'trigger', verdict: v, action: immediate ? 'rollback' : 'await-decision' });
        this.notify('trigger', immediate ? 'critical' : 'warning', `${immediate ? 'Immediate' : 'Conditional'} rollback trigger ${v.id}: ${v.message}${immediate ? ' — rolling back' : ` — decide: gonogo decide-rollback --watch ${this.watchId} --rollback|--continue`}`, { trigger: v.id, severity: v.severity });
        if (immediate) return this.rollback(`immediate trigger ${v.id}: ${v.message}`, { trigger: v.id, value: v.value, threshold: v.threshold, metrics: ev.metrics, baseline: this.baseline ?? null });
      }
      // A person's answer to a conditional trigger, given with decide-rollback since the last evaluation.
      const s = await this.refresh();
      const decided = s.fired.filter((f) => f.decision);
      if (decided.length > this.seenDecisions) {
        this.seenDecisions = decided.length;
        const last = decided.at(-1)?.decision;
        if (last?.decision === 'rollback') return this.rollback(`rollback decided by ${last.by} (${last.role}) on conditional trigger(s) ${decided.map((f) => f.id).join(', ')}`, { decidedBy: last.by, role: last.role });
      }
      if (s.rollback) return this.finishRollback(s);
    }
    if (!(await this.pause(end - o.clock.now()))) return this.interrupted();
    const fired = this.state.fired.filter((f) => f.window === w.id).map((f) => ({ id: f.id, severity: f.severity, decision: f.decision?.decision }));
    const verdict = judgeWindow(w.criteria, { metrics: whole.values(o.clock.now()), stageItems: w.items, items: lastItems, fired });
    await this.event('window-end', { window: w.id, passed: verdict.passed, reasons: verdict.reasons, metrics: whole.values(o.clock.now()) });
    o.onProgress?.({ type: 'window-end', window: w, passed: verdict.passed, reasons: verdict.reasons, signoff: w.signoff });
    this.notify('window-end', verdict.passed ? 'info' : 'critical', `Window ${w.id} ${verdict.passed ? 'passed' : 'failed'}${verdict.reasons.length > 0 ? `: ${verdict.reasons.join('; ')}` : ''}`, { window: w.id, passed: verdict.passed });
    await this.refresh();
    if (!verdict.passed) return this.end('failed', [`window ${w.id} failed: ${verdict.reasons.join('; ')}`]);
    return undefined;
  }

  /** Sleeps on the clock; false when interrupted. */
  private async pause(ms: number): Promise<boolean> {
    if (this.o.signal?.aborted) return false;
    if (ms <= 0) return true;
    this.o.onProgress?.({ type: 'pause', ms, until: this.o.clock.now() + ms });
    try {
      await this.o.clock.sleep(ms, this.o.signal);
      return true;
    } catch {
      return false;
    }
  }

  /** One evaluation: the window's items run (a run of the release), metrics, triggers, the event. */
  private async evaluate(w: Window, whole: SampleWindow): Promise<{ items: Record<string, Status>; metrics: MetricValues; verdicts: TriggerVerdict[] } | undefined> {
    const { o } = this;
    const { runGate } = await import('../engine/gate.js');
    const outcome = await runGate({
      loaded: o.loaded,
      store: o.store,
      clock: o.clock,
      release: o.release,
      envName: o.envName,
      stageSet: o.stageSet,
      onlyStages: [w.id],
      selection: { only: w.items },
      keepGoing: true,
      command: `watch:${o.stageSet}/${w.id}`,
      withoutState: true,
      dispatcher: o.dispatcher,
      signal: o.signal,
      processEnv: o.processEnv,
      reaper: o.reaper,
    });
    if (outcome.status !== 'completed') return undefined;
    const at = o.clock.now();
    const items: Record<string, Status> = {};
    const httpItems = new Set(o.loaded.config.items.filter((i) => i.check?.kind === 'http').map((i) => i.id));
    for (const r of outcome.results) {
      items[r.id] = r.status;
      if (httpItems.has(r.id)) {
        const sample = { at, latencyMs: r.durationMs, ok: r.status === 'pass' };
        this.recent.add(sample);
        whole.add(sample);
      }
    }
    const synthetic = this.recent.values(at);
    const { metrics, problems } = await this.withPrometheus(synthetic, at);
    const obs: Observation = { at, metrics, items, reports: this.state.openReports.length, ...(this.baseline ? { baseline: this.baseline } : {}) };
    // An items trigger is judged only in a window that runs some of its items: elsewhere it has
    // nothing to see, and its no-data policy (breach, for items) would roll back a healthy release.
    const relevant = this.triggers.filter((t) => !t.items || t.items.some((id) => w.items.includes(id)));
    const judged = evaluateTriggers(relevant, obs, this.states);
    this.states = { ...this.states, ...judged.states };
    await this.event('evaluation', { window: w.id, runId: outcome.runId, metrics, items, results: outcome.results.map(briefResult), verdicts: judged.verdicts, ...(problems.length > 0 ? { prometheus: problems } : {}) });
    o.onProgress?.({ type: 'evaluation', window: w.id, at, metrics, items, verdicts: judged.verdicts });
    return { items, metrics, verdicts: judged.verdicts };
  }

  /** Prometheus values win per metric when configured; a failed query leaves the synthetic value, and why is kept in the event. */
  private async withPrometheus(synthetic: MetricValues, at: number): Promise<{ metrics: MetricValues; problems: string[] }> {
    const prom = this.o.loaded.config.watch.metrics.prometheus;
    if (!prom) return { metrics: synthetic, problems: [] };
    const read = await readPrometheusMetrics(prom, { at, clock: this.o.clock, processEnv: this.o.processEnv, env: this.o.envName, loaded: this.o.loaded, signal: this.o.signal });
    return { metrics: { ...synthetic, ...read.values, samples: read.values.samples ?? synthetic.samples }, problems: read.errors };
  }

  /** On resume: the samples of the window's evaluations so far, back into the window's histogram and the sliding one. */
  private async replaySamples(window: string, whole: SampleWindow, start: number): Promise<void> {
    const httpItems = new Set(this.o.loaded.config.items.filter((i) => i.check?.kind === 'http').map((i) => i.id));
    const evaluations = await this.o.store.listEvents({ gate: this.gate, watchId: this.watchId, kinds: ['evaluation'] });
    const since = this.o.clock.now() - this.metricsWindowMs;
    for (const e of evaluations) {
      const at = Date.parse(e.at);
      for (const r of (e.data.results ?? []) as { id: string; status: string; durationMs: number }[]) {
        if (!httpItems.has(r.id)) continue;
        const sample = { at, latencyMs: r.durationMs, ok: r.status === 'pass' };
        if (e.data.window === window && at >= start) whole.add(sample);
        if (at >= since) this.recent.add(sample);
      }
    }
  }

  private async rollback(reason: string, evidence: Record<string, unknown>): Promise<WatchResult> {
    const { o } = this;
    const r = await performRollback({
      loaded: o.loaded,
      store: o.store,
      clock: o.clock,
      envName: o.envName,
      release: o.release,
      previous: o.previous ?? (this.state.previous || undefined),
      watchId: this.watchId,
      holder: this.holder,
      reason,
      evidence,
      processEnv: o.processEnv,
      reaper: o.reaper,
      onStep: (step) => o.onProgress?.({ type: 'rollback-step', step }),
    });
    if (!r.claimed) {
      o.onProgress?.({ type: 'rollback-taken', by: String(r.claim.data.holder ?? 'another watcher') });
      return this.end('rolled-back', [`${reason}; the rollback was already claimed by ${String(r.claim.data.holder ?? 'another watcher')} at ${r.claim.at}: not run again`]);
    }
    this.notify('rollback-end', r.ok ? 'warning' : 'critical', `Rolled back ${o.release.id} in ${o.envName}: ${r.ok ? 'every step passed' : 'a step failed'} (${r.steps.map((s) => `${s.step} ${s.ok ? 'ok' : 'FAILED'}`).join(', ')})`, { ok: r.ok });
    return this.end('rolled-back', [reason, ...r.steps.map((s) => `${s.step}: ${s.ok ? 'ok' : 'failed'}: ${s.message}`)]);
  }

  /** The release's rollback was claimed before this watcher got here (by a dead watcher, or by hand). */
  private async finishRollback(s: WatchState): Promise<WatchResult> {
    const r = s.rollback;
    if (!r) throw new Error('internal: no rollback to finish');
    if (r.ok !== undefined) return this.end('rolled-back', [`rolled back by ${r.holder}: ${r.reason}`]);
    const { postRollbackValidation } = await import('./rollback.js');
    const validate = this.o.loaded.config.watch.rollback?.validate ?? [];
    const reasons = [`the rollback claimed by ${r.holder} at ${r.at} did not record its end (its watcher stopped): it is not run again`];
    if (validate.length > 0) {
      const step = await postRollbackValidation({ ...this.o, previous: this.o.previous ?? (s.previous || undefined), watchId: this.watchId }, validate);
      await this.o.store.addEvent({ gate: this.gate, env: this.o.envName, release: this.o.release.id, watchId: this.watchId, kind: 'rollback-step', at: iso(this.o.clock.now()), data: { ...step, afterRestart: true } });
      this.o.onProgress?.({ type: 'rollback-step', step });
      reasons.push(`post-rollback validation after the restart: ${step.ok ? 'passed' : 'failed'}: ${step.message}`);
    }
    return this.end('rolled-back', reasons);
  }

  private interrupted(): WatchResult {
    return { watchId: this.watchId, outcome: 'interrupted', resumed: false, state: this.state };
  }

  private async end(outcome: WatchOutcome, reasons: string[]): Promise<WatchResult> {
    await this.event('watch-end', { outcome, reasons }, `watch-end:${this.watchId}`);
    this.notify('watch-end', outcome === 'passed' ? 'info' : 'critical', `Watch of ${this.o.release.id} in ${this.o.envName}: ${outcome}${reasons.length > 0 ? ` — ${reasons[0]}` : ''}`, { outcome });
    const state = await this.refresh();
    return { watchId: this.watchId, outcome, resumed: false, state };
  }
}
