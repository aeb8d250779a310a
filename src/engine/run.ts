import pLimit from 'p-limit';
import type { LimitFunction } from 'p-limit';
import { registry } from '../checks/index.js';
import { CheckError } from '../checks/types.js';
import type { CheckContext, RegisteredKind, TargetEnvironment } from '../checks/types.js';
import type { AuthConfig } from '../checks/_shared/auth.js';
import { bindCondition, judgeAll } from '../conditions/index.js';
import type { Condition } from '../conditions/index.js';
import type { CheckConfig, ItemConfig } from '../config/schema.js';
import type { Attempt, ItemResult, Status } from '../model.js';
import type { Clock } from '../util/clock.js';
import { parseDuration } from '../util/duration.js';
import { expand } from '../util/template.js';
import type { TemplateEnv } from '../util/template.js';
import { Redactor } from '../util/redact.js';
import { createReaper } from '../util/reaper.js';
import type { Reaper } from '../util/reaper.js';
import type { HttpResponse } from '../util/http.js';

/** What the live view hears while a run goes on. */
export type EngineEvent =
  | { type: 'start'; id: string; attempt: number }
  | { type: 'retry'; id: string; attempt: number; delayMs: number; message: string }
  | { type: 'end'; result: ItemResult }
  /** Something a check did that a person should know of (which SSRF payload classes it sent). */
  | { type: 'notice'; id: string; message: string };

export interface RunOptions {
  env: TargetEnvironment;
  configDir: string;
  clock: Clock;
  /** Aborting it (Ctrl-C) aborts every check; unfinished items end as `error: aborted`. */
  signal?: AbortSignal;
  concurrency: number;
  perHost: number;
  defaultTimeoutMs: number;
  auth?: AuthConfig;
  processEnv?: Readonly<Record<string, string | undefined>>;
  onEvent?: (event: EngineEvent) => void;
  /** Login answers shared across the run (see CheckContext.logins); a fresh map when absent. */
  logins?: Map<string, Promise<HttpResponse>>;
  /** The check kinds (default: the registry); tests pass their own to exercise the engine's guarantees. */
  kinds?: Readonly<Record<string, RegisteredKind>>;
  /**
   * Secrets known before the run (every `${VAR}` the config references): redacted from every
   * result and event, with whatever the checks' own expansion adds.
   */
  redactor?: Redactor;
  /** Ends the processes checks start; one per run when absent, and every one is ended when the run ends. */
  reaper?: Reaper;
}

const COMMON_FIELDS = new Set(['kind', 'timeout', 'retries', 'backoff', 'expect']);

function kindOptions(check: CheckConfig): Record<string, unknown> {
  return Object.fromEntries(Object.entries(check).filter(([k]) => !COMMON_FIELDS.has(k)));
}

/**
 * The origins probes may talk to: the target's own, and its HTTPS upgrade when the target is plain
 * HTTP on the default port (`http://app` -> `https://app` is the same site moving to TLS, which the
 * headers probe must follow to judge HSTS). Another port or another host is never allowed.
 */
export function targetOrigins(url: string | undefined): Set<string> {
  if (!url) return new Set();
  const u = new URL(url);
  const origins = new Set([u.origin]);
  if (u.protocol === 'http:' && u.port === '') origins.add(`https://${u.host}`);
  return origins;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Runs every item that has a check, concurrently within an overall and a per-host limit. Each
 * attempt runs under a timeout the check cannot escape: if `run()` ignores its signal, the engine
 * still ends the attempt as `error` when the time is up. Nothing a check throws escapes.
 */
export async function runChecks(items: readonly ItemConfig[], conditions: ReadonlyMap<string, readonly Condition[]>, opts: RunOptions): Promise<ItemResult[]> {
  const kinds: Readonly<Record<string, RegisteredKind>> = opts.kinds ?? registry;
  const overall = pLimit(opts.concurrency);
  const hosts = new Map<string, LimitFunction>();
  const envHost = opts.env.url ? new URL(opts.env.url).host.toLowerCase() : undefined;
  const processEnv = opts.processEnv ?? process.env;
  const envVars: TemplateEnv = { vars: opts.env.vars, literal: new Set(opts.env.literal ?? []) };
  const reaper = opts.reaper ?? createReaper();
  // The auth section is expanded user by user: an unset password only fails the probes that log in
  // as that user (they end as `error` naming the variable), never a git or command check.
  const authSecrets: string[] = [];
  const authProblems: Record<string, string> = {};
  let auth: AuthConfig | undefined;
  if (opts.auth) {
    const users: AuthConfig['users'] = {};
    for (const [name, user] of Object.entries(opts.auth.users)) {
      try {
        const x = expand(user, envVars, processEnv);
        users[name] = x.value;
        authSecrets.push(...x.secrets);
      } catch (err) {
        authProblems[name] = `auth.users.${name}: ${message(err)}`;
      }
    }
    try {
      const x = expand(opts.auth.login, envVars, processEnv);
      auth = { login: x.value, users };
      authSecrets.push(...x.secrets);
    } catch (err) {
      for (const name of Object.keys(opts.auth.users)) authProblems[name] = `auth.login: ${message(err)}`;
      auth = { ...opts.auth, users: {} };
    }
  }
  const allowedOrigins = targetOrigins(opts.env.url);
  // `{{env.x}}` and `{{release}}` in conditions, filled in from the environment's fields as written
  // (the loader refuses fields holding a `${VAR}` there, so no secret is ever judged or shown).
  const bindAll = (conds: readonly Condition[]): Condition[] | { error: string } => {
    const bound: Condition[] = [];
    for (const c of conds) {
      const b = bindCondition(c, opts.env.vars);
      if (!b.ok) return { error: b.error };
      bound.push(b.condition);
    }
    return bound;
  };
  const logins = opts.logins ?? new Map<string, Promise<HttpResponse>>();
  const baseRedactor = (opts.redactor ?? Redactor.of([])).with(authSecrets);

  const runOne = async (item: ItemConfig, check: CheckConfig): Promise<ItemResult> => {
    const attempts: Attempt[] = [];
    const retries = check.retries ?? 0;
    const timeoutMs = check.timeout !== undefined ? parseDuration(check.timeout) : opts.defaultTimeoutMs;
    let backoff = check.backoff !== undefined ? parseDuration(check.backoff) : 1000;
    let redactor = baseRedactor;
    for (let attempt = 1; ; attempt++) {
      opts.onEvent?.({ type: 'start', id: item.id, attempt });
      const startedAt = new Date(opts.clock.now()).toISOString();
      const t0 = opts.clock.monotonic();
      const a = await attemptOnce(item, check, timeoutMs);
      if (a.secrets.length > 0) redactor = redactor.with(a.secrets);
      const done: Attempt = { attempt, status: a.status, message: a.message, evidence: a.evidence, durationMs: Math.round(opts.clock.monotonic() - t0), startedAt };
      attempts.push(redactor.value(done));
      const finished = a.status === 'pass' || a.status === 'skipped' || attempt > retries || opts.signal?.aborted;
      if (finished) break;
      opts.onEvent?.({ type: 'retry', id: item.id, attempt, delayMs: backoff, message: redactor.text(a.message) });
      try {
        await opts.clock.sleep(backoff, opts.signal);
      } catch {
        break;
      }
      backoff *= 2;
    }
    const last = attempts[attempts.length - 1];
    return {
      id: item.id,
      tier: item.tier,
      status: last.status,
      message: attempts.length > 1 ? `${last.message} (attempt ${attempts.length} of ${retries + 1})` : last.message,
      evidence: last.evidence,
      durationMs: attempts.reduce((s, x) => s + x.durationMs, 0),
      attempts,
    };
  };

  const attemptOnce = async (
    item: ItemConfig,
    check: CheckConfig,
    timeoutMs: number,
  ): Promise<{ status: Status; message: string; evidence?: unknown; secrets: string[] }> => {
    const kind = kinds[check.kind];
    if (!kind) return { status: 'error', message: `unknown check kind "${check.kind}"`, secrets: [] };
    if (opts.signal?.aborted) return { status: 'error', message: 'aborted before it started', secrets: [] };
    let options: Record<string, unknown>;
    let secrets: string[];
    try {
      const x = expand(kindOptions(check), envVars, processEnv, kind.verbatim);
      options = x.value;
      secrets = x.secrets;
    } catch (err) {
      return { status: 'error', message: message(err), secrets: [] };
    }
    const controller = new AbortController();
    const onRunAbort = (): void => controller.abort(new Error('aborted: the run was interrupted'));
    opts.signal?.addEventListener('abort', onRunAbort, { once: true });
    const timerStop = new AbortController();
    const timeout = opts.clock.sleep(timeoutMs, timerStop.signal).then(
      () => controller.abort(new Error(`timed out after ${timeoutMs} ms`)),
      () => undefined,
    );
    const aborted = new Promise<never>((_, reject) => {
      const fail = (): void => reject(controller.signal.reason);
      if (controller.signal.aborted) fail();
      else controller.signal.addEventListener('abort', fail, { once: true });
    });
    aborted.catch(() => undefined);
    const ctx: CheckContext = {
      signal: controller.signal,
      env: opts.env,
      configDir: opts.configDir,
      clock: opts.clock,
      allowedOrigins,
      processEnv,
      secrets: [...authSecrets, ...secrets],
      auth,
      authProblems,
      logins,
      reaper,
    };
    try {
      const outcome = await Promise.race([kind.run(options, ctx), aborted]);
      if (outcome.notice) opts.onEvent?.({ type: 'notice', id: item.id, message: baseRedactor.with(secrets).text(outcome.notice) });
      if (outcome.skip) return { status: 'skipped', message: outcome.skip, evidence: outcome.evidence, secrets };
      const conds = bindAll(conditions.get(item.id) ?? []);
      if ('error' in conds) return { status: 'error', message: conds.error, evidence: outcome.evidence, secrets };
      if (conds.length === 0) return { status: 'error', message: 'no conditions to judge: add `expect:`', evidence: outcome.evidence, secrets };
      const verdict = judgeAll(conds, outcome.observations);
      const msg = verdict.ok ? verdict.judgements.map((j) => j.detail).join('; ') : verdict.failed.map((j) => j.detail).join('; ');
      return { status: verdict.ok ? 'pass' : 'fail', message: msg, evidence: outcome.evidence ?? outcome.observations, secrets };
    } catch (err) {
      const reason = controller.signal.aborted ? message(controller.signal.reason) : message(err);
      // What a probe saw before it failed is kept (redacted like any evidence), not thrown away.
      return { status: 'error', message: reason, evidence: err instanceof CheckError ? err.evidence : undefined, secrets };
    } finally {
      timerStop.abort();
      await timeout;
      opts.signal?.removeEventListener('abort', onRunAbort);
      if (!controller.signal.aborted) controller.abort(new Error('check finished'));
    }
  };

  const hostOf = (check: CheckConfig): string | undefined => {
    const kind = kinds[check.kind];
    if (!kind) return undefined;
    try {
      const expanded = expand(kindOptions(check), envVars, processEnv, kind.verbatim).value;
      return kind.host(expanded, opts.env)?.toLowerCase();
    } catch {
      return envHost;
    }
  };

  const schedule = (item: ItemConfig, check: CheckConfig): Promise<ItemResult> => {
    const host = hostOf(check);
    let limit: LimitFunction | undefined;
    if (host) {
      limit = hosts.get(host);
      if (!limit) hosts.set(host, (limit = pLimit(opts.perHost)));
    }
    const guarded = (): Promise<ItemResult> => overall(() => runOne(item, check));
    return (limit ? limit(guarded) : guarded()).then((result) => {
      opts.onEvent?.({ type: 'end', result });
      return result;
    });
  };

  const withChecks = items.flatMap((item) => (item.check ? [{ item, check: item.check }] : []));
  const isExclusive = (c: CheckConfig): boolean => kinds[c.kind]?.exclusive ?? false;
  const results = new Map<string, ItemResult>();
  try {
    await Promise.all(withChecks.filter((x) => !isExclusive(x.check)).map(async ({ item, check }) => results.set(item.id, await schedule(item, check))));
    // Checks that disturb the target run last and alone, so they cannot spoil the others.
    for (const { item, check } of withChecks.filter((x) => isExclusive(x.check))) results.set(item.id, await schedule(item, check));
  } finally {
    // A check that timed out may have left processes behind (a setsid'd child): none outlives the run.
    if (!opts.reaper) reaper.killAll('SIGKILL');
  }
  return withChecks.flatMap(({ item }) => results.get(item.id) ?? []);
}
