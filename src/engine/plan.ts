// What a run would do, item by item, without sending anything: for `gonogo list`, and for the
// dashboard. The rule lives here, not in the CLI.
import { registry } from '../checks/index.js';
import { placeholdersOf, quoteLiteral, replacePlaceholders } from '../conditions/template.js';
import type { LoadedConfig } from '../config/load.js';
import { selectEnvironment } from '../config/load.js';
import { VALUE_PLACEHOLDER, RELEASE_FIELD } from '../config/values.js';
import type { CheckConfig, ItemConfig } from '../config/schema.js';
import { PROCESS_REF } from '../config/url.js';
import type { Tier } from '../model.js';
import { selectItems } from './gate.js';
import type { Selection } from './gate.js';

/** One item of the plan. */
export interface PlannedItem {
  id: string;
  title: string;
  tier: Tier;
  category?: string;
  phase?: string;
  /** The check kind, or `manual` for an item a person attests. */
  kind: string;
  /** What it is run against, `{{env.x}}` filled in and `${VAR}` left as written: `GET https://app/health`, `npm test`, `backups/*.sql.gz`. */
  target: string;
  /** The conditions judged (the item's `expect:` or the kind's default), or for a manual item who may attest it. */
  checks: string[];
  timeout?: string | number;
  retries?: number;
  /** Runs alone after the other checks (a burst that would disturb them). */
  exclusive: boolean;
  /** Stages naming the item, as `set/stage`. */
  stages: string[];
}

/** What a run would do: the environment, the items selected, and what would stop it before it starts. */
export interface RunPlan {
  gate: string;
  env: { name: string; url?: string };
  items: PlannedItem[];
  /** Items left out by the selection. */
  left: number;
  /** Things a run would meet before sending anything (an unset `${VAR}` in the url). */
  notes: string[];
}

export interface PlanOptions {
  env?: string;
  selection?: Selection;
  /** `--url`: replaces the environment's url (literal). */
  urlOverride?: string;
  /** The release, shown where `{{release}}` is written (left as written when absent). */
  release?: string;
  /** To say which `${VAR}` of the url are unset; values are never read into the plan. */
  processEnv?: Readonly<Record<string, string | undefined>>;
}

const COMMON = new Set(['kind', 'timeout', 'retries', 'backoff', 'expect']);

/** Fills in `{{env.x}}` and `{{release}}` for display; `${VAR}` (a secret) and unknown names stay as written. */
function show(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(VALUE_PLACEHOLDER, (whole: string, _: string, field: string | undefined) => vars[field ?? RELEASE_FIELD] ?? whole);
}

/** A condition as it would be judged: each placeholder with a value as the quoted string it becomes. */
function showCondition(source: string, vars: Readonly<Record<string, string>>): string {
  return replacePlaceholders(source, placeholdersOf(source), (u) => (Object.hasOwn(vars, u.field) ? quoteLiteral(vars[u.field]) : u.text));
}

function quoteArg(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a);
}

/** The one line saying what a check is run against, by kind; other kinds name the environment's url and the paths they probe. */
function targetOf(check: CheckConfig, vars: Readonly<Record<string, string>>, baseUrl: string | undefined): string {
  const o = check;
  const s = (v: unknown): string => (typeof v === 'string' ? show(v, vars) : JSON.stringify(v));
  switch (check.kind) {
    case 'http':
      return `${typeof o.method === 'string' ? o.method.toUpperCase() : 'GET'} ${s(o.url)}`;
    case 'command': {
      const run = o.run;
      if (Array.isArray(run)) return run.map((a) => quoteArg(s(a))).join(' ');
      const sh = run !== null && typeof run === 'object' && 'sh' in run ? run.sh : undefined;
      return `sh: ${typeof sh === 'string' ? sh.split('\n')[0] : '?'}`;
    }
    case 'git': {
      const parts = [`repository ${s(o.repo ?? '.')}`];
      if (Array.isArray(o.merged)) parts.push(`merged into ${s(o.target ?? 'main')}: ${o.merged.map(s).join(', ')}`);
      if (o.clean) parts.push('clean tree');
      if (o.tag !== undefined) parts.push(`tag ${s(o.tag)}`);
      return parts.join('; ');
    }
    case 'file':
      return s(o.path);
    case 'env': {
      const parts: string[] = [];
      if (Array.isArray(o.required) && o.required.length > 0) parts.push(`variables ${o.required.join(', ')}`);
      if (o.example !== undefined) parts.push(`every key of ${s(o.example)}`);
      return parts.join(' and ') || 'environment variables';
    }
    default: {
      const paths = [o.path, ...(Array.isArray(o.paths) ? o.paths : [])]
        .map((p) => (typeof p === 'string' ? p : p !== null && typeof p === 'object' && 'path' in p ? p.path : undefined))
        .filter((p): p is string => typeof p === 'string');
      const base = baseUrl ?? '(no url)';
      return paths.length > 0 ? `${base} ${paths.map(s).join(', ')}` : base;
    }
  }
}

/** Stages naming each item, as `set/stage`. */
function stagesByItem(loaded: LoadedConfig): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const [set, list] of Object.entries(loaded.config.stages)) {
    for (const st of list) for (const id of st.items) map.set(id, [...(map.get(id) ?? []), `${set}/${st.id}`]);
  }
  return map;
}

function planItem(item: ItemConfig, loaded: LoadedConfig, vars: Readonly<Record<string, string>>, baseUrl: string | undefined, stages: string[]): PlannedItem {
  const base = { id: item.id, title: item.title, tier: item.tier, category: item.category, phase: item.phase, stages };
  const check = item.check;
  if (!check) {
    const who = item.signers && item.signers.length > 0 ? item.signers.join(' or ') : 'any role allowed to sign items';
    return { ...base, kind: 'manual', target: 'a person attests it', checks: [`a sign-off by ${who}`], exclusive: false };
  }
  const kind = registry[check.kind];
  const options = Object.fromEntries(Object.entries(check).filter(([k]) => !COMMON.has(k)));
  return {
    ...base,
    kind: check.kind,
    target: targetOf({ kind: check.kind, ...options }, vars, baseUrl),
    checks: (loaded.conditions.get(item.id) ?? []).map((c) => showCondition(c.source, vars)),
    timeout: check.timeout ?? loaded.config.defaults.timeout,
    retries: check.retries,
    exclusive: kind?.exclusive ?? false,
  };
}

/** What a run with these options would do, item by item; nothing is sent and no secret is read. */
export function planRun(loaded: LoadedConfig, opts: PlanOptions = {}): RunPlan {
  const { name, env } = selectEnvironment(loaded, opts.env);
  const vars: Record<string, string> = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
  const url = opts.urlOverride ?? env.url;
  if (url !== undefined) vars.url = url;
  if (opts.release !== undefined) vars[RELEASE_FIELD] = opts.release;
  const notes: string[] = [];
  if (opts.urlOverride === undefined && env.url !== undefined && opts.processEnv) {
    for (const m of env.url.matchAll(PROCESS_REF)) {
      if (!opts.processEnv[m[1]]) notes.push(`the url of environment "${name}" reads \${${m[1]}}, which is not set: a run would be refused (export ${m[1]}=https://... or pass --url)`);
    }
  }
  const selected = selectItems(loaded.config.items, opts.selection);
  const stages = stagesByItem(loaded);
  return {
    gate: loaded.gate,
    env: { name, ...(url !== undefined ? { url } : {}) },
    items: selected.map((item) => planItem(item, loaded, vars, url, stages.get(item.id) ?? [])),
    left: loaded.config.items.length - selected.length,
    notes,
  };
}
