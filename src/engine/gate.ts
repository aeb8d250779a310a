import { hostname } from 'node:os';
import type { LoadedConfig } from '../config/load.js';
import { selectEnvironment } from '../config/load.js';
import type { ItemConfig, StageConfig } from '../config/schema.js';
import type { Decision, ItemResult, RunStatus, Tier } from '../model.js';
import type { Store } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { parseDuration } from '../util/duration.js';
import { decide, roleMaySign, signoffKey } from './decide.js';
import type { DecisionRules } from './decide.js';
import { runChecks } from './run.js';
import type { EngineEvent } from './run.js';
import type { TargetEnvironment } from '../checks/types.js';
import type { HttpResponse } from '../util/http.js';

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
  return { name, url, vars };
}

export function selectItems(items: readonly ItemConfig[], sel: Selection = {}): ItemConfig[] {
  return items.filter((i) => (!sel.only || sel.only.includes(i.id)) && (!sel.tiers || sel.tiers.includes(i.tier)));
}

const iso = (clock: Clock): string => new Date(clock.now()).toISOString();

/**
 * Runs a gate: records the run, runs the checks (saving each result as it lands), decides, and
 * ends the run. An interrupted run is ended `aborted` and carries no decision: never GO.
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
  const startedAt = iso(clock);
  const runId = await store.beginRun({ gate: loaded.gate, env: env.name, command, configHash: loaded.hash, startedAt, pid: process.pid, host: hostname() });
  const saves: Promise<void>[] = [];
  const onEvent = (e: EngineEvent): void => {
    if (e.type === 'end') saves.push(store.saveResult(runId, e.result));
    opts.onEvent?.(e);
  };
  const engine = {
    env,
    configDir: loaded.dir,
    clock,
    signal: opts.signal,
    concurrency: loaded.config.defaults.concurrency,
    perHost: loaded.config.defaults.perHost,
    defaultTimeoutMs: parseDuration(loaded.config.defaults.timeout),
    auth: loaded.config.auth,
    processEnv: opts.processEnv,
    onEvent,
    // Each test user logs in once for the whole run, across stages.
    logins: new Map<string, Promise<HttpResponse>>(),
  };

  const automated: ItemResult[] = [];
  const stageReports: StageReport[] = [];
  const attestationsBefore = await store.listAttestations(loaded.gate);
  const rules = rulesOf(loaded);
  if (stages) {
    let stopped: string | undefined;
    for (const stage of stages) {
      const stageItems = items.filter((i) => stage.items.includes(i.id));
      // A stage sign-off counts when its role may sign this stage, and is one the stage asks for.
      const signedOff = attestationsBefore.some(
        (a) => a.kind === 'signoff' && signoffKey(a) === `stage:${stage.id}` && roleMaySign(rules, a.role, `stage:${stage.id}`) && (!stage.signoff || stage.signoff.includes(a.role)),
      );
      const base = { id: stage.id, title: stage.title, budgetMs: parseDuration(stage.budget), items: stage.items, signoffRoles: stage.signoff ?? [], signedOff };
      if (stopped || opts.signal?.aborted) {
        const report: StageReport = { ...base, durationMs: 0, overBudget: false, status: 'not-run', failedCritical: [] };
        stageReports.push(report);
        for (const i of stageItems.filter((x) => x.check)) automated.push({ id: i.id, tier: i.tier, status: 'error', message: stopped ? `not run: validation stopped after stage ${stopped}` : 'not run: interrupted', durationMs: 0, attempts: [] });
        opts.onEvent?.({ type: 'stage-end', report });
        continue;
      }
      opts.onEvent?.({ type: 'stage-start', stage });
      const t0 = clock.monotonic();
      const results = await runChecks(stageItems, loaded.conditions, engine);
      const durationMs = Math.round(clock.monotonic() - t0);
      automated.push(...results);
      const failedCritical = results.filter((r) => r.tier === 'critical' && (r.status === 'fail' || r.status === 'error')).map((r) => r.id);
      const failed = results.some((r) => r.status === 'fail' || r.status === 'error');
      const report: StageReport = { ...base, durationMs, overBudget: durationMs > base.budgetMs, status: failed ? 'failed' : 'passed', failedCritical };
      stageReports.push(report);
      opts.onEvent?.({ type: 'stage-end', report });
      if (failedCritical.length > 0 && !opts.keepGoing) stopped = stage.id;
    }
  } else {
    automated.push(...(await runChecks(items, loaded.conditions, engine)));
  }
  await Promise.all(saves);

  if (opts.signal?.aborted) {
    const finishedAt = iso(clock);
    await store.endRun(runId, { status: 'aborted', finishedAt });
    return { runId, gate: loaded.gate, env: env.name, command, status: 'aborted', startedAt, finishedAt, results: automated, partial, stages: stages && stageReports };
  }
  const attestations = await store.listAttestations(loaded.gate);
  const { decision, results } = decide({ items, results: automated, attestations, rules, now: clock.now() });
  if (partial) decision.reasons.unshift(`partial run: covers ${items.length} of ${loaded.config.items.length} items (--only/--tier)`);
  // Manual items are resolved by the decision; store them too so the record is whole.
  const automatedIds = new Set(automated.map((r) => r.id));
  for (const r of results) if (!automatedIds.has(r.id)) await store.saveResult(runId, r);
  const finishedAt = iso(clock);
  await store.endRun(runId, { status: 'completed', finishedAt, decision });
  return { runId, gate: loaded.gate, env: env.name, command, status: 'completed', startedAt, finishedAt, decision, results, partial, stages: stages && stageReports };
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
