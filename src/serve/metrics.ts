// /metrics in Prometheus exposition (prom-client): per environment of the gate, the verdict of its
// current release, readiness, items by tier and status, the last run's time, the watch's state and
// the audit chain's. A team's own alerting pages on `gonogo_verdict{verdict="NO_GO"} == 1`. Values
// are read from the library's state at scrape time; one registry per server, never the global one.
import { Gauge, Registry } from 'prom-client';
import { STATUS_ORDER, TIERS, VERDICTS } from '../model.js';
import { latestWatch } from '../watch/watch.js';
import { awaitingDecision } from '../watch/state.js';
import type { GateContext } from './context.js';

/** The states a watch is reported in: its outcome once ended, else running or waiting for a person. */
const WATCH_STATES = ['running', 'awaiting-decision', 'passed', 'failed', 'rolled-back', 'aborted'] as const;

/** The dashboard's metrics: `render()` reads the state of every environment and writes the exposition text. */
export class DashboardMetrics {
  readonly contentType: string;
  private readonly registry = new Registry();
  private readonly verdict: Gauge;
  private readonly readiness: Gauge;
  private readonly items: Gauge;
  private readonly lastRun: Gauge;
  private readonly watch: Gauge;
  private readonly chain: Gauge;
  private readonly blockers: Gauge;
  private readonly missingSignoffs: Gauge;
  private pending: Promise<string> | undefined;

  constructor(private readonly ctx: GateContext) {
    const registers = [this.registry];
    this.contentType = this.registry.contentType;
    this.verdict = new Gauge({ name: 'gonogo_verdict', help: '1 for the verdict of the current release of the environment, 0 for the others', labelNames: ['gate', 'env', 'release', 'verdict'], registers });
    this.readiness = new Gauge({ name: 'gonogo_readiness_percent', help: 'Share of critical items passed, 0-100', labelNames: ['gate', 'env', 'release'], registers });
    this.items = new Gauge({ name: 'gonogo_items', help: 'Items of the current release by tier and status', labelNames: ['gate', 'env', 'tier', 'status'], registers });
    this.lastRun = new Gauge({ name: 'gonogo_last_run_timestamp_seconds', help: 'When the newest completed run of the current release finished (Unix time)', labelNames: ['gate', 'env', 'release'], registers });
    this.watch = new Gauge({ name: 'gonogo_watch_state', help: '1 for the state of the newest watch of the current release, 0 for the others (no series without a watch)', labelNames: ['gate', 'env', 'release', 'state'], registers });
    this.chain = new Gauge({ name: 'gonogo_audit_chain_intact', help: '1 when the rows the state was read from match the audit chain, 0 when not', labelNames: ['gate', 'env'], registers });
    this.blockers = new Gauge({ name: 'gonogo_blockers', help: 'Items whose failure blocks GO', labelNames: ['gate', 'env', 'release'], registers });
    this.missingSignoffs = new Gauge({ name: 'gonogo_missing_signoffs', help: 'Required sign-offs not yet given', labelNames: ['gate', 'env', 'release'], registers });
  }

  /** The exposition text. Scrapes that arrive while one is being read share its answer. */
  render(): Promise<string> {
    this.pending ??= this.read().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async read(): Promise<string> {
    const { ctx } = this;
    const gate = ctx.gate;
    const snapshots = await Promise.all(
      ctx.environments.map(async (env) => {
        const state = await ctx.state(env, undefined);
        const watch = await latestWatch(ctx.store, gate, env, state.release);
        return { env, state, watch };
      }),
    );
    for (const g of [this.verdict, this.readiness, this.items, this.lastRun, this.watch, this.chain, this.blockers, this.missingSignoffs]) g.reset();
    for (const { env, state, watch } of snapshots) {
      const release = state.release;
      const d = state.decision;
      for (const v of VERDICTS) this.verdict.set({ gate, env, release, verdict: v }, d.verdict === v ? 1 : 0);
      this.readiness.set({ gate, env, release }, d.readiness);
      for (const tier of TIERS) for (const status of STATUS_ORDER) this.items.set({ gate, env, tier, status }, state.results.filter((r) => r.tier === tier && r.status === status).length);
      const finished = state.lastRun?.finishedAt;
      if (finished) this.lastRun.set({ gate, env, release }, Date.parse(finished) / 1000);
      if (watch) {
        const now = watch.outcome ?? (awaitingDecision(watch).length > 0 || watch.openReports.length > 0 ? 'awaiting-decision' : 'running');
        for (const s of WATCH_STATES) this.watch.set({ gate, env, release: watch.release, state: s }, s === now ? 1 : 0);
      }
      this.chain.set({ gate, env }, state.chain.intact ? 1 : 0);
      this.blockers.set({ gate, env, release }, d.blockers.length);
      this.missingSignoffs.set({ gate, env, release }, d.missingSignoffs.length);
    }
    return this.registry.metrics();
  }
}
