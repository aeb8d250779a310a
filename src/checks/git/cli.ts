import { execFile, spawn } from 'node:child_process';

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

/** Past this (a status of a huge tree, say) the check errors instead of growing without bound; patches are streamed. */
const MAX_OUTPUT = 64 * 1024 * 1024;

function gitArgs(repo: string, args: string[]): string[] {
  return ['-C', repo, '-c', 'core.quotePath=false', ...args];
}

function abortError(what: string, signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return new Error(`git ${what} aborted: ${reason instanceof Error ? reason.message : String(reason)}`);
}

/** Runs `git -C repo ...args`, killed by `signal`. Throws only when git cannot run at all or is aborted. */
export function git(repo: string, args: string[], signal: AbortSignal): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      gitArgs(repo, args),
      { signal, maxBuffer: MAX_OUTPUT, encoding: 'utf8', env: { ...process.env, ...GIT_ENV } },
      (err, stdout, stderr) => {
        if (!err) return resolve({ code: 0, stdout, stderr });
        if (signal.aborted) return reject(abortError(args[0], signal));
        if (typeof err.code === 'number') return resolve({ code: err.code, stdout, stderr });
        if (err.code === 'ENOENT') return reject(new Error('git not found: the git kind needs the git CLI on PATH'));
        if (err.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
          return reject(new Error(`git ${args[0]} printed more than ${MAX_OUTPUT} bytes: too large to verify`));
        }
        reject(new Error(`git ${args[0]} failed: ${err.message}`));
      },
    );
  });
}

/** Like `git`, but a non-zero exit is an error carrying git's own message. */
export async function gitOk(repo: string, args: string[], signal: AbortSignal): Promise<string> {
  const r = await git(repo, args, signal);
  if (r.code !== 0) {
    const message = r.stderr.trim().split('\n').slice(-3).join(' ') || `exit code ${r.code}`;
    throw new Error(`git ${args.join(' ')}: ${message}`);
  }
  return r.stdout;
}

/**
 * Patch ids (`git patch-id --stable`) of the patches `git ...args` prints (a `diff`, a `log -p`),
 * streamed from one process to the other: a long history never has to fit in memory.
 */
export function gitPatchIds(repo: string, args: string[], signal: AbortSignal): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const options = { signal, env: { ...process.env, ...GIT_ENV } };
    const producer = spawn('git', gitArgs(repo, args), { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    const consumer = spawn('git', gitArgs(repo, ['patch-id', '--stable']), { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    let ids = '';
    let errors = '';
    let failed: Error | undefined;
    const fail = (err: Error): void => {
      failed ??= signal.aborted ? abortError(args[0], signal) : err.message.includes('ENOENT') ? new Error('git not found: the git kind needs the git CLI on PATH') : err;
    };
    producer.on('error', fail);
    consumer.on('error', fail);
    consumer.stdin.on('error', () => undefined); // patch-id gone early: its own exit reports why
    producer.stdout.pipe(consumer.stdin);
    consumer.stdout.on('data', (c: Buffer) => (ids += c.toString()));
    for (const child of [producer, consumer]) child.stderr.on('data', (c: Buffer) => (errors = (errors + c.toString()).slice(-2000)));
    const exitCode = (child: typeof producer | typeof consumer): Promise<number | null> =>
      new Promise((done) => child.once('close', (code) => done(code)));
    Promise.all([exitCode(producer), exitCode(consumer)]).then(([a, b]) => {
      if (failed) return reject(failed);
      if (a !== 0 || b !== 0) return reject(new Error(`git ${args.join(' ')} | git patch-id: ${errors.trim() || `exit codes ${a} and ${b}`}`));
      resolve(ids.split('\n').filter((l) => l !== '').map((l) => l.split(' ')[0]));
    }, reject);
  });
}
