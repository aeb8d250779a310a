// Notifications of a watch's events to Slack-compatible incoming webhooks and generic JSON webhooks.
// The watch must never wait for a receiver: `notify` queues and returns at once; each target has its
// own bounded queue and one delivery loop, so a slow or failing receiver delays only itself, and a
// full queue drops its oldest message (counted, with a warning) rather than grow. Every attempt is
// bounded in time on the injected clock, goes only to the configured URL (no redirect is followed)
// and carries nothing a redactor knows as a secret.
import type { Dispatcher } from 'undici';
import type { NotifyTargetConfig } from '../config/watch-schema.js';
import type { Clock } from '../util/clock.js';
import { parseDuration } from '../util/duration.js';
import { httpRequest } from '../util/http.js';
import type { Redactor } from '../util/redact.js';
import { expandString } from '../util/template.js';

/** One event of a watch, as it is sent. */
export interface WatchNotification {
  /** What happened: `trigger`, `rollback-end`, `window-end`, `watch-end`... (a WatchEventKind, or the engine's own). */
  event: string;
  gate: string;
  env: string;
  release: string;
  /** Milliseconds since the epoch. */
  at: number;
  /** One line a person reads first, e.g. "immediate trigger error-rate-critical fired: error_rate 9% > 5%". */
  summary: string;
  /** critical (a rollback, a failed window), warning (a conditional trigger: a person must decide), info. */
  severity?: 'info' | 'warning' | 'critical';
  /** More fields for the generic webhook (plain data); the fields above cannot be overridden. */
  details?: Record<string, unknown>;
}

/** A receiver, resolved: its URL and headers expanded. */
export interface NotifyTarget {
  kind: 'slack' | 'webhook';
  url: string;
  headers?: Record<string, string>;
  /** Each attempt is abandoned after this long (default: the notifier's `timeout`). */
  timeoutMs?: number;
  /** Retries after a 5xx, a 429 or a network error (default: the notifier's `retries`). */
  retries?: number;
}

/** What became of one message at one target. */
export interface NotifyOutcome {
  /** The target as it may be shown: its kind, position and host, never its URL (a secret). */
  target: string;
  event: string;
  status: 'delivered' | 'failed' | 'dropped';
  attempts: number;
  /** Why, in words (redacted). */
  message: string;
}

export interface NotifierOptions {
  targets: readonly NotifyTarget[];
  /** Per attempt, in milliseconds, for targets without their own (default 5000). */
  timeout?: number;
  /** For targets without their own (default 3). */
  retries?: number;
  clock: Clock;
  dispatcher?: Dispatcher;
  /** Applied to every payload, warning and outcome. */
  redactor: Redactor;
  /** Messages waiting per target before the oldest is dropped (default 100). */
  maxQueue?: number;
  /** The first wait before a retry, doubled each time up to a minute (default 1000 ms). */
  backoffMs?: number;
  /** Each message's fate at each target (the engine records them). */
  onOutcome?: (outcome: NotifyOutcome) => void;
  /** A message dropped from a full queue, or given up on (redacted). */
  onWarning?: (warning: string) => void;
}

export interface Notifier {
  /** Queues a message for every target and returns at once. */
  notify(message: WatchNotification): void;
  /**
   * Waits up to `deadlineMs` (on the clock) for every queue to drain; then abandons what is left
   * (in flight or queued) and resolves with how many deliveries were abandoned.
   */
  flush(deadlineMs: number): Promise<{ undelivered: number }>;
  /** Counts so far, over every target. */
  readonly stats: { delivered: number; failed: number; dropped: number; queued: number };
}

const MAX_BACKOFF_MS = 60_000;
/** A receiver's answer is read up to this much (a few words of error), never more. */
const MAX_ANSWER_BYTES = 16 * 1024;

/** Slack's mrkdwn control characters, escaped as its docs ask. */
function mrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const ICON: Record<NonNullable<WatchNotification['severity']>, string> = { critical: ':rotating_light:', warning: ':warning:', info: ':information_source:' };

/** A Slack incoming-webhook body: `text` (the fallback line) and blocks with a short mrkdwn summary. */
export function slackPayload(m: WatchNotification): { text: string; blocks: unknown[] } {
  const at = new Date(m.at).toISOString();
  const head = `${m.severity ? `${ICON[m.severity]} ` : ''}*gonogo ${mrkdwn(m.gate)}* · ${mrkdwn(m.env)} · release \`${mrkdwn(m.release)}\``;
  return {
    text: `gonogo ${m.gate} ${m.env} ${m.release}: ${m.summary}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `${head}\n${mrkdwn(m.summary)}` } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `${mrkdwn(m.event)} at ${at}` }] },
    ],
  };
}

/** A generic webhook body: `{ event, gate, env, release, at, summary, severity?, ...details }`. */
export function webhookPayload(m: WatchNotification): Record<string, unknown> {
  const fixed = { event: m.event, gate: m.gate, env: m.env, release: m.release, at: new Date(m.at).toISOString(), summary: m.summary, ...(m.severity ? { severity: m.severity } : {}) };
  const extra = Object.fromEntries(Object.entries(m.details ?? {}).filter(([k]) => !Object.hasOwn(fixed, k)));
  return { ...fixed, ...extra };
}

/**
 * The configured targets with `${VAR}` expanded in their URLs and headers, and the values that came
 * from variables (secrets: add them to the redactor). Throws TemplateError for an unset variable.
 */
export function resolveTargets(targets: readonly NotifyTargetConfig[], processEnv: Readonly<Record<string, string | undefined>>): { targets: NotifyTarget[]; secrets: string[] } {
  const secrets: string[] = [];
  const expand = (s: string): string => expandString(s, { vars: {} }, processEnv, secrets);
  const resolved = targets.map((t): NotifyTarget => {
    const common = { timeoutMs: parseDuration(t.timeout), retries: t.retries };
    if ('slack' in t) return { kind: 'slack', url: expand(t.slack), ...common };
    const headers = t.headers ? Object.fromEntries(Object.entries(t.headers).map(([k, v]) => [k, expand(v)])) : undefined;
    return { kind: 'webhook', url: expand(t.webhook), ...(headers ? { headers } : {}), ...common };
  });
  return { targets: resolved, secrets };
}

/** How an attempt ended: delivered, worth another try, or not. */
type Attempt = { ok: true; message: string } | { ok: false; retry: boolean; message: string };

interface Queue {
  target: NotifyTarget;
  label: string;
  items: WatchNotification[];
  running?: Promise<void>;
  /** The message being delivered now, if any. */
  current?: WatchNotification;
}

export function createNotifier(opts: NotifierOptions): Notifier {
  const maxQueue = opts.maxQueue ?? 100;
  const backoffMs = opts.backoffMs ?? 1000;
  const stats = { delivered: 0, failed: 0, dropped: 0, queued: 0 };
  // Aborted by flush at its deadline: every attempt and every backoff ends at once.
  const shutdown = new AbortController();
  const queues: Queue[] = opts.targets.map((target, i) => ({ target, label: `notify.${i} (${target.kind} ${hostOf(target.url)})`, items: [] }));

  const warn = (text: string): void => opts.onWarning?.(opts.redactor.text(text));
  const outcome = (q: Queue, m: WatchNotification, status: NotifyOutcome['status'], attempts: number, message: string): void => {
    if (status === 'delivered') stats.delivered += 1;
    else if (status === 'failed') stats.failed += 1;
    else stats.dropped += 1;
    if (status !== 'delivered') warn(`notification ${m.event} to ${q.label} ${status}: ${message}`);
    opts.onOutcome?.({ target: q.label, event: m.event, status, attempts, message: opts.redactor.text(message) });
  };

  async function attempt(t: NotifyTarget, body: string): Promise<Attempt> {
    const timeoutMs = t.timeoutMs ?? opts.timeout ?? 5000;
    const timedOut = new AbortController();
    const stopTimer = new AbortController();
    opts.clock.sleep(timeoutMs, stopTimer.signal).then(
      () => timedOut.abort(new Error(`no answer within ${timeoutMs} ms`)),
      () => undefined,
    );
    try {
      const res = await httpRequest({
        url: t.url,
        method: 'POST',
        headers: { ...t.headers, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.any([timedOut.signal, shutdown.signal]),
        // Only ever the configured URL: a redirect is an answer (a failure), never followed.
        redirects: { policy: 'none', max: 0 },
        allowedOrigins: new Set([new URL(t.url).origin]),
        maxBodyBytes: MAX_ANSWER_BYTES,
        truncateBody: true,
        ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
      });
      const said = res.body.trim() === '' ? '' : `: ${res.body.trim().slice(0, 200)}`;
      if (res.status >= 200 && res.status < 300) return { ok: true, message: `answered ${res.status}` };
      if (res.status >= 300 && res.status < 400) return { ok: false, retry: false, message: `answered ${res.status} (a redirect, not followed)` };
      // 429: the receiver asks for a later try; other 4xx will not change by trying again.
      if (res.status >= 400 && res.status < 500 && res.status !== 429) return { ok: false, retry: false, message: `answered ${res.status}${said}` };
      return { ok: false, retry: true, message: `answered ${res.status}${said}` };
    } catch (err) {
      return { ok: false, retry: true, message: err instanceof Error ? err.message : String(err) };
    } finally {
      stopTimer.abort();
    }
  }

  async function deliver(q: Queue, m: WatchNotification): Promise<void> {
    const payload = q.target.kind === 'slack' ? slackPayload(m) : webhookPayload(m);
    const body = JSON.stringify(opts.redactor.value(payload));
    const retries = q.target.retries ?? opts.retries ?? 3;
    let last = '';
    for (let n = 1; n <= retries + 1; n++) {
      if (shutdown.signal.aborted) return outcome(q, m, 'dropped', n - 1, 'abandoned at shutdown');
      const r = await attempt(q.target, body);
      if (r.ok) return outcome(q, m, 'delivered', n, r.message);
      last = r.message;
      if (!r.retry) return outcome(q, m, 'failed', n, `${r.message}; not retried`);
      if (n <= retries) {
        try {
          await opts.clock.sleep(Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** (n - 1)), shutdown.signal);
        } catch {
          return outcome(q, m, 'dropped', n, `abandoned at shutdown after: ${last}`);
        }
      }
    }
    outcome(q, m, 'failed', retries + 1, `gave up after ${retries + 1} attempt${retries === 0 ? '' : 's'}: ${last}`);
  }

  async function drain(q: Queue): Promise<void> {
    for (let m = q.items.shift(); m !== undefined; m = q.items.shift()) {
      stats.queued -= 1;
      q.current = m;
      try {
        await deliver(q, m);
      } catch (err) {
        // deliver() turns every failure into an outcome; this only guards the loop itself.
        outcome(q, m, 'failed', 0, `internal: ${err instanceof Error ? err.message : String(err)}`);
      }
      q.current = undefined;
    }
    q.running = undefined;
  }

  return {
    notify(message) {
      for (const q of queues) {
        if (shutdown.signal.aborted) {
          outcome(q, message, 'dropped', 0, 'the notifier was shut down');
          continue;
        }
        if (q.items.length >= maxQueue) {
          const oldest = q.items.shift();
          stats.queued -= 1;
          if (oldest) outcome(q, oldest, 'dropped', 0, `queue full (${maxQueue} waiting): the oldest message was dropped`);
        }
        q.items.push(message);
        stats.queued += 1;
        q.running ??= drain(q);
      }
    },
    async flush(deadlineMs) {
      const idle = Promise.all(queues.map((q) => q.running));
      const stop = new AbortController();
      const inTime = await Promise.race([idle.then(() => true), opts.clock.sleep(deadlineMs, stop.signal).then(() => false, () => false)]);
      stop.abort();
      if (inTime) return { undelivered: 0 };
      let undelivered = 0;
      for (const q of queues) {
        for (const m of q.items.splice(0)) {
          stats.queued -= 1;
          undelivered += 1;
          outcome(q, m, 'dropped', 0, 'abandoned at shutdown');
        }
        if (q.current) undelivered += 1;
      }
      shutdown.abort(new Error('the watch is shutting down'));
      await idle;
      return { undelivered };
    },
    get stats() {
      return { ...stats };
    },
  };
}

function hostOf(url: string): string {
  return URL.canParse(url) ? new URL(url).host : 'an invalid URL';
}
