import type { Reach, RegisteredKind } from './types.js';

export type { Reach };

interface KindEntry {
  reach: Reach;
  load: () => Promise<{ default: RegisteredKind }>;
}

// A kind's code (and what it imports: the HTTP client, parsers) is loaded only by a command that
// needs that kind, so `status` or `history` start as fast as the store and the config allow.
const remote = (load: KindEntry['load']): KindEntry => ({ reach: 'remote', load });
const local = (load: KindEntry['load']): KindEntry => ({ reach: 'local', load });

/**
 * Every check kind, by name, one line each: whether it talks to the target (remote: throttled by
 * `perHost`, only ever sent to the target's origins) or works on this machine (local), and where its
 * folder is. `npm run new-kind NAME` adds a line here.
 */
export const KINDS = {
  http: remote(() => import('./http/index.js')),
  command: local(() => import('./command/index.js')),
  git: local(() => import('./git/index.js')),
  env: local(() => import('./env/index.js')),
  file: local(() => import('./file/index.js')),
  headers: remote(() => import('./headers/index.js')),
  cors: remote(() => import('./cors/index.js')),
  csrf: remote(() => import('./csrf/index.js')),
  'auth-required': remote(() => import('./auth-required/index.js')),
  'access-control': remote(() => import('./access-control/index.js')),
  ssrf: remote(() => import('./ssrf/index.js')),
  'error-handling': remote(() => import('./error-handling/index.js')),
  'debug-endpoints': remote(() => import('./debug-endpoints/index.js')),
  'rate-limit': remote(() => import('./rate-limit/index.js')),
  load: remote(() => import('./load/index.js')),
  prometheus: local(() => import('./prometheus/index.js')),
} satisfies Record<string, KindEntry>;

export type KindName = keyof typeof KINDS;

export const KIND_NAMES = Object.keys(KINDS) as KindName[];

export function isKindName(name: unknown): name is KindName {
  return typeof name === 'string' && Object.hasOwn(KINDS, name);
}

/** Kinds by name, as the config loader and the engine use them: only those a command loaded. */
export type KindTable = Readonly<Partial<Record<string, RegisteredKind>>>;

/**
 * Loads the named kinds (unknown names are left out: the config loader reports them). The kind's own
 * `reach` is the registry's, so a local kind can never be throttled or restricted as a remote one.
 */
export async function loadKinds(names: Iterable<string> = KIND_NAMES): Promise<Record<string, RegisteredKind>> {
  const wanted = [...new Set(names)].filter(isKindName);
  const loaded = await Promise.all(
    wanted.map(async (name) => {
      const kind = withReach((await KINDS[name].load()).default, KINDS[name].reach);
      // The module loader keeps each kind's module once loaded; this keeps the wrapped kind beside it.
      ready.set(name, kind);
      return [name, kind] as const;
    }),
  );
  return Object.fromEntries(loaded);
}

// Kinds loaded so far in this process: a cache of what the module loader already holds, for the
// synchronous parseConfig (the library's registry loads them all).
const ready = new Map<string, RegisteredKind>();

/** The kinds loaded so far (by loadKinds, or all of them once the registry is imported). */
export function loadedKinds(): KindTable {
  return Object.fromEntries(ready);
}

function withReach(kind: RegisteredKind, reach: Reach): RegisteredKind {
  if (reach === 'remote') return { ...kind, reach };
  return {
    ...kind,
    reach,
    host: () => undefined,
    prepare: (o) => {
      const prepared = kind.prepare(o);
      return { host: () => undefined, run: (ctx) => prepared.run(ctx) };
    },
  };
}
