import type { z } from 'zod';
import type { Clock } from '../util/clock.js';
import type { AuthConfig } from './_shared/auth.js';
import type { HttpResponse } from '../util/http.js';
import type { Reaper } from '../util/reaper.js';
import type { Dispatcher } from 'undici';

/** What a check kind sees of the environment it runs against. */
export interface TargetEnvironment {
  /** Environment name from the config (`staging`, `production`, ...). */
  name: string;
  /** Base URL of the target, when the environment has one. */
  url?: string;
  /** Every other field of the environment, as strings, for `{{env.x}}` templates. */
  vars: Record<string, string>;
  /** Fields given on the command line (`url` with `--url`): used as is, `${VAR}` in them never expanded. */
  literal?: readonly string[];
}

/** Where a kind's work happens: on the configured target over the network, or on this machine. */
export type Reach = 'remote' | 'local';

/** Everything the engine hands a check's `run()`; nothing here is global. */
export interface CheckContext {
  /** Aborted when the check's timeout expires or the run is interrupted. Every I/O must honour it. */
  signal: AbortSignal;
  /** The environment chosen with `--env`. */
  env: TargetEnvironment;
  /**
   * The environment gonogo runs with (the process's, unless a caller passed its own): what a
   * command inherits and what the env kind reads. Never `process.env` directly, so that in-process
   * callers (tests, the dashboard) decide it.
   */
  processEnv?: Readonly<Record<string, string | undefined>>;
  /** Folder of the config file: relative paths in options resolve against it. */
  configDir: string;
  clock: Clock;
  /**
   * Origins a check may talk to (`URL.origin`: scheme, host and port, e.g. `http://127.0.0.1:3000`).
   * Probes refuse any other origin: they only ever talk to the configured target.
   */
  allowedOrigins: ReadonlySet<string>;
  /** Values that must never appear in output (secrets from `${VAR}`); kinds need not use it, the engine redacts. */
  secrets: readonly string[];
  /** The config's `auth:` section (login recipe and test users), already expanded; for probes that log in. */
  auth?: AuthConfig;
  /** Test users whose credentials could not be expanded (an unset `${VAR}`), with the reason. */
  authProblems?: Readonly<Record<string, string>>;
  /**
   * Login answers shared by the checks of one run, by user: each test user logs in once, so the
   * target's login limit is not spent by every probe (and the sessions are the same user's).
   */
  logins?: Map<string, Promise<HttpResponse>>;
  /**
   * Tracks the processes a check starts, so that the run (its end, a timeout, SIGTERM, gonogo's own
   * exit) can end every one of them, including those that left their process group.
   */
  reaper?: Reaper;
  /**
   * The HTTP connection pool of this run (keep-alive connections shared by its checks), passed in
   * so a long-running watcher or a test owns it; util/http's httpRequest takes it as `dispatcher`.
   */
  dispatcher?: Dispatcher;
}

/**
 * What a check observed. `observations` is what `expect:` conditions are judged against;
 * `evidence` is kept verbatim for the record (requests made, headers seen, findings).
 */
export interface CheckOutcome {
  observations: Record<string, unknown>;
  evidence?: unknown;
  /** The item does not apply here (e.g. HSTS on plain HTTP); the reason is reported. */
  skip?: string;
  /**
   * Nothing came back to judge (a metrics query with no series), and the check's own configured
   * policy says what that counts as: the result is `counts`, with `reason`, and `expect:` is not
   * judged (a condition such as `!(value > 0.05)` would pass on a missing value). A policy of
   * `error` needs no field: the kind throws.
   */
  noData?: { counts: 'pass' | 'fail'; reason: string };
  /** What the check did that a person should be told of once (the SSRF payload classes sent). */
  notice?: string;
}

/** A check kind: one folder under src/checks, one line in the registry. */
export interface CheckKind<S extends z.ZodObject = z.ZodObject> {
  name: string;
  /** One-line description, used in `--help`, the README and the JSON Schema. */
  description: string;
  /** Options of this kind, besides the common ones (kind, timeout, retries, expect). A strict zod object. */
  options: S;
  /** Names an `expect:` condition may start with (`status`, `body`, ...), checked at load. */
  fields: readonly string[];
  /** Conditions used when the item gives no `expect:`. */
  defaultExpect: (options: z.output<S>) => string[];
  /**
   * `remote` (the default): the kind talks to the target over the network, is counted against
   * `perHost` and may only reach the target's origins. `local` (command, git, env, file): it works on
   * this machine, is never throttled by `perHost` and is given no origins. The registry line
   * (src/checks/kinds.ts) states it too, and wins.
   */
  reach?: Reach;
  /**
   * Host a remote check talks to, for the per-host limit (default: the environment's host). Ignored
   * for a local kind.
   */
  host?: (options: z.output<S>, env: TargetEnvironment) => string | undefined;
  /**
   * The check disturbs the target for others (a burst that trips the login limit): the engine runs
   * it alone, after every other check of the same run or stage has finished.
   */
  exclusive?: boolean;
  /**
   * Dotted option paths (`run.sh`) that the engine passes as written, without expanding `{{...}}` or
   * `${VAR}`: text that another interpreter parses (a shell script) must never have values spliced in.
   * `{{...}}` there is refused at load.
   */
  verbatim?: readonly string[];
  /** Observe; never judge. Throwing is fine: the engine turns it into `error` with the message. */
  run(options: z.output<S>, ctx: CheckContext): Promise<CheckOutcome>;
}

/**
 * A check that could not finish but had observed something by then (a probe's exchanges up to the
 * failing URL): the result is `error` and keeps this evidence for the record.
 */
export class CheckError extends Error {
  constructor(
    message: string,
    readonly evidence: unknown,
  ) {
    super(message);
  }
}

/** A kind with its option type erased, as the registry and the engine hold it. */
export interface RegisteredKind {
  name: string;
  description: string;
  options: z.ZodObject;
  fields: readonly string[];
  exclusive: boolean;
  verbatim: readonly string[];
  reach: Reach;
  defaultExpect(options: Record<string, unknown>): string[];
  host(options: Record<string, unknown>, env: TargetEnvironment): string | undefined;
  run(options: Record<string, unknown>, ctx: CheckContext): Promise<CheckOutcome>;
  /**
   * Parses options once (throws on invalid ones) for a check run many times (retries, a watch).
   * `parsed`: the same options before placeholder expansion, already parsed by this kind's schema
   * (the loader's, see markValidated); then only the values expansion changed are parsed again.
   */
  prepare(options: Record<string, unknown>, parsed?: Record<string, unknown>): PreparedCheck;
}

// The schema that parsed a check's options at load, kept on the check itself: not enumerable, so
// neither a copy, nor JSON (the config cache), nor a worker's structured clone carries it over, and
// such a check is parsed in full by the engine. No state of its own: a property of the loaded check.
const VALIDATED_BY = Symbol('gonogo.validatedBy');

/** The loader parsed this check with `schema` (its kind's options, extended with the common fields). */
export function markValidated(check: object, schema: z.ZodObject): void {
  Object.defineProperty(check, VALIDATED_BY, { value: schema, enumerable: false, writable: false, configurable: true });
}

/** Stands for "its kind's schema, in the build that wrote the config cache": see markCached. */
const BY_THIS_BUILD = Symbol('gonogo.validatedByThisBuild');

/**
 * The check comes from the config cache, which keeps only configs this very build validated (its
 * key names the build) and whose options are what that validation returned: its own kind's schema
 * parsed them, as markValidated says of a fresh load. (No kind has a transform whose output would
 * not come back from JSON as the same value.)
 */
export function markCached(check: object): void {
  Object.defineProperty(check, VALIDATED_BY, { value: BY_THIS_BUILD, enumerable: false, writable: false, configurable: true });
}

/** Were this check's options parsed at load by `kind`'s options schema? */
export function isValidatedBy(check: object, kind: { name: string; options: z.ZodObject }): boolean {
  if (!Object.hasOwn(check, VALIDATED_BY)) return false;
  const by = Reflect.get(check, VALIDATED_BY);
  return by === kind.options || (by === BY_THIS_BUILD && Reflect.get(check, 'kind') === kind.name);
}

/** A check's options parsed by its kind: what the engine runs for every attempt. */
export interface PreparedCheck {
  host(env: TargetEnvironment): string | undefined;
  run(ctx: CheckContext): Promise<CheckOutcome>;
}

/**
 * Wraps a kind for the registry. Options are parsed by the kind's own schema on the way in, so
 * each kind sees exactly its typed options; the engine parses once per check with `prepare`.
 */
export function defineKind<S extends z.ZodObject>(kind: CheckKind<S>): RegisteredKind {
  return {
    name: kind.name,
    description: kind.description,
    options: kind.options,
    fields: kind.fields,
    exclusive: kind.exclusive ?? false,
    verbatim: kind.verbatim ?? [],
    reach: kind.reach ?? 'remote',
    defaultExpect: (o) => kind.defaultExpect(kind.options.parse(o)),
    host: (o, env) => hostFor(kind, kind.options.parse(o), env),
    run: (o, ctx) => kind.run(kind.options.parse(o), ctx),
    prepare: (o, parsed) => new Parsed(kind, parsed === undefined ? kind.options.parse(o) : parseChanged(kind.options, o, parsed)),
  };
}

/**
 * Options parsed before expansion, with what expansion changed parsed again: each changed value by
 * its own field's schema, and the whole object again when a changed value is invalid (for the same
 * error as a full parse, with its path) or when the schema judges fields together (a refinement).
 */
function parseChanged<S extends z.ZodObject>(schema: S, o: Record<string, unknown>, parsed: Record<string, unknown>): z.output<S> {
  if (o !== parsed) {
    if ((schema._zod.def.checks?.length ?? 0) > 0) return schema.parse(o);
    const shape: Record<string, z.ZodType | undefined> = schema.shape;
    let out: Record<string, unknown> | undefined;
    for (const key of Object.keys(o)) {
      if (o[key] === parsed[key]) continue;
      const field = Object.hasOwn(shape, key) ? shape[key] : undefined;
      const r = field?.safeParse(o[key]);
      if (!r?.success) return schema.parse(o);
      (out ??= { ...parsed })[key] = r.data;
    }
    if (out) parsed = out;
  }
  // Every value here was produced by `schema` (at load, or just now by its field): its output type.
  return parsed as z.output<S>;
}

function hostFor<S extends z.ZodObject>(kind: CheckKind<S>, o: z.output<S>, env: TargetEnvironment): string | undefined {
  if (kind.reach === 'local') return undefined;
  return kind.host ? kind.host(o, env) : env.url ? new URL(env.url).host : undefined;
}

/** A kind with one check's parsed options; methods, not closures: the engine makes one per check. */
class Parsed<S extends z.ZodObject> implements PreparedCheck {
  constructor(
    private readonly kind: CheckKind<S>,
    private readonly options: z.output<S>,
  ) {}

  host(env: TargetEnvironment): string | undefined {
    return hostFor(this.kind, this.options, env);
  }

  run(ctx: CheckContext): Promise<CheckOutcome> {
    return this.kind.run(this.options, ctx);
  }
}
