// The validated-config cache of the CLI. Loading a config (YAML with positions, the schema, every
// kind's options and conditions) cost `status` most of its start-up, and the everyday commands load
// the same files again and again. After a load the CLI keeps the validated config as JSON; the next
// command that finds every file it was built from unchanged (byte for byte, `extends` files
// included), under the same gonogo build, reads that instead, and loads neither the YAML parser nor
// the schema nor the kinds.
//
// What the cache must never do:
// - Serve a stale config: an entry names gonogo's version and build, the config file as given, the
//   working folder (relative paths are resolved from it) and the sha256 of every file read; every
//   one of them is checked, and every file read again, on each use. Nothing else goes into a load:
//   no environment variable (a `${VAR}` is kept as written and resolved by the run).
// - Hold a secret: a `${VAR}` is kept unresolved, and a config that writes a secret out (a webhook
//   URL, a test user's password or headers) is never cached.
// - Break a command: an entry that is missing, unreadable, not ours or corrupt is a miss, and writing
//   one is best-effort (a read-only folder is fine), atomic (temp file, then rename).
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { markCached } from '../checks/types.js';
import { parseCondition } from '../conditions/index.js';
import type { Condition } from '../conditions/index.js';
import { readRegularFile } from '../util/fs.js';
import { configHashOf, sha256 } from './loaded.js';
import type { LoadedConfig, SecretRef } from './loaded.js';
import type { ConfigSnapshot, LoadOptions } from './load.js';
import { locateIn } from './positions.js';
import type { Config } from './schema.js';

/** Bumped whenever the entry's layout changes. */
const FORMAT = 1;

/** Entries not written for this long are removed when another is written. */
const STALE_MS = 30 * 24 * 60 * 60 * 1000;

/** Options of loadConfigCached. */
export interface CacheOptions extends LoadOptions {
  /** The cache's folder; none: every load parses, nothing is written. */
  dir?: string;
  /** gonogo's version. */
  version: string;
  /** The build's id (the bundle's digest): an entry written by another build is never read. */
  build: string;
}

/** How a load went: read from the cache, parsed (and cached when it could be), or parsed with the cache off. */
export type CacheOutcome = 'hit' | 'miss' | 'off';

/** What decides whether an entry may be used, besides the files' bytes. */
interface Key {
  format: number;
  gonogo: string;
  build: string;
  /** The config file as given, and the folder it was given in. */
  file: string;
  cwd: string;
}

/** The entry's body: the validated config and what rebuilds the rest of the loaded config. */
interface Payload extends ConfigSnapshot {
  config: Config;
  secretRefs: SecretRef[];
}

/**
 * Loads a config as loadConfig does, through the cache in `opts.dir` when there is one. A problem
 * in the config is thrown as a ConfigError either way (a config with problems is never cached).
 */
export async function loadConfigCached(file: string, opts: CacheOptions): Promise<{ loaded: LoadedConfig; cache: CacheOutcome }> {
  const dir = opts.dir;
  if (dir === undefined) {
    const { loadConfig } = await import('./load.js');
    return { loaded: await loadConfig(file, opts), cache: 'off' };
  }
  const key: Key = { format: FORMAT, gonogo: opts.version, build: opts.build, file, cwd: process.cwd() };
  const path = join(dir, `config-${sha256(JSON.stringify([key.gonogo, key.build, resolve(file)])).slice(0, 32)}.json`);
  const cached = await readEntry(path, key, opts.maxBytes);
  if (cached) return { loaded: cached, cache: 'hit' };
  const { loadConfigWithSnapshot } = await import('./load.js');
  const { loaded, snapshot } = await loadConfigWithSnapshot(file, opts);
  if (snapshot) await writeEntry(dir, path, key, loaded, snapshot);
  return { loaded, cache: 'miss' };
}

/** The loaded config an entry holds, when it is ours, intact, and every file it was built from is unchanged. */
async function readEntry(path: string, key: Key, maxBytes: number | undefined): Promise<LoadedConfig | undefined> {
  let text: string;
  try {
    text = await readOwnFile(path);
  } catch {
    return undefined;
  }
  // The first line is the key and the body's digest; the body follows.
  const newline = text.indexOf('\n');
  if (newline < 0) return undefined;
  let head: unknown;
  try {
    head = JSON.parse(text.slice(0, newline));
  } catch {
    return undefined;
  }
  if (!isHead(head) || !sameKey(head.key, key)) return undefined;
  const body = text.slice(newline + 1);
  if (sha256(body) !== head.digest) return undefined;
  let payload: Payload;
  try {
    // Written by this very build (the key says so) from a config that passed every check at load,
    // and intact (the digest says so): it is that config again.
    payload = JSON.parse(body) as Payload;
  } catch {
    return undefined;
  }
  if (!hasShape(payload) || !(await unchanged(payload.files, maxBytes))) return undefined;
  return rebuild(key.file, payload);
}

/** The parts of a body every command reads at once are there (a body the digest vouches for always has them). */
function hasShape(p: Payload): boolean {
  const c: unknown = p?.config;
  return (
    typeof c === 'object' && c !== null && 'environments' in c && typeof c.environments === 'object' && 'items' in c && Array.isArray(c.items) &&
    [p.files, p.itemOrigins, p.positions, p.conditions, p.secretRefs].every(Array.isArray) && p.files.length === p.positions.length
  );
}

/** The entry's text, when it is a regular file of ours that no one else can write. */
async function readOwnFile(path: string): Promise<string> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await handle.stat();
    const uid = process.getuid?.();
    if (!st.isFile() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) throw new Error('not a cache entry of this user');
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

function isHead(v: unknown): v is { key: Key; digest: string } {
  return typeof v === 'object' && v !== null && 'key' in v && typeof v.key === 'object' && v.key !== null && 'digest' in v && typeof v.digest === 'string';
}

function sameKey(a: Key, b: Key): boolean {
  return a.format === b.format && a.gonogo === b.gonogo && a.build === b.build && a.file === b.file && a.cwd === b.cwd;
}

/** Whether every file still has the bytes the entry was built from (read as the loader reads them). */
async function unchanged(files: ConfigSnapshot['files'], maxBytes: number | undefined): Promise<boolean> {
  if (!Array.isArray(files) || files.length === 0) return false;
  try {
    const digests = await Promise.all(files.map(async (f) => sha256(await readRegularFile(f.file, maxBytes ?? Number.MAX_SAFE_INTEGER))));
    return digests.every((d, i) => d === files[i].sha256);
  } catch {
    // A file gone, refused or too large now: the loader says why.
    return false;
  }
}

/** The loaded config from an entry's body, as buildConfig made it. */
function rebuild(file: string, p: Payload): LoadedConfig {
  const dir = dirname(resolve(file));
  // Each check's options are its kind's parse of them at load: the engine parses again only what
  // placeholder expansion changes (as for a config just loaded).
  for (const item of p.config.items) if (item.check) markCached(item.check);
  let conditions: Map<string, Condition[]> | undefined;
  return {
    config: p.config,
    file,
    files: p.files.map((f) => f.file),
    dir,
    hash: configHashOf(p.files.map((f) => f.sha256)),
    gate: p.config.name ?? basename(dir),
    // Parsed when first read: status and the sign-offs never judge, so never compile a pattern.
    get conditions() {
      conditions ??= new Map(p.conditions.map(([id, c]) => [id, c.sources.map((src) => reparse(id, src, c.fields))]));
      return conditions;
    },
    set conditions(value) {
      conditions = value;
    },
    secretRefs: p.secretRefs,
    locate: (path, message) => locateIn(p.positions, p.itemOrigins, path, message),
  };
}

function reparse(id: string, source: string, fields: readonly string[]): Condition {
  const r = parseCondition(source, fields);
  // It parsed when the entry was written, by this same build.
  if (!r.ok) throw new Error(`internal: the cached condition ${JSON.stringify(source)} of ${id} does not parse: ${r.error} (run with --no-cache, and report it)`);
  return r.condition;
}

/**
 * Whether the config writes out a value gonogo treats as a secret: what the config's redactor
 * redacts without any variable set (webhook URLs), and a test user's password or headers written
 * in the file rather than as `${VAR}`. Such a config is not cached: the cache never holds a secret.
 */
async function writesSecretOut(loaded: LoadedConfig): Promise<boolean> {
  const { configRedactor } = await import('./redactor.js');
  if (!configRedactor(loaded, {}).empty) return true;
  const literal = (v: string | undefined): boolean => v !== undefined && v !== '' && !/\$\{[A-Za-z_][A-Za-z0-9_]*\}/.test(v);
  return Object.values(loaded.config.auth?.users ?? {}).some((u) => literal(u.password) || Object.values(u.headers ?? {}).some(literal));
}

/** Writes the entry, best-effort: nothing that goes wrong here may fail the command. */
async function writeEntry(dir: string, path: string, key: Key, loaded: LoadedConfig, snapshot: ConfigSnapshot): Promise<void> {
  let tmp: string | undefined;
  try {
    if (await writesSecretOut(loaded)) return;
    const payload: Payload = { ...snapshot, config: loaded.config, secretRefs: loaded.secretRefs };
    const body = JSON.stringify(payload);
    // Only a config that comes back from JSON as it is can be served from it.
    if (!sameAsJson(loaded.config, body)) return;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, `${JSON.stringify({ key, digest: sha256(body) })}\n${body}`, { mode: 0o600, flag: 'wx' });
    await rename(tmp, path);
    tmp = undefined;
    await removeStale(dir, path);
  } catch {
    // A read-only or full disk, a folder we may not write: the next command parses again.
  } finally {
    if (tmp !== undefined) await unlink(tmp).catch(() => undefined);
  }
}

function sameAsJson(config: Config, body: string): boolean {
  const again: unknown = (JSON.parse(body) as { config: unknown }).config;
  return deepEqualJson(again, config);
}

/** Equal as JSON values, and no value JSON would drop or change (undefined, a function, NaN, a Date). */
function deepEqualJson(a: unknown, b: unknown): boolean {
  if (typeof b === 'number') return Number.isFinite(b) && a === b;
  if (b === null || typeof b === 'string' || typeof b === 'boolean') return a === b;
  if (Array.isArray(b)) return Array.isArray(a) && a.length === b.length && b.every((x, i) => deepEqualJson(a[i], x));
  if (typeof b !== 'object' || Object.getPrototypeOf(b) !== Object.prototype) return false;
  if (typeof a !== 'object' || a === null || Array.isArray(a)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && kb.every((k, i) => ka[i] === k && deepEqualJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Removes entries (and temp files left by a killed write) not written for STALE_MS. */
async function removeStale(dir: string, keep: string): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(dir)) {
    if (!/^config-[0-9a-f]{32}\.json(\.\d+\.[0-9a-f]{12}\.tmp)?$/.test(name)) continue;
    const p = join(dir, name);
    if (p === keep) continue;
    const st = await stat(p).catch(() => undefined);
    if (st && now - st.mtimeMs > STALE_MS) await unlink(p).catch(() => undefined);
  }
}
