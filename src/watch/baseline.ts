// Baselines: the latency percentiles and error rate a later deploy of the same environment is
// compared with (`aboveBaseline:` triggers). Recorded by `gonogo baseline record` from the watch's
// own probes (and Prometheus when configured); a baseline of a release that was rolled back or
// invalidated never counts.
import type { LoadedConfig } from '../config/load.js';
import { resolveEnvironment } from '../config/environment.js';
import { configRedactor } from '../config/redactor.js';
import type { Release } from '../engine/release.js';
import type { Store, WatchEvent } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { parseDuration } from '../util/duration.js';
import type { Reaper } from '../util/reaper.js';
import { SampleWindow } from './metrics.js';
import { readPrometheusMetrics } from './prometheus-metrics.js';
import type { MetricValues } from './types.js';

const iso = (ms: number): string => new Date(ms).toISOString();

/** The values of a baseline event. */
function valuesOf(e: WatchEvent): MetricValues {
  const v = (e.data.values ?? {}) as MetricValues;
  return { ...v, samples: typeof v.samples === 'number' ? v.samples : 0 };
}

/**
 * The baseline in force for `env`: the newest recorded one whose release was neither rolled back
 * nor invalidated (and not `exceptRelease`, the release being watched: it is compared with what
 * came before it).
 */
export async function currentBaseline(store: Store, gate: string, env: string, exceptRelease?: string): Promise<MetricValues | undefined> {
  const events = await store.listEvents({ gate, env, kinds: ['baseline', 'baseline-invalidate', 'rollback-claim'] });
  const excluded = new Set(events.filter((e) => e.kind !== 'baseline').map((e) => e.release));
  if (exceptRelease !== undefined) excluded.add(exceptRelease);
  const usable = events.filter((e) => e.kind === 'baseline' && !excluded.has(e.release));
  const last = usable.at(-1);
  return last ? valuesOf(last) : undefined;
}

export interface BaselineOptions {
  loaded: LoadedConfig;
  store: Store;
  clock: Clock;
  stageSet: string;
  envName: string;
  release: Release;
  /** Rounds of the stage set's http items (default 5); each round's answers are samples. */
  rounds?: number;
  processEnv?: Readonly<Record<string, string | undefined>>;
  reaper?: Reaper;
  signal?: AbortSignal;
}

/**
 * Measures the environment as it is now (this release deployed and healthy) and stores it as the
 * baseline: the `http` items of the stage set run `rounds` times, their answers' latencies and
 * failures are the samples; Prometheus values win per metric when configured. Nothing is recorded
 * when nothing could be measured.
 */
export async function recordBaseline(o: BaselineOptions): Promise<{ event: WatchEvent; values: MetricValues; source: string }> {
  const { runChecks } = await import('../engine/run.js');
  const stages = o.loaded.config.stages[o.stageSet];
  if (!stages) throw new Error(`no stage set "${o.stageSet}" in ${o.loaded.file} (defined: ${Object.keys(o.loaded.config.stages).join(', ') || 'none'})`);
  const ids = new Set(stages.flatMap((s) => s.items));
  const items = o.loaded.config.items.filter((i) => ids.has(i.id) && i.check?.kind === 'http');
  if (items.length === 0) throw new Error(`stage set "${o.stageSet}" has no http items to measure a baseline with`);
  const processEnv = o.processEnv ?? process.env;
  const env = resolveEnvironment(o.loaded, { name: o.envName, release: o.release.id, processEnv });
  const rounds = o.rounds ?? 5;
  const samples = new SampleWindow({ windowMs: Number.MAX_SAFE_INTEGER / 4 });
  for (let round = 0; round < rounds; round++) {
    const results = await runChecks(items, o.loaded.conditions, {
      env,
      configDir: o.loaded.dir,
      clock: o.clock,
      signal: o.signal,
      concurrency: o.loaded.config.defaults.concurrency,
      perHost: o.loaded.config.defaults.perHost,
      defaultTimeoutMs: parseDuration(o.loaded.config.defaults.timeout),
      auth: o.loaded.config.auth,
      processEnv,
      redactor: configRedactor(o.loaded, processEnv),
      reaper: o.reaper,
    });
    if (o.signal?.aborted) throw new Error('interrupted: no baseline was recorded');
    const at = o.clock.now();
    for (const r of results) samples.add({ at, latencyMs: r.durationMs, ok: r.status === 'pass' });
  }
  let values = samples.values(o.clock.now());
  let source = 'probes';
  const prom = o.loaded.config.watch.metrics.prometheus;
  if (prom) {
    const read = await readPrometheusMetrics(prom, { at: o.clock.now(), clock: o.clock, processEnv, env: o.envName, loaded: o.loaded });
    values = { ...values, ...read.values, samples: read.values.samples ?? values.samples };
    source = read.errors.length === 0 ? 'probes+prometheus' : `probes (prometheus: ${read.errors.join('; ')})`;
  }
  if (values.samples === 0) throw new Error('nothing could be measured: no baseline was recorded');
  const event = await o.store.addEvent({ gate: o.loaded.gate, env: o.envName, release: o.release.id, kind: 'baseline', at: iso(o.clock.now()), data: { values, source, rounds, items: items.map((i) => i.id) } });
  if (!event) throw new Error('internal: the baseline was not recorded');
  return { event, values, source };
}
