// What every route of the dashboard reads from: the config loaded once at start, the store kept
// open, the clock, and the release and environment a request is about. The release's state is
// always the library's (gateState): the dashboard computes no verdict of its own.
import type { LoadedConfig } from '../config/loaded.js';
import { configRedactor } from '../config/redactor.js';
import type { AttestContext } from '../engine/attest.js';
import { checkReleaseId, resolveRelease } from '../engine/release.js';
import type { Release } from '../engine/release.js';
import { gateState, StateCache } from '../engine/state.js';
import type { GateState } from '../engine/state.js';
import { verifyChain } from '../store/audit.js';
import { StoreCache } from '../store/cache.js';
import type { ChainReport } from '../store/audit.js';
import type { Store } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import type { Redactor } from '../util/redact.js';

/** A request's input was wrong (an unknown environment, a malformed release id, a missing field): 400, nothing was done. */
export class BadRequest extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadRequest';
  }
}

/** Releases whose author git was asked for, kept at most (a release's commit does not change its author). */
const MAX_RELEASES = 256;

/** The dashboard's view of its one gate. */
export class GateContext {
  readonly gate: string;
  readonly redactor: Redactor;
  private readonly releases = new Map<string, Promise<Release>>();
  /** The states' store reads, kept while the store does not change: every page and API answer reads a state. */
  private readonly states = new StateCache();
  /** The release of each environment's newest run, kept likewise: every answer without ?release= asks. */
  private readonly newest = new StoreCache<string | undefined>();
  /** The whole chain verified, kept likewise. */
  private readonly chain = new StoreCache<ChainReport>(1);

  constructor(
    readonly loaded: LoadedConfig,
    readonly store: Store,
    readonly clock: Clock,
    readonly processEnv: Readonly<Record<string, string | undefined>>,
    /** The release of `--release`, or the one resolved at start (the git commit of the config's tree, or the config hash). */
    private readonly startRelease: Release,
    /** Whether `--release` was given: then it is every request's default. */
    private readonly releasePinned: boolean,
  ) {
    this.gate = loaded.gate;
    this.redactor = configRedactor(loaded, processEnv);
  }

  /** The environments of the config, in config order (the first is the default). */
  get environments(): string[] {
    return Object.keys(this.loaded.config.environments);
  }

  /** `name` when the config defines it, the first environment when none is given; else BadRequest. */
  envName(name: string | undefined): string {
    const names = this.environments;
    if (name === undefined || name === '') return names[0];
    if (!names.includes(name)) throw new BadRequest(`environment "${name}" is not defined (defined: ${names.join(', ')})`);
    return name;
  }

  /**
   * The release a request is about: the one it names; else `--release`; else the release of the
   * newest run in the environment (what the team is working on); else the release resolved at start.
   * A named release's author comes from git, as for the CLI (selfApproval judges it).
   */
  async release(env: string, named: string | undefined): Promise<Release> {
    if (named !== undefined && named !== '') {
      const problem = checkReleaseId(named);
      if (problem) throw new BadRequest(`release: ${problem}`);
      return this.resolve(named);
    }
    if (this.releasePinned) return this.startRelease;
    const newest = await this.newest.get(this.store, env, async () => (await this.store.listRuns({ gate: this.gate, env, limit: 1 }))[0]?.release);
    if (newest !== undefined && newest !== '' && newest !== this.startRelease.id && checkReleaseId(newest) === undefined) return this.resolve(newest);
    return this.startRelease;
  }

  /** Where attestations are given and states read for a request. */
  async attestContext(envQuery: string | undefined, releaseQuery: string | undefined): Promise<AttestContext & { envName: string }> {
    const envName = this.envName(envQuery);
    const release = await this.release(envName, releaseQuery);
    return { loaded: this.loaded, store: this.store, clock: this.clock, release, envName, processEnv: this.processEnv, cache: this.states };
  }

  /** The release's state in the environment, as `gonogo status` computes it. */
  async state(envQuery: string | undefined, releaseQuery: string | undefined): Promise<GateState> {
    return gateState(await this.attestContext(envQuery, releaseQuery));
  }

  /**
   * The whole chain verified (verifyChain, as `gonogo audit verify`), walked again only when the
   * store changed (its change token): a walk reads every entry, and the audit page is read far more
   * often than the log grows. Not the head alone: a row forged by hand moves no head, and must show.
   */
  async chainReport(): Promise<ChainReport> {
    return this.chain.get(this.store, this.gate, () => verifyChain(this.store, this.gate));
  }

  private resolve(id: string): Promise<Release> {
    if (id === this.startRelease.id) return Promise.resolve(this.startRelease);
    let found = this.releases.get(id);
    if (!found) {
      found = resolveRelease({ dir: this.loaded.dir, explicit: id, configHash: this.loaded.hash });
      // A failure is not kept: the next request asks again.
      found.catch(() => this.releases.delete(id));
      if (this.releases.size >= MAX_RELEASES) {
        const oldest = this.releases.keys().next().value;
        if (oldest !== undefined) this.releases.delete(oldest);
      }
      this.releases.set(id, found);
    }
    return found;
  }
}
