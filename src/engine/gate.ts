import { hostname } from 'node:os';
import type { LoadedConfig } from '../config/load.js';
import { selectEnvironment } from '../config/load.js';
import type { ItemConfig, StageConfig } from '../config/schema.js';
import type { Attestation, Decision, ItemResult, RunStatus, Tier } from '../model.js';
import type { Store } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { parseDuration } from '../util/duration.js';
import { decide, roleMaySign, signoffKey } from './decide.js';
import type { DecisionRules } from './decide.js';
import { runChecks } from './run.js';
import type { EngineEvent } from './run.js';
import type { TargetEnvironment } from '../checks/types.js';
import type { HttpResponse } from '../util/http.js';
import { Redactor } from '../util/redact.js';
import type { Reaper } from '../util/reaper.js';
import { keepAlive } from '../store/lease.js';
import { StoreError } from '../store/index.js';

/** Which items a run covers. */
export interface Selection {
  only?: readonly string[];
  tiers?: readonly Tier[];
}

export interface GateOptions {
  loaded: LoadedConfig;
  store: Store;
  clock: Clock;
  envName?: string;
  /** Replaces the environment's url (a preview deployment, a port chosen at run time). */
  urlOverride?: string;
  selection?: Selection;
  signal?: AbortSignal;
  onEvent?: (e: EngineEvent | StageEvent) => void;
  processEnv?: Readonly<Record<string, string | undefined>>;
  /** Ends the processes checks start; the CLI passes its own so that a signal or exit ends them too. */
  reaper?: Reaper;
}

/** A stage starting or ending, for the live view of `validate`. */
export type StageEvent = { type: 'stage-start'; stage: StageConfig } | { type: 'stage-end'; report: StageReport };

/** How one stage went: time against budget, failures, sign-offs. */
export interface StageReport {
  id: string;
  title: string;
  budgetMs: number;
  durationMs: number;
  overBudget: boolean;
  status: 'passed' | 'failed' | 'not-run';
  items: string[];
  failedCritical: string[];
  /** Roles asked to sign this stage, and whether a valid `stage:<id>` sign-off exists. */
  signoffRoles: string[];
  signedOff: boolean;
}

/** The outcome of `check` or `validate`: plain data for every renderer. */
export interface GateOutcome {
  runId: string;
  gate: string;
  env: string;
  command: string;
  status: RunStatus;
  startedAt: string;
  finishedAt: string;
  decision?: Decision;
  results: ItemResult[];
  /** True when --only or --tier left items out: the decision covers the selection only. */
  partial: boolean;
  stages?: StageReport[];
}

export function rulesOf(loaded: LoadedConfig): DecisionRules {
  const r = loaded.config.rules;
  return { goHighRatio: r.goHighRatio, conditionsHighRatio: r.conditionsHighRatio, requiredSignoffs: r.requiredSignoffs, roles: loaded.config.roles };
}

export function targetEnvironment(loaded: LoadedConfig, envName?: string, urlOverride?: string): TargetEnvironment {
  const { name, env } = selectEnvironment(loaded, envName);
  const vars = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
  const url = urlOverride ?? env.url;
  if (url !== undefined) vars.url = url;
  // A command-line value is literal: `${VAR}` in it is text, never a variable's value sent to the target.
  return { name, url, vars, ...(urlOverride !== undefined ? { literal: ['url'] } : {}) };
}

/**
 * The redactor for everything a gate writes: the values of every `${VAR}` the config references
 * (set or not in this process), whether or not a check of this run expanded them.
 */
export function configRedactor(loaded: LoadedConfig, processEnv: Readonly<Record<string, string | undefined>> = process.env): Redactor {
  const values = loaded.secretRefs.map((r) => processEnv[r.name]).filter((v): v is string => v !== undefined && v !== '');
  return Redactor.of(values);
}

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
async function runStages(stages: readonly StageConfig[], items: readonly ItemConfig[], loaded: LoadedConfig, attestations: readonly Attestation[], engine: EngineOptions, opts: GateOptions & { keepGoing?: boolean }): Promise<{ results: ItemResult[]; reports: StageReport[] }> {
  const results: ItemResult[] = [];
  const reports: StageReport[] = [];
  const rules = rulesOf(loaded);
  let stopped: string | undefined;
  for (const stage of stages) {
    const stageItems = items.filter((i) => stage.items.includes(i.id));
    // A stage sign-off counts when its role may sign this stage, and is one the stage asks for.
    const signedOff = attestations.some(
      (a) => a.kind === 'signoff' && signoffKey(a) === `stage:${stage.id}` && roleMaySign(rules, a.role, `stage:${stage.id}`) && (!stage.signoff || stage.signoff.includes(a.role)),
    );
    const base = { id: stage.id, title: stage.title, budgetMs: parseDuration(stage.budget), items: stage.items, signoffRoles: stage.signoff ?? [], signedOff };
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
    const failed = stageResults.some((r) => r.status === 'fail' || r.status === 'error');
    const report: StageReport = { ...base, durationMs, overBudget: durationMs > base.budgetMs, status: failed ? 'failed' : 'passed', failedCritical };
    reports.push(report);
    opts.onEvent?.({ type: 'stage-end', report });
    if (failedCritical.length > 0 && !opts.keepGoing) stopped = stage.id;
  }
  return { results, reports };
}

/**
 * Records results as they land. A store that fails mid-run stops the run (results that cannot be
 * recorded must not become a decision); the first failure is kept to be reported.
 */
class Recorder {
  private readonly saves: Promise<void>[] = [];
  private readonly abort = new AbortController();
  failure: unknown;

  constructor(
    private readonly store: Store,
    private readonly runId: string,
    private readonly redactor: Redactor,
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
    this.saves.push(this.store.saveResult(this.runId, this.redactor.value(result)).catch((err: unknown) => this.fail(err)));
  }

  /** Waits for every save; rethrows the store's first failure. */
  async settle(): Promise<void> {
    await Promise.all(this.saves);
    if (this.failure !== undefined) throw this.failure;
  }
}

/**
 * Runs a gate: records the run, runs the checks (saving each result as it lands), decides, and
 * ends the run. An interrupted run is ended `aborted` and carries no decision: never GO. A store
 * that fails ends the run `aborted` where it still can and rejects with its StoreError.
 */
export async function runGate(opts: GateOptions & { stageSet?: string; keepGoing?: boolean }): Promise<GateOutcome> {
  const { loaded, store, clock } = opts;
  const env = targetEnvironment(loaded, opts.envName, opts.urlOverride);
  let items = selectItems(loaded.config.items, opts.selection);
  let stages: StageConfig[] | undefined;
  if (opts.stageSet !== undefined) {
    stages = loaded.config.stages[opts.stageSet];
    if (!stages) {
      const known = Object.keys(loaded.config.stages);
      throw new Error(`no stage set "${opts.stageSet}" in ${loaded.file} (defined: ${known.join(', ') || 'none'})`);
    }
    const inStages = new Set(stages.flatMap((s) => s.items));
    items = items.filter((i) => inStages.has(i.id));
  }
  const partial = items.length < loaded.config.items.length && opts.stageSet === undefined;
  const command = opts.stageSet !== undefined ? `validate:${opts.stageSet}` : 'check';
  const processEnv = opts.processEnv ?? process.env;
  const redactor = configRedactor(loaded, processEnv);
  const startedAt = iso(clock);
  const runId = await store.beginRun({ gate: loaded.gate, env: env.name, command, configHash: loaded.hash, startedAt, pid: process.pid, host: hostname() });
  const recorder = new Recorder(store, runId, redactor);
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
      if (e.type === 'end') recorder.save(e.result);
      opts.onEvent?.(e);
    },
    // Each test user logs in once for the whole run, across stages.
    logins: new Map<string, Promise<HttpResponse>>(),
  };
  const outcome = { runId, gate: loaded.gate, env: env.name, command, startedAt, partial };

  try {
    let automated: ItemResult[];
    let stageReports: StageReport[] | undefined;
    if (stages) {
      const attestationsBefore = await store.listAttestations(loaded.gate);
      ({ results: automated, reports: stageReports } = await runStages(stages, items, loaded, attestationsBefore, engine, opts));
    } else {
      automated = await runChecks(items, loaded.conditions, engine);
    }
    await recorder.settle();

    if (signal.aborted) {
      const finishedAt = iso(clock);
      await lease.stop();
      await store.endRun(runId, { status: 'aborted', finishedAt });
      return { ...outcome, status: 'aborted', finishedAt, results: automated, stages: stageReports };
    }
    const attestations = await store.listAttestations(loaded.gate);
    const { decision, results } = decide({ items, results: automated, attestations, rules: rulesOf(loaded), now: clock.now() });
    if (partial) decision.reasons.unshift(`partial run: covers ${items.length} of ${loaded.config.items.length} items (--only/--tier)`);
    // Manual items are resolved by the decision; store them too so the record is whole.
    const automatedIds = new Set(automated.map((r) => r.id));
    for (const r of results) if (!automatedIds.has(r.id)) await store.saveResult(runId, redactor.value(r));
    const finishedAt = iso(clock);
    // No renewal may race the end of the run.
    await lease.stop();
    await store.endRun(runId, { status: 'completed', finishedAt, decision: redactor.value(decision) });
    return { ...outcome, status: 'completed', finishedAt, decision, results, stages: stageReports };
  } catch (err) {
    // Never left `running`, never completed: the record says the run did not decide.
    await lease.stop();
    await store.endRun(runId, { status: 'aborted', finishedAt: iso(clock) }).catch(() => undefined);
    throw recorder.failure instanceof StoreError ? recorder.failure : err;
  } finally {
    await lease.stop();
  }
}

/**
 * The decision as it stands now: the last completed run's automated results with today's
 * sign-offs and waivers (an attestation given after the run counts without re-running).
 */
export async function currentState(loaded: LoadedConfig, store: Store, clock: Clock): Promise<{ decision: Decision; results: ItemResult[]; lastRun?: { id: string; startedAt: string; finishedAt?: string; env: string; command: string } }> {
  const [summary] = (await store.listRuns({ gate: loaded.gate, limit: 20 })).filter((r) => r.status === 'completed');
  const run = summary ? await store.getRun(summary.id) : undefined;
  const manual = new Set(loaded.config.items.filter((i) => i.manual).map((i) => i.id));
  const automated = (run?.results ?? []).filter((r) => !manual.has(r.id));
  const attestations = await store.listAttestations(loaded.gate);
  const { decision, results } = decide({ items: loaded.config.items, results: automated, attestations, rules: rulesOf(loaded), now: clock.now() });
  return { decision, results, lastRun: run && { id: run.id, startedAt: run.startedAt, finishedAt: run.finishedAt, env: run.env, command: run.command } };
}
