import type { ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { Clock } from '../../util/clock.js';
import { createReaper } from '../../util/reaper.js';
import { defineKind } from '../types.js';
import type { TargetEnvironment } from '../types.js';

const argv = z.array(z.string()).min(1).describe('Program and arguments, run directly with no shell: `["npm", "test"]`.');
const shell = z
  .strictObject({
    sh: z
      .string()
      .min(1)
      .describe(
        'Script given to `/bin/sh -c`, exactly as written: values reach it only as environment variables ' +
          '(`"$GONOGO_URL"`, `"$GONOGO_ENV"`, `"$GONOGO_ENV_<FIELD>"`, `"$VAR"`), never spliced into its text.',
      ),
  })
  .describe('A shell script, only when asked for by name: `{ sh: "npm run build && npm test" }`.');

const options = z.strictObject({
  run: z
    .union([argv, shell], { error: 'expected an argv list like ["npm", "test"] or { sh: "a shell script" }' })
    .describe('What to run: an argv list (no shell), or `{ sh: "..." }` to run a script through /bin/sh.'),
  cwd: z.string().optional().describe('Working directory, relative to the config file. Default: the config folder.'),
  env: z
    .record(z.string(), z.string())
    .default({})
    .describe(
      'Variables added to (and overriding) the inherited environment, which also holds GONOGO_URL, GONOGO_ENV and GONOGO_ENV_<FIELD> ' +
        '(each field of the environment, upper-cased, other characters as `_`).',
    ),
  input: z.string().optional().describe('Text written to standard input; without it stdin is empty.'),
  maxOutputBytes: z
    .number()
    .int()
    .positive()
    .default(1024 * 1024)
    .describe('Each of stdout, stderr and output keeps at most this many bytes: the tail, where the failure usually is.'),
  killGraceMs: z
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(2000)
    .describe('After SIGTERM, how long the process tree has to exit before SIGKILL.'),
});

type Options = z.output<typeof options>;

/** How long the pipes may stay open once the process tree is gone (see releasePipes). */
const PIPE_GRACE_MS = 500;

/** Keeps the last `cap` bytes written to it; a chatty process cannot exhaust memory. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private kept = 0;
  /** Bytes received in all, kept or not. */
  total = 0;

  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    this.chunks.push(chunk);
    this.kept += chunk.length;
    // Drop whole chunks from the front while the rest still covers the cap; toString trims the remainder.
    for (let first = this.chunks[0]; this.kept - first.length >= this.cap; first = this.chunks[0]) {
      this.chunks.shift();
      this.kept -= first.length;
    }
  }

  get truncated(): boolean {
    return this.total > this.cap;
  }

  toString(): string {
    const all = Buffer.concat(this.chunks, this.kept);
    return all.subarray(Math.max(0, all.length - this.cap)).toString('utf8');
  }
}

function describeArgv(o: Options): { file: string; args: string[]; display: string } {
  if (Array.isArray(o.run)) {
    const [file, ...args] = o.run;
    return { file, args, display: o.run.join(' ') };
  }
  return { file: '/bin/sh', args: ['-c', o.run.sh], display: o.run.sh };
}

/** Resolves true when `p` settles first, false after `ms` on `clock`; leaves no sleeper behind. */
async function within(p: Promise<void>, ms: number, clock: Clock): Promise<boolean> {
  const stop = new AbortController();
  try {
    return await Promise.race([p.then(() => true), clock.sleep(ms, stop.signal).then(() => false)]);
  } finally {
    stop.abort();
  }
}

/**
 * The values a script may use, as environment variables: `$GONOGO_URL`, `$GONOGO_ENV` and
 * `$GONOGO_ENV_<FIELD>` for every field of the environment. A script gets values only this way,
 * never spliced into its text, so a value is always data to the shell and never code.
 */
export function valueVariables(env: TargetEnvironment): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [field, value] of Object.entries(env.vars).sort(([a], [b]) => a.localeCompare(b))) {
    vars[`GONOGO_ENV_${field.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = value;
  }
  vars.GONOGO_ENV = env.name;
  if (env.url !== undefined) vars.GONOGO_URL = env.url;
  return vars;
}

/** The inherited environment without values of another environment (a gonogo run inside a command). */
function inheritedEnv(processEnv: Readonly<Record<string, string | undefined>>): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(processEnv).filter(([name]) => name !== 'GONOGO_URL' && name !== 'GONOGO_ENV' && !name.startsWith('GONOGO_ENV_')));
}

/**
 * Once the tree is ended its pipes close, unless a process we could not find holds them (one that
 * left the group and scrubbed its environment): stop waiting for it then, or the check would never
 * settle and the open pipes would keep gonogo from exiting.
 */
async function releasePipes(child: ChildProcess, closed: Promise<void>, clock: Clock): Promise<void> {
  if (await within(closed, PIPE_GRACE_MS, clock)) return;
  child.stdout?.destroy();
  child.stderr?.destroy();
  child.stdin?.destroy();
  child.unref();
}

function lastLines(text: string, max = 500): string {
  const tail = text.length > max ? `...${text.slice(-max)}` : text;
  return tail.trim() === '' ? '' : `; last output: ${tail.trim()}`;
}

function spawnError(err: NodeJS.ErrnoException, file: string): Error {
  if (err.code === 'ENOENT') return new Error(`command not found: ${file}`);
  if (err.code === 'EACCES') return new Error(`permission denied: ${file} is not executable`);
  return new Error(`could not start ${file}: ${err.message}`);
}

export default defineKind({
  // Local: not bound to a host, so not counted against the per-host limit.
  host: () => undefined,
  name: 'command',
  // A script is parsed by the shell: a value spliced into it would be code. It gets values as variables.
  verbatim: ['run.sh'],
  description: 'Runs a program (no shell unless asked) and observes its exit code, signal, output and duration; its whole process tree ends with the check.',
  options,
  fields: ['exit_code', 'signal', 'stdout', 'stderr', 'output', 'duration_ms'],
  defaultExpect: () => ['exit_code == 0'],
  async run(o, ctx) {
    ctx.signal.throwIfAborted();
    const { file, args, display } = describeArgv(o);
    const cwd = resolve(ctx.configDir, o.cwd ?? '.');
    // Checked first: spawn reports a missing cwd as ENOENT, which would read as "command not found".
    const dir = await stat(cwd).catch(() => undefined);
    if (!dir?.isDirectory()) throw new Error(`working directory not found: ${cwd}`);

    const stdout = new TailBuffer(o.maxOutputBytes);
    const stderr = new TailBuffer(o.maxOutputBytes);
    const output = new TailBuffer(o.maxOutputBytes);
    const started = ctx.clock.monotonic();

    const reaper = ctx.reaper ?? createReaper();
    const proc = reaper.spawn(file, args, {
      cwd,
      env: { ...inheritedEnv(ctx.processEnv ?? process.env), ...valueVariables(ctx.env), ...o.env },
      stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const { child } = proc;

    const closed = new Promise<void>((done) => child.once('close', () => done()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done, fail) => {
      child.once('error', fail);
      child.once('exit', (code, signal) => done({ code, signal }));
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      output.push(chunk);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      output.push(chunk);
    });
    if (child.stdin) {
      // A command that exits without reading its input closes the pipe: not our error.
      child.stdin.on('error', () => undefined);
      child.stdin.end(o.input);
    }

    let ending: Promise<void> | undefined;
    const endTree = (): Promise<void> => (ending ??= proc.end(o.killGraceMs, ctx.clock));
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      void endTree();
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    if (ctx.signal.aborted) onAbort();
    try {
      let result: { code: number | null; signal: NodeJS.Signals | null };
      try {
        result = await exited;
      } catch (err) {
        throw spawnError(err instanceof Error ? err : new Error(String(err)), file);
      }
      const duration = Math.round((ctx.clock.monotonic() - started) * 10) / 10;
      // Anything the command left running (a `cmd &`, a setsid'd daemon) is ended too: a check leaves nothing behind.
      await endTree();
      await releasePipes(child, closed, ctx.clock);
      if (aborted) {
        const reason: unknown = ctx.signal.reason;
        const why = reason instanceof Error ? reason.message : String(reason);
        throw new Error(`command ended by the check's deadline (${why}): killed the process tree of ${display}${lastLines(output.toString())}`);
      }
      return {
        observations: {
          exit_code: result.code,
          signal: result.signal,
          stdout: stdout.toString(),
          stderr: stderr.toString(),
          output: output.toString(),
          duration_ms: duration,
        },
        evidence: {
          command: Array.isArray(o.run) ? o.run : { sh: o.run.sh },
          cwd,
          exitCode: result.code,
          signal: result.signal,
          durationMs: duration,
          stdoutBytes: stdout.total,
          stderrBytes: stderr.total,
          truncated: stdout.truncated || stderr.truncated,
          outputTail: output.toString().slice(-4096),
        },
      };
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
  },
});
