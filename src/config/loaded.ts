// What a loaded config is, and what every command asks of one, without the parser: the commands
// that read a cached config (status, history, signoff, waive) and the engine's rules import this
// module, so they never load YAML, the schema or the check kinds (load.ts re-exports all of it).
import { createHash } from 'node:crypto';
import type { Condition } from '../conditions/index.js';
import { MIN_SECRET_LENGTH } from '../util/redact.js';
import type { Config } from './schema.js';

/** One thing wrong with a config file, where it is and what was expected. */
export interface ConfigProblem {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the offending value, e.g. `items.3.check.url`. */
  path: string;
  message: string;
}

/** Every problem of a config at once; the CLI prints them as `file:line:column: message` and exits 2. */
export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** A config that passed every check at load, with its expectations parsed. */
export interface LoadedConfig {
  config: Config;
  /** The file loaded (the one that extends the others, if any). */
  file: string;
  /** Every file the config was built from, the files it extends first (each once), `file` last. */
  files: string[];
  dir: string;
  /** sha256 of the file's bytes (with `extends`, of every file's): every decision is recorded with the config it was made under. */
  hash: string;
  /** The gate's name: `name:` or the config folder's name. */
  gate: string;
  /** Parsed `expect:` conditions (or the kind's defaults) per item id with a check. */
  conditions: Map<string, Condition[]>;
  /**
   * Every `${VAR}` written in the file's string values (checks, auth, environments, verbatim scripts),
   * where it is written: the run redacts the values of these variables everywhere.
   */
  secretRefs: SecretRef[];
  /** file:line:column of a value in the file, for problems found after load (an unknown --env). */
  locate(path: (string | number)[], message: string): ConfigProblem;
}

/** One `${VAR}` reference in the config file. */
export interface SecretRef {
  name: string;
  /** The file it is written in (with `extends`, maybe not the one loaded). */
  file: string;
  /** Dotted path of the string holding it, e.g. `auth.users.alice.password`. */
  path: string;
  line: number;
  column: number;
}

/** sha256 of bytes, hex. */
export function sha256(bytes: string | Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The config hash from each file's sha256, in load order: one file's is its own (the hash of its
 * bytes); with `extends` it covers every file's, so an edit to a shared file changes it.
 */
export function configHashOf(fileDigests: readonly string[]): string {
  if (fileDigests.length === 1) return fileDigests[0];
  const h = createHash('sha256');
  for (const d of fileDigests) h.update(`${d}\n`);
  return h.digest('hex');
}

/**
 * A problem, at the reference, for every `${VAR}` of the config that is set in `processEnv` but
 * shorter than MIN_SECRET_LENGTH: a value that short cannot be redacted without destroying the
 * output, so the run is refused before anything is sent. Unset variables are reported where used.
 */
export function checkSecretValues(loaded: LoadedConfig, processEnv: Readonly<Record<string, string | undefined>>): ConfigProblem[] {
  return loaded.secretRefs.flatMap((ref) => {
    const value = processEnv[ref.name];
    if (value === undefined || value === '' || value.length >= MIN_SECRET_LENGTH) return [];
    const message = `environment variable ${ref.name} is ${value.length} character${value.length === 1 ? '' : 's'} long, shorter than ${MIN_SECRET_LENGTH}: too short to redact safely`;
    return [{ file: ref.file ?? loaded.file, line: ref.line, column: ref.column, path: ref.path, message }];
  });
}

/** The environment `--env` names, or the first one; an unknown name is a config problem. */
export function selectEnvironment(loaded: LoadedConfig, name?: string): { name: string; env: Config['environments'][string] } {
  const names = Object.keys(loaded.config.environments);
  const chosen = name ?? names[0];
  const env = loaded.config.environments[chosen];
  if (!env) {
    const text = `environment "${chosen}" is not defined (defined: ${names.join(', ')})`;
    throw new ConfigError([loaded.locate(['environments'], text)]);
  }
  return { name: chosen, env };
}
