// `gonogo replay`: the configured triggers over a recorded series, printing when each would have
// fired. Parses argv, reads the file or asks Prometheus, prints; the replay itself is watch/replay.ts.
import { ConfigError, selectEnvironment } from '../config/load.js';
import type { LoadedConfig } from '../config/load.js';
import { triggersFor } from '../config/watch-schema.js';
import { parseDuration } from '../util/duration.js';
import { FileRefusedError, readRegularFile } from '../util/fs.js';
import { expandString, TemplateError } from '../util/template.js';
import type { Recording } from '../watch/replay.js';
import { load } from './commands.js';
import type { Cli, Globals } from './commands.js';
import { EXIT, UsageError } from './exit.js';

/** Options of `gonogo replay` as commander hands them over. */
export interface ReplayCliOptions {
  from?: string;
  prometheus?: boolean;
  start?: string;
  end?: string;
  step?: string;
  env?: string;
  stageSet: string;
  baseline?: string;
  format: string;
}

/** A recording file larger than this is refused (a day at one evaluation a second is about 10 MB). */
const MAX_RECORDING_BYTES = 256 * 1024 * 1024;

/** `--start`/`--end`: an ISO date-time or epoch milliseconds. */
function time(text: string | undefined, flag: string): number {
  if (text === undefined) throw new UsageError(`replay --prometheus needs ${flag} (an ISO date-time such as 2026-03-01T12:00:00Z, or epoch milliseconds)`);
  const ms = /^\d+$/.test(text) ? Number(text) : /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(ms)) throw new UsageError(`${flag}: ${JSON.stringify(text)} is not a time (an ISO date-time such as 2026-03-01T12:00:00Z, or epoch milliseconds)`);
  return ms;
}

async function fileRecording(file: string): Promise<Recording> {
  const { parseRecording } = await import('../watch/replay.js');
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(file, MAX_RECORDING_BYTES);
  } catch (err) {
    if (err instanceof FileRefusedError) throw new UsageError(`--from ${file}: ${err.message}`);
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`--from ${file}: ${code === 'ENOENT' ? 'no such file' : err instanceof Error ? err.message : String(err)}`);
  }
  return parseRecording(bytes.toString('utf8'), file);
}

/** The configured Prometheus source's range queries over `--start`..`--end`, every `--step`. */
async function prometheusRecording(cli: Cli, loaded: LoadedConfig, o: ReplayCliOptions): Promise<Recording> {
  const prom = loaded.config.watch.metrics.prometheus;
  if (!prom) throw new ConfigError([loaded.locate(['watch', 'metrics', 'prometheus'], 'replay --prometheus reads watch.metrics.prometheus, which is not configured (server, errorRate, p95...)')]);
  const start = time(o.start, '--start');
  const end = time(o.end, '--end');
  if (end <= start) throw new UsageError(`--end (${new Date(end).toISOString()}) must be after --start (${new Date(start).toISOString()})`);
  if (o.step === undefined) throw new UsageError('replay --prometheus needs --step (a duration such as 30s or 1m: one evaluation per step)');
  let step: number;
  try {
    step = parseDuration(o.step, { positive: true });
  } catch (err) {
    throw new UsageError(`--step: ${err instanceof Error ? err.message : String(err)}`);
  }
  // Queries may name environment fields ({{env.job}}); server and headers may hold ${VAR}s (secrets).
  const { env } = selectEnvironment(loaded, o.env);
  const vars = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
  const secrets: string[] = [];
  const expand = (text: string): string => expandString(text, { vars }, cli.io.env, secrets);
  let server: { url: string; headers?: Record<string, string> };
  let queries: typeof prom;
  try {
    server = { url: expand(prom.server), ...(prom.headers ? { headers: Object.fromEntries(Object.entries(prom.headers).map(([k, v]) => [k, expand(v)])) } : {}) };
    queries = { ...prom, errorRate: expand(prom.errorRate), ...Object.fromEntries((['p50', 'p95', 'p99', 'samples'] as const).flatMap((k) => (prom[k] === undefined ? [] : [[k, expand(prom[k])]]))) };
  } catch (err) {
    if (err instanceof TemplateError) throw new UsageError(`watch.metrics.prometheus: ${err.message}`);
    throw err;
  }
  cli.out.redactor = cli.out.redactor.with(secrets);
  cli.err.redactor = cli.err.redactor.with(secrets);
  const [{ prometheusRecording: read }, { queryRange, PrometheusError }] = await Promise.all([import('../watch/replay.js'), import('../util/prometheus.js')]);
  try {
    return await read(queries, server, { start, end, step }, queryRange);
  } catch (err) {
    if (err instanceof PrometheusError) throw new UsageError(`replay: Prometheus: ${err.message}`);
    throw err;
  }
}

export async function cmdReplay(cli: Cli, g: Globals, o: ReplayCliOptions): Promise<number> {
  if ((o.from === undefined) === !o.prometheus) throw new UsageError('replay: give either --from FILE (JSON lines, one observation per line) or --prometheus --start T --end T --step D');
  if (o.from !== undefined && (o.start !== undefined || o.end !== undefined || o.step !== undefined)) throw new UsageError('replay: --start, --end and --step go with --prometheus; --from replays the whole file');
  const loaded = await load(g, cli);
  if (o.stageSet !== 'production' && !Object.hasOwn(loaded.config.stages, o.stageSet)) {
    throw new UsageError(`replay: stage set "${o.stageSet}" is not defined (defined: ${Object.keys(loaded.config.stages).join(', ') || 'none'})`);
  }
  const { replay, renderReplayText, replayDocument, parseBaseline, ReplayInputError } = await import('../watch/replay.js');
  let baseline: ReturnType<typeof parseBaseline> | undefined;
  if (o.baseline !== undefined) {
    try {
      baseline = parseBaseline(o.baseline);
    } catch (err) {
      throw new UsageError(err instanceof Error ? err.message : String(err));
    }
  }
  let recording: Recording;
  try {
    recording = o.from !== undefined ? await fileRecording(o.from) : await prometheusRecording(cli, loaded, o);
  } catch (err) {
    if (err instanceof ReplayInputError) {
      await cli.err.write(`${err.message}\n`);
      return EXIT.USAGE;
    }
    throw err;
  }
  const result = replay(triggersFor(loaded.config, o.stageSet), recording, baseline ? { baseline } : {});
  await cli.out.write(o.format === 'json' ? `${JSON.stringify(replayDocument(result), null, 2)}\n` : renderReplayText(result));
  return EXIT.GO;
}
