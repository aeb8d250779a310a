// The watch after a deploy, from the command line: `watch`, `rollback`, `decide-rollback`,
// `report-issue`, `baseline record`. The rules (who may decide a rollback, exactly-once, what a
// window needs) are the library's (src/watch/, engine/authority.ts); this file parses, prints and
// picks exit codes.
import type { LoadedConfig } from '../config/load.js';
import { authorize } from '../engine/authority.js';
import { rulesOf } from '../engine/rules.js';
import { systemClock } from '../util/clock.js';
import { WATCH_PROCESS_ENV } from '../watch/process.js';
import type { Cli, Globals } from './commands.js';
import { load, releaseOf, withStore } from './commands.js';
import { EXIT, UsageError } from './exit.js';

/** Options of `gonogo watch`. */
interface WatchCliOptions {
  env?: string;
  previous?: string;
  quiet?: boolean;
}

/** The environment a stage set is watched in: `--env`, or the environment named like the set, or the config's first. */
function envFor(loaded: LoadedConfig, stageSet: string | undefined, env: string | undefined): string {
  const names = Object.keys(loaded.config.environments);
  if (env !== undefined) {
    if (!names.includes(env)) throw new UsageError(`--env: no environment "${env}" in ${loaded.file} (defined: ${names.join(', ')})`);
    return env;
  }
  return stageSet !== undefined && names.includes(stageSet) ? stageSet : names[0];
}

/** The stage set a watch, baseline or rollback is about: given, or the one named like the environment, or `production`. */
function stageSetFor(loaded: LoadedConfig, env: string, given?: string): string {
  const sets = Object.keys(loaded.config.stages);
  const name = given ?? (sets.includes(env) ? env : 'production');
  if (!sets.includes(name)) throw new UsageError(`no stage set "${name}" in ${loaded.file} (defined: ${sets.join(', ') || 'none'}): the watch runs a stage set's windows`);
  return name;
}

function refuseUnlessAllowed(loaded: LoadedConfig, by: string, role: string): void {
  const verdict = authorize(rulesOf(loaded).authority, { action: 'rollback', by, role });
  if (!verdict.ok) throw new UsageError(`refused: ${verdict.rule}; nothing was recorded`);
}

/** A duration as a person reads it: 45 s, 15 min, 2 h, 1 d 2 h. */
function span(ms: number): string {
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(1)} min`;
  if (ms < 86_400_000) return `${+(ms / 3_600_000).toFixed(1)} h`;
  return `${+(ms / 86_400_000).toFixed(1)} d`;
}

const pct = (v: number | undefined): string => (v === undefined ? 'no data' : `${(v * 100).toFixed(1)}%`);
const ms = (v: number | undefined): string => (v === undefined ? 'no data' : `${Math.round(v)} ms`);

export async function cmdWatch(cli: Cli, g: Globals, stageSetArg: string, o: WatchCliOptions): Promise<number> {
  // A watch runs for hours: in a node started with settings that keep its memory flat (src/watch/process.ts).
  if (cli.io.relaunchForWatch && cli.io.env[WATCH_PROCESS_ENV] === undefined) {
    const code = await cli.io.relaunchForWatch();
    if (code !== undefined) return code;
  }
  const [{ runWatch, WatchBusyError, WATCH_PAGE_CACHE_KIB }, { createReaper }] = await Promise.all([import('../watch/watch.js'), import('../util/reaper.js')]);
  const loaded = await load(g, cli);
  const env = envFor(loaded, stageSetArg, o.env);
  const stageSet = stageSetFor(loaded, env, stageSetArg);
  const release = await releaseOf(g, loaded);
  const controller = new AbortController();
  const reaper = createReaper();
  const onSignal = (): void => {
    // Ctrl-C reaches this process twice when `gonogo watch` started it (from the terminal, and passed on).
    if (controller.signal.aborted) return;
    void cli.err.write('\ninterrupted: the watch stops here; run the same command to resume it\n');
    controller.abort(new Error('interrupted'));
  };
  const onExit = (): void => reaper.killAll('SIGKILL');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', onExit);
  const say = (line: string): void => void cli.err.write(`${line}\n`);
  try {
    const result = await withStore(g, loaded, cli, (store) =>
      runWatch({
        loaded,
        store,
        clock: cli.io.clock ?? systemClock,
        stageSet,
        envName: env,
        release,
        previous: o.previous,
        signal: controller.signal,
        processEnv: cli.io.env,
        reaper,
        onProgress: (p) => {
          if (p.type === 'begin') say(`${p.resumed ? 'resuming' : 'watching'} release ${release.id} in ${env}: ${p.windows.map((w) => `${w.id} (${span(w.windowMs)}, every ${span(w.everyMs)})`).join(' -> ')}; watch ${p.watchId}`);
          else if (p.type === 'window-begin') say(`window ${p.window.id}: ${p.resumed ? 'resumed' : 'begins'}`);
          else if (p.type === 'evaluation' && !o.quiet) {
            const failing = Object.entries(p.items).filter(([, s]) => s === 'fail' || s === 'error').map(([id]) => id);
            say(`  ${new Date(p.at).toISOString()} ${p.window}: error rate ${pct(p.metrics.error_rate)}, p95 ${ms(p.metrics.p95_ms)} (${p.metrics.samples} samples)${failing.length > 0 ? `; not passing: ${failing.join(', ')}` : ''}`);
          } else if (p.type === 'trigger') say(`  TRIGGER ${p.verdict.id} (${p.verdict.severity}): ${p.verdict.message}${p.action === 'rollback' ? ' -> rolling back' : ' -> waiting for a decision (gonogo decide-rollback)'}`);
          else if (p.type === 'rollback-step') say(`  rollback ${p.step.step}: ${p.step.ok ? 'ok' : 'FAILED'}: ${p.step.message}`);
          else if (p.type === 'rollback-taken') say(`  the rollback was already claimed by ${p.by}: not run again`);
          else if (p.type === 'window-end') {
            say(`window ${p.window.id}: ${p.passed ? 'PASSED' : 'FAILED'}${p.reasons.length > 0 ? `: ${p.reasons.join('; ')}` : ''}`);
            if (p.passed && p.signoff.length > 0) say(`  sign it off: gonogo signoff --stage ${p.window.id} --env ${env} --as NAME --role ${p.signoff.join('|')}`);
          }
        },
      }),
      { pageCacheKiB: WATCH_PAGE_CACHE_KIB },
    );
    if (result.outcome === 'interrupted') return EXIT.INTERRUPTED;
    await cli.out.write(`watch ${result.watchId} of ${release.id} in ${env}: ${result.outcome.toUpperCase()}\n${result.state.reasons.map((r) => `  ${r}\n`).join('')}`);
    return result.outcome === 'passed' ? EXIT.GO : EXIT.NO_GO;
  } catch (err) {
    if (err instanceof WatchBusyError) throw new UsageError(err.message);
    throw err;
  } finally {
    reaper.killAll('SIGKILL');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  }
}

export async function cmdRollback(cli: Cli, g: Globals, o: { env?: string; previous?: string; dryRun?: boolean; as: string; role: string; reason?: string }): Promise<number> {
  const [{ performRollback, rollbackPlan }, { createReaper }] = await Promise.all([import('../watch/rollback.js'), import('../util/reaper.js')]);
  const loaded = await load(g, cli);
  const env = envFor(loaded, 'production', o.env);
  if (!loaded.config.watch.rollback) throw new UsageError(`no rollback is configured in ${loaded.file}: add watch.rollback.run`);
  refuseUnlessAllowed(loaded, o.as, o.role);
  const release = await releaseOf(g, loaded);
  const plan = rollbackPlan(loaded);
  if (o.dryRun) {
    await cli.out.write(`would roll back ${release.id} in ${env}${o.previous ? ` to ${o.previous}` : ''} (once: a second rollback of this release is refused):\n${plan.map((p, i) => `  ${i + 1}. ${p}\n`).join('')}`);
    return EXIT.GO;
  }
  const reaper = createReaper();
  try {
    const r = await withStore(g, loaded, cli, (store) =>
      performRollback({ loaded, store, clock: cli.io.clock ?? systemClock, envName: env, release, previous: o.previous, holder: `${o.as} (${o.role})`, reason: o.reason ?? `by hand: ${o.as} (${o.role})`, processEnv: cli.io.env, reaper, onStep: (s) => void cli.err.write(`rollback ${s.step}: ${s.ok ? 'ok' : 'FAILED'}: ${s.message}\n`) }),
    );
    if (!r.claimed) {
      await cli.err.write(`refused: the rollback of ${release.id} in ${env} was already claimed by ${String(r.claim.data.holder)} at ${r.claim.at}; it runs once per release\n`);
      return EXIT.USAGE;
    }
    await cli.out.write(`rolled back ${release.id} in ${env}: ${r.ok ? 'every step passed' : 'a step FAILED'}\n`);
    return r.ok ? EXIT.GO : EXIT.NO_GO;
  } finally {
    reaper.killAll('SIGKILL');
  }
}

export async function cmdDecideRollback(cli: Cli, g: Globals, o: { watch: string; rollback?: boolean; continue?: boolean; as: string; role: string; note?: string }): Promise<number> {
  if (Boolean(o.rollback) === Boolean(o.continue)) throw new UsageError('decide-rollback: give exactly one of --rollback or --continue');
  // The rules (the rollback permission, a running watch waiting for an answer) are the library's: the dashboard applies the same.
  const { decideRollback, DecideRollbackError } = await import('../watch/decide-rollback.js');
  const loaded = await load(g, cli);
  const clock = cli.io.clock ?? systemClock;
  return withStore(g, loaded, cli, async (store) => {
    const decision = o.rollback ? 'rollback' : 'continue';
    let triggers: string[];
    try {
      ({ triggers } = await decideRollback({ loaded, store, clock, watchId: o.watch, decision, by: o.as, role: o.role, note: o.note, processEnv: cli.io.env }));
    } catch (err) {
      if (err instanceof DecideRollbackError) throw new UsageError(err.message);
      throw err;
    }
    await cli.out.write(`recorded: ${decision} on ${triggers.join(', ') || 'the reported issue(s)'} of watch ${o.watch}, by ${o.as} (${o.role}); the watcher acts on it at its next evaluation\n`);
    return EXIT.GO;
  });
}

export async function cmdReportIssue(cli: Cli, g: Globals, summary: string, o: { env?: string; as: string }): Promise<number> {
  if (summary.trim() === '') throw new UsageError('report-issue: say what is wrong');
  const { latestWatch } = await import('../watch/watch.js');
  const loaded = await load(g, cli);
  const env = envFor(loaded, 'production', o.env);
  const release = await releaseOf(g, loaded);
  const clock = cli.io.clock ?? systemClock;
  return withStore(g, loaded, cli, async (store) => {
    const watch = await latestWatch(store, loaded.gate, env, release.id);
    const live = watch && !watch.outcome ? watch.watchId : undefined;
    await store.addEvent({ gate: loaded.gate, env, release: release.id, ...(live ? { watchId: live } : {}), kind: 'issue-report', at: new Date(clock.now()).toISOString(), data: { by: o.as, summary: cli.out.redactor.text(summary) } });
    await cli.out.write(`reported on ${release.id} in ${env}${live ? ` (watch ${live}: the reported-issue trigger sees it at its next evaluation)` : ' (no watch is running for it)'}\n`);
    return EXIT.GO;
  });
}

export async function cmdBaselineRecord(cli: Cli, g: Globals, o: { env?: string; stageSet?: string; rounds?: string }): Promise<number> {
  const { recordBaseline } = await import('../watch/baseline.js');
  const loaded = await load(g, cli);
  const env = envFor(loaded, o.stageSet ?? 'production', o.env);
  const stageSet = stageSetFor(loaded, env, o.stageSet);
  const rounds = o.rounds === undefined ? undefined : Number(o.rounds);
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds >= 1 && rounds <= 100)) throw new UsageError(`--rounds: expected a whole number from 1 to 100, got ${JSON.stringify(o.rounds)}`);
  const release = await releaseOf(g, loaded);
  const r = await withStore(g, loaded, cli, (store) => recordBaseline({ loaded, store, clock: cli.io.clock ?? systemClock, stageSet, envName: env, release, rounds, processEnv: cli.io.env }));
  const v = r.values;
  await cli.out.write(`baseline of ${env} at ${release.id} (${r.source}, ${v.samples} samples): error rate ${pct(v.error_rate)}, p50 ${ms(v.p50_ms)}, p95 ${ms(v.p95_ms)}, p99 ${ms(v.p99_ms)}\n`);
  return EXIT.GO;
}

export async function cmdBaselineInvalidate(cli: Cli, g: Globals, o: { env?: string; as: string; role: string; reason: string }): Promise<number> {
  if (o.reason.trim() === '') throw new UsageError('baseline invalidate: say why (--reason)');
  const loaded = await load(g, cli);
  refuseUnlessAllowed(loaded, o.as, o.role);
  const env = envFor(loaded, 'production', o.env);
  const release = await releaseOf(g, loaded);
  return withStore(g, loaded, cli, async (store) => {
    const baselines = await store.listEvents({ gate: loaded.gate, env, release: release.id, kinds: ['baseline'] });
    if (baselines.length === 0) throw new UsageError(`no baseline of ${env} was recorded at ${release.id}: nothing to invalidate`);
    await store.addEvent({ gate: loaded.gate, env, release: release.id, kind: 'baseline-invalidate', at: new Date((cli.io.clock ?? systemClock).now()).toISOString(), data: { by: o.as, role: o.role, reason: cli.out.redactor.text(o.reason) } });
    await cli.out.write(`the baseline${baselines.length > 1 ? 's' : ''} of ${env} recorded at ${release.id} no longer count${baselines.length > 1 ? '' : 's'}\n`);
    return EXIT.GO;
  });
}
