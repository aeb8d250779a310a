import type { TargetEnvironment } from '../checks/types.js';
import { ConfigError, selectEnvironment } from './loaded.js';
import type { LoadedConfig } from './loaded.js';
import { RELEASE_FIELD } from './values.js';
import { checkUrl, PROCESS_REF } from './url.js';

/** What a run targets: the environment's name, `--url`, the release being decided, and the process environment. */
export interface EnvironmentChoice {
  /** `--env`; the first environment when absent. */
  name?: string;
  /** `--url`: replaces the environment's url, taken literally (`${VAR}` in it is text). */
  urlOverride?: string;
  /** The release being decided: `{{release}}` (and `{{env.release}}`) in checks and `expect:`. */
  release?: string;
  processEnv: Readonly<Record<string, string | undefined>>;
}

/**
 * The environment a run targets, its url resolved. An environment's `url: ${STAGING_URL}` is read
 * from the process environment here, before anything is sent: unset, or set to something that is
 * not an absolute http(s) URL, the run is refused (a ConfigError at the url, exit 2) rather than
 * every check that needs the url ending as `error`. Its value is a `${VAR}`'s, so it is redacted
 * like any other; an environment whose url is no secret writes it out.
 */
export function resolveEnvironment(loaded: LoadedConfig, choice: EnvironmentChoice): TargetEnvironment {
  const { name, env } = selectEnvironment(loaded, choice.name);
  const vars: Record<string, string> = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
  const literal: string[] = [];
  let url: string | undefined;
  if (choice.urlOverride !== undefined) {
    url = choice.urlOverride;
  } else if (env.url !== undefined) {
    url = resolveUrl(loaded, name, env.url, choice.processEnv);
  }
  if (url !== undefined) {
    vars.url = url;
    // Resolved once, here: a command-line value or a variable's value is never expanded again.
    literal.push('url');
  }
  if (choice.release !== undefined) vars[RELEASE_FIELD] = choice.release;
  return { name, url, vars, ...(literal.length > 0 ? { literal } : {}) };
}

function resolveUrl(loaded: LoadedConfig, envName: string, written: string, processEnv: EnvironmentChoice['processEnv']): string {
  const at = (message: string): ConfigError => new ConfigError([loaded.locate(['environments', envName, 'url'], message)]);
  const unset = [...written.matchAll(PROCESS_REF)].map((m) => m[1]).filter((v) => !processEnv[v]);
  if (unset.length > 0) {
    const v = unset[0];
    throw at(
      `environment "${envName}" takes its url from \${${v}}, which is not set: set it to the environment's base URL (export ${v}=https://staging.example.com) or pass --url https://...; nothing was sent`,
    );
  }
  const url = written.replace(PROCESS_REF, (_, v: string) => processEnv[v] ?? '');
  const problem = checkUrl(url);
  // The value came from a `${VAR}`: a secret, so the message names the variables, never the value.
  if (problem && url !== written) throw at(`the url of environment "${envName}" (${written}, as set) is not an absolute http or https URL`);
  if (problem) throw at(problem);
  return url;
}
