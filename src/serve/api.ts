// The JSON API (v1) of the dashboard. Every answer is the library's: the release's state is
// gateState's (as `gonogo status --format json` prints it), attestations go through giveSignoff /
// giveWaiver / giveRevocation and decide-rollback through decideRollback, so their authority rules
// apply unchanged; a signed-in account signs as itself (by = its name, role = its role). The pages'
// forms post to the same handlers, form-encoded, and are sent back (303) where they came from.
import { Hono } from 'hono';
import type { Context, MiddlewareHandler } from 'hono';
import { streamSSE } from 'hono/streaming';
import { triggersFor } from '../config/watch-schema.js';
import { giveRevocation, giveSignoff, giveWaiver } from '../engine/attest.js';
import type { RunRecord, SignoffTarget } from '../model.js';
import { isPartial } from '../model.js';
import { stateDocument } from '../report/json.js';
import { exportEntries } from '../store/audit.js';
import type { AuditEntry } from '../store/audit.js';
import type { WatchEvent } from '../store/types.js';
import { parseStrictDate } from '../util/date.js';
import { currentBaseline } from '../watch/baseline.js';
import { decideRollback } from '../watch/decide-rollback.js';
import { awaitingDecision, foldWatch } from '../watch/state.js';
import type { WatchState } from '../watch/state.js';
import { latestWatch } from '../watch/watch.js';
import { BadRequest } from './context.js';
import type { GateContext } from './context.js';
import { paths } from './pages.js';
import { decisionDocument, FLAGGER_HOOKS, flaggerAnswer, readFlaggerPayload } from './integrations.js';
import type { FlaggerHook } from './integrations.js';
import type { Principal, ServeEnv } from './session.js';
import { csrfMatches } from './session.js';
import { verifyToken } from '../auth/accounts.js';

/** How /events streams: how often it looks for changes, and how long one stream lasts before the client reconnects. */
export interface EventsOptions {
  pollMs: number;
  maxMs: number;
}

export const DEFAULT_EVENTS: EventsOptions = { pollMs: 1000, maxMs: 5 * 60_000 };

/** Changes one answer of /events carries at most (the client asks again, or the stream goes on). */
const EVENTS_BATCH = 200;
/** Messages one stream sends at most before it ends (the browser's EventSource reconnects). */
const EVENTS_MAX_MESSAGES = 10_000;
/** Free text a person types (a note, a mitigation) is kept to this length. */
const MAX_TEXT = 4000;

/** A request the API cannot read: 415, nothing was done. */
export class UnsupportedMedia extends Error {}

/** The fields of a POST, JSON or form-encoded, and whether it came from a form (answered with a redirect). */
interface Fields {
  form: boolean;
  values: Record<string, unknown>;
}

const FORM_TYPES = /^(?:application\/x-www-form-urlencoded|multipart\/form-data)\b/i;
const JSON_TYPE = /^application\/json\b/i;

/** Reads a POST's body once (hono keeps it for the next reader): JSON objects and HTML forms only. */
export async function readFields(c: Context): Promise<Fields> {
  const type = c.req.header('content-type') ?? '';
  if (JSON_TYPE.test(type)) {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new BadRequest('the body is not JSON');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest('the body is not a JSON object');
    return { form: false, values: body as Record<string, unknown> };
  }
  if (FORM_TYPES.test(type)) {
    const body = await c.req.parseBody();
    const values: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(body)) if (typeof v === 'string') values[k] = v;
    return { form: true, values };
  }
  throw new UnsupportedMedia(`send application/json or an HTML form, not ${type.split(';')[0] || 'no content type'}`);
}

function text(f: Fields, name: string, opts: { required: true }): string;
function text(f: Fields, name: string, opts?: { required?: boolean }): string | undefined;
function text(f: Fields, name: string, opts: { required?: boolean } = {}): string | undefined {
  const v = f.values[name];
  if (v === undefined || v === null || v === '') {
    if (opts.required) throw new BadRequest(`${name} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw new BadRequest(`${name} must be a string`);
  if (v.length > MAX_TEXT) throw new BadRequest(`${name} is longer than ${MAX_TEXT} characters`);
  return v;
}

/** A sign-off's target as a form or a CI job writes it: `decision`, `stage:ID` or `item:ID` (or the object `{ type, id }`). */
export function parseTarget(v: unknown): SignoffTarget {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const { type, id } = v as Record<string, unknown>;
    if (type === 'decision') return { type };
    if ((type === 'stage' || type === 'item') && typeof id === 'string' && id !== '') return { type, id };
  }
  if (v === 'decision') return { type: 'decision' };
  if (typeof v === 'string') {
    const m = /^(stage|item):(.+)$/.exec(v);
    if (m) return { type: m[1] === 'stage' ? 'stage' : 'item', id: m[2] };
  }
  throw new BadRequest('target: expected "decision", "stage:ID" or "item:ID"');
}

/** Where a form is sent back to: its `back` field when it is a path of this site, else `fallback`. */
function backTo(f: Fields, fallback: string): string {
  const back = f.values.back;
  return typeof back === 'string' && /^\/(?![/\\])[^\s\\]*$/.test(back) && back.length <= 2000 ? back : fallback;
}

export function principalOf(c: Context<ServeEnv>): Principal {
  const p = c.get('principal');
  if (!p) throw new Error('a route that needs a principal ran without one');
  return p;
}

/** A request from a browser's page or form (answered with pages and redirects), not from an API client. */
export function fromBrowserPage(c: Context): boolean {
  if (c.req.method === 'POST') return FORM_TYPES.test(c.req.header('content-type') ?? '');
  return !c.req.path.startsWith('/api/') && c.req.path !== '/metrics' && c.req.path !== '/badge.svg';
}

/** No data without a session or a token: 401 for an API client; a page or a form sends the browser to /login. */
export const requirePrincipal: MiddlewareHandler<ServeEnv> = async (c, next) => {
  if (!c.get('principal')) {
    if (fromBrowserPage(c)) return c.redirect(`/login?next=${encodeURIComponent(c.req.method === 'GET' ? c.req.path : '/')}`, 303);
    return c.json({ error: 'sign in, or send Authorization: Bearer <token>' }, 401, { 'WWW-Authenticate': 'Bearer realm="gonogo"' });
  }
  await next();
};

/**
 * Does the request come from one of this site's own pages, as far as the browser says? Fetch
 * metadata first (`Sec-Fetch-Site`, which browsers send whatever the referrer policy), else the
 * Origin: under `Referrer-Policy: no-referrer` a browser's form POST says `Origin: null`, which alone
 * proves nothing either way and is refused. A client that sends neither (a script, a CI job) is not
 * a browser being forged: the CSRF token or the bearer token decides.
 */
export function sameOrigin(c: Context): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined) return site === 'same-origin';
  const origin = c.req.header('origin');
  if (origin === undefined) return true;
  const host = c.req.header('host');
  if (origin === 'null' || host === undefined) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * A state-changing request of a signed-in person carries the session's CSRF token (form field
 * `csrf` or header X-CSRF-Token) and, when the browser names one, this site's Origin. A bearer
 * token's request is exempt: no browser attaches a token by itself.
 */
export const requireCsrf: MiddlewareHandler<ServeEnv> = async (c, next) => {
  const session = c.get('principal')?.session;
  if (session) {
    let given = c.req.header('x-csrf-token');
    if (given === undefined && FORM_TYPES.test(c.req.header('content-type') ?? '')) {
      const body = await c.req.parseBody();
      given = typeof body.csrf === 'string' ? body.csrf : undefined;
    }
    if (!sameOrigin(c) || !csrfMatches(session, given)) return c.json({ error: 'refused: the request did not carry this session\'s CSRF token (reload the page and try again); nothing was recorded' }, 403);
  }
  await next();
};

/** The gate in the path is this server's gate: another name is not found. */
export function sameGate(ctx: GateContext): MiddlewareHandler<ServeEnv> {
  return async (c, next) => {
    if (c.req.param('gate') !== ctx.gate) return c.json({ error: `no gate ${JSON.stringify(c.req.param('gate'))} here` }, 404);
    await next();
  };
}

/** The page a form goes back to when it names none: the checklist or the watch, with its environment and release. */
function pageOf(ctx: GateContext, f: Fields, page: 'checklist' | 'watch'): string {
  const q = new URLSearchParams();
  for (const k of ['env', 'release']) if (typeof f.values[k] === 'string' && f.values[k] !== '') q.set(k, f.values[k] as string);
  const path = page === 'watch' ? paths.watch(ctx.gate) : paths.checklist(ctx.gate);
  return q.size > 0 ? `${path}?${q}` : path;
}

/** Answers a POST: the JSON for a client, a redirect (303) for a form. */
function done(c: Context, f: Fields, json: unknown, back: string): Response {
  return f.form ? c.redirect(backTo(f, back), 303) : c.json(json, 201);
}

function limitOf(v: string | undefined, fallback: number, max: number): number {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new BadRequest(`limit: expected a whole number from 1 to ${max}`);
  return n;
}

const yes = (v: string | undefined): boolean => v === '1' || v === 'true' || v === 'yes';

/** One change of the record as /events sends it: the audit entry's kind, what it records, and the few fields its body shows. */
function change(e: AuditEntry): { seq: number; ref: string; kind: string; at: string; data: Record<string, unknown> } {
  let body: { kind?: unknown; at?: unknown; data?: unknown } = {};
  try {
    body = JSON.parse(e.body) as typeof body;
  } catch {
    // An entry that does not parse is audit verify's to name; the feed still says something changed.
  }
  const data = typeof body.data === 'object' && body.data !== null ? (body.data as Record<string, unknown>) : {};
  return { seq: e.seq, ref: e.ref, kind: typeof body.kind === 'string' ? body.kind : 'unknown', at: typeof body.at === 'string' ? body.at : '', data };
}

/** A watch by id with the rollback events of its release (they are the release's, whoever ran them), folded. */
async function watchById(ctx: GateContext, watchId: string): Promise<WatchState | undefined> {
  const own = await ctx.store.listEvents({ gate: ctx.gate, watchId });
  const begin = own.find((e) => e.kind === 'watch-begin');
  if (!begin) return undefined;
  const latest = await latestWatch(ctx.store, ctx.gate, begin.env, begin.release);
  if (latest?.watchId === watchId) return latest;
  const rollback = await ctx.store.listEvents({ gate: ctx.gate, env: begin.env, release: begin.release, kinds: ['rollback-claim', 'rollback-step', 'rollback-end', 'issue-report'] });
  const seen = new Set(own.map((e) => e.id));
  return foldWatch([...own, ...rollback.filter((e) => !seen.has(e.id))].sort((a, b) => a.seq - b.seq));
}

/** The gate's audit entries as JSON lines (an auditor's export), streamed, each line redacted here (the body middleware redacts buffered bodies only). */
export function auditExport(ctx: GateContext, since: string | undefined): Response {
  const from = since !== undefined && /^\d+$/.test(since) ? { seq: Number(since) } : {};
  const lines = exportEntries(ctx.store, ctx.gate, from);
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await lines.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(`${ctx.redactor.text(next.value)}\n`));
    },
    async cancel() {
      await lines.return(undefined);
    },
  });
  return new Response(body, { headers: { 'content-type': 'application/jsonl; charset=utf-8', 'content-disposition': `attachment; filename="${ctx.gate}-audit.jsonl"` } });
}

/** A run's progress as the run page reads it (app.js): its status and every result so far, small. */
export function runSnapshot(run: RunRecord): { status: string; results: { id: string; tier: string; status: string; message: string; attempts: { attempt: number; status: string }[]; durationMs: number }[] } {
  return {
    status: run.status,
    results: run.results.map((r) => ({ id: r.id, tier: r.tier, status: r.status, message: r.message, attempts: r.attempts.map((a) => ({ attempt: a.attempt, status: a.status })), durationMs: r.durationMs })),
  };
}

/** The API's routes, mounted at /api/v1. `closing` ends every event stream when the server stops. */
export function apiRoutes(ctx: GateContext, events: EventsOptions, closing: AbortSignal): Hono<ServeEnv> {
  const api = new Hono<ServeEnv>();
  const items = ctx.loaded.config.items;
  const iso = (): string => new Date(ctx.clock.now()).toISOString();

  const read = [requirePrincipal, sameGate(ctx)] as const;

  api.get('/session', requirePrincipal, (c) => {
    const p = principalOf(c);
    return c.json({ name: p.name, role: p.role, kind: p.kind, ...(p.session ? { csrfToken: p.session.csrf, expires: new Date(p.session.expires).toISOString() } : {}) });
  });

  api.get('/gates', requirePrincipal, (c) =>
    c.json({ gates: [{ name: ctx.gate, environments: ctx.environments, stageSets: Object.keys(ctx.loaded.config.stages), items: items.length }] }),
  );

  api.get('/gates/:gate/state', ...read, async (c) => {
    const state = await ctx.state(c.req.query('env'), c.req.query('release'));
    return c.json(stateDocument(state, items, iso()));
  });

  api.get('/gates/:gate/decision', ...read, async (c) => {
    const state = await ctx.state(c.req.query('env'), c.req.query('release'));
    return c.json(decisionDocument(state, yes(c.req.query('acceptConditions'))));
  });

  api.get('/gates/:gate/runs', ...read, async (c) => {
    const env = c.req.query('env');
    const runs = await ctx.store.listRuns({
      gate: ctx.gate,
      ...(env ? { env: ctx.envName(env) } : {}),
      ...(c.req.query('release') ? { release: c.req.query('release') } : {}),
      limit: limitOf(c.req.query('limit'), 50, 500),
    });
    return c.json({ runs: runs.map((r) => ({ ...r, partial: isPartial(r.selection) })) });
  });

  api.get('/gates/:gate/runs/:id', ...read, async (c) => {
    const run = await ctx.store.getRun(c.req.param('id'));
    if (!run || run.gate !== ctx.gate) return c.json({ error: `no run ${JSON.stringify(c.req.param('id'))} in gate ${ctx.gate}` }, 404);
    return c.json({ run: { ...run, partial: isPartial(run.selection) } });
  });

  api.get('/gates/:gate/runs/:id/progress', ...read, async (c) => {
    const run = await ctx.store.getRun(c.req.param('id'));
    if (!run || run.gate !== ctx.gate) return c.json({ error: `no run ${JSON.stringify(c.req.param('id'))} in gate ${ctx.gate}` }, 404);
    return c.json(runSnapshot(run));
  });

  // A running run's progress as server-sent events: a snapshot whenever its record changed, the last
  // one once it is no longer running; bounded in time like /events (the page polls after that).
  api.get('/gates/:gate/runs/:id/events', ...read, async (c) => {
    const id = c.req.param('id');
    const first = await ctx.store.getRun(id);
    if (!first || first.gate !== ctx.gate) return c.json({ error: `no run ${JSON.stringify(id)} in gate ${ctx.gate}` }, 404);
    return streamSSE(c, async (stream) => {
      const stop = new AbortController();
      stream.onAbort(() => stop.abort());
      const onClose = (): void => stop.abort();
      closing.addEventListener('abort', onClose, { once: true });
      try {
        const started = ctx.clock.monotonic();
        let run: RunRecord | undefined = first;
        let last = '';
        for (let sent = 0; run && sent < EVENTS_MAX_MESSAGES && !stop.signal.aborted; sent++) {
          const snap = JSON.stringify(runSnapshot(run));
          if (snap !== last) await stream.writeSSE({ data: ctx.redactor.text(snap), retry: events.pollMs * 3 });
          last = snap;
          if (run.status !== 'running' || ctx.clock.monotonic() - started >= events.maxMs) break;
          try {
            await ctx.clock.sleep(events.pollMs, stop.signal);
          } catch {
            break;
          }
          run = await ctx.store.getRun(id);
        }
      } finally {
        closing.removeEventListener('abort', onClose);
      }
    });
  });

  api.get('/gates/:gate/watches', ...read, async (c) => {
    const env = c.req.query('env') ? ctx.envName(c.req.query('env')) : undefined;
    const release = c.req.query('release') || undefined;
    const begins = await ctx.store.listEvents({ gate: ctx.gate, kinds: ['watch-begin'], ...(env ? { env } : {}), ...(release ? { release } : {}), limit: limitOf(c.req.query('limit'), 20, 200) });
    const newest = begins.at(-1);
    const latest = newest ? await latestWatch(ctx.store, ctx.gate, newest.env, newest.release) : undefined;
    return c.json({
      latest: latest ?? null,
      awaitingDecision: latest && !latest.outcome ? awaitingDecision(latest) : [],
      watches: begins.reverse().map((e) => ({ watchId: e.watchId, env: e.env, release: e.release, stageSet: e.data.stageSet ?? null, startedAt: e.at })),
    });
  });

  api.get('/gates/:gate/watches/:id', ...read, async (c) => {
    const watch = await watchById(ctx, c.req.param('id'));
    if (!watch) return c.json({ error: `no watch ${JSON.stringify(c.req.param('id'))} in gate ${ctx.gate}` }, 404);
    return c.json({ watch, awaitingDecision: watch.outcome ? [] : awaitingDecision(watch) });
  });

  api.get('/gates/:gate/watches/:id/evaluations', ...read, async (c) => {
    const watchId = c.req.param('id');
    const limit = limitOf(c.req.query('limit'), 2000, 10_000);
    const [begin] = await ctx.store.listEvents({ gate: ctx.gate, watchId, kinds: ['watch-begin'] });
    if (!begin) return c.json({ error: `no watch ${JSON.stringify(watchId)} in gate ${ctx.gate}` }, 404);
    const [evaluations, marks, baseline] = await Promise.all([
      ctx.store.listEvents({ gate: ctx.gate, watchId, kinds: ['evaluation'], limit }),
      ctx.store.listEvents({ gate: ctx.gate, watchId, kinds: ['trigger', 'window-begin', 'window-end', 'decide-rollback'] }),
      currentBaseline(ctx.store, ctx.gate, begin.env, begin.release),
    ]);
    const stageSet = typeof begin.data.stageSet === 'string' ? begin.data.stageSet : undefined;
    const pick = (e: WatchEvent, ...keys: string[]) => Object.fromEntries(keys.filter((k) => e.data[k] !== undefined).map((k) => [k, e.data[k]]));
    return c.json({
      watchId,
      env: begin.env,
      release: begin.release,
      windows: begin.data.windows ?? [],
      triggers: stageSet !== undefined && ctx.loaded.config.stages[stageSet] ? triggersFor(ctx.loaded.config, stageSet) : [],
      baseline: baseline ?? null,
      evaluations: evaluations.map((e) => ({ seq: e.seq, at: e.at, ...pick(e, 'window', 'metrics', 'items', 'verdicts') })),
      events: marks.map((e) => ({ seq: e.seq, at: e.at, kind: e.kind, ...pick(e, 'window', 'trigger', 'severity', 'value', 'threshold', 'message', 'passed', 'reasons', 'decision', 'by', 'role') })),
    });
  });

  api.get('/gates/:gate/audit', ...read, async (c) => {
    const limit = limitOf(c.req.query('limit'), 100, 1000);
    const since = c.req.query('since');
    let entries: AuditEntry[];
    if (since === undefined || since === '' || /^\d+$/.test(since)) {
      entries = await ctx.store.auditEntries(ctx.gate, Math.max(0, Number(since ?? 1) - 1), limit);
    } else {
      const at = parseStrictDate(since);
      if ('error' in at) throw new BadRequest(`since: an entry number or a date: ${at.error}`);
      entries = [];
      // exportEntries reads in batches and stops when this loop does.
      for await (const line of exportEntries(ctx.store, ctx.gate, { at: new Date(at.ms).toISOString() })) {
        const e = JSON.parse(line) as { seq: number; ref: string; entry: unknown; prev: string; hash: string };
        entries.push({ gate: ctx.gate, seq: e.seq, ref: e.ref, body: JSON.stringify(e.entry), prev: e.prev, hash: e.hash });
        if (entries.length >= limit) break;
      }
    }
    const [report, head] = await Promise.all([ctx.chainReport(), ctx.store.auditHead(ctx.gate)]);
    return c.json({
      gate: ctx.gate,
      head: head ?? null,
      chain: report,
      entries: entries.map((e) => ({ ...change(e), hash: e.hash, prev: e.prev })),
      next: entries.length === limit ? entries[entries.length - 1].seq + 1 : null,
    });
  });

  api.get('/gates/:gate/audit/export', ...read, (c) => auditExport(ctx, c.req.query('since')));

  api.get('/gates/:gate/events', ...read, async (c) => {
    const fromQuery = c.req.query('after');
    const fromHeader = c.req.header('last-event-id');
    const given = fromHeader ?? fromQuery;
    if (given !== undefined && !/^\d{1,15}$/.test(given)) throw new BadRequest('after: expected an entry number');
    const head = (await ctx.store.auditHead(ctx.gate))?.seq ?? 0;
    if (!(c.req.header('accept') ?? '').includes('text/event-stream')) {
      const after = given === undefined ? head : Number(given);
      const batch = await ctx.store.auditEntries(ctx.gate, after, EVENTS_BATCH);
      const running = (await ctx.store.listRuns({ gate: ctx.gate, limit: 20 })).filter((r) => r.status === 'running');
      return c.json({ head, changes: batch.map(change), more: batch.length === EVENTS_BATCH, running });
    }
    return streamSSE(c, async (stream) => {
      const stop = new AbortController();
      stream.onAbort(() => stop.abort());
      const onClose = (): void => stop.abort();
      closing.addEventListener('abort', onClose, { once: true });
      try {
        let after = given === undefined ? head : Number(given);
        const started = ctx.clock.monotonic();
        let sent = 0;
        await stream.writeSSE({ event: 'hello', data: JSON.stringify({ head }), retry: events.pollMs * 3 });
        while (!stop.signal.aborted && sent < EVENTS_MAX_MESSAGES && ctx.clock.monotonic() - started < events.maxMs) {
          const batch = await ctx.store.auditEntries(ctx.gate, after, EVENTS_BATCH);
          for (const e of batch) {
            await stream.writeSSE({ id: String(e.seq), event: 'change', data: ctx.redactor.text(JSON.stringify(change(e))) });
            after = e.seq;
            sent++;
          }
          if (batch.length === EVENTS_BATCH) continue;
          try {
            await ctx.clock.sleep(events.pollMs, stop.signal);
          } catch {
            break;
          }
        }
      } finally {
        closing.removeEventListener('abort', onClose);
      }
    });
  });

  // Flagger sends no headers of its own: its token comes in the webhook's metadata (`token`), or in
  // an Authorization header from anything else. Its POSTs change nothing: they ask.
  api.post('/gates/:gate/flagger/:hook', async (c) => {
    const hook = c.req.param('hook');
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      body = undefined;
    }
    const payload = readFlaggerPayload(body);
    let principal = c.get('principal');
    if (!principal && payload?.metadata.token) {
      const account = await verifyToken(ctx.store, { gate: ctx.gate, token: payload.metadata.token });
      if (account) principal = { name: account.name, role: account.role, kind: 'token' };
    }
    if (principal?.kind !== 'token') return c.json({ error: 'a Flagger webhook needs a token: metadata.token (or Authorization: Bearer)' }, 401);
    if (c.req.param('gate') !== ctx.gate) return c.json({ error: `no gate ${JSON.stringify(c.req.param('gate'))} here` }, 404);
    if (!FLAGGER_HOOKS.some((h) => h === hook)) return c.json({ error: `unknown hook ${JSON.stringify(hook)}: ${FLAGGER_HOOKS.join(', ')}` }, 404);
    if (!payload) throw new BadRequest("expected Flagger's webhook body: { name, namespace, phase, checksum, metadata }");
    const m = payload.metadata;
    const state = await ctx.state(m.env ?? c.req.query('env'), m.release ?? c.req.query('release'));
    const watch = await latestWatch(ctx.store, ctx.gate, state.env, state.release);
    const answer = flaggerAnswer(hook as FlaggerHook, state, watch, yes(m.acceptConditions ?? c.req.query('acceptConditions')));
    return c.json({ ...answer, canary: `${payload.namespace}/${payload.name}`, phase: payload.phase, checksum: payload.checksum }, answer.status);
  });

  return api;
}

/**
 * The state-changing requests: sign-off, waiver, revocation, decide-rollback. Mounted under /api/v1
 * for clients and at the site's root for the pages' forms (`/gates/{gate}/signoff`...): one handler
 * each. Field names as the forms write them (`item`, `watch`) or as the API documents them (`itemId`,
 * `watchId`).
 */
export function actionRoutes(ctx: GateContext): Hono<ServeEnv> {
  const actions = new Hono<ServeEnv>();
  const items = ctx.loaded.config.items;
  const iso = (): string => new Date(ctx.clock.now()).toISOString();
  const write = [requirePrincipal, sameGate(ctx), requireCsrf] as const;

  actions.post('/gates/:gate/signoff', ...write, async (c) => {
    const f = await readFields(c);
    const p = principalOf(c);
    const target = parseTarget(f.values.target);
    const actx = await ctx.attestContext(text(f, 'env'), text(f, 'release'));
    const { attestation, state } = await giveSignoff(actx, { target, by: p.name, role: p.role, note: text(f, 'note'), runId: text(f, 'run') });
    return done(c, f, { attestation, state: stateDocument(state, items, iso()) }, pageOf(ctx, f, 'checklist'));
  });

  actions.post('/gates/:gate/waive', ...write, async (c) => {
    const f = await readFields(c);
    const p = principalOf(c);
    const expires = parseStrictDate(text(f, 'expires', { required: true }));
    if ('error' in expires) throw new BadRequest(`expires: ${expires.error}`);
    const actx = await ctx.attestContext(text(f, 'env'), text(f, 'release'));
    const attestation = await giveWaiver(actx, {
      itemId: text(f, 'itemId') ?? text(f, 'item', { required: true }),
      by: p.name,
      role: p.role,
      mitigation: text(f, 'mitigation', { required: true }),
      owner: text(f, 'owner', { required: true }),
      expires: expires.ms,
    });
    return done(c, f, { attestation }, pageOf(ctx, f, 'checklist'));
  });

  actions.post('/gates/:gate/revoke', ...write, async (c) => {
    const f = await readFields(c);
    const p = principalOf(c);
    const actx = await ctx.attestContext(text(f, 'env'), text(f, 'release'));
    const attestation = await giveRevocation(actx, { attestationId: text(f, 'attestationId', { required: true }), by: p.name, role: p.role, reason: text(f, 'reason', { required: true }) });
    return done(c, f, { attestation }, pageOf(ctx, f, 'checklist'));
  });

  actions.post('/gates/:gate/decide-rollback', ...write, async (c) => {
    const f = await readFields(c);
    const p = principalOf(c);
    const decision = text(f, 'decision', { required: true });
    if (decision !== 'rollback' && decision !== 'continue') throw new BadRequest('decision: expected "rollback" or "continue"');
    const r = await decideRollback({ loaded: ctx.loaded, store: ctx.store, clock: ctx.clock, watchId: text(f, 'watchId') ?? text(f, 'watch', { required: true }), decision, by: p.name, role: p.role, note: text(f, 'note'), processEnv: ctx.processEnv });
    return done(c, f, { decision, triggers: r.triggers, event: { id: r.event.id, seq: r.event.seq, at: r.event.at } }, pageOf(ctx, f, 'watch'));
  });

  return actions;
}
