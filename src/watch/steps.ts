// The steps a watch or a rollback takes against the target, as the engine runs any check: a
// command (the rollback script, the backup restore) is a `command` check with its timeout, its own
// process group and redacted output; a set of items (post-rollback validation) is a gate run.
import type { ItemConfig } from '../config/schema.js';
import { parseCondition } from '../conditions/index.js';
import type { Condition } from '../conditions/index.js';
import { runChecks } from '../engine/run.js';
import type { RunOptions } from '../engine/run.js';
import type { ItemResult } from '../model.js';

/** A command as the config writes it: an argv list, or `{ sh }`. */
export type CommandSpec = readonly string[] | { sh: string };

/** What a command step did, for the store and the person reading it. */
export interface StepOutcome {
  step: string;
  ok: boolean;
  /** The check's message: exit code, signal or why it could not run; output tail included. */
  message: string;
  durationMs: number;
  exitCode?: number | null;
}

const EXIT_OK: Condition = (() => {
  const parsed = parseCondition('exit_code == 0', ['exit_code', 'signal', 'stdout', 'stderr', 'output', 'duration_ms']);
  if (!parsed.ok) throw new Error(`internal: ${parsed.error}`);
  return parsed.condition;
})();

/**
 * Runs one command as a `command` check: its own process group, ended at `timeoutMs`, its output
 * redacted like every result. `vars` reach it as environment variables only.
 */
export async function runCommandStep(step: string, run: CommandSpec, timeoutMs: number, vars: Record<string, string>, engine: Omit<RunOptions, 'kinds'>): Promise<StepOutcome> {
  const { default: command } = await import('../checks/command/index.js');
  const id = `STEP-${step}`;
  const item = {
    id,
    title: step,
    tier: 'critical',
    category: 'rollback',
    check: { kind: 'command', run: Array.isArray(run) ? [...run] : run, env: vars, timeout: timeoutMs },
  } as unknown as ItemConfig;
  const conditions = new Map([[id, [EXIT_OK]]]);
  const [result] = await runChecks([item], conditions, { ...engine, concurrency: 1, perHost: 1, kinds: { command }, onEvent: undefined });
  const evidence = (result?.evidence ?? {}) as { exitCode?: number | null; outputTail?: string };
  // What the command said is what a person needs when it failed ("$RECIPES_CONTROL_URL is not set").
  const output = typeof evidence.outputTail === 'string' ? evidence.outputTail.trim() : '';
  const tail = output === '' ? '' : `; output: ${output.length > 500 ? `...${output.slice(-500)}` : output}`;
  return { step, ok: result?.status === 'pass', message: `${result?.message ?? 'not run'}${tail}`, durationMs: result?.durationMs ?? 0, exitCode: evidence.exitCode };
}

/** A result as an evaluation event keeps it: enough to explain, small enough to keep for 24 hours. */
export function briefResult(r: ItemResult): { id: string; status: string; message: string; durationMs: number } {
  return { id: r.id, status: r.status, message: r.message.length > 300 ? `${r.message.slice(0, 300)}...` : r.message, durationMs: r.durationMs };
}
