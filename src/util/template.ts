/**
 * Expands `{{env.NAME}}` from the chosen environment and `${VAR}` from the process environment in
 * every string of a value. Values that came from `${VAR}` are secrets: they are collected so that
 * output, reports and the store can redact them. Other `{{...}}` placeholders (`{{payload}}`,
 * `{{username}}`) belong to the check kinds and are left alone.
 */
export interface Expansion<T> {
  value: T;
  secrets: string[];
}

export class TemplateError extends Error {}

const ENV_REF = /\{\{\s*env\.([A-Za-z0-9_-]+)\s*\}\}/g;
const PROCESS_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export function expandString(text: string, env: Readonly<Record<string, string>>, processEnv: Readonly<Record<string, string | undefined>>, secrets: string[]): string {
  return text
    .replace(ENV_REF, (_, name: string) => {
      const v = env[name];
      if (v === undefined) throw new TemplateError(`{{env.${name}}} is not defined in this environment (defined: ${Object.keys(env).join(', ') || 'none'})`);
      return v;
    })
    .replace(PROCESS_REF, (_, name: string) => {
      const v = processEnv[name];
      if (v === undefined || v === '') throw new TemplateError(`environment variable ${name} is not set`);
      secrets.push(v);
      return v;
    });
}

export function expand<T>(value: T, env: Readonly<Record<string, string>>, processEnv: Readonly<Record<string, string | undefined>>): Expansion<T> {
  const secrets: string[] = [];
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return expandString(v, env, processEnv, secrets);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  // walk() rebuilds the same shape it was given, strings expanded.
  return { value: walk(value) as T, secrets };
}

/** Secrets shorter than this are not redacted: replacing "a" everywhere would destroy the output. */
const MIN_SECRET = 4;

/** Replaces every secret in every string of a value with `***`. */
export function redact<T>(value: T, secrets: readonly string[]): T {
  const list = [...new Set(secrets)].filter((s) => s.length >= MIN_SECRET).sort((a, b) => b.length - a.length);
  if (list.length === 0) return value;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return list.reduce((acc, s) => acc.split(s).join('***'), v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}
