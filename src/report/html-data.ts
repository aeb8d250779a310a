// What the seed's five documents show, gathered from the store as plain data: the release's state,
// the readiness assessment, the staging and production stage sets' runs with their stage sign-offs,
// the production watch (windows, evaluations, triggers, rollback), the rollback plan and who to
// call. The HTML renderer (html.ts) prints it; the dashboard can serve the same object. Every rule
// is read from its one place (gateState, assess, foldWatch via latestWatch, rollbackPlan, permits):
// nothing is judged here.
import type { LoadedConfig } from '../config/loaded.js';
import type { ItemConfig, StageConfig } from '../config/schema.js';
import { stageWatch, triggersFor } from '../config/watch-schema.js';
import type { CriteriaConfig } from '../config/watch-schema.js';
import { permits } from '../engine/authority.js';
import type { Release } from '../engine/release.js';
import { gateState } from '../engine/state.js';
import type { AttestationView, GateState } from '../engine/state.js';
import type { RunRecord } from '../model.js';
import type { RunSummary, Store, WatchEvent } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { parseDuration } from '../util/duration.js';
import { currentBaseline } from '../watch/baseline.js';
import { rollbackPlan } from '../watch/rollback.js';
import type { WatchState } from '../watch/state.js';
import { awaitingDecision } from '../watch/state.js';
import type { FiredTrigger } from '../watch/state.js';
import type { MetricValues, TriggerConfig, TriggerVerdict } from '../watch/types.js';
import { latestWatch } from '../watch/watch.js';
import { assess } from './assessment.js';
import type { Assessment } from './assessment.js';

/** Runs of a stage set listed in full in its record; older ones are counted. */
export const MAX_LISTED_RUNS = 20;
/** Evaluations a watch record keeps for its chart and table; a longer watch keeps every n-th (and every breach). */
export const MAX_EVALUATIONS = 720;

/** The stage set the staging record and the production record are about: named so, as `gonogo validate` and `gonogo watch` call them. */
export const STAGING_SET = 'staging';
export const PRODUCTION_SET = 'production';

/** One stage of a stage set as configured, with its watch window when it has one. */
export interface StagePlan {
  id: string;
  title: string;
  budgetMs: number;
  items: string[];
  signoffRoles: string[];
  /** For a watched stage: how long its window lasts, how often its items run, what it must show at its end. */
  windowMs: number;
  everyMs: number;
  criteria: CriteriaConfig;
}

/** A stage set's record for the release: its `validate` runs, the newest in detail, and its stages' sign-offs. */
export interface StageSetRecord {
  stageSet: string;
  /** The environment its runs and sign-offs are judged in: the one named like the set, else the report's. */
  env: string;
  stages: StagePlan[];
  /** `validate <set>` runs of the release, newest first, at most MAX_LISTED_RUNS. */
  runs: RunSummary[];
  /** All `validate <set>` runs of the release. */
  totalRuns: number;
  /** The newest of them with its results (each stage's items in detail). */
  latest?: RunRecord;
  /** Sign-offs of this set's stages for the release, with their standing in `env`, oldest first. */
  signoffs: AttestationView[];
  /** The state of the release in `env` (the production record's is what its sign-offs count against). */
  missingSignoffs: string[];
}

/** The production watch of the release as its events tell it. */
export interface WatchRecord {
  state: WatchState;
  /** Its `evaluation` events in time order; at most MAX_EVALUATIONS of them (see `evaluationCount`). */
  evaluations: WatchEvent[];
  evaluationCount: number;
  /** Each ended window's metrics over the whole window, by window id. */
  windowMetrics: Record<string, MetricValues>;
  /** Conditional triggers that fired and that nobody has answered. */
  awaiting: FiredTrigger[];
}

/** The production record: the stage set's runs and sign-offs, its triggers, the baseline, the watch. */
export interface ProductionRecord extends StageSetRecord {
  triggers: TriggerConfig[];
  /** The baseline this release is compared with (the newest that counts, of an earlier release). */
  baseline?: MetricValues;
  watch?: WatchRecord;
  /** Evaluations the watch ran (each a run of the release's stage items). */
  watchRuns: number;
}

/** The rollback as configured: the steps it runs and the command that runs it by hand. */
export interface RollbackInfo {
  configured: boolean;
  /** One line per step (rollbackPlan). */
  plan: string[];
  /** `gonogo rollback ...` for this release and environment. */
  command: string;
  /** Roles allowed to roll back or decide a rollback. */
  roles: string[];
}

/** A person of `people:` and what they may do. */
export interface Contact {
  name: string;
  roles: string[];
  /** The permissions of their roles, each once. */
  may: string[];
}

/** An item owner with the open items they own. */
export interface OwnerContact {
  owner: string;
  open: string[];
  total: number;
}

/** Everything the five documents show, as of `generatedAt`. */
export interface ReportSet {
  gate: string;
  release: string;
  env: string;
  generatedAt: string;
  configFile: string;
  configHash: string;
  items: ItemConfig[];
  state: GateState;
  assessment: Assessment;
  /** Absent when the config has no such stage set (the document says so). */
  staging?: StageSetRecord;
  production?: ProductionRecord;
  rollback: RollbackInfo;
  contacts: Contact[];
  owners: OwnerContact[];
  /** Roles defined in `roles:`, with their permissions. */
  roles: Record<string, string[]>;
}

export interface ReportSetOptions {
  loaded: LoadedConfig;
  store: Store;
  clock: Clock;
  release: Release;
  /** The environment of the checklist and the assessment (default: the config's first). */
  envName?: string;
}

function stagePlans(stages: readonly StageConfig[]): StagePlan[] {
  return stages.map((s) => {
    const w = stageWatch(s);
    return { id: s.id, title: s.title, budgetMs: parseDuration(s.budget), items: [...s.items], signoffRoles: [...(s.signoff ?? [])], windowMs: w.windowMs, everyMs: w.everyMs, criteria: w.criteria };
  });
}

/** The environment a stage set is judged in: the one named like it, else the report's. */
function envFor(loaded: LoadedConfig, stageSet: string, fallback: string): string {
  return Object.hasOwn(loaded.config.environments, stageSet) ? stageSet : fallback;
}

/** The staging set: `staging`, else the first set that is not production. */
function stagingSetOf(loaded: LoadedConfig): string | undefined {
  const sets = Object.keys(loaded.config.stages);
  return sets.includes(STAGING_SET) ? STAGING_SET : sets.find((s) => s !== PRODUCTION_SET);
}

async function stageSetRecord(o: ReportSetOptions, runs: readonly RunSummary[], stageSet: string, state: GateState): Promise<StageSetRecord> {
  const stages = stagePlans(o.loaded.config.stages[stageSet] ?? []);
  const ids = new Set(stages.map((s) => s.id));
  const own = runs.filter((r) => r.command === `validate:${stageSet}`);
  const latest = own[0] ? await o.store.getRun(own[0].id) : undefined;
  const signoffs = state.attestations.filter((v) => {
    const a = v.attestation;
    return a.kind === 'signoff' && a.target.type === 'stage' && ids.has(a.target.id) && a.release === state.release;
  });
  const missingSignoffs = state.decision.missingSignoffs.filter((m) => m.startsWith('stage:') && ids.has(m.slice('stage:'.length)));
  return { stageSet, env: state.env, stages, runs: own.slice(0, MAX_LISTED_RUNS), totalRuns: own.length, ...(latest ? { latest } : {}), signoffs, missingSignoffs };
}

const firedIn = (e: WatchEvent): boolean => Array.isArray(e.data.verdicts) && (e.data.verdicts as TriggerVerdict[]).some((v) => v.fired);

/** Every n-th evaluation (and every one where a trigger fired) so that about `max` are kept, the last always. */
function thin(events: WatchEvent[], max: number): WatchEvent[] {
  if (events.length <= max) return events;
  const step = Math.ceil(events.length / max);
  return events.filter((e, i) => i % step === 0 || i === events.length - 1 || firedIn(e));
}

async function watchRecord(o: ReportSetOptions, env: string): Promise<WatchRecord | undefined> {
  const state = await latestWatch(o.store, o.loaded.gate, env, o.release.id);
  if (!state) return undefined;
  const events = await o.store.listEvents({ gate: o.loaded.gate, watchId: state.watchId, kinds: ['evaluation', 'window-end'] });
  const evaluations = events.filter((e) => e.kind === 'evaluation');
  const windowMetrics: Record<string, MetricValues> = {};
  for (const e of events) {
    if (e.kind === 'window-end' && typeof e.data.window === 'string' && e.data.metrics && typeof e.data.metrics === 'object') windowMetrics[e.data.window] = e.data.metrics as MetricValues;
  }
  return { state, evaluations: thin(evaluations, MAX_EVALUATIONS), evaluationCount: evaluations.length, windowMetrics, awaiting: awaitingDecision(state) };
}

function contactsOf(loaded: LoadedConfig): { contacts: Contact[]; roles: Record<string, string[]> } {
  const roles = loaded.config.roles;
  const people = loaded.config.people ?? {};
  const contacts = Object.entries(people).map(([name, p]): Contact => {
    const held = Array.isArray(p) ? p : p.roles;
    return { name, roles: [...held], may: [...new Set(held.flatMap((r) => roles[r] ?? []))] };
  });
  return { contacts, roles };
}

function ownersOf(items: readonly ItemConfig[], state: GateState): OwnerContact[] {
  const status = new Map(state.results.map((r) => [r.id, r.status]));
  const owners = new Map<string, OwnerContact>();
  for (const item of items) {
    if (!item.owner) continue;
    const o = owners.get(item.owner) ?? { owner: item.owner, open: [], total: 0 };
    o.total += 1;
    const s = status.get(item.id);
    if (s !== 'pass' && s !== 'skipped') o.open.push(item.id);
    owners.set(item.owner, o);
  }
  return [...owners.values()];
}

function rollbackOf(loaded: LoadedConfig, release: string, env: string, previous: string | undefined): RollbackInfo {
  const roles = Object.entries(loaded.config.roles).filter(([, grants]) => permits(grants, 'rollback')).map(([name]) => name);
  const role = roles.length > 0 ? roles.join('|') : 'ROLE';
  const command = `gonogo rollback --release ${release} --env ${env}${previous ? ` --previous ${previous}` : ' --previous PREVIOUS_RELEASE'} --as NAME --role ${role} --reason "..."`;
  return { configured: loaded.config.watch.rollback !== undefined, plan: rollbackPlan(loaded), command, roles };
}

/**
 * Gathers the five documents' data for one release: the state in the report's environment (the
 * checklist, the assessment), and for each stage set the state in its own environment (stage
 * sign-offs are bound to the environment they were given in).
 */
export async function gatherReportSet(o: ReportSetOptions): Promise<ReportSet> {
  const { loaded, store, clock, release } = o;
  const states = new Map<string | undefined, Promise<GateState>>();
  const stateIn = (envName: string | undefined): Promise<GateState> => {
    let s = states.get(envName);
    if (!s) states.set(envName, (s = gateState({ loaded, store, clock, release, envName })));
    return s;
  };
  const state = await stateIn(o.envName);
  states.set(state.env, Promise.resolve(state));
  const runs = await store.listRuns({ gate: loaded.gate, release: release.id });

  const stagingSet = stagingSetOf(loaded);
  const staging = stagingSet === undefined ? undefined : await stageSetRecord(o, runs, stagingSet, await stateIn(envFor(loaded, stagingSet, state.env)));

  let production: ProductionRecord | undefined;
  if (Object.hasOwn(loaded.config.stages, PRODUCTION_SET)) {
    const env = envFor(loaded, PRODUCTION_SET, state.env);
    const base = await stageSetRecord(o, runs, PRODUCTION_SET, await stateIn(env));
    const [watch, baseline] = await Promise.all([watchRecord(o, env), currentBaseline(store, loaded.gate, env, release.id)]);
    const watchRuns = runs.filter((r) => r.command.startsWith(`watch:${PRODUCTION_SET}/`)).length;
    production = { ...base, triggers: triggersFor(loaded.config, PRODUCTION_SET), watchRuns, ...(baseline ? { baseline } : {}), ...(watch ? { watch } : {}) };
  }

  const rollbackEnv = production?.env ?? state.env;
  const { contacts, roles } = contactsOf(loaded);
  return {
    gate: loaded.gate,
    release: release.id,
    env: state.env,
    generatedAt: new Date(clock.now()).toISOString(),
    configFile: loaded.file,
    configHash: loaded.hash,
    items: loaded.config.items,
    state,
    assessment: assess(loaded.config.items, state.results, state.decision),
    ...(staging ? { staging } : {}),
    ...(production ? { production } : {}),
    rollback: rollbackOf(loaded, release.id, rollbackEnv, production?.watch?.state.previous || undefined),
    contacts,
    owners: ownersOf(loaded.config.items, state),
    roles,
  };
}
