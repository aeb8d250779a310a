// The watch's metrics from Prometheus (watch.metrics.prometheus): one instant query per metric at
// each evaluation. A query that fails or answers no series leaves the metric absent (no data, never
// 0), with the reason kept for the record.
import type { LoadedConfig } from '../config/load.js';
import { resolveEnvironment } from '../config/environment.js';
import { configRedactor } from '../config/redactor.js';
import type { PrometheusConfig } from '../config/watch-schema.js';
import type { Clock } from '../util/clock.js';
import { parseDuration } from '../util/duration.js';
import type { MetricValues } from './types.js';

export interface PrometheusRead {
  /** The metrics Prometheus answered; latencies turned from seconds into milliseconds. */
  values: Partial<MetricValues>;
  /** Why a metric is missing: one line per failed query, every secret of the config (and of the query's headers) redacted. */
  errors: string[];
}

const PROCESS_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const ENV_REF = /\{\{\s*env\.([A-Za-z0-9_-]+)\s*\}\}/g;

/** Reads each configured query at `at`; never throws for a query's failure. */
export async function readPrometheusMetrics(
  prom: PrometheusConfig,
  o: { at: number; clock: Clock; processEnv?: Readonly<Record<string, string | undefined>>; env: string; loaded: LoadedConfig; signal?: AbortSignal },
): Promise<PrometheusRead> {
  const { queryInstant } = await import('../util/prometheus.js');
  const processEnv = o.processEnv ?? process.env;
  const sent: string[] = [];
  const secret = (text: string): string =>
    text.replace(PROCESS_REF, (_, name: string) => {
      const value = processEnv[name] ?? '';
      sent.push(value);
      return value;
    });
  const vars = resolveEnvironment(o.loaded, { name: o.env, processEnv }).vars;
  const query = (text: string): string => text.replace(ENV_REF, (whole, name: string) => vars[name] ?? whole);
  const server = { url: secret(prom.server), ...(prom.headers ? { headers: Object.fromEntries(Object.entries(prom.headers).map(([k, v]) => [k, secret(v)])) } : {}) };
  // An answer may echo what it was sent (a proxy's error quoting the Authorization header), and the
  // reasons go into events and the baseline's record: redacted like every result, with the values
  // filled in here added in case the settings did not come from the config's file.
  const redactor = configRedactor(o.loaded, processEnv).with(sent);
  const timeoutMs = parseDuration(prom.timeout);
  const wanted: [keyof MetricValues, string | undefined, number][] = [
    ['error_rate', prom.errorRate, 1],
    ['p50_ms', prom.p50, 1000],
    ['p95_ms', prom.p95, 1000],
    ['p99_ms', prom.p99, 1000],
    ['samples', prom.samples, 1],
  ];
  const values: Partial<MetricValues> = {};
  const errors: string[] = [];
  await Promise.all(
    wanted.map(async ([name, promql, scale]) => {
      if (promql === undefined) return;
      try {
        const r = await queryInstant(server, query(promql), { at: o.at, timeoutMs, clock: o.clock, signal: o.signal, nonFinite: 'drop' });
        if (r.series.length === 0) {
          // A ratio of rates with nothing under it is 0/0: NaN, dropped, and no number to judge either.
          const why =
            r.dropped > 0
              ? `the query answered only NaN or Inf (${r.dropped} value${r.dropped === 1 ? '' : 's'} left out): no number to judge (a ratio of rates with no requests in its window?)`
              : 'the query answered no series (no data)';
          errors.push(`${name}: ${why}`);
          return;
        }
        // Several series: the worst of them (the highest rate or latency).
        values[name] = Math.max(...r.series.map((s) => s.value[1])) * scale;
      } catch (err) {
        errors.push(redactor.text(`${name}: ${err instanceof Error ? err.message : String(err)}`));
      }
    }),
  );
  return { values, errors };
}
