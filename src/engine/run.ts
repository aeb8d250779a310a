import pLimit from 'p-limit';
import type { LimitFunction } from 'p-limit';
import { registry } from '../checks/index.js';
import { CheckError } from '../checks/types.js';
import type { CheckContext, CheckOutcome, PreparedCheck, RegisteredKind, TargetEnvironment } from '../checks/types.js';
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
import type { Dispatcher } from 'undici';

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
  /**
   * The HTTP connection pool checks use (CheckContext.dispatcher; util/http's createHttpAgent makes
   * one): a watcher keeps one across its runs, a test its own. Absent, util/http's shared one is used.
   */
  dispatcher?: Dispatcher;
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

/** Why an attempt's signal fires once it ended by itself: one shared reason (an Error per check costs a stack trace). */
const FINISHED = new Error('check finished');
const ignore = (): void => undefined;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The auth section expanded user by user, with what could not be expanded and the secrets it holds. */
interface ExpandedAuth {
  auth?: AuthConfig;
  problems: Record<string, string>;
  secrets: string[];
}

/**
 * Expands `auth:` user by user: an unset password only fails the probes that log in as that user
 * (they end as `error` naming the variable), never a git or command check.
 */
function expandAuth(config: AuthConfig | undefined, envVars: TemplateEnv, processEnv: Readonly<Record<string, string | undefined>>): ExpandedAuth {
  const out: ExpandedAuth = { problems: {}, secrets: [] };
  if (!config) return out;
  const users: AuthConfig['users'] = {};
  for (const [name, user] of Object.entries(config.users)) {
    try {
      const x = expand(user, envVars, processEnv);
      users[name] = x.value;
      out.secrets.push(...x.secrets);
    } catch (err) {
      out.problems[name] = `auth.users.${name}: ${message(err)}`;
    }
  }
  try {
    const x = expand(config.login, envVars, processEnv);
    out.auth = { login: x.value, users };
    out.secrets.push(...x.secrets);
  } catch (err) {
    for (const name of Object.keys(config.users)) out.problems[name] = `auth.login: ${message(err)}`;
    out.auth = { ...config, users: {} };
  }
  return out;
}

/**
 * `{{env.x}}` and `{{release}}` in conditions, filled in from the environment's fields as written
 * (the loader refuses fields holding a `${VAR}` there, so no secret is ever judged or shown).
 */
function bindAll(conds: readonly Condition[], vars: Record<string, string>): Condition[] | { error: string } {
  const bound: Condition[] = [];
  for (const c of conds) {
    const b = bindCondition(c, vars);
    if (!b.ok) return { error: b.error };
    bound.push(b.condition);
  }
  return bound;
}

/** One check made ready to run: its kind, its options expanded and parsed once, its limits. */
interface Planned {
  item: ItemConfig;
  check: CheckConfig;
  kind?: RegisteredKind;
  /** The parsed check, or why it cannot run (an unset variable, an unknown kind). */
  prepared: { ok: true; check: PreparedCheck; secrets: string[] } | { ok: false; message: string };
  host?: string;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
}

/** What one attempt ended with, before redaction. */
interface AttemptOutcome {
  status: Status;
  message: string;
  evidence?: unknown;
}

/**
 * Runs every item that has a check, concurrently within an overall and a per-host limit. Each
 * attempt runs under a timeout the check cannot escape: if `run()` ignores its signal, the engine
 * still ends the attempt as `error` when the time is up. Nothing a check throws escapes.
 */
export async function runChecks(items: readonly ItemConfig[], conditions: ReadonlyMap<string, readonly Condition[]>, opts: RunOptions): Promise<ItemResult[]> {
  const kinds: Readonly<Record<string, RegisteredKind>> = opts.kinds ?? registry;
  const processEnv = opts.processEnv ?? process.env;
  const envVars: TemplateEnv = { vars: opts.env.vars, literal: new Set(opts.env.literal ?? []) };
  const envHost = opts.env.url ? new URL(opts.env.url).host.toLowerCase() : undefined;
  const auth = expandAuth(opts.auth, envVars, processEnv);
  const baseRedactor = (opts.redactor ?? Redactor.of([])).with(auth.secrets);
  const reaper = opts.reaper ?? createReaper();
  const planned = items.flatMap((item) => (item.check ? [plan(item, item.check)] : []));
  const base: Omit<CheckContext, 'signal' | 'secrets' | 'allowedOrigins'> = {
    env: opts.env,
    configDir: opts.configDir,
    clock: opts.clock,
    processEnv,
    auth: auth.auth,
    authProblems: auth.problems,
    logins: opts.logins ?? new Map<string, Promise<HttpResponse>>(),
    reaper,
    dispatcher: opts.dispatcher,
  };
  const remoteOrigins = targetOrigins(opts.env.url);
  const localOrigins: ReadonlySet<string> = new Set();

  // One listener on the run's signal, whatever the number of checks: it aborts every attempt under way.
  const running = new Set<AbortController>();
  const onRunAbort = (): void => {
    for (const c of running) c.abort(new Error('aborted: the run was interrupted'));
  };
  opts.signal?.addEventListener('abort', onRunAbort, { once: true });

  /** Expands and parses a check's options once; its host decides its per-host limit. */
  function plan(item: ItemConfig, check: CheckConfig): Planned {
    const kind = kinds[check.kind];
    const timeoutMs = check.timeout !== undefined ? parseDuration(check.timeout) : opts.defaultTimeoutMs;
    const common = { item, check, kind, timeoutMs, retries: check.retries ?? 0, backoffMs: check.backoff !== undefined ? parseDuration(check.backoff) : 1000 };
    if (!kind) return { ...common, prepared: { ok: false, message: `unknown check kind "${check.kind}"` } };
    try {
      const x = expand(kindOptions(check), envVars, processEnv, kind.verbatim);
      const prepared = kind.prepare(x.value);
      return { ...common, prepared: { ok: true, check: prepared, secrets: x.secrets }, host: prepared.host(opts.env)?.toLowerCase() };
    } catch (err) {
      // Not runnable; counted against the environment's host like any remote check would be.
      return { ...common, prepared: { ok: false, message: message(err) }, host: kind.reach === 'remote' ? envHost : undefined };
    }
  }

  /** One attempt: one controller, one timer, one way to end (the check's answer, its timeout, the run's abort). */
  async function attempt(p: Planned, secrets: readonly string[], prepared: PreparedCheck): Promise<AttemptOutcome> {
    if (opts.signal?.aborted) return { status: 'error', message: 'aborted before it started' };
    const controller = new AbortController();
    const { signal } = controller;
    running.add(controller);
    // The timer is the clock's, cancelled by the same signal when the attempt ends another way.
    opts.clock.sleep(p.timeoutMs, signal).then(() => controller.abort(new Error(`timed out after ${p.timeoutMs} ms`)), ignore);
    const ctx: CheckContext = { ...base, signal, allowedOrigins: p.kind?.reach === 'local' ? localOrigins : remoteOrigins, secrets };
    try {
      // Settles with the check or with the signal, whichever comes first: a check that ignores its
      // signal is left behind, its answer ignored.
      const outcome = await new Promise<CheckOutcome>((resolve, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        prepared.run(ctx).then(resolve, reject);
      });
      if (outcome.notice) opts.onEvent?.({ type: 'notice', id: p.item.id, message: baseRedactor.with(secrets).text(outcome.notice) });
      if (outcome.skip) return { status: 'skipped', message: outcome.skip, evidence: outcome.evidence };
      if (outcome.noData) return { status: outcome.noData.counts, message: outcome.noData.reason, evidence: outcome.evidence };
      return judge(p.item, outcome.observations, outcome.evidence);
    } catch (err) {
      const reason = signal.aborted ? message(signal.reason) : message(err);
      // What a probe saw before it failed is kept (redacted like any evidence), not thrown away.
      return { status: 'error', message: reason, evidence: err instanceof CheckError ? err.evidence : undefined };
    } finally {
      running.delete(controller);
      if (!signal.aborted) controller.abort(FINISHED);
    }
  }

  /** The conditions of the item, judged against what the check observed: the one place a check is judged. */
  function judge(item: ItemConfig, observations: Record<string, unknown>, evidence: unknown): AttemptOutcome {
    const conds = bindAll(conditions.get(item.id) ?? [], opts.env.vars);
    if ('error' in conds) return { status: 'error', message: conds.error, evidence };
    if (conds.length === 0) return { status: 'error', message: 'no conditions to judge: add `expect:`', evidence };
    const verdict = judgeAll(conds, observations);
    const msg = verdict.ok ? verdict.judgements.map((j) => j.detail).join('; ') : verdict.failed.map((j) => j.detail).join('; ');
    return { status: verdict.ok ? 'pass' : 'fail', message: msg, evidence: evidence ?? observations };
  }

  /** Every attempt of one check, retried with backoff when marked flaky; each attempt is kept. */
  async function runOne(p: Planned): Promise<ItemResult> {
    const attempts: Attempt[] = [];
    const secrets = p.prepared.ok ? p.prepared.secrets : [];
    const redactor = secrets.length > 0 ? baseRedactor.with(secrets) : baseRedactor;
    const ctxSecrets = secrets.length > 0 ? [...auth.secrets, ...secrets] : auth.secrets;
    let backoff = p.backoffMs;
    for (let n = 1; ; n++) {
      opts.onEvent?.({ type: 'start', id: p.item.id, attempt: n });
      const startedAt = new Date(opts.clock.now()).toISOString();
      const t0 = opts.clock.monotonic();
      const a: AttemptOutcome = p.prepared.ok ? await attempt(p, ctxSecrets, p.prepared.check) : opts.signal?.aborted ? { status: 'error', message: 'aborted before it started' } : { status: 'error', message: p.prepared.message };
      attempts.push(redactor.value({ attempt: n, status: a.status, message: a.message, evidence: a.evidence, durationMs: Math.round(opts.clock.monotonic() - t0), startedAt }));
      if (a.status === 'pass' || a.status === 'skipped' || n > p.retries || opts.signal?.aborted) break;
      opts.onEvent?.({ type: 'retry', id: p.item.id, attempt: n, delayMs: backoff, message: redactor.text(a.message) });
      try {
        await opts.clock.sleep(backoff, opts.signal);
      } catch {
        break;
      }
      backoff *= 2;
    }
    const last = attempts[attempts.length - 1];
    return {
      id: p.item.id,
      tier: p.item.tier,
      status: last.status,
      message: attempts.length > 1 ? `${last.message} (attempt ${attempts.length} of ${p.retries + 1})` : last.message,
      evidence: last.evidence,
      durationMs: attempts.reduce((s, x) => s + x.durationMs, 0),
      attempts,
    };
  }

  const overall = pLimit(opts.concurrency);
  const hosts = new Map<string, LimitFunction>();
  /** Within the overall limit and, for a remote check, its host's. */
  function schedule(p: Planned): Promise<ItemResult> {
    let limit: LimitFunction | undefined;
    if (p.host) {
      limit = hosts.get(p.host);
      if (!limit) hosts.set(p.host, (limit = pLimit(opts.perHost)));
    }
    const guarded = (): Promise<ItemResult> => overall(() => runOne(p));
    return (limit ? limit(guarded) : guarded()).then((result) => {
      opts.onEvent?.({ type: 'end', result });
      return result;
    });
  }

  const results = new Map<string, ItemResult>();
  try {
    const exclusive = (p: Planned): boolean => p.kind?.exclusive ?? false;
    await Promise.all(planned.filter((p) => !exclusive(p)).map(async (p) => results.set(p.item.id, await schedule(p))));
    // Checks that disturb the target run last and alone, so they cannot spoil the others.
    for (const p of planned.filter(exclusive)) results.set(p.item.id, await schedule(p));
  } finally {
    opts.signal?.removeEventListener('abort', onRunAbort);
    // A check that timed out may have left processes behind (a setsid'd child): none outlives the run.
    if (!opts.reaper) reaper.killAll('SIGKILL');
  }
  return planned.flatMap(({ item }) => results.get(item.id) ?? []);
}
