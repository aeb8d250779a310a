/**
 * Expands `{{env.NAME}}` from the chosen environment, `{{release}}` (the release being decided,
 * the run's `release` value) and `${VAR}` from the process environment in every string of a value.
 * Values that came from `${VAR}` are secrets: they are collected so that
 * output, reports and the store can redact them. Other `{{...}}` placeholders (`{{payload}}`,
 * `{{username}}`) belong to the check kinds and are left alone.
 *
 * Expansion is one pass: a substituted value is never scanned again, so a value given on the
 * command line (`--url 'http://x/?t=${RUNNER_TOKEN}'`) stays literal text. `${VAR}` expands only
 * where it was written in gonogo.yaml: in a check's options, and inside an environment's own fields.
 */
import { MIN_SECRET_LENGTH } from './redact.js';

export interface Expansion<T> {
  value: T;
  secrets: string[];
}

export class TemplateError extends Error {}

/** What `{{env.x}}` reads: the environment's fields, and which of them are literal (given on the command line). */
export interface TemplateEnv {
  vars: Readonly<Record<string, string>>;
  /** Fields whose value is used as is, never expanded (`url` when `--url` replaced it). */
  literal?: ReadonlySet<string>;
}

const REF = /\{\{\s*(?:env\.([A-Za-z0-9_-]+)|(release))\s*\}\}|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const PROCESS_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

type ProcessEnv = Readonly<Record<string, string | undefined>>;

function secretValue(name: string, processEnv: ProcessEnv, secrets: string[]): string {
  const v = processEnv[name];
  if (v === undefined || v === '') throw new TemplateError(`environment variable ${name} is not set`);
  if (v.length < MIN_SECRET_LENGTH) throw new TemplateError(`environment variable ${name} is shorter than ${MIN_SECRET_LENGTH} characters: too short to redact safely`);
  secrets.push(v);
  return v;
}

/** Expands one string in a single pass (see the module comment). */
export function expandString(text: string, env: TemplateEnv, processEnv: ProcessEnv, secrets: string[]): string {
  return text.replace(REF, (whole: string, field: string | undefined, release: string | undefined, name: string | undefined) => {
    if (name !== undefined) return secretValue(name, processEnv, secrets);
    const key = field ?? release ?? '';
    const v = env.vars[key];
    if (v === undefined && release !== undefined) throw new TemplateError(`${whole} has no value: no release was given to this run`);
    if (v === undefined) throw new TemplateError(`{{env.${key}}} is not defined in this environment (defined: ${Object.keys(env.vars).join(', ') || 'none'})`);
    // The release comes from the command line or git, never from gonogo.yaml: always literal.
    if (env.literal?.has(key) || key === 'release') return v;
    // An environment field written in gonogo.yaml may itself hold `${VAR}`; expanded once, here.
    return v.replace(PROCESS_REF, (__, inner: string) => secretValue(inner, processEnv, secrets));
  });
}

/**
 * Expands every string of a value, except at `verbatim` paths (dotted, e.g. `run.sh`), which are
 * passed exactly as written: text another interpreter parses must never have values spliced in.
 */
export function expand<T>(value: T, env: TemplateEnv, processEnv: ProcessEnv, verbatim: readonly string[] = []): Expansion<T> {
  const secrets: string[] = [];
  // Paths are spelled out only when some must be kept verbatim: a check's expansion runs per check.
  const keep = verbatim.length > 0 ? new Set(verbatim) : undefined;
  const walk = (v: unknown, path: string): unknown => {
    if (keep?.has(path)) return v;
    if (typeof v === 'string') return v.includes('{{') || v.includes('${') ? expandString(v, env, processEnv, secrets) : v;
    if (Array.isArray(v)) return v.map((x, i) => walk(x, keep === undefined ? '' : path === '' ? String(i) : `${path}.${i}`));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v)) {
        const x = walk((v as Record<string, unknown>)[k], keep === undefined ? '' : path === '' ? k : `${path}.${k}`);
        // A key named `__proto__` stays a key (an assignment would set the prototype).
        if (k === '__proto__') Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
        else out[k] = x;
      }
      return out;
    }
    return v;
  };
  // walk() rebuilds the same shape it was given, strings expanded.
  return { value: walk(value, '') as T, secrets };
}

/** Names of the `${VAR}` references in a text, in order. */
export function processRefs(text: string): string[] {
  return [...text.matchAll(PROCESS_REF)].map((m) => m[1]);
}
