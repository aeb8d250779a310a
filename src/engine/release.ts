// What is being decided. Runs, sign-offs and waivers record their release, so a sign-off given for
// last month's build never counts for today's.
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { git } from '../checks/git/cli.js';
import type { ReleaseAuthor } from './authority.js';

/** The release a command works on, where its id came from, and (from git) who made it. */
export interface Release {
  id: string;
  source: 'option' | 'git' | 'config';
  author?: ReleaseAuthor;
}

/** Release ids are printed, stored and typed on command lines: plain characters, bounded. */
const RELEASE_ID = /^[A-Za-z0-9][A-Za-z0-9._+/:@-]{0,127}$/;

/** Why `id` cannot be a release id, or undefined when it can. */
export function checkReleaseId(id: string): string | undefined {
  return RELEASE_ID.test(id) ? undefined : `a release id is 1 to 128 letters, digits or . _ + / : @ - starting with a letter or digit, got ${JSON.stringify(id)}`;
}

/**
 * Whether git could find a repository from `dir`: a `.git` (a folder, or a worktree's file) there
 * or above, a bare repository's own folder, or GIT_DIR set. Outside any, git is not started: a
 * process only to hear "not a git repository" costs every command tens of milliseconds.
 */
export function mayBeInRepo(dir: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.GIT_DIR) return true;
  let start: string;
  try {
    // git walks up from the folder as the system has it: a symlinked folder's parents are its target's.
    start = realpathSync(dir);
  } catch {
    return true; // Not there to look in: git says what it makes of it.
  }
  for (let d = start; ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return true;
    if (existsSync(join(d, 'HEAD')) && existsSync(join(d, 'objects')) && existsSync(join(d, 'refs'))) return true;
    if (dirname(d) === d) return false;
  }
}

async function commitOf(dir: string, rev: string, signal: AbortSignal): Promise<{ short: string; author: ReleaseAuthor } | undefined> {
  if (!mayBeInRepo(dir)) return undefined;
  // `--end-of-options`: a release id is never read as an option by git.
  const r = await git(dir, ['log', '-1', '--format=%h%x00%an%x00%ae', '--end-of-options', `${rev}^{commit}`], signal).catch(() => undefined);
  if (!r || r.code !== 0) return undefined;
  const [short, name, email] = r.stdout.trim().split('\0');
  return short ? { short, author: { name: name ?? '', email: email ?? '' } } : undefined;
}

/**
 * The release: `explicit` (`--release`) when given, else the git commit of the config's working
 * tree (short SHA, `+dirty` when tracked files changed), else `config-` and the config hash.
 * The author comes from git when the release names a commit it knows.
 */
export async function resolveRelease(opts: { dir: string; explicit?: string; configHash: string; signal?: AbortSignal }): Promise<Release> {
  const signal = opts.signal ?? AbortSignal.timeout(10_000);
  if (opts.explicit !== undefined) {
    const problem = checkReleaseId(opts.explicit);
    if (problem) throw new RangeError(`--release: ${problem}`);
    const commit = await commitOf(opts.dir, opts.explicit.replace(/\+dirty$/, ''), signal);
    return { id: opts.explicit, source: 'option', ...(commit ? { author: commit.author } : {}) };
  }
  const head = await commitOf(opts.dir, 'HEAD', signal);
  if (!head) return { id: `config-${opts.configHash.slice(0, 12)}`, source: 'config' };
  // Untracked files do not make a release dirty: the store folder and build output live beside the config.
  const status = await git(opts.dir, ['status', '--porcelain', '--untracked-files=no'], signal).catch(() => undefined);
  const dirty = status === undefined || status.code !== 0 || status.stdout.trim() !== '';
  return { id: dirty ? `${head.short}+dirty` : head.short, source: 'git', author: head.author };
}
