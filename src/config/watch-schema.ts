// The watch after a deploy, as configured: each stage's window, interval and success criteria, and
// the top-level `watch:` section (triggers, metric sources, rollback, notifications). Defaults are
// the seed's: its rollback triggers and its 24-hour success metrics (error rate < 1%, p95 < 2 s, no
// security or integrity trigger, every feature passing). `defaultTriggers` and `stageWatch` apply
// them, so the engine and the replay read one answer.
import { z } from 'zod';
import { METRICS } from '../watch/types.js';
import type { TriggerConfig } from '../watch/types.js';
import { parseDuration } from '../util/duration.js';
import { durationOf } from './duration-schema.js';
import type { ReferenceSink } from './references.js';
import { checkUrl, PROCESS_REF } from './url.js';

const positive = durationOf('0 would end at once');
const timeout = durationOf('a timeout of 0 would end every attempt at once');

/** The shortest `every:` written out: a 0 interval would run the stage's items back to back against production. */
export const MIN_EVERY_MS = 1000;
/** The shortest interval the default (window / 15) gives, so a short window does not hammer production. */
export const DEFAULT_MIN_EVERY_MS = 10_000;

/** An absolute http(s) URL, or one with `${VAR}` read at run time (a webhook URL is a secret: keep it in a variable). */
const url = z.string().superRefine((v, ctx) => {
  const problem = /\$\{[A-Za-z_][A-Za-z0-9_]*\}/.test(v) ? undefined : checkUrl(v);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const headers = z.record(z.string(), z.string());

// --- stages -----------------------------------------------------------------------------------

/** A window's success criteria; each field has the seed's 24-hour value as its default. */
export const criteriaSchema = z
  .strictObject({
    errorRate: z.number().min(0).max(1).default(0.01).describe('The window passes only while its error rate (0..1, over the whole window) stays below this (default 0.01: the seed\'s < 1%).'),
    p95: positive.default('2s').describe('The window passes only while its p95 latency (over the whole window) stays below this (default 2s).'),
    items: z
      .enum(['passing', 'ignore'])
      .default('passing')
      .describe('passing (default): every item of the stage must be passing at its last evaluation (the seed\'s "all features functional"); ignore: items are judged by triggers only.'),
    triggers: z
      .enum(['none', 'immediate'])
      .default('none')
      .describe('none (default): no trigger of either severity fired during the window; immediate: only an immediate trigger fails it (a conditional one a person chose to ride out does not).'),
  })
  .describe('Success criteria judged at the end of the window: every one must hold; missing data fails a criterion.');

export type CriteriaConfig = z.output<typeof criteriaSchema>;

/** Fields a stage gains for `gonogo watch` (spread into the stage schema). */
export const stageWatchFields = {
  window: positive.optional().describe('How long `gonogo watch` watches this stage (default: its budget).'),
  every: positive
    .optional()
    .describe(`How often the stage's items run during its window (default: window / 15, at least ${DEFAULT_MIN_EVERY_MS / 1000}s and at most the window; written out: at least ${MIN_EVERY_MS / 1000}s, at most the window).`),
  criteria: criteriaSchema.optional().describe('The window\'s success criteria (default: error rate < 1%, p95 < 2s, every item passing, no trigger fired).'),
};

/** `every:` at least MIN_EVERY_MS and at most the window (or the budget, when no window is given). */
export function checkStageWatch(stage: { budget: string | number; window?: string | number; every?: string | number }, ctx: z.RefinementCtx): void {
  if (stage.every === undefined) return;
  const every = parseDuration(stage.every);
  const window = parseDuration(stage.window ?? stage.budget);
  if (every < MIN_EVERY_MS) ctx.addIssue({ code: 'custom', path: ['every'], message: `every: ${stage.every} is shorter than ${MIN_EVERY_MS / 1000}s: the items would run back to back against production` });
  else if (every > window) ctx.addIssue({ code: 'custom', path: ['every'], message: `every: ${stage.every} is longer than the window (${stage.window ?? stage.budget}${stage.window === undefined ? ', the budget' : ''}): the items would run once or never` });
}

/** How `gonogo watch` runs one stage: its window and interval in milliseconds and its criteria, defaults applied. */
export interface StageWatch {
  windowMs: number;
  everyMs: number;
  criteria: CriteriaConfig;
}

export function stageWatch(stage: { budget: string | number; window?: string | number; every?: string | number; criteria?: CriteriaConfig }): StageWatch {
  const windowMs = parseDuration(stage.window ?? stage.budget);
  const everyMs = stage.every !== undefined ? parseDuration(stage.every) : Math.min(windowMs, Math.max(DEFAULT_MIN_EVERY_MS, Math.round(windowMs / 15)));
  return { windowMs, everyMs, criteria: stage.criteria ?? criteriaSchema.parse({}) };
}

// --- triggers ---------------------------------------------------------------------------------

const triggerSchema = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'an id of letters, digits, dot, dash or underscore').describe('Unique id, e.g. error-rate-critical.'),
    severity: z.enum(['immediate', 'conditional']).describe('immediate: rolls back at once; conditional: notifies and waits for a person\'s decision.'),
    title: z.string().optional().describe('What it means, for notifications and reports.'),
    items: z.array(z.string()).min(1).optional().describe('Fires when any of these items is not passing (fail or error) when it runs.'),
    metric: z.enum(METRICS).optional().describe('Fires when this metric is over its threshold: error_rate (0..1), p50_ms, p95_ms, p99_ms.'),
    above: z.number().min(0).optional().describe('With metric: the threshold, in the metric\'s unit.'),
    aboveBaseline: z.number().positive().optional().describe('With metric: the threshold is this times the recorded baseline\'s value (1.5: more than 50% worse); with above: too, above: is a floor under it (noise on a fast service never fires).'),
    reports: z.literal(true).optional().describe('Fires while an issue reported by a person (`gonogo report-issue`) is open.'),
    consecutive: z.number().int().min(1).max(1000).optional().describe('Consecutive breaching evaluations before it fires (default watch.consecutive).'),
    minSamples: z.number().int().min(0).optional().describe('With metric: fewer samples than this is no data (default watch.minSamples).'),
    noData: z.enum(['breach', 'unknown', 'ok']).optional().describe('What an evaluation without data counts as (default: breach for items, unknown for metrics and reports: the streak neither grows nor resets).'),
  })
  .superRefine((t, ctx) => {
    const kinds = [t.items !== undefined && 'items', t.metric !== undefined && 'metric', t.reports !== undefined && 'reports'].filter((k) => k !== false);
    if (kinds.length !== 1) {
      ctx.addIssue({ code: 'custom', message: kinds.length === 0 ? 'a trigger watches one thing: give items:, metric: (with above: or aboveBaseline:) or reports: true' : `a trigger watches one thing: ${kinds.join(' and ')} given, keep one` });
    }
    if (t.metric !== undefined && t.above === undefined && t.aboveBaseline === undefined) {
      ctx.addIssue({ code: 'custom', path: ['metric'], message: 'a metric trigger needs a threshold: above: (fixed), aboveBaseline: (a factor of the baseline), or both (above: is then a floor under the factor)' });
    }
    if (t.metric === undefined) {
      for (const k of ['above', 'aboveBaseline', 'minSamples'] as const) if (t[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: `${k}: applies to a metric: trigger only` });
    }
  })
  .describe('A condition watched after the deploy: exactly one of items:, metric: with above: or aboveBaseline:, or reports: true.');

export type TriggerSpec = z.output<typeof triggerSchema>;

// --- rollback ---------------------------------------------------------------------------------

// The same shapes as the command kind's `run`: an argv list (no shell) or `{ sh }` (a script), both
// passed exactly as written. Values reach them only as environment variables, never spliced into
// the text: `$GONOGO_RELEASE`, `$GONOGO_PREVIOUS`, `$GONOGO_ENV`, `$GONOGO_URL`, `$GONOGO_ENV_<FIELD>`.
const argv = z.array(z.string()).min(1).describe('Program and arguments, run directly with no shell: `["bash", "scripts/rollback-production.sh"]`.');
const shell = z
  .strictObject({
    sh: z.string().min(1).describe('Script given to `/bin/sh -c`, exactly as written: values reach it only as environment variables (`"$GONOGO_PREVIOUS"`, `"$GONOGO_RELEASE"`, `"$GONOGO_ENV"`).'),
  })
  .describe('A shell script, only when asked for by name: `{ sh: "bash scripts/rollback-production.sh \\"$GONOGO_PREVIOUS\\"" }`.');

const PLACEHOLDER = /\{\{\s*[A-Za-z_][A-Za-z0-9_.-]*\s*\}\}/;

const command = z
  .union([argv, shell], { error: 'expected an argv list like ["bash", "scripts/rollback.sh"] or { sh: "a shell script" }' })
  .superRefine((run, ctx) => {
    // Nothing is expanded in a rollback command: a placeholder would reach the program as literal text.
    const parts = Array.isArray(run) ? run.map((text, i) => ({ text, path: [i] })) : [{ text: run.sh, path: ['sh'] }];
    for (const { text, path } of parts) {
      const brace = PLACEHOLDER.exec(text)?.[0];
      if (brace) ctx.addIssue({ code: 'custom', path, message: `${brace} is not expanded in a rollback command: values reach it only as environment variables ("$GONOGO_PREVIOUS", "$GONOGO_RELEASE", "$GONOGO_URL", "$GONOGO_ENV_<FIELD>")` });
      else if (Array.isArray(run) && new RegExp(PROCESS_REF.source).test(text)) {
        ctx.addIssue({ code: 'custom', path, message: 'an argv list is passed as written, with no shell to expand ${VAR}: read the variable in the program, or use { sh: "..." }' });
      }
    }
  })
  .describe('A command: an argv list (no shell), or `{ sh: "..." }` run through /bin/sh; passed as written, values only as environment variables.');

export const rollbackSchema = z
  .strictObject({
    run: command.describe('Rolls the release back (the seed: scripts/rollback-production.sh). $GONOGO_PREVIOUS is the release to return to, $GONOGO_RELEASE the one rolled back.'),
    timeout: timeout.default('10m').describe('The rollback (and the restore) is ended as failed after this long (default 10m).'),
    validate: z.array(z.string()).default([]).describe('Item ids run after the rollback (post-rollback validation); all must pass.'),
    restore: command.optional().describe('Restores the backup after the rollback, when asked for (the seed: restore-backup.ts); same shapes and variables as run.'),
  })
  .describe('What an immediate trigger runs, exactly once per release.');

// --- notifications ----------------------------------------------------------------------------

const delivery = {
  timeout: timeout.default('5s').describe('Each attempt is abandoned after this long (default 5s).'),
  retries: z.number().int().min(0).max(10).default(3).describe('Retries after a 5xx answer or a network error, with backoff (default 3); a 4xx is not retried.'),
};

const notifyTarget = z
  .union([
    z.strictObject({ slack: url.describe('A Slack (or compatible) incoming-webhook URL: a secret, write it as ${VAR}.'), ...delivery }),
    z.strictObject({ webhook: url.describe('A URL that receives a JSON POST per event: a secret, write it as ${VAR}.'), headers: headers.optional().describe('Headers sent with each POST (a token: ${VAR}).'), ...delivery }),
  ], { error: 'expected { slack: URL } or { webhook: URL, headers?: {...} }' })
  .describe('Where watch events are sent: a Slack incoming webhook, or a generic JSON webhook.');

export type NotifyTargetConfig = z.output<typeof notifyTarget>;

// --- metrics ----------------------------------------------------------------------------------

const promql = z.string().min(1);

export const prometheusSchema = z
  .strictObject({
    server: url.describe('The Prometheus server\'s base URL (or ${VAR}).'),
    errorRate: promql.describe('PromQL answering the error rate as a ratio 0..1 (one series).'),
    p50: promql.optional().describe('PromQL answering the p50 latency in seconds.'),
    p95: promql.optional().describe('PromQL answering the p95 latency in seconds.'),
    p99: promql.optional().describe('PromQL answering the p99 latency in seconds.'),
    samples: promql.optional().describe('PromQL answering how many requests the values stand on (for minSamples); without it the synthetic probes\' count is used.'),
    timeout: timeout.default('10s').describe('Each query is abandoned after this long (default 10s).'),
    headers: headers.optional().describe('Headers sent with each query (a token: ${VAR}).'),
  })
  .describe('Metrics read from Prometheus; per metric, a Prometheus value wins over the synthetic one. {{env.<field>}} may be used in queries.');

export type PrometheusConfig = z.output<typeof prometheusSchema>;

// --- the section --------------------------------------------------------------------------------

export const watchSchema = z
  .strictObject({
    consecutive: z.number().int().min(1).max(1000).default(2).describe('Consecutive breaching evaluations before a trigger fires (default 2): one bad sample never rolls back.'),
    minSamples: z.number().int().min(0).default(10).describe('Samples a rate or percentile needs to count (default 10); fewer is no data.'),
    metrics: z
      .strictObject({
        window: positive.default('5m').describe('The sliding window the synthetic metrics (from the watch\'s own probes) are computed over (default 5m).'),
        prometheus: prometheusSchema.optional(),
      })
      .prefault({})
      .describe('Where the metrics come from: the watch\'s own probes, and Prometheus when configured.'),
    triggers: z
      .array(triggerSchema)
      .optional()
      .superRefine((list, ctx) => {
        const seen = new Map<string, number>();
        list?.forEach((t, i) => {
          const first = seen.get(t.id);
          if (first === undefined) seen.set(t.id, i);
          else ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate trigger id "${t.id}" (first at triggers.${first})` });
        });
      })
      .describe('The triggers (default: the seed\'s five; see defaultTriggers in the README).'),
    rollback: rollbackSchema.optional(),
    notify: z.array(notifyTarget).default([]).describe('Where watch events (triggers, rollbacks, window verdicts) are sent.'),
  })
  .prefault({})
  .describe('The watch after a deploy (`gonogo watch`): triggers, metric sources, rollback and notifications.');

export type WatchConfig = z.output<typeof watchSchema>;

// --- references and defaults -----------------------------------------------------------------------

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Item ids named by `watch.triggers[].items` and `watch.rollback.validate` exist in items: (raw data, after merging `extends`). */
export function checkWatchReferences(raw: Record<string, unknown>, sink: ReferenceSink): void {
  const ids = new Set(asArray(raw.items).map((i) => asRecord(i).id).filter((id): id is string => typeof id === 'string'));
  const watch = asRecord(raw.watch);
  const item = (id: unknown, path: (string | number)[]): void => {
    if (typeof id === 'string' && !ids.has(id)) sink.at(path, `unknown item id "${id}"`);
  };
  asArray(watch.triggers).forEach((t, ti) => asArray(asRecord(t).items).forEach((id, ii) => item(id, ['watch', 'triggers', ti, 'items', ii])));
  asArray(asRecord(watch.rollback).validate).forEach((id, i) => item(id, ['watch', 'rollback', 'validate', i]));
}

/** What defaultTriggers needs of a config. */
interface TriggerSource {
  watch: WatchConfig;
  items: readonly { id: string; tier: string; check?: unknown }[];
  stages: Readonly<Record<string, readonly { items: readonly string[] }[]>>;
}

/**
 * The seed's rollback triggers, for a config without `watch.triggers`: immediate `error-rate-critical`
 * (error_rate above 0.05) and `critical-item-failing` (any critical item with a check in the stage set
 * failing or erroring; a window running none of them is no data, `unknown`); conditional `error-rate-elevated` (above 0.02), `latency-degraded` (p95 above 1.5 x the
 * baseline) and `reported-issue` (a person reported an issue). Defaults applied.
 */
export function defaultTriggers(config: TriggerSource, stageSet: string): TriggerConfig[] {
  const inSet = new Set((config.stages[stageSet] ?? []).flatMap((s) => s.items));
  const critical = config.items.filter((i) => inSet.has(i.id) && i.tier === 'critical' && i.check !== undefined).map((i) => i.id);
  const specs: TriggerSpec[] = [
    { id: 'error-rate-critical', severity: 'immediate', title: 'Error rate above 5%', metric: 'error_rate', above: 0.05 },
    // Its items run in different windows, and every trigger is judged at every evaluation: a window
    // that runs none of them is no data for it, not a breach (an item that runs and cannot be checked
    // is `error`, which breaches).
    ...(critical.length > 0 ? [{ id: 'critical-item-failing', severity: 'immediate' as const, title: 'A critical item is failing', items: critical, noData: 'unknown' as const }] : []),
    { id: 'error-rate-elevated', severity: 'conditional', title: 'Error rate above 2%', metric: 'error_rate', above: 0.02 },
    { id: 'latency-degraded', severity: 'conditional', title: 'p95 latency more than 50% above the baseline', metric: 'p95_ms', aboveBaseline: 1.5 },
    { id: 'reported-issue', severity: 'conditional', title: 'A person reported an issue', reports: true },
  ];
  return specs.map((t) => withDefaults(t, config.watch));
}

/** A configured trigger with the section's defaults applied. */
export function withDefaults(t: TriggerSpec, watch: Pick<WatchConfig, 'consecutive' | 'minSamples'>): TriggerConfig {
  const { consecutive, minSamples, noData, ...rest } = t;
  return {
    ...rest,
    consecutive: consecutive ?? watch.consecutive,
    minSamples: minSamples ?? watch.minSamples,
    noData: noData ?? (t.items !== undefined ? 'breach' : 'unknown'),
  };
}

/** The triggers a watch of `stageSet` evaluates: `watch.triggers` when given, else the seed's defaults; defaults applied. */
export function triggersFor(config: TriggerSource, stageSet: string): TriggerConfig[] {
  return config.watch.triggers ? config.watch.triggers.map((t) => withDefaults(t, config.watch)) : defaultTriggers(config, stageSet);
}

