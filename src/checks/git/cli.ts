import { execFile } from 'node:child_process';

/** What one `git` invocation returned; a non-zero exit is data here, the caller decides. */
export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

// Read-only and predictable: no prompts, no pager, no optional index lock (a check must not
// block a developer's own git), messages in English so errors read the same everywhere.
const GIT_ENV = {
  GIT_TERMINAL_PROMPT: '0',
  GIT_OPTIONAL_LOCKS: '0',
  GIT_PAGER: 'cat',
  LC_ALL: 'C',
};

/** A log of a long history can be large; past this the check errors instead of growing without bound. */
const MAX_OUTPUT = 64 * 1024 * 1024;

/** Runs `git -C repo ...args`, killed by `signal`. Throws only when git cannot run at all or is aborted. */
export function git(repo: string, args: string[], signal: AbortSignal, input?: string): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      ['-C', repo, '-c', 'core.quotePath=false', ...args],
      { signal, maxBuffer: MAX_OUTPUT, encoding: 'utf8', env: { ...process.env, ...GIT_ENV } },
      (err, stdout, stderr) => {
        if (!err) return resolve({ code: 0, stdout, stderr });
        if (signal.aborted) {
          const reason: unknown = signal.reason;
          return reject(new Error(`git ${args[0]} aborted: ${reason instanceof Error ? reason.message : String(reason)}`));
        }
        if (typeof err.code === 'number') return resolve({ code: err.code, stdout, stderr });
        if (err.code === 'ENOENT') return reject(new Error('git not found: the git kind needs the git CLI on PATH'));
        if (err.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
          return reject(new Error(`git ${args[0]} printed more than ${MAX_OUTPUT} bytes: too large to verify`));
        }
        reject(new Error(`git ${args[0]} failed: ${err.message}`));
      },
    );
    if (child.stdin) {
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    }
  });
}

/** Like `git`, but a non-zero exit is an error carrying git's own message. */
export async function gitOk(repo: string, args: string[], signal: AbortSignal, input?: string): Promise<string> {
  const r = await git(repo, args, signal, input);
  if (r.code !== 0) {
    const message = r.stderr.trim().split('\n').slice(-3).join(' ') || `exit code ${r.code}`;
    throw new Error(`git ${args.join(' ')}: ${message}`);
  }
  return r.stdout;
}
