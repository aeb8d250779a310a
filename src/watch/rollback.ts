// The rollback procedure, run exactly once per release and environment whoever asks for it (an
// immediate trigger, a person's decision, `gonogo rollback` by hand): the claim is an event with a
// unique key, appended before anything runs; a second claimant finds it and runs nothing. Then the
// seed's three steps: the rollback command, the post-rollback validation, the backup restore.
import type { LoadedConfig } from '../config/load.js';
import { resolveEnvironment } from '../config/environment.js';
import { configRedactor } from '../config/redactor.js';
import type { RunOptions } from '../engine/run.js';
import type { Release } from '../engine/release.js';
import type { Store, WatchEvent } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { parseDuration } from '../util/duration.js';
import type { Reaper } from '../util/reaper.js';
import type { CommandSpec, StepOutcome } from './steps.js';
import { runCommandStep } from './steps.js';
import { rollbackKey } from './state.js';

export interface RollbackOptions {
  loaded: LoadedConfig;
  store: Store;
  clock: Clock;
  envName: string;
  release: Release;
  /** The release to return to ($GONOGO_PREVIOUS); empty when unknown. */
  previous?: string;
  watchId?: string;
  /** Who runs it: a watcher's holder id, or `NAME (ROLE)` by hand. */
  holder: string;
  /** Why, in one line; the evidence (observed values, thresholds, baseline) goes in `evidence`. */
  reason: string;
  evidence?: Record<string, unknown>;
  processEnv?: Readonly<Record<string, string | undefined>>;
  reaper?: Reaper;
  onStep?: (step: StepOutcome) => void;
}

/** What became of a rollback request. */
export type RollbackOutcome =
  | { claimed: true; ok: boolean; steps: StepOutcome[] }
  /** Someone else claimed this release's rollback first: nothing was run here. */
  | { claimed: false; claim: WatchEvent };

/** The steps a rollback would run, for `--dry-run` and the plan printed before it runs. */
export function rollbackPlan(loaded: LoadedConfig): string[] {
  const r = loaded.config.watch.rollback;
  if (!r) return [];
  const show = (c: CommandSpec): string => (Array.isArray(c) ? c.join(' ') : `sh -c ${JSON.stringify((c as { sh: string }).sh)}`);
  return [
    `rollback: ${show(r.run)} (timeout ${r.timeout})`,
    r.validate.length > 0 ? `post-rollback validation: ${r.validate.join(', ')}` : 'post-rollback validation: none configured (watch.rollback.validate)',
    ...(r.restore ? [`restore: ${show(r.restore)}`] : []),
  ];
}

const iso = (clock: Clock): string => new Date(clock.now()).toISOString();

/** The engine options a step runs under: the environment, limits and redaction of the gate. */
function stepEngine(o: RollbackOptions): Omit<RunOptions, 'kinds'> {
  const processEnv = o.processEnv ?? process.env;
  const env = resolveEnvironment(o.loaded, { name: o.envName, release: o.release.id, processEnv });
  return {
    env,
    configDir: o.loaded.dir,
    clock: o.clock,
    concurrency: 1,
    perHost: 1,
    defaultTimeoutMs: parseDuration(o.loaded.config.defaults.timeout),
    processEnv,
    redactor: configRedactor(o.loaded, processEnv),
    reaper: o.reaper,
  };
}

/**
 * Claims and runs the rollback of `release` in `envName`. Not abortable once claimed: a rollback
 * half done is worse than one finished, so Ctrl-C does not reach its steps (the reaper still ends
 * them if gonogo itself exits). Every step lands in the store as it ends.
 */
export async function performRollback(o: RollbackOptions): Promise<RollbackOutcome> {
  const config = o.loaded.config.watch.rollback;
  if (!config) throw new Error('no rollback is configured: add watch.rollback.run to the config');
  const gate = o.loaded.gate;
  const base = { gate, env: o.envName, release: o.release.id, ...(o.watchId !== undefined ? { watchId: o.watchId } : {}) };
  const key = rollbackKey(o.envName, o.release.id);
  const claim = await o.store.addEvent({ ...base, kind: 'rollback-claim', at: iso(o.clock), key, data: { holder: o.holder, reason: o.reason, previous: o.previous ?? '', ...(o.evidence ? { evidence: o.evidence } : {}) } });
  if (!claim) {
    const held = await o.store.eventByKey(gate, key);
    if (!held) throw new Error(`internal: the rollback of ${o.release.id} in ${o.envName} was claimed, but the claim cannot be read`);
    return { claimed: false, claim: held };
  }
  const engine = stepEngine(o);
  const timeoutMs = parseDuration(config.timeout);
  const vars = { GONOGO_RELEASE: o.release.id, GONOGO_PREVIOUS: o.previous ?? '' };
  const steps: StepOutcome[] = [];
  const record = async (step: StepOutcome): Promise<void> => {
    steps.push(step);
    o.onStep?.(step);
    await o.store.addEvent({ ...base, kind: 'rollback-step', at: iso(o.clock), data: { ...step } });
  };

  const rolled = await runCommandStep('rollback', config.run as CommandSpec, timeoutMs, vars, engine);
  await record(rolled);
  // The validation runs even after a failed rollback: it says what state the target is in.
  if (config.validate.length > 0) await record(await postRollbackValidation(o, config.validate));
  if (config.restore) {
    if (rolled.ok) await record(await runCommandStep('restore', config.restore as CommandSpec, timeoutMs, vars, engine));
    else await record({ step: 'restore', ok: false, message: 'not run: the rollback failed (restore a backup only onto a rolled-back release)', durationMs: 0 });
  }
  const ok = steps.every((s) => s.ok);
  await o.store.addEvent({ ...base, kind: 'rollback-end', at: iso(o.clock), data: { ok, steps: steps.map((s) => s.step) } });
  return { claimed: true, ok, steps };
}

/** The post-rollback validation: the configured items, run and recorded as a run of the release now deployed. */
export async function postRollbackValidation(o: Omit<RollbackOptions, 'reason' | 'holder'>, items: readonly string[]): Promise<StepOutcome> {
  const { runGate } = await import('../engine/gate.js');
  const started = o.clock.monotonic();
  const release = o.previous ? { ...o.release, id: o.previous } : o.release;
  const outcome = await runGate({ loaded: o.loaded, store: o.store, clock: o.clock, release, envName: o.envName, selection: { only: items }, command: 'post-rollback', processEnv: o.processEnv, reaper: o.reaper });
  const failing = outcome.results.filter((r) => r.status !== 'pass');
  const message =
    failing.length === 0
      ? `${outcome.results.length} item(s) passing (run ${outcome.runId})`
      : `${failing.length} of ${outcome.results.length} not passing: ${failing.map((r) => `${r.id} ${r.status}: ${r.message}`).join('; ')} (run ${outcome.runId})`;
  return { step: 'validate', ok: outcome.status === 'completed' && failing.length === 0 && outcome.results.length > 0, message, durationMs: Math.round(o.clock.monotonic() - started) };
}
