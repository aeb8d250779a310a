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

/** What one expansion reads and collects: the walk below is a plain function, not a closure per call. */
interface Walk {
  env: TemplateEnv;
  processEnv: ProcessEnv;
  secrets: string[];
  /** Dotted paths kept as written; undefined when none are, and paths are then never spelled out. */
  keep: ReadonlySet<string> | undefined;
}

/**
 * Expands every string of a value, except at `verbatim` paths (dotted, e.g. `run.sh`), which are
 * passed exactly as written: text another interpreter parses must never have values spliced in.
 * What holds no placeholder is returned as given, not copied (an object or array is new only when
 * something in it was expanded): a caller tells what expansion changed by comparing references, and
 * a check's expansion, run per check, copies nothing it does not change.
 */
export function expand<T>(value: T, env: TemplateEnv, processEnv: ProcessEnv, verbatim: readonly string[] = []): Expansion<T> {
  const w: Walk = { env, processEnv, secrets: [], keep: verbatim.length > 0 ? new Set(verbatim) : undefined };
  // walk() gives back the same shape it was given, strings expanded.
  return { value: walk(value, '', w) as T, secrets: w.secrets };
}

function walk(v: unknown, path: string, w: Walk): unknown {
  if (w.keep?.has(path)) return v;
  if (typeof v === 'string') return v.includes('{{') || v.includes('${') ? expandString(v, w.env, w.processEnv, w.secrets) : v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = walk(v[i], w.keep === undefined ? '' : path === '' ? String(i) : `${path}.${i}`, w);
      if (out === undefined && x !== v[i]) out = v.slice(0, i);
      out?.push(x);
    }
    return out ?? v;
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    let out: Record<string, unknown> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const was: unknown = Reflect.get(v, k);
      const x = walk(was, w.keep === undefined ? '' : path === '' ? k : `${path}.${k}`, w);
      if (out === undefined && x !== was) {
        out = {};
        for (let j = 0; j < i; j++) setKey(out, keys[j], Reflect.get(v, keys[j]));
      }
      if (out) setKey(out, k, x);
    }
    return out ?? v;
  }
  return v;
}

function setKey(out: Record<string, unknown>, k: string, x: unknown): void {
  // A key named `__proto__` stays a key (an assignment would set the prototype).
  if (k === '__proto__') Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
  else out[k] = x;
}

/** Names of the `${VAR}` references in a text, in order. */
export function processRefs(text: string): string[] {
  return [...text.matchAll(PROCESS_REF)].map((m) => m[1]);
}
