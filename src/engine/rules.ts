// The config seen as the engine and the decision need it: the rules and the target environment.
import type { TargetEnvironment } from '../checks/types.js';
import type { LoadedConfig } from '../config/loaded.js';
import { selectEnvironment } from '../config/loaded.js';
import { authorityOf } from './authority.js';
import type { DecisionRules } from './decide.js';

export function rulesOf(loaded: LoadedConfig): DecisionRules {
  const r = loaded.config.rules;
  return { goHighRatio: r.goHighRatio, conditionsHighRatio: r.conditionsHighRatio, requiredSignoffs: r.requiredSignoffs, authority: authorityOf(loaded.config) };
}

/**
 * The environment as written in the config (a `${VAR}` url stays as written), with `--url` applied:
 * what an item's definition is judged by. Runs resolve it with `resolveEnvironment`.
 */
export function targetEnvironment(loaded: LoadedConfig, envName?: string, urlOverride?: string): TargetEnvironment {
  const { name, env } = selectEnvironment(loaded, envName);
  const vars = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
  const url = urlOverride ?? env.url;
  if (url !== undefined) vars.url = url;
  // A command-line value is literal: `${VAR}` in it is text, never a variable's value sent to the target.
  return { name, url, vars, ...(urlOverride !== undefined ? { literal: ['url'] } : {}) };
}

