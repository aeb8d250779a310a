import type { ListrTask } from 'listr2';
import type { StageConfig } from '../config/schema.js';
import type { ItemConfig } from '../config/schema.js';
import type { EngineEvent } from '../engine/run.js';
import type { StageEvent } from '../engine/gate.js';
import type { ItemResult } from '../model.js';
import { renderResultLine, renderStagesText } from '../report/text.js';
import { formatDuration } from '../util/duration.js';
import type { Output } from './io.js';

/** Progress while checks run, on stderr so stdout stays the report. */
export interface LiveView {
  onEvent(e: EngineEvent | StageEvent): void;
  /** Waits for the view to draw its last frame. */
  close(): Promise<void>;
}

/**
 * A task list with spinners and timings on a terminal; plain lines when stderr is not a TTY or
 * `CI` is set (logs stay readable); nothing but notices with `quiet`. Plain lines go through the
 * redacting output; the task list shows only results the engine has already redacted. The task
 * list's library is loaded only for a terminal: CI and `--quiet` runs never load it.
 */
export async function liveView(items: readonly ItemConfig[], opts: { quiet?: boolean; out: Output; env: Readonly<Record<string, string | undefined>>; stages?: readonly StageConfig[] }): Promise<LiveView> {
  const { out } = opts;
  const titles = new Map(items.map((i) => [i.id, i.title]));
  // What a check did to the target that a person should know of (the SSRF payload classes): once, even when quiet.
  const noticed = new Set<string>();
  const notice = (e: EngineEvent | StageEvent): void => {
    if (e.type !== 'notice' || noticed.has(e.message)) return;
    noticed.add(e.message);
    void out.write(`note: ${e.id}: ${e.message}\n`);
  };
  if (opts.quiet) return { onEvent: notice, close: async () => undefined };
  const sink = out.sink;
  // A terminal that reports no width (some wrappers) would get one character per line: plain lines there.
  const stream = sink === process.stderr ? process.stderr : undefined;
  const interactive = stream !== undefined && stream.isTTY === true && !opts.env.CI && (stream.columns ?? 0) >= 40;
  if (!interactive) {
    return {
      onEvent(e) {
        if (e.type === 'end') void out.write(`${renderResultLine(e.result, titles.get(e.result.id))}\n`);
        else if (e.type === 'retry') void out.write(`  ↻ ${e.id} attempt ${e.attempt} failed (${e.message}); retrying in ${formatDuration(e.delayMs)}\n`);
        else if (e.type === 'stage-start') void out.write(`— stage ${e.stage.id}: ${e.stage.title} (budget ${e.stage.budget})\n`);
        else if (e.type === 'stage-end') void out.write(`${renderStagesText([e.report]).split('\n')[1]}\n`);
        else notice(e);
      },
      close: async () => undefined,
    };
  }
  const { Listr, ListrLogger, ProcessOutput } = await import('listr2');
  const pending = new Map<string, { resolve(r: ItemResult): void; promise: Promise<ItemResult> }>();
  const settle = (id: string): { resolve(r: ItemResult): void; promise: Promise<ItemResult> } => {
    let entry = pending.get(id);
    if (!entry) {
      let resolve: (r: ItemResult) => void = () => undefined;
      const promise = new Promise<ItemResult>((r) => (resolve = r));
      entry = { resolve, promise };
      pending.set(id, entry);
    }
    return entry;
  };
  const automated = items.filter((i) => i.check);
  const itemTask = (item: ItemConfig): ListrTask => ({
    title: `${item.id} ${item.title}`,
    task: async (_, task) => {
      const r = await settle(item.id).promise;
      const base = `${item.id} ${item.title} (${formatDuration(r.durationMs)})`;
      if (r.status === 'pass') task.title = base;
      else if (r.status === 'skipped') task.skip(`${base}: ${r.message}`);
      else throw new Error(`${base}: ${r.status}: ${r.message}`);
    },
  });
  // `validate`: one group per stage, in order, its items beneath it.
  const tasks: ListrTask[] = opts.stages
    ? opts.stages.map((stage) => ({
        title: `stage ${stage.id}: ${stage.title} (budget ${stage.budget})`,
        task: (_, task) => task.newListr(automated.filter((i) => stage.items.includes(i.id)).map(itemTask), { concurrent: true, exitOnError: false }),
      }))
    : automated.map(itemTask);
  const list = new Listr(tasks, {
    concurrent: !opts.stages,
    exitOnError: false,
    registerSignalListeners: false,
    rendererOptions: { collapseErrors: false, logger: new ListrLogger({ processOutput: new ProcessOutput(stream, stream) }) },
  });
  const running = list.run().catch(() => undefined);
  return {
    onEvent(e) {
      if (e.type === 'end') settle(e.result.id).resolve(e.result);
      else notice(e);
    },
    async close() {
      // Items that never ran (a stopped validation, an interrupt) must not leave spinners behind.
      for (const item of automated) {
        const entry = settle(item.id);
        entry.resolve({ id: item.id, tier: item.tier, status: 'error', message: 'not run', durationMs: 0, attempts: [] });
      }
      await running;
    },
  };
}
