import { configRedactor } from '../config/redactor.js';
import { hostname } from 'node:os';
import type { LoadedConfig } from '../config/load.js';
import type { ItemConfig, StageConfig } from '../config/schema.js';
import type { Decision, ItemResult, RunSelection, RunStatus, StageReport, Tier } from '../model.js';
import { isPartial, worstStatus } from '../model.js';
import type { Store } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { parseDuration } from '../util/duration.js';
import { decide } from './decide.js';
import { resolveRelease } from './release.js';
import type { Release } from './release.js';
import { rulesOf, targetEnvironment } from './rules.js';
import { resolveEnvironment } from '../config/environment.js';
import { bindingOf, gateState, itemDefinition } from './state.js';
import type { GateState } from './state.js';
import { httpPoolFor, runChecks } from './run.js';
import type { EngineEvent } from './run.js';
import type { HttpResponse } from '../util/http.js';
import type { Redactor } from '../util/redact.js';
import type { Reaper } from '../util/reaper.js';
import { keepAlive } from '../store/lease.js';
import { StoreError } from '../store/index.js';
import type { Dispatcher } from 'undici';

/** Which items a run covers. */
export interface Selection {
  only?: readonly string[];
  tiers?: readonly Tier[];
}

export { rulesOf, targetEnvironment };

export interface GateOptions {
  loaded: LoadedConfig;
  store: Store;
  clock: Clock;
  /** What is being decided: the run, its results and the state are bound to it (default: `resolveRelease` for the config's folder). */
  release?: Release;
  envName?: string;
  /** Replaces the environment's url (a preview deployment, a port chosen at run time). */
  urlOverride?: string;
  selection?: Selection;
  signal?: AbortSignal;
  onEvent?: (e: EngineEvent | StageEvent) => void;
  processEnv?: Readonly<Record<string, string | undefined>>;
  /** Ends the processes checks start; the CLI passes its own so that a signal or exit ends them too. */
  reaper?: Reaper;
  /**
   * The HTTP connection pool the checks use (a watcher keeps one across its runs). Absent, the run
   * makes one when a check is remote, shares it across its stages and closes it when it ends.
   */
  dispatcher?: Dispatcher;
}

/** Stage reports are part of the stored run (model.ts); renderers import them from here too. */
export type { StageReport };

/** A stage starting or ending, for the live view of `validate`. */
export type StageEvent = { type: 'stage-start'; stage: StageConfig } | { type: 'stage-end'; report: StageReport };

/** The outcome of `check` or `validate`: plain data for every renderer. */
export interface GateOutcome {
  runId: string;
  gate: string;
  env: string;
  command: string;
  /** What was decided: `--release`, the git commit of the config's tree (`+dirty`), or the config hash. */
  release: string;
  selection: RunSelection;
  status: RunStatus;
  startedAt: string;
  finishedAt: string;
  /** The run's own decision: over its selection only when `partial`. */
  decision?: Decision;
  results: ItemResult[];
  /** True when --only or --tier left items out: the decision covers the selection only. */
  partial: boolean;
  stages?: StageReport[];
  /** The gate's state for this release after the run (a partial run updates only the items it ran). */
  state?: GateState;
}
export { configRedactor };

export function selectItems(items: readonly ItemConfig[], sel: Selection = {}): ItemConfig[] {
  return items.filter((i) => (!sel.only || sel.only.includes(i.id)) && (!sel.tiers || sel.tiers.includes(i.tier)));
}

const iso = (clock: Clock): string => new Date(clock.now()).toISOString();

/** The engine's options for one gate run, shared by its stages. */
type EngineOptions = Parameters<typeof runChecks>[2];

/**
 * Runs a stage set in order: each stage's checks against its budget, stopping after a stage with a
 * failed critical item unless `keepGoing`; items of stages not run end as `error` with the reason.
 */
async function runStages(stages: readonly StageConfig[], items: readonly ItemConfig[], loaded: LoadedConfig, engine: EngineOptions, opts: GateOptions & { keepGoing?: boolean }): Promise<{ results: ItemResult[]; reports: StageReport[] }> {
  const results: ItemResult[] = [];
  const reports: StageReport[] = [];
  let stopped: string | undefined;
  for (const stage of stages) {
    const stageItems = items.filter((i) => stage.items.includes(i.id));
    // Whether a sign-off counts is known once the run is recorded (it binds to the stage's last run).
    const base = { id: stage.id, title: stage.title, budgetMs: parseDuration(stage.budget), items: stage.items, signoffRoles: stage.signoff ?? [], signedOff: false };
    if (stopped || engine.signal?.aborted) {
      const report: StageReport = { ...base, durationMs: 0, overBudget: false, status: 'not-run', failedCritical: [] };
      reports.push(report);
      for (const i of stageItems.filter((x) => x.check)) results.push({ id: i.id, tier: i.tier, status: 'error', message: stopped ? `not run: validation stopped after stage ${stopped}` : 'not run: interrupted', durationMs: 0, attempts: [] });
      opts.onEvent?.({ type: 'stage-end', report });
      continue;
    }
    opts.onEvent?.({ type: 'stage-start', stage });
    const t0 = opts.clock.monotonic();
    const stageResults = await runChecks(stageItems, loaded.conditions, engine);
    const durationMs = Math.round(opts.clock.monotonic() - t0);
    results.push(...stageResults);
    const failedCritical = stageResults.filter((r) => r.tier === 'critical' && (r.status === 'fail' || r.status === 'error')).map((r) => r.id);
    // fail and error are the worst statuses: a stage with either failed.
    const worst = worstStatus(stageResults.map((r) => r.status));
    const failed = worst === 'fail' || worst === 'error';
    const report: StageReport = { ...base, durationMs, overBudget: durationMs > base.budgetMs, status: failed ? 'failed' : 'passed', failedCritical };
    reports.push(report);
    opts.onEvent?.({ type: 'stage-end', report });
    if (failedCritical.length > 0 && !opts.keepGoing) stopped = stage.id;
  }
  return { results, reports };
}

/**
 * How long a result may wait to be written with the others that land meanwhile: what a run killed
 * mid-way can lose. A commit per result kept the process waiting on the disk (SQLite writes a batch
 * handed over at once in one transaction).
 */
const SAVE_BATCH_MS = 100;
/**
 * A batch is written once no result has landed for this long (or at SAVE_BATCH_MS, whichever comes
 * first): in the pause after a burst of answers rather than in the middle of the next. The write is
 * synchronous on SQLite (a millisecond or two for a batch); made while answers wait to be read, it
 * held every one of them, and the requests after them, that long. Checks against a target that
 * answers in about the same time end in bursts, and a timer started at a batch's first result
 * fired as the next burst came in.
 */
const SAVE_QUIET_MS = 5;
/** More results than this are written at once, without waiting for the batch's time. */
const SAVE_BATCH_MAX = 1000;
const ignore = (): void => undefined;

/**
 * Records results as they land, in batches written when results pause (SAVE_QUIET_MS) and at most
 * SAVE_BATCH_MS after the batch's first. A store that fails mid-run stops the run (results that
 * cannot be recorded must not become a decision); the first failure is kept to be reported.
 * Exported for its test.
 */
export class Recorder {
  private readonly saves: Promise<void>[] = [];
  private readonly abort = new AbortController();
  private pending: ItemResult[] = [];
  /** Every result handed to the store, as it was stored (redacted). */
  readonly written: ItemResult[] = [];
  /** Cancels the batch's timer when it is written early. */
  private batch: AbortController | undefined;
  /** When the batch's first result and its newest landed (the clock's monotonic time). */
  private firstAt = 0;
  private lastAt = 0;
  failure: unknown;

  constructor(
    private readonly store: Store,
    private readonly runId: string,
    private readonly redactor: Redactor,
    private readonly clock: Clock,
  ) {}

  /** Aborted when the store fails. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  fail(err: unknown): void {
    this.failure ??= err;
    this.abort.abort(new Error('aborted: the store failed, so the run cannot be recorded'));
  }

  save(result: ItemResult): void {
    this.pending.push(result);
    if (this.pending.length >= SAVE_BATCH_MAX) return this.write();
    this.lastAt = this.clock.monotonic();
    if (this.batch) return;
    this.firstAt = this.lastAt;
    this.wait(SAVE_QUIET_MS);
  }

  /** Writes the batch when results stopped landing for SAVE_QUIET_MS, or its first has waited SAVE_BATCH_MS. */
  private wait(ms: number): void {
    const batch = (this.batch = new AbortController());
    this.clock.sleep(ms, batch.signal).then(() => {
      const now = this.clock.monotonic();
      const quiet = SAVE_QUIET_MS - (now - this.lastAt);
      const due = SAVE_BATCH_MS - (now - this.firstAt);
      if (quiet <= 0 || due <= 0) this.write();
      else this.wait(Math.min(quiet, due));
    }, ignore);
  }

  /** Hands the waiting results to the store at once. */
  private write(): void {
    this.batch?.abort();
    this.batch = undefined;
    const results = this.pending;
    this.pending = [];
    for (const r of results) {
      const saved = this.redactor.value(r);
      this.written.push(saved);
      this.saves.push(this.store.saveResult(this.runId, saved).catch((err: unknown) => this.fail(err)));
    }
  }

  /** Writes what waits and waits for every save; rethrows the store's first failure. */
  async settle(): Promise<void> {
    this.write();
    await Promise.all(this.saves);
    if (this.failure !== undefined) throw this.failure;
  }
}

/**
 * Runs a gate: records the run, runs the checks (saving each result as it lands), decides, and
 * ends the run. An interrupted run is ended `aborted` and carries no decision: never GO. A store
 * that fails ends the run `aborted` where it still can and rejects with its StoreError.
 */
export async function runGate(opts: GateOptions & { stageSet?: string; keepGoing?: boolean; onlyStages?: readonly string[]; command?: string; withoutState?: boolean }): Promise<GateOutcome> {
  const { loaded, store, clock } = opts;
  const release = opts.release ?? (await resolveRelease({ dir: loaded.dir, configHash: loaded.hash }));
  const processEnv = opts.processEnv ?? process.env;
  // Refused here, before anything is sent, when its url's ${VAR} is unset or not an http(s) URL.
  const env = resolveEnvironment(loaded, { name: opts.envName, urlOverride: opts.urlOverride, release: release.id, processEnv });
  // An item's definition is judged by the environment as the config writes it: a `${VAR}` url's value
  // is a secret (the state must be readable without it), and a `--url` run (a preview deployment of
  // the release) counts for the environment it was run as.
  const written = targetEnvironment(loaded, opts.envName);
  let items = selectItems(loaded.config.items, opts.selection);
  let stages: StageConfig[] | undefined;
  if (opts.stageSet !== undefined) {
    stages = loaded.config.stages[opts.stageSet];
    if (!stages) {
      const known = Object.keys(loaded.config.stages);
      throw new Error(`no stage set "${opts.stageSet}" in ${loaded.file} (defined: ${known.join(', ') || 'none'})`);
    }
    // The watch runs one stage of the set at a time (its window).
    if (opts.onlyStages) stages = stages.filter((s) => opts.onlyStages?.includes(s.id));
    const inStages = new Set(stages.flatMap((s) => s.items));
    items = items.filter((i) => inStages.has(i.id));
  }
  const selection: RunSelection = {
    ...(opts.selection?.only ? { only: [...opts.selection.only] } : {}),
    ...(opts.selection?.tiers ? { tiers: [...opts.selection.tiers] } : {}),
    ...(opts.stageSet !== undefined ? { stageSet: opts.stageSet } : {}),
  };
  const partial = isPartial(selection);
  const command = opts.command ?? (opts.stageSet !== undefined ? `validate:${opts.stageSet}` : 'check');
  const redactor = configRedactor(loaded, processEnv);
  // Each result records the definition it was made under; the state ignores it once that changes.
  const definitions = new Map(items.map((i) => [i.id, itemDefinition(i, written)]));
  const startedAt = iso(clock);
  const runId = await store.beginRun({ gate: loaded.gate, env: env.name, command, release: release.id, selection, configHash: loaded.hash, startedAt, pid: process.pid, host: hostname() });
  const recorder = new Recorder(store, runId, redactor, clock);
  // The run is alive while its lease is renewed; a run killed anywhere is ended by the next opener.
  // One renewal lost to a busy store is survivable (the lease outlasts several); a run that another
  // opener already ended as lapsed, or a store that is gone, cannot be recorded any more.
  const lease = keepAlive(store, runId, clock, { onError: (err) => (err instanceof StoreError && err.kind === 'locked' ? undefined : recorder.fail(err)) });
  const signal = opts.signal ? AbortSignal.any([opts.signal, recorder.signal]) : recorder.signal;
  const engine: EngineOptions = {
    env,
    configDir: loaded.dir,
    clock,
    signal,
    concurrency: loaded.config.defaults.concurrency,
    perHost: loaded.config.defaults.perHost,
    defaultTimeoutMs: parseDuration(loaded.config.defaults.timeout),
    auth: loaded.config.auth,
    processEnv,
    redactor,
    reaper: opts.reaper,
    onEvent: (e) => {
      if (e.type === 'end') recorder.save({ ...e.result, definition: definitions.get(e.result.id) });
      opts.onEvent?.(e);
    },
    // Each test user logs in once for the whole run, across stages.
    logins: new Map<string, Promise<HttpResponse>>(),
  };
  const outcome = { runId, gate: loaded.gate, env: env.name, command, release: release.id, selection, startedAt, partial };

  // One connection pool for the whole run, across its stages, unless the caller passed one.
  let pool: Dispatcher | undefined;
  try {
    pool = engine.dispatcher = opts.dispatcher ?? (await httpPoolFor(items));
    let automated: ItemResult[];
    let stageReports: StageReport[] | undefined;
    if (stages) {
      ({ results: automated, reports: stageReports } = await runStages(stages, items, loaded, engine, opts));
    } else {
      automated = await runChecks(items, loaded.conditions, engine);
    }
    await recorder.settle();

    if (signal.aborted) {
      const finishedAt = iso(clock);
      await lease.stop();
      await store.endRun(runId, { status: 'aborted', finishedAt, stages: stageReports });
      return { ...outcome, status: 'aborted', finishedAt, results: automated, stages: stageReports };
    }
    // The run's own decision binds attestations as the state will once it is recorded: this run is
    // the release's newest, so no decision sign-off can count for it yet.
    const [runs, attestations] = await Promise.all([store.listRuns({ gate: loaded.gate, release: release.id, env: env.name }), store.listAttestations(loaded.gate)]);
    const thisRun = { ...outcome, id: runId, status: 'completed' as const, configHash: loaded.hash, stages: stageReports };
    const binding = bindingOf([thisRun, ...runs.filter((r) => r.id !== runId)], loaded, release, env.name);
    const { decision, results } = decide({ items, results: automated, attestations, rules: rulesOf(loaded), binding, now: clock.now() });
    if (partial) decision.reasons.unshift(`partial run: covers ${items.length} of ${loaded.config.items.length} items (--only/--tier); the gate's state for the release is shown beside it`);
    // Manual items are resolved by the decision; store them too so the record is whole.
    const automatedIds = new Set(automated.map((r) => r.id));
    await Promise.all(results.filter((r) => !automatedIds.has(r.id)).map((r) => store.saveResult(runId, redactor.value(r))));
    const finishedAt = iso(clock);
    // No renewal may race the end of the run.
    await lease.stop();
    await store.endRun(runId, { status: 'completed', finishedAt, decision: redactor.value(decision), stages: stageReports });
    // The watch's evaluations skip it: read every evaluation, the release's state costs what its runs grow to.
    if (opts.withoutState) return { ...outcome, status: 'completed', finishedAt, decision, results, stages: stageReports };
    // The results this run recorded are held, as recorded: the state reads the rest of the store.
    const state = await gateState({ loaded, store, clock, release: release, envName: env.name, ownRun: { id: runId, results: recorder.written } });
    for (const report of stageReports ?? []) {
      report.signedOff = state.attestations.some((v) => v.standing === 'counts' && v.attestation.kind === 'signoff' && v.attestation.target.type === 'stage' && v.attestation.target.id === report.id);
    }
    return { ...outcome, status: 'completed', finishedAt, decision, results, stages: stageReports, state };
  } catch (err) {
    // Never left `running`, never completed: the record says the run did not decide, and keeps the
    // results that landed.
    await recorder.settle().catch(() => undefined);
    await lease.stop();
    await store.endRun(runId, { status: 'aborted', finishedAt: iso(clock) }).catch(() => undefined);
    throw recorder.failure instanceof StoreError ? recorder.failure : err;
  } finally {
    await lease.stop();
    // Requests a check left behind end with the pool.
    if (pool !== opts.dispatcher) await pool?.destroy();
  }
}
