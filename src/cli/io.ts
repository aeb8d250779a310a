// Where the CLI writes, and how writing fails. Every byte goes through an Output: redacted with the
// secrets the config references, and with the two ways a stream can fail told apart. A reader that
// closed the pipe early (`gonogo status | head -1`) is not an error: the rest is dropped and the exit
// code stays the decision's. Any other write error (a full disk, `> /dev/full`) is one line, exit 2.
import type { Clock } from '../util/clock.js';
import { Redactor } from '../util/redact.js';

/** The streams and environment a command runs with; tests pass memory sinks and their own env. */
export interface CliIo {
  stdout: Sink;
  stderr: Sink;
  env: Readonly<Record<string, string | undefined>>;
  /** The time the watch commands run on; tests give a fake clock (default: the system clock). */
  clock?: Clock;
  /**
   * This process's own io only: runs the command again in a node started with the watch's settings
   * (src/watch/process.ts) and gives its exit code; undefined when it could not be started.
   */
  relaunchForWatch?: () => Promise<number | undefined>;
}

/** The part of a writable stream the CLI uses. */
export interface Sink {
  write(chunk: string, callback?: (err?: Error | null) => void): boolean;
  isTTY?: boolean;
  columns?: number;
}

/** A write that failed for a reason other than a closed reader: reported as one line, exit 2. */
export class OutputError extends Error {}

function errorCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

export class Output {
  /** The reader went away (EPIPE): later writes are dropped quietly. */
  closed = false;
  private failure?: Error;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    readonly sink: Sink,
    private readonly name: string,
    public redactor: Redactor = Redactor.of([]),
  ) {}

  /** Writes redacted text; resolves when the stream took it. Never rejects: failures are collected for `check()`. */
  write(text: string): Promise<void> {
    if (this.closed || this.failure || text === '') return this.pending;
    const clean = this.redactor.text(text);
    const done = new Promise<void>((resolve) => {
      try {
        this.sink.write(clean, (err) => {
          if (err) this.fail(err);
          resolve();
        });
      } catch (err) {
        this.fail(err);
        resolve();
      }
    });
    this.pending = this.pending.then(() => done);
    return done;
  }

  /** For a stream's 'error' event: the same rules as a failed write. */
  fail(err: unknown): void {
    if (errorCode(err) === 'EPIPE' || errorCode(err) === 'ERR_STREAM_DESTROYED') this.closed = true;
    else this.failure ??= err instanceof Error ? err : new Error(String(err));
  }

  /** Waits for every write; throws an OutputError when one failed other than by a closed reader. */
  async check(): Promise<void> {
    await this.pending;
    if (this.failure) {
      const code = errorCode(this.failure);
      throw new OutputError(`could not write to ${this.name}: ${code ? `${code} ` : ''}${this.failure.message.replace(/^\w+: /, '')}`);
    }
  }
}

/** The process's own streams and environment. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    relaunchForWatch: async () => (await import('./relaunch.js')).relaunchForWatch(),
  };
}
