// The CLI in-process for tests: `main()` with memory sinks for stdout and stderr and an environment
// of the test's own. Spawning a process per command made the suite slow; only tests of the process
// boundary itself (signals, pipes, exit) spawn `bin.ts`.
import { main } from '../cli/main.js';
import type { Sink } from '../cli/io.js';
import type { Clock } from '../util/clock.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function memorySink(): Sink & { text: string } {
  const sink = {
    text: '',
    write(chunk: string, callback?: (err?: Error | null) => void): boolean {
      sink.text += chunk;
      callback?.();
      return true;
    },
  };
  return sink;
}

/** Runs `gonogo ...args` in this process. `env` replaces the process environment (default: a copy of it with CI=1). */
export async function runCli(args: readonly string[], env: Readonly<Record<string, string | undefined>> = { ...process.env, CI: '1' }, clock?: Clock): Promise<CliRun> {
  const stdout = memorySink();
  const stderr = memorySink();
  const code = await main([...args], { stdout, stderr, env, ...(clock ? { clock } : {}) });
  return { code, stdout: stdout.text, stderr: stderr.text };
}
