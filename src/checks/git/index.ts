import { resolve } from 'node:path';
import { z } from 'zod';
import { defineKind } from '../types.js';
import { git, gitOk, gitPatchIds } from './cli.js';

const options = z.strictObject({
  repo: z.string().default('.').describe('Path of the repository (any folder inside it), relative to the config file.'),
  target: z.string().min(1).default('main').describe('Branch that the `merged` branches must be merged into.'),
  merged: z
    .array(z.string().min(1))
    .default([])
    .describe(
      'Branches that must be merged into `target`: names, or globs such as `security/*` (`*` crosses `/`). ' +
        'A name or glob matching no branch is an error (cannot verify), never a pass. ' +
        'Merge commits, fast-forwards, rebase merges and squash merges all count.',
    ),
  clean: z
    .boolean()
    .optional()
    .describe('Require a working tree with no uncommitted changes. Default: required when neither `merged` nor `tag` is given.'),
  untracked: z.boolean().default(true).describe('Count untracked (not ignored) files as uncommitted changes.'),
  tag: z.string().min(1).optional().describe('A tag that must exist: a name or a glob such as `v1.4.*`.'),
  remote: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Read branches from this remote\'s tracking refs (`origin/main`, `origin/security/*`) as last fetched; ' +
        'gonogo never fetches. Also reports how far the local target is ahead of or behind it.',
    ),
});

type Options = z.output<typeof options>;

/** How a branch was found to be merged; squash and rebase merges leave the tip out of the target's history. */
type MergedBy = 'ancestor' | 'rebase' | 'squash';

const MAX_DIRTY_LISTED = 200;

function isGlob(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

function cleanWanted(o: Options): boolean {
  return o.clean ?? (o.merged.length === 0 && o.tag === undefined);
}

/** Full ref names of branches matching `pattern`, under `prefix` (`refs/heads/` or `refs/remotes/origin/`). */
async function matchBranches(repo: string, prefix: string, pattern: string, signal: AbortSignal): Promise<string[]> {
  const refs = lines(await gitOk(repo, ['for-each-ref', '--format=%(refname)', `${prefix}${pattern}`], signal));
  // for-each-ref also matches a plain name as a prefix up to a slash (`fix` finds `fix/a`): a name means that branch only.
  return isGlob(pattern) ? refs : refs.filter((r) => r === `${prefix}${pattern}`);
}

/** Is `branch` merged into `target`, and how? undefined = not merged. */
async function mergedBy(repo: string, branch: string, target: string, signal: AbortSignal): Promise<MergedBy | undefined> {
  const ancestor = await git(repo, ['merge-base', '--is-ancestor', branch, target], signal);
  if (ancestor.code === 0) return 'ancestor';
  if (ancestor.code !== 1) throw new Error(`git merge-base ${branch} ${target}: ${ancestor.stderr.trim()}`);

  // Rebase merge: every commit of the branch has a patch-equivalent commit in the target.
  const cherry = lines(await gitOk(repo, ['cherry', target, branch], signal));
  if (cherry.length > 0 && cherry.every((l) => l.startsWith('- '))) return 'rebase';

  // Squash merge: the branch's whole diff since the fork point equals the diff of one target commit.
  const base = (await git(repo, ['merge-base', target, branch], signal)).stdout.trim();
  if (base === '') return undefined;
  const [squashed] = await gitPatchIds(repo, ['diff', '--no-color', '--no-ext-diff', '--binary', base, branch], signal);
  if (squashed === undefined) return undefined;
  const log = ['log', '-p', '--no-merges', '--no-color', '--no-ext-diff', '--binary', `${base}..${target}`];
  return (await gitPatchIds(repo, log, signal)).includes(squashed) ? 'squash' : undefined;
}

async function resolveCommit(repo: string, ref: string, signal: AbortSignal): Promise<string | undefined> {
  const r = await git(repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], signal);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** Paths with uncommitted changes, from `git status -z` (a rename's second path, its source, is skipped). */
function parseStatus(out: string): string[] {
  const fields = out.split('\0');
  const paths: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const entry = fields[i];
    if (entry.length < 4) continue;
    paths.push(entry.slice(3));
    if (entry[0] === 'R' || entry[0] === 'C') i++;
  }
  return paths;
}

export default defineKind({
  // Local: not bound to a host, so not counted against the per-host limit.
  host: () => undefined,
  name: 'git',
  description: 'Reads a git repository: branches merged into the target, uncommitted changes, tags, HEAD.',
  options,
  fields: ['merged', 'unmerged', 'clean', 'dirty_files', 'dirty_count', 'tag_present', 'tags', 'head', 'branch', 'ahead', 'behind'],
  defaultExpect: (o) => [
    ...(o.merged.length > 0 ? ['len(unmerged) == 0'] : []),
    ...(cleanWanted(o) ? ['clean == true'] : []),
    ...(o.tag !== undefined ? ['tag_present == true'] : []),
  ],
  async run(o, ctx) {
    const signal = ctx.signal;
    const dir = resolve(ctx.configDir, o.repo);
    const top = await git(dir, ['rev-parse', '--show-toplevel'], signal);
    if (top.code !== 0) throw new Error(`cannot read a git repository at ${dir}: ${top.stderr.trim().split('\n')[0]}`);
    const repo = top.stdout.trim();

    const branchPrefix = o.remote === undefined ? 'refs/heads/' : `refs/remotes/${o.remote}/`;
    const targetRef = `${branchPrefix}${o.target}`;
    const targetName = o.remote === undefined ? o.target : `${o.remote}/${o.target}`;

    const head = (await resolveCommit(repo, 'HEAD', signal)) ?? null;
    const current = await git(repo, ['symbolic-ref', '--quiet', '--short', 'HEAD'], signal);
    const branch = current.code === 0 ? current.stdout.trim() : null;

    const merged: string[] = [];
    const unmerged: string[] = [];
    const how: Record<string, MergedBy | 'not merged'> = {};
    if (o.merged.length > 0) {
      if ((await resolveCommit(repo, targetRef, signal)) === undefined) {
        const hint = o.remote === undefined ? '' : ` (run git fetch ${o.remote}: gonogo never fetches)`;
        throw new Error(`target branch ${targetName} not found in ${repo}${hint}`);
      }
      const seen = new Set<string>();
      for (const pattern of o.merged) {
        const refs = (await matchBranches(repo, branchPrefix, pattern, signal)).filter((r) => r !== targetRef && !r.endsWith('/HEAD'));
        if (refs.length === 0) {
          throw new Error(
            `no branch matches "${pattern}"${o.remote === undefined ? '' : ` on ${o.remote}`} in ${repo}: cannot verify it is merged ` +
              '(a branch deleted after merging cannot be checked; remove it from the list)',
          );
        }
        for (const ref of refs) {
          if (seen.has(ref)) continue;
          seen.add(ref);
          const name = ref.slice(branchPrefix.length);
          const by = await mergedBy(repo, ref, targetRef, signal);
          how[name] = by ?? 'not merged';
          (by === undefined ? unmerged : merged).push(name);
        }
      }
    }

    const statusArgs = ['status', '--porcelain=v1', '-z', `--untracked-files=${o.untracked ? 'normal' : 'no'}`];
    const dirty = parseStatus(await gitOk(repo, statusArgs, signal));

    let tags: string[] = [];
    if (o.tag !== undefined) tags = lines(await gitOk(repo, ['tag', '--list', o.tag], signal));

    let ahead: number | null = null;
    let behind: number | null = null;
    if (o.remote !== undefined) {
      const local = `refs/heads/${o.target}`;
      if ((await resolveCommit(repo, local, signal)) !== undefined && (await resolveCommit(repo, targetRef, signal)) !== undefined) {
        const counts = (await gitOk(repo, ['rev-list', '--left-right', '--count', `${local}...${targetRef}`], signal)).trim().split(/\s+/);
        ahead = Number(counts[0]);
        behind = Number(counts[1]);
      }
    }

    return {
      observations: {
        merged,
        unmerged,
        clean: dirty.length === 0,
        dirty_files: dirty.slice(0, MAX_DIRTY_LISTED),
        dirty_count: dirty.length,
        tag_present: tags.length > 0,
        tags,
        head,
        branch,
        ahead,
        behind,
      },
      evidence: {
        repo,
        target: targetName,
        head,
        branch,
        merged: how,
        dirtyFiles: dirty.slice(0, MAX_DIRTY_LISTED),
        dirtyCount: dirty.length,
        ...(o.tag !== undefined ? { tagPattern: o.tag, tags } : {}),
        ...(o.remote !== undefined ? { remote: o.remote, ahead, behind } : {}),
      },
    };
  },
});
