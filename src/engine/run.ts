import { getEventListeners } from 'node:events';
import pLimit from 'p-limit';
import type { LimitFunction } from 'p-limit';
import type { Dispatcher } from 'undici';
import { KINDS, isKindName, loadKinds } from '../checks/kinds.js';
import { CheckError, isValidatedBy } from '../checks/types.js';
import type { CheckContext, CheckOutcome, PreparedCheck, RegisteredKind, TargetEnvironment } from '../checks/types.js';
import type { AuthConfig } from '../checks/_shared/auth.js';
import { bindCondition, judge } from '../conditions/index.js';
import type { Condition } from '../conditions/index.js';
import type { CheckConfig, ItemConfig } from '../config/schema.js';
import type { Attempt, ItemResult, Status } from '../model.js';
import type { Clock } from '../util/clock.js';
import { parseDuration } from '../util/duration.js';
import { createHttpAgent } from '../util/http.js';
import type { HttpResponse } from '../util/http.js';
import { expand } from '../util/template.js';
import type { TemplateEnv } from '../util/template.js';
import { Redactor } from '../util/redact.js';
import { createReaper } from '../util/reaper.js';
import type { Reaper } from '../util/reaper.js';

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
  /**
   * The check kinds by name (default: those of checks/kinds.ts that the items use, loaded on
   * demand); tests pass their own to exercise the engine's guarantees.
   */
  kinds?: Readonly<Record<string, RegisteredKind>>;
  /**
   * Secrets known before the run (every `${VAR}` the config references): redacted from every
   * result and event, with whatever the checks' own expansion adds.
   */
  redactor?: Redactor;
  /** Ends the processes checks start; one per run when absent, and every one is ended when the run ends. */
  reaper?: Reaper;
  /**
   * The HTTP connection pool checks use (CheckContext.dispatcher): runGate keeps one across a
   * run's stages, a watcher one across its runs, a test its own. Absent, a run with a remote check
   * makes its own (httpPoolFor) and closes it when it ends.
   */
  dispatcher?: Dispatcher;
}

/** The check's own options: everything but the fields every check has. */
function kindOptions(check: CheckConfig): Record<string, unknown> {
  // Key by key: an object rest that leaves keys out (`{ kind, ...own }`) measured several times
  // slower on a loaded config's checks (V8 does it in its runtime).
  const own: Record<string, unknown> = {};
  for (const key of Object.keys(check)) if (!isCommonField(key)) own[key] = check[key];
  return own;
}

function isCommonField(key: string): boolean {
  return key === 'kind' || key === 'timeout' || key === 'retries' || key === 'backoff' || key === 'expect';
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

/**
 * A connection pool for a run of these items when one of them talks to the target over the network
 * (a remote kind, by checks/kinds.ts or by `kinds` when given); undefined otherwise, so that a run of
 * local checks never loads the HTTP client. Its owner closes it once the run is over.
 */
export async function httpPoolFor(items: readonly ItemConfig[], kinds?: Readonly<Record<string, RegisteredKind>>): Promise<Dispatcher | undefined> {
  const remote = items.some(({ check }) => {
    if (!check) return false;
    if (kinds) return Object.hasOwn(kinds, check.kind) && kinds[check.kind].reach === 'remote';
    return isKindName(check.kind) && KINDS[check.kind].reach === 'remote';
  });
  return remote ? createHttpAgent() : undefined;
}

/** Why an attempt's signal fires once it ended by itself: one shared reason (an Error per check costs a stack trace). */
const FINISHED = new Error('check finished');
/** Why the run's timer is put back: a nearer deadline came, or no attempt is under way. */
const REARMED = new Error('timer re-armed');
const ignore = (): void => undefined;

/** An attempt under way: when it must end, its controller, and how to end the engine's wait for it. */
interface UnderWay {
  at: number;
  timeoutMs: number;
  controller: AbortController;
  reject(reason: Error): void;
}

/** Ends an attempt: its signal aborts and the engine stops waiting (without a reason: its timeout). */
function stop(a: UnderWay, reason?: Error): void {
  // The timeout's Error is made only when it fires: a stack trace per attempt costs.
  const why = reason ?? new Error(`timed out after ${a.timeoutMs} ms`);
  a.controller.abort(why);
  a.reject(why);
}

/**
 * The attempts under way and their deadlines, on one clock timer for the whole run armed for the
 * earliest: a sleep, an abort listener and its event per attempt cost about as much as the rest of
 * the engine's work for a check. Once no attempt is under way, no timer is left.
 */
class Attempts {
  private readonly live = new Set<UnderWay>();
  private armed: { at: number; controller: AbortController } | undefined;

  constructor(private readonly clock: Clock) {}

  /** Once `timeoutMs` have passed, unless the attempt ended first, it is stopped with a timeout error. */
  start(timeoutMs: number, controller: AbortController, reject: (reason: Error) => void): UnderWay {
    const a: UnderWay = { at: this.clock.monotonic() + timeoutMs, timeoutMs, controller, reject };
    this.live.add(a);
    if (!this.armed || a.at < this.armed.at) this.arm(a.at);
    return a;
  }

  /** The attempt ended. The timer stays armed while others are under way: woken early, it is armed again for the next. */
  end(a: UnderWay): void {
    if (this.live.delete(a) && this.live.size === 0) this.disarm();
  }

  /** Ends every attempt under way (the run was interrupted). */
  stopAll(reason: Error): void {
    for (const a of this.live) stop(a, reason);
  }

  private arm(at: number): void {
    this.disarm();
    const controller = new AbortController();
    this.armed = { at, controller };
    this.clock.sleep(Math.max(0, at - this.clock.monotonic()), controller.signal).then(() => this.expire(), ignore);
  }

  private disarm(): void {
    this.armed?.controller.abort(REARMED);
    this.armed = undefined;
  }

  /** Ends the attempts whose deadline passed and arms the timer for the next one. */
  private expire(): void {
    this.armed = undefined;
    const now = this.clock.monotonic();
    let next = Number.POSITIVE_INFINITY;
    for (const a of this.live) {
      if (a.at > now) next = Math.min(next, a.at);
      else {
        this.live.delete(a);
        stop(a);
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
  }
}

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
function bindAll(conds: readonly Condition[], vars: Record<string, string>): readonly Condition[] | { error: string } {
  // Most conditions have no placeholder: judged as parsed, without a copy of the list.
  if (!conds.some((c) => c.bind)) return conds;
  const bound: Condition[] = [];
  for (const c of conds) {
    const b = bindCondition(c, vars);
    if (!b.ok) return { error: b.error };
    bound.push(b.condition);
  }
  return bound;
}

/** A check's options expanded and parsed once, or why it cannot run (an unset variable, an unknown kind). */
type Prepared = { ok: true; check: PreparedCheck; secrets: string[] } | { ok: false; message: string };

/** One check of the run: its kind and limits, and once prepared (see CheckRun.prepare) its parsed options. */
interface Planned {
  item: ItemConfig;
  check: CheckConfig;
  kind?: RegisteredKind;
  prepared?: Prepared;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  exclusive: boolean;
}

/** What one attempt ended with, before redaction. */
interface AttemptOutcome {
  status: Status;
  message: string;
  evidence?: unknown;
}

const ABORTED_BEFORE: AttemptOutcome = { status: 'error', message: 'aborted before it started' };

/** What every check of a run shares: its options, what was expanded once for all, and its limits. */
class CheckRun {
  private readonly processEnv: Readonly<Record<string, string | undefined>>;
  private readonly envVars: TemplateEnv;
  private readonly envHost: string | undefined;
  private readonly auth: ExpandedAuth;
  private readonly redactor: Redactor;
  readonly reaper: Reaper;
  private readonly logins: Map<string, Promise<HttpResponse>>;
  private readonly remoteOrigins: ReadonlySet<string>;
  private readonly localOrigins: ReadonlySet<string> = new Set();
  /** The attempts under way: their deadlines, and how the run's abort (one listener on its signal) ends them. */
  private readonly underWay: Attempts;
  private readonly overall: LimitFunction;
  private readonly hosts = new Map<string, LimitFunction>();
  /** Controllers of attempts that ended with nothing listening and no abort, for the next ones (at most one per attempt under way). */
  private readonly spare: AbortController[] = [];
  dispatcher?: Dispatcher;

  constructor(
    private readonly opts: RunOptions,
    private readonly kinds: Readonly<Record<string, RegisteredKind>>,
    private readonly conditions: ReadonlyMap<string, readonly Condition[]>,
  ) {
    this.processEnv = opts.processEnv ?? process.env;
    this.envVars = { vars: opts.env.vars, literal: new Set(opts.env.literal ?? []) };
    this.envHost = opts.env.url ? new URL(opts.env.url).host.toLowerCase() : undefined;
    this.auth = expandAuth(opts.auth, this.envVars, this.processEnv);
    this.redactor = (opts.redactor ?? Redactor.of([])).with(this.auth.secrets);
    this.reaper = opts.reaper ?? createReaper();
    this.logins = opts.logins ?? new Map<string, Promise<HttpResponse>>();
    this.remoteOrigins = targetOrigins(opts.env.url);
    this.underWay = new Attempts(opts.clock);
    this.overall = pLimit(opts.concurrency);
    this.dispatcher = opts.dispatcher;
  }

  /** Aborts every attempt under way (the run's signal fired). */
  readonly abortAll = (): void => this.underWay.stopAll(new Error('aborted: the run was interrupted'));

  /** A check's kind and limits: what scheduling needs before the check is prepared. */
  plan(item: ItemConfig, check: CheckConfig): Planned {
    const kind = Object.hasOwn(this.kinds, check.kind) ? this.kinds[check.kind] : undefined;
    const timeoutMs = check.timeout !== undefined ? parseDuration(check.timeout) : this.opts.defaultTimeoutMs;
    const backoffMs = check.backoff !== undefined ? parseDuration(check.backoff) : 1000;
    return { item, check, kind, timeoutMs, retries: check.retries ?? 0, backoffMs, exclusive: kind?.exclusive ?? false };
  }

  /** Expands and parses a check's options, once. */
  prepare(p: Planned): Prepared {
    if (p.prepared) return p.prepared;
    const { kind } = p;
    if (!kind) return (p.prepared = { ok: false, message: `unknown check kind "${p.check.kind}"` });
    try {
      const own = kindOptions(p.check);
      const x = expand(own, this.envVars, this.processEnv, kind.verbatim);
      // Options the loader parsed with this kind's schema are parsed again only where expansion changed them.
      const parsed = isValidatedBy(p.check, kind) ? own : undefined;
      return (p.prepared = { ok: true, check: kind.prepare(x.value, parsed), secrets: x.secrets });
    } catch (err) {
      return (p.prepared = { ok: false, message: message(err) });
    }
  }

  /** The host whose limit a check counts against (none for a local check). */
  private hostOf(p: Planned): string | undefined {
    const prepared = this.prepare(p);
    if (prepared.ok) return prepared.check.host(this.opts.env)?.toLowerCase();
    // Not runnable; counted against the environment's host like any remote check would be.
    return p.kind?.reach === 'remote' ? this.envHost : undefined;
  }

  /**
   * Runs these checks within the overall limit and, for remote checks, their hosts'; the results
   * in the same order. Where the per-host limit cannot bind (it is not below the overall one), as
   * many workers as the overall limit take the checks in turn: a check costs no promise of its own
   * in a queue, and is prepared only when its turn comes (the first start at once, not after all
   * are parsed).
   */
  async runAll(list: readonly Planned[]): Promise<ItemResult[]> {
    if (this.opts.perHost < this.opts.concurrency) return Promise.all(list.map((p) => this.schedule(p)));
    const results = new Array<ItemResult>(list.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < list.length) {
        const i = next++;
        results[i] = await this.runOne(list[i]);
      }
    };
    const workers: Promise<void>[] = [];
    for (let n = Math.min(this.opts.concurrency, list.length); n > 0; n--) workers.push(worker());
    await Promise.all(workers);
    return results;
  }

  /** Runs a check within the overall limit and, for a remote check, its host's. */
  private schedule(p: Planned): Promise<ItemResult> {
    const run = (): Promise<ItemResult> => this.overall(() => this.runOne(p));
    const host = this.hostOf(p);
    if (!host) return run();
    let limit = this.hosts.get(host);
    if (!limit) this.hosts.set(host, (limit = pLimit(this.opts.perHost)));
    return limit(run);
  }

  /** Every attempt of one check, retried with backoff when marked flaky; each attempt is kept. */
  async runOne(p: Planned): Promise<ItemResult> {
    const { opts } = this;
    const attempts: Attempt[] = [];
    const prepared = this.prepare(p);
    const secrets = prepared.ok ? prepared.secrets : [];
    const redactor = secrets.length > 0 ? this.redactor.with(secrets) : this.redactor;
    const ctxSecrets = secrets.length > 0 ? [...this.auth.secrets, ...secrets] : this.auth.secrets;
    let backoff = p.backoffMs;
    for (let n = 1; ; n++) {
      opts.onEvent?.({ type: 'start', id: p.item.id, attempt: n });
      const startedAt = new Date(opts.clock.now()).toISOString();
      const t0 = opts.clock.monotonic();
      const a = prepared.ok ? await this.attempt(p, prepared.check, ctxSecrets, redactor) : opts.signal?.aborted ? ABORTED_BEFORE : { status: 'error' as const, message: prepared.message };
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
    let durationMs = 0;
    for (const x of attempts) durationMs += x.durationMs;
    const result: ItemResult = {
      id: p.item.id,
      tier: p.item.tier,
      status: last.status,
      message: attempts.length > 1 ? `${last.message} (attempt ${attempts.length} of ${p.retries + 1})` : last.message,
      evidence: last.evidence,
      durationMs,
      attempts,
    };
    // The parsed options are not needed any more: the run holds its results, not its checks.
    p.prepared = undefined;
    opts.onEvent?.({ type: 'end', result });
    return result;
  }

  /**
   * One attempt: one controller, one deadline on the run's timer, one way to end (the check's
   * answer, its timeout, the run's abort), and no listener of the engine's own on the check's signal.
   */
  private async attempt(p: Planned, prepared: PreparedCheck, secrets: readonly string[], redactor: Redactor): Promise<AttemptOutcome> {
    const { opts } = this;
    if (opts.signal?.aborted) return ABORTED_BEFORE;
    const controller = this.spare.pop() ?? new AbortController();
    const { signal } = controller;
    const ctx: CheckContext = {
      signal,
      env: opts.env,
      configDir: opts.configDir,
      clock: opts.clock,
      processEnv: this.processEnv,
      allowedOrigins: p.kind?.reach === 'local' ? this.localOrigins : this.remoteOrigins,
      secrets,
      auth: this.auth.auth,
      authProblems: this.auth.problems,
      logins: this.logins,
      reaper: this.reaper,
      dispatcher: this.dispatcher,
    };
    let underWay: UnderWay | undefined;
    try {
      // Settles with the check or with its end (timeout, abort), whichever comes first: a check that
      // ignores its signal is left behind, its answer ignored.
      const outcome = await new Promise<CheckOutcome>((resolve, reject) => {
        underWay = this.underWay.start(p.timeoutMs, controller, reject);
        prepared.run(ctx).then(resolve, reject);
      });
      if (outcome.notice) opts.onEvent?.({ type: 'notice', id: p.item.id, message: redactor.text(outcome.notice) });
      if (outcome.skip) return { status: 'skipped', message: outcome.skip, evidence: outcome.evidence };
      if (outcome.noData) return { status: outcome.noData.counts, message: outcome.noData.reason, evidence: outcome.evidence };
      return this.judge(p.item, outcome.observations, outcome.evidence);
    } catch (err) {
      const reason = signal.aborted ? message(signal.reason) : message(err);
      // What a probe saw before it failed is kept (redacted like any evidence), not thrown away.
      return { status: 'error', message: reason, evidence: err instanceof CheckError ? err.evidence : undefined };
    } finally {
      if (underWay) this.underWay.end(underWay);
      // Whatever the check left listening on its signal (a request it did not wait for) ends with it.
      // A signal nobody listens to any more is as good as new: the next attempt gets it, since an
      // AbortController costs more to make than the rest of the engine's work for an attempt.
      if (!signal.aborted) {
        if (getEventListeners(signal, 'abort').length > 0) controller.abort(FINISHED);
        else this.spare.push(controller);
      }
    }
  }

  /** The conditions of the item, judged against what the check observed: the one place a check is judged. */
  private judge(item: ItemConfig, observations: Record<string, unknown>, evidence: unknown): AttemptOutcome {
    const conds = bindAll(this.conditions.get(item.id) ?? [], this.opts.env.vars);
    if ('error' in conds) return { status: 'error', message: conds.error, evidence };
    if (conds.length === 0) return { status: 'error', message: 'no conditions to judge: add `expect:`', evidence };
    // One pass: the message names every judgement when all passed, only the failed ones otherwise.
    let passed = '';
    let failed = '';
    let ok = true;
    for (const c of conds) {
      const j = judge(c, observations);
      if (j.ok) passed = passed === '' ? j.detail : `${passed}; ${j.detail}`;
      else {
        failed = ok ? j.detail : `${failed}; ${j.detail}`;
        ok = false;
      }
    }
    return { status: ok ? 'pass' : 'fail', message: ok ? passed : failed, evidence: evidence ?? observations };
  }
}

/**
 * Runs every item that has a check, concurrently within an overall and a per-host limit. Each
 * attempt runs under a timeout the check cannot escape: if `run()` ignores its signal, the engine
 * still ends the attempt as `error` when the time is up. Nothing a check throws escapes.
 */
export async function runChecks(items: readonly ItemConfig[], conditions: ReadonlyMap<string, readonly Condition[]>, opts: RunOptions): Promise<ItemResult[]> {
  const withCheck = items.flatMap((item) => (item.check ? [{ item, check: item.check }] : []));
  // Only the kinds these checks use are loaded: a run of local checks never loads a probe.
  const kinds = opts.kinds ?? (await loadKinds(withCheck.map(({ check }) => check.kind)));
  const run = new CheckRun(opts, kinds, conditions);
  const planned = withCheck.map(({ item, check }) => run.plan(item, check));
  const ownPool = opts.dispatcher === undefined ? await httpPoolFor(items, kinds) : undefined;
  run.dispatcher ??= ownPool;
  opts.signal?.addEventListener('abort', run.abortAll, { once: true });
  const results = new Map<Planned, ItemResult>();
  try {
    const shared = planned.filter((p) => !p.exclusive);
    (await run.runAll(shared)).forEach((r, i) => results.set(shared[i], r));
    // Checks that disturb the target run last and alone, so they cannot spoil the others.
    for (const p of planned.filter((x) => x.exclusive)) results.set(p, await run.runOne(p));
  } finally {
    opts.signal?.removeEventListener('abort', run.abortAll);
    // A check that timed out may have left processes behind (a setsid'd child): none outlives the run.
    if (!opts.reaper) run.reaper.killAll('SIGKILL');
    // Requests a check left behind end with the run's own pool.
    await ownPool?.destroy();
  }
  return planned.flatMap((p) => results.get(p) ?? []);
}
