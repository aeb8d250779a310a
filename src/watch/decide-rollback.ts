// A person's answer to a conditional trigger (or a reported issue) of a running watch: roll back, or
// keep watching. The one path by which the answer enters the record, so that the CLI's
// `decide-rollback` and the dashboard's form apply the same rules: the rollback permission first
// (a refusal records nothing and names the rule), then a watch of this gate that is still running
// and waiting for an answer. The watcher acts on it at its next evaluation.
import type { LoadedConfig } from '../config/loaded.js';
import { configRedactor } from '../config/redactor.js';
import { AuthorityError } from '../engine/attest.js';
import { authorize } from '../engine/authority.js';
import { rulesOf } from '../engine/rules.js';
import type { Store, WatchEvent } from '../store/types.js';
import type { Clock } from '../util/clock.js';
import { awaitingDecision, foldWatch } from './state.js';
import type { WatchState } from './state.js';

/** The answer could not be recorded: no such watch, it has ended, or nothing waits for an answer. Nothing was recorded. */
export class DecideRollbackError extends Error {
  constructor(
    message: string,
    /** `unknown`: no such watch in the gate; `ended` or `not-waiting`: the watch cannot take an answer now. */
    readonly reason: 'unknown' | 'ended' | 'not-waiting',
  ) {
    super(message);
    this.name = 'DecideRollbackError';
  }
}

/** What is answered, by whom. */
export interface DecideRollbackRequest {
  loaded: LoadedConfig;
  store: Store;
  clock: Clock;
  watchId: string;
  decision: 'rollback' | 'continue';
  /** Who decides, in which role (it needs the rollback permission). */
  by: string;
  role: string;
  note?: string;
  /** Where the config's `${VAR}` values are read from, so that a note naming one is stored redacted (default: process.env). */
  processEnv?: Readonly<Record<string, string | undefined>>;
}

/** The answer as recorded: its event, the conditional triggers it answers (none when only reported issues waited), and the watch before it. */
export interface DecideRollbackResult {
  event: WatchEvent;
  triggers: string[];
  watch: WatchState;
}

/**
 * Records a decide-rollback event for a running watch that waits for one. Throws AuthorityError
 * (the rule) when `role` lacks the rollback permission, DecideRollbackError when the watch cannot
 * take the answer; either way nothing is recorded.
 */
export async function decideRollback(r: DecideRollbackRequest): Promise<DecideRollbackResult> {
  const verdict = authorize(rulesOf(r.loaded).authority, { action: 'rollback', by: r.by, role: r.role });
  if (!verdict.ok) throw new AuthorityError(verdict.rule);
  const gate = r.loaded.gate;
  const watch = foldWatch(await r.store.listEvents({ gate, watchId: r.watchId }));
  if (!watch) throw new DecideRollbackError(`no watch ${r.watchId} in gate ${gate}`, 'unknown');
  if (watch.outcome) throw new DecideRollbackError(`watch ${r.watchId} has ended (${watch.outcome}): nothing to decide`, 'ended');
  const waiting = awaitingDecision(watch);
  if (waiting.length === 0 && watch.openReports.length === 0) throw new DecideRollbackError(`watch ${r.watchId} is not waiting for a decision: no conditional trigger fired`, 'not-waiting');
  const note = configRedactor(r.loaded, r.processEnv).text(r.note ?? '');
  const triggers = waiting.map((f) => f.id);
  const event = await r.store.addEvent({
    gate,
    env: watch.env,
    release: watch.release,
    watchId: watch.watchId,
    kind: 'decide-rollback',
    at: new Date(r.clock.now()).toISOString(),
    data: { decision: r.decision, by: r.by, role: r.role, note, triggers },
  });
  // addEvent answers undefined only for an event with a key already held; this one has none.
  if (!event) throw new Error('the store did not record the decide-rollback event');
  return { event, triggers, watch };
}
