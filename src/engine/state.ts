// The gate's current state: what `status`, `report`, the end of every run and the dashboard show.
// One notion of "current": the latest result of every item under the current config, across the
// completed runs of one release in one environment, with the attestations that count for it.
import { createHash } from 'node:crypto';
import type { TargetEnvironment } from '../checks/types.js';
import type { LoadedConfig } from '../config/load.js';
import type { ItemConfig } from '../config/schema.js';
import type { Attestation, Decision, ItemResult } from '../model.js';
import { attestationRef, checkRecorded, resultRef, runRef } from '../store/audit.js';
import type { ChainReport } from '../store/audit.js';
import { StoreCache } from '../store/cache.js';
import type { LatestResult, RunSummary, Store } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { parseDuration } from '../util/duration.js';
import { decide } from './decide.js';
import { rulesOf, targetEnvironment } from './rules.js';
import type { Release } from './release.js';
import type { Binding } from './standing.js';

/** Why an attestation counts or does not, as the authority rules judged it now. */
export type Standing = 'counts' | 'stale' | 'revoked' | 'expired' | 'refused' | 'other-release';

/** One attestation of the gate with its standing: `status` lists them all, not only those that count. */
export interface AttestationView {
  attestation: Attestation;
  standing: Standing;
  /** Why it does not count (or, for one that counts, what it is bound to). */
  why: string;
}

/** The gate's state for one release in one environment. */
export interface GateState {
  gate: string;
  release: string;
  env: string;
  /** The config the state is judged under (sha256 of its bytes). */
  configHash: string;
  decision: Decision;
  /**
   * Every item in config order. Automated items carry the run they came from (`runId`); an item that
   * never ran, or whose definition changed since its last result, is `error` "not run" (never passed).
   */
  results: ItemResult[];
  /** Items whose last result was made under a different definition than the current config's. */
  staleItems: string[];
  /** The newest completed run of this release and environment, if any. */
  lastRun?: RunSummary;
  /** The config file changed since `lastRun` was made. */
  configChanged: boolean;
  attestations: AttestationView[];
  /** What attestations are bound to in this state: the run a decision sign-off must name, each stage's last run. */
  binding: Binding;
  /** The gate's audit chain checked against the tables this state was read from: a forged row shows here at once. */
  chain: ChainReport;
}

/** How a gate's state is computed: the config, the store, the release and the environment. */
export interface StateOptions {
  loaded: LoadedConfig;
  store: Store;
  clock: Clock;
  release: Release;
  /** The environment (default: the config's first). */
  envName?: string;
  /** An attestation about to be given, counted as if recorded: what the state would be with it. */
  pending?: Attestation;
  /** Keeps the store reads between calls while the store does not change (a server's; a one-shot command needs none). */
  cache?: StateCache;
  /** The store's rows already read for this state (readStateInputs): used as they are, nothing read again. */
  inputs?: StateInputs;
  /** The run that has just recorded these results (the state at the end of a run): see OwnRun. */
  ownRun?: OwnRun;
}

/**
 * A run's results as it recorded them (redacted), held by the run itself. When that run is the
 * release's newest completed one and has a result for every automated item, those are the latest
 * results: the state takes them instead of reading them back, and checks the rest of what it reads
 * (runs, attestations, deleted runs) against the chain. Otherwise it reads the store as always.
 */
export interface OwnRun {
  id: string;
  results: readonly ItemResult[];
}

/** What a state is read from: the release's runs, its latest results, the gate's attestations, and the chain checked against them. */
export interface StateInputs {
  runs: readonly RunSummary[];
  latest: readonly LatestResult[];
  recorded: readonly Attestation[];
  chain: ChainReport;
}

/**
 * What a server keeps between gateState calls: the store reads behind each state (StoreCache: kept
 * while the store's change token stays the same), and each item's definition. The rows and their
 * check against the audit chain are nearly all of a state's cost, and a dashboard asks for the same
 * state far more often than anything is recorded; any commit, by anyone (a run, a sign-off, a row
 * forged by hand), makes the next call read again. What depends on the clock (a sign-off's or a
 * waiver's expiry, decide()) is judged anew on every call. (A running run whose lease lapses reads
 * as aborted with no commit; the state uses completed runs only, which the clock does not change.)
 */
export class StateCache extends StoreCache<StateInputs> {
  private readonly definitions = new WeakMap<ItemConfig, Map<string, string>>();

  /** itemDefinition, computed once per item and environment (an item object belongs to one loaded config). */
  definition(item: ItemConfig, env: TargetEnvironment): string {
    let byEnv = this.definitions.get(item);
    if (byEnv === undefined) this.definitions.set(item, (byEnv = new Map()));
    let found = byEnv.get(env.name);
    if (found === undefined) byEnv.set(env.name, (found = itemDefinition(item, env)));
    return found;
  }
}

/**
 * The definition an item's result is judged under: its check and its environment as the config
 * writes it. A result made under another definition is stale: it says nothing of the item as
 * configured now.
 */
export function itemDefinition(item: ItemConfig, env: TargetEnvironment): string {
  const text = JSON.stringify({ check: item.check ?? null, manual: item.manual ?? false, env: env.vars });
  return createHash('sha256').update(text).digest('hex');
}

/** The binding of a release's attestations: its newest completed run and each stage's last run. */
export function bindingOf(runs: readonly RunSummary[], loaded: LoadedConfig, release: Release, env: string): Binding {
  const completed = runs.filter((r) => r.status === 'completed');
  const stageRuns: Record<string, string> = {};
  for (const run of completed) for (const s of run.stages ?? []) if (s.status !== 'not-run') stageRuns[s.id] ??= run.id;
  return {
    release: release.id,
    env,
    configHash: loaded.hash,
    decisionRun: completed[0]?.id,
    stageRuns,
    releaseAuthor: release.author,
    signoffTtlMs: parseDuration(loaded.config.rules.signoffTtl),
  };
}

/**
 * The rows this state was read from, checked against the audit chain (checkRecorded): each run,
 * result and attestation against the entry that last recorded it, and any run, attestation or
 * result of the runs the results came from that the chain records but the tables lost. The full
 * walk is `audit verify`'s: status's cost grows with what it reads, not with the log.
 */
function checkChain(store: Store, gate: string, runs: readonly RunSummary[], latest: readonly LatestResult[], attestations: readonly Attestation[], ownRun?: string): Promise<ChainReport> {
  const refs = [...runs.map((r) => runRef(r.id)), ...latest.flatMap((r) => (r.runId === ownRun ? [] : [resultRef(r.runId, r.id)])), ...attestations.map((a) => attestationRef(a.id))];
  const resultRuns = new Set(latest.map((r) => r.runId));
  const newest = runs.find((r) => r.status === 'completed');
  if (newest) resultRuns.add(newest.id);
  if (ownRun !== undefined) resultRuns.delete(ownRun);
  // Deleted runs from the release's oldest run on (ids sort by time, and the state takes each item's
  // newest run by id): a run deleted there could hide a newer failure or rebind a sign-off. One
  // deleted before every run the release still has could only leave an item "not run", which never
  // passes; `audit verify` finds those. Without a run left, every run of the gate is looked at.
  const oldest = runs.reduce<string | undefined>((min, r) => (min === undefined || r.id < min ? r.id : min), undefined);
  const deletedRuns = oldest === undefined ? 'run:' : { prefix: 'run:', from: runRef(oldest) };
  return checkRecorded(store, gate, refs, [deletedRuns, 'attestation:', ...[...resultRuns].map((id) => `result:${id}:`)]);
}

/** The release's rows in the environment and the gate's attestations, checked against the chain. */
async function readInputs(store: Store, gate: string, release: string, env: string): Promise<StateInputs> {
  const [runs, latest, recorded] = await Promise.all([
    store.listRuns({ gate, release, env }),
    store.latestResults({ gate, release, env }),
    store.listAttestations(gate),
  ]);
  return { runs, latest, recorded, chain: await checkChain(store, gate, runs, latest, recorded) };
}

/** readInputs with a run's own results taken as the latest where they are (OwnRun); the rest read as readInputs reads it. */
async function readInputsAfter(store: Store, loaded: LoadedConfig, release: string, env: string, own: OwnRun): Promise<StateInputs> {
  const { gate } = loaded;
  const [runs, recorded] = await Promise.all([store.listRuns({ gate, release, env }), store.listAttestations(gate)]);
  const ids = new Set(own.results.map((r) => r.id));
  const newest = runs.find((r) => r.status === 'completed');
  const holdsLatest = newest?.id === own.id && loaded.config.items.every((i) => i.manual || ids.has(i.id));
  // Where it does not, the latest results are read as readInputs reads them (runs and attestations are read already).
  const latest = holdsLatest ? own.results.map((r) => ({ ...r, runId: own.id })) : await store.latestResults({ gate, release, env });
  return { runs, latest, recorded, chain: await checkChain(store, gate, runs, latest, recorded, holdsLatest ? own.id : undefined) };
}

/** The rows a state is computed from, checked against the chain (through the cache when there is one). */
export function readStateInputs(o: StateOptions): Promise<StateInputs> {
  const { loaded, store, release, ownRun } = o;
  const env = targetEnvironment(loaded, o.envName);
  if (ownRun) return readInputsAfter(store, loaded, release.id, env.name, ownRun);
  const read = (): Promise<StateInputs> => readInputs(store, loaded.gate, release.id, env.name);
  return o.cache ? o.cache.get(store, JSON.stringify([loaded.gate, release.id, env.name, loaded.hash]), read) : read();
}

/**
 * The gate's state: the newest result of every automated item across the completed runs of the
 * release in the environment, judged under the current config (a result made under another
 * definition is `not run`), with the attestations that count for it, decided by `decide()`.
 */
export async function gateState(o: StateOptions): Promise<GateState> {
  const { loaded, clock, release } = o;
  const env = targetEnvironment(loaded, o.envName);
  // Shared with other calls when cached or given: read, never changed.
  const { runs, latest, recorded, chain } = o.inputs ?? (await readStateInputs(o));
  const definition = (item: ItemConfig): string => (o.cache ? o.cache.definition(item, env) : itemDefinition(item, env));
  const attestations = o.pending ? [...recorded, o.pending] : recorded;
  const binding = bindingOf(runs, loaded, release, env.name);
  const lastRun = runs.find((r) => r.status === 'completed');
  const byId = new Map(latest.map((r) => [r.id, r]));
  const staleItems: string[] = [];
  const automated: ItemResult[] = [];
  for (const item of loaded.config.items) {
    if (item.manual) continue;
    const r = byId.get(item.id);
    if (!r) {
      automated.push({ id: item.id, tier: item.tier, status: 'error', message: `not run for release ${release.id}`, durationMs: 0, attempts: [] });
    } else if (r.definition !== definition(item)) {
      staleItems.push(item.id);
      automated.push({ id: item.id, tier: item.tier, status: 'error', message: `not run: its definition changed since run ${r.runId}`, durationMs: 0, attempts: [], runId: r.runId });
    } else {
      automated.push({ ...r, tier: item.tier });
    }
  }
  const { decision, results, attestations: views } = decide({ items: loaded.config.items, results: automated, attestations, rules: rulesOf(loaded), binding, now: clock.now() });
  if (staleItems.length > 0) decision.reasons.unshift(`config changed: ${staleItems.length} item${staleItems.length === 1 ? '' : 's'} must run again (${staleItems.join(', ')})`);
  return {
    gate: loaded.gate,
    release: release.id,
    env: env.name,
    configHash: loaded.hash,
    decision,
    results,
    staleItems,
    ...(lastRun ? { lastRun } : {}),
    configChanged: lastRun !== undefined && lastRun.configHash !== loaded.hash,
    attestations: views,
    binding,
    chain,
  };
}
