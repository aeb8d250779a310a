import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { defineKind } from '../types.js';

const argv = z.array(z.string()).min(1).describe('Program and arguments, run directly with no shell: `["npm", "test"]`.');
const shell = z
  .strictObject({ sh: z.string().min(1).describe('Script given to `/bin/sh -c`.') })
  .describe('A shell script, only when asked for by name: `{ sh: "npm run build && npm test" }`.');

const options = z.strictObject({
  run: z
    .union([argv, shell], { error: 'expected an argv list like ["npm", "test"] or { sh: "a shell script" }' })
    .describe('What to run: an argv list (no shell), or `{ sh: "..." }` to run a script through /bin/sh.'),
  cwd: z.string().optional().describe('Working directory, relative to the config file. Default: the config folder.'),
  env: z.record(z.string(), z.string()).default({}).describe('Variables added to (and overriding) the inherited environment.'),
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
    .describe('After SIGTERM, how long the process group has to exit before SIGKILL.'),
});

type Options = z.output<typeof options>;

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

/** Sends `signal` to every process in the group led by `pid`; false when the group is already gone. */
function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Resolves when `p` settles or after `ms`, whichever is first; true when `p` won. Leaves no timer behind. */
async function within(p: Promise<void>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  try {
    return await Promise.race([p.then(() => true), delay(ms, false, { signal: timer.signal })]);
  } finally {
    timer.abort();
  }
}

/**
 * Ends whatever is left of the command's process group: SIGTERM, then SIGKILL once every process
 * holding our pipes is gone (`close`) or the grace runs out. SIGKILL is sent even after a quick close,
 * for members that ignored SIGTERM and do not hold the pipes.
 */
async function endGroup(child: ChildProcess, closed: Promise<void>, graceMs: number): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || !killGroup(pid, 'SIGTERM')) return;
  await within(closed, graceMs);
  killGroup(pid, 'SIGKILL');
  // A process that left the group (setsid) may still hold the pipes: stop waiting for it.
  if (!(await within(closed, graceMs))) {
    child.stdout?.destroy();
    child.stderr?.destroy();
    child.stdin?.destroy();
  }
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
  description: 'Runs a program (no shell unless asked) and observes its exit code, signal, output and duration.',
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

    // detached: the child leads a new process group, so an abort can end its grandchildren too
    // (and a Ctrl-C meant for gonogo reaches the command only through the engine's signal).
    const child: ChildProcess = spawn(file, args, {
      cwd,
      env: { ...process.env, ...o.env },
      detached: true,
      stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });

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

    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      void endGroup(child, closed, o.killGraceMs);
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
      if (aborted) {
        await closed;
        const reason: unknown = ctx.signal.reason;
        const why = reason instanceof Error ? reason.message : String(reason);
        throw new Error(`command ended by the check's deadline (${why}): killed process group of ${display}${lastLines(output.toString())}`);
      }
      // Anything the command left running in its group (a `cmd &`) is ended too: a check leaves nothing behind.
      await endGroup(child, closed, o.killGraceMs);
      await closed;
      const duration = Math.round((ctx.clock.monotonic() - started) * 10) / 10;
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
