// The dashboard's pages and its sign-in: each route reads the library's data and hands it to
// pages.ts, which renders it (escaping everything). Pages need a session; without one the browser
// is sent to /login. Sign-in is rate limited per client address and sets an HttpOnly, SameSite=Strict
// session cookie (Secure over HTTPS or with --secure-cookies).
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { verifyPassword } from '../auth/accounts.js';
import type { RunRecord } from '../model.js';
import { StoreCache } from '../store/cache.js';
import { currentBaseline } from '../watch/baseline.js';
import { latestWatch } from '../watch/watch.js';
import type { WatchState } from '../watch/state.js';
import { auditExport, readFields, requireCsrf, requirePrincipal, sameOrigin } from './api.js';
import type { GateContext } from './context.js';
import { auditPage, checklistPage, html, itemHistory, layout, loginPage, paths, quickReferencePage, runPage, runsPage, watchPage } from './pages.js';
import type { PageContext, WatchView } from './pages.js';
import type { LoginLimiter } from './security.js';
import { SESSION_COOKIE, SESSION_MS } from './session.js';
import type { ServeEnv, Sessions } from './session.js';

/** Runs whose results make an item's history on the checklist. */
const HISTORY_RUNS = 10;
/** Audit entries one page shows (the newest; the export has them all). */
const AUDIT_PAGE_ENTRIES = 500;
/** Evaluations a chart draws at most (the newest). */
const CHART_EVALUATIONS = 2000;

/** What the sign-in needs besides the gate. */
export interface SignInDeps {
  sessions: Sessions;
  limiter: LoginLimiter;
  /** Whether a request came over HTTPS (or cookies are Secure regardless, --secure-cookies). */
  secure: (c: Context) => boolean;
}

/** The client's address as the socket gives it (a proxy in front is one client: see README). */
export function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Does the client prefer JSON to a page (a script, a probe, a CI job)? */
export function prefersJson(c: Context): boolean {
  if (/^application\/json\b/i.test(c.req.header('content-type') ?? '')) return true;
  const accept = (c.req.header('accept') ?? '').toLowerCase();
  const json = accept.indexOf('application/json');
  const page = accept.indexOf('text/html');
  return json !== -1 && (page === -1 || json < page);
}

/** A path of this site to go to after sign-in, or undefined for anything else (an open redirect is refused). */
function nextPath(v: unknown): string | undefined {
  return typeof v === 'string' && /^\/(?![/\\])[^\s\\]*$/.test(v) && v.length <= 2000 ? v : undefined;
}

/** A page with a message: refusals and errors shown to a person, never a stack trace. */
export function messagePage(gate: string, title: string, message: string, user?: { name: string; role: string }): string {
  return layout({ gate, ...(user ? { user } : {}) }, title, html`<p class="error" role="alert">${message}</p><p><a href="${user ? paths.quickReference(gate) : paths.login}">Back</a></p>`);
}

export function webRoutes(ctx: GateContext, signIn: SignInDeps): Hono<ServeEnv> {
  const web = new Hono<ServeEnv>();
  const { gate, loaded, store } = ctx;
  const config = loaded.config;
  const home = paths.quickReference(gate);

  /** Who is looking and what they look at: the gate, the environment and release the request named. */
  const pageContext = (c: Context<ServeEnv>, env: string | undefined): PageContext => {
    const p = c.get('principal');
    const release = c.req.query('release');
    return { gate, ...(p ? { user: { name: p.name, role: p.role } } : {}), ...(p?.session ? { csrf: p.session.csrf } : {}), ...(env !== undefined ? { env } : {}), ...(release ? { release } : {}) };
  };
  const page = (c: Context, body: string, status: 200 | 401 | 403 | 404 | 429 = 200) => c.html(body, status);
  const gateOf = async (c: Context<ServeEnv>, next: () => Promise<void>) => {
    if (c.req.param('gate') !== gate) return page(c, messagePage(gate, 'Not found', `No gate ${JSON.stringify(c.req.param('gate'))} here.`, c.get('principal')), 404);
    await next();
  };
  const guard = [requirePrincipal, gateOf] as const;

  web.get('/', (c) => c.redirect(c.get('principal') ? home : paths.login, 303));

  web.get('/login', (c) => {
    if (c.get('principal')?.session) return c.redirect(nextPath(c.req.query('next')) ?? home, 303);
    return page(c, loginPage({ gate }, undefined, nextPath(c.req.query('next'))));
  });

  web.post('/login', async (c) => {
    const client = clientAddress(c);
    const wait = signIn.limiter.retryAfter(client);
    const json = prefersJson(c);
    const next = nextPath(c.req.query('next'));
    if (wait !== undefined) {
      const message = `Too many failed sign-ins from this address: try again in ${wait} s.`;
      c.header('Retry-After', String(wait));
      return json ? c.json({ error: message }, 429) : page(c, loginPage({ gate }, message, next), 429);
    }
    // A sign-in from another site's page (login CSRF) is refused: a browser names the page's origin.
    if (!sameOrigin(c)) return c.json({ error: 'refused: a sign-in from another origin' }, 403);
    const f = await readFields(c);
    const name = typeof f.values.name === 'string' ? f.values.name : typeof f.values.username === 'string' ? f.values.username : '';
    const password = typeof f.values.password === 'string' ? f.values.password : '';
    const then = nextPath(f.values.next) ?? next;
    const account = name !== '' && password !== '' ? await verifyPassword(store, { gate, name, password }) : undefined;
    if (!account) {
      signIn.limiter.failed(client);
      const message = 'Wrong name or password (or the account is disabled).';
      return json ? c.json({ error: message }, 401) : page(c, loginPage({ gate }, message, then), 401);
    }
    const { value, session } = signIn.sessions.issue(account);
    setCookie(c, SESSION_COOKIE, value, { httpOnly: true, sameSite: 'Strict', secure: signIn.secure(c), path: '/', maxAge: Math.floor(SESSION_MS / 1000) });
    if (json) return c.json({ name: account.name, role: account.role, csrfToken: session.csrf, expires: new Date(session.expires).toISOString() });
    return c.redirect(then ?? home, 303);
  });

  web.post('/logout', requirePrincipal, requireCsrf, (c) => {
    const session = c.get('principal')?.session;
    if (session) signIn.sessions.signOut(session);
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure: signIn.secure(c), httpOnly: true, sameSite: 'Strict' });
    return prefersJson(c) ? c.json({ signedOut: true }) : c.redirect(paths.login, 303);
  });

  /** The watch a page shows for a release: the newest of it in the environment, else the newest of it anywhere. */
  const watchOf = async (env: string, release: string): Promise<WatchState | undefined> => {
    const here = await latestWatch(store, gate, env, release);
    if (here) return here;
    const begins = await store.listEvents({ gate, release, kinds: ['watch-begin'] });
    const newest = begins.at(-1);
    return newest ? latestWatch(store, gate, newest.env, release) : undefined;
  };
  const watchView = async (watch: WatchState): Promise<WatchView> => {
    const [evaluations, baseline] = await Promise.all([
      store.listEvents({ gate, watchId: watch.watchId, kinds: ['evaluation'], limit: CHART_EVALUATIONS }),
      currentBaseline(store, gate, watch.env, watch.release),
    ]);
    return { state: watch, evaluations, ...(baseline ? { baseline } : {}) };
  };

  // The quick reference's watch, kept while the store does not change (a fold of its events: no clock).
  const quickWatches = new StoreCache<WatchView | undefined>();
  web.get('/gates/:gate', ...guard, async (c) => {
    const state = await ctx.state(c.req.query('env'), c.req.query('release'));
    const view = await quickWatches.get(store, JSON.stringify([state.env, state.release]), async () => {
      const watch = await watchOf(state.env, state.release);
      return watch ? watchView(watch) : undefined;
    });
    return page(c, quickReferencePage(pageContext(c, state.env), state, config, view));
  });

  web.get('/gates/:gate/checklist', ...guard, async (c) => {
    const state = await ctx.state(c.req.query('env'), c.req.query('release'));
    const recent = await store.listRuns({ gate, env: state.env, limit: HISTORY_RUNS });
    const runs = (await Promise.all(recent.map((r) => store.getRun(r.id)))).filter((r): r is RunRecord => r !== undefined);
    return page(c, checklistPage(pageContext(c, state.env), state, config, itemHistory(runs)));
  });

  web.get('/gates/:gate/runs', ...guard, async (c) => {
    const env = c.req.query('env') ? ctx.envName(c.req.query('env')) : undefined;
    const runs = await store.listRuns({ gate, ...(env ? { env } : {}), limit: 100 });
    return page(c, runsPage(pageContext(c, env), runs));
  });

  web.get('/gates/:gate/runs/:id', ...guard, async (c) => {
    const run = await store.getRun(c.req.param('id'));
    if (!run || run.gate !== gate) return page(c, messagePage(gate, 'Not found', `No run ${JSON.stringify(c.req.param('id'))} in gate ${gate}.`, c.get('principal')), 404);
    const api = `/api/v1/gates/${encodeURIComponent(gate)}/runs/${encodeURIComponent(run.id)}`;
    // How many results the run will have: its selection of the checklist (a validate run: its stage set's items).
    const set = run.command.startsWith('validate:') ? config.stages[run.command.slice('validate:'.length)] : undefined;
    const inSet = set ? new Set(set.flatMap((s) => s.items)) : undefined;
    const expected = config.items.filter((i) => (!run.selection.only || run.selection.only.includes(i.id)) && (!run.selection.tiers || run.selection.tiers.includes(i.tier)) && (!inSet || inSet.has(i.id))).length;
    return page(c, runPage(pageContext(c, undefined), run, { eventsUrl: `${api}/events`, pollUrl: `${api}/progress`, expected }, config.items));
  });

  web.get('/gates/:gate/watch', ...guard, async (c) => {
    const id = c.req.query('watch');
    let watch: WatchState | undefined;
    if (id) {
      const [begin] = await store.listEvents({ gate, watchId: id, kinds: ['watch-begin'] });
      watch = begin ? await latestWatch(store, gate, begin.env, begin.release) : undefined;
      if (watch?.watchId !== id) watch = undefined;
    } else {
      const env = c.req.query('env') ? ctx.envName(c.req.query('env')) : undefined;
      const release = c.req.query('release') || undefined;
      const begins = await store.listEvents({ gate, kinds: ['watch-begin'], ...(env ? { env } : {}), ...(release ? { release } : {}), limit: 1 });
      const newest = begins.at(-1);
      watch = newest ? await latestWatch(store, gate, newest.env, newest.release) : undefined;
    }
    const view = watch ? await watchView(watch) : undefined;
    return page(c, watchPage(pageContext(c, watch?.env), watch, view?.evaluations ?? [], { config, ...(view?.baseline ? { baseline: view.baseline } : {}) }));
  });

  web.get('/gates/:gate/audit', ...guard, async (c) => {
    const head = await store.auditHead(gate);
    const total = head?.seq ?? 0;
    const [entries, chain] = await Promise.all([store.auditEntries(gate, Math.max(0, total - AUDIT_PAGE_ENTRIES), AUDIT_PAGE_ENTRIES), ctx.chainReport()]);
    const kind = c.req.query('kind') || undefined;
    const by = c.req.query('by') || undefined;
    return page(c, auditPage(pageContext(c, c.req.query('env') || undefined), entries.reverse(), chain, { ...(kind ? { kind } : {}), ...(by ? { by } : {}), total }));
  });

  web.get('/gates/:gate/audit/export', ...guard, (c) => auditExport(ctx, c.req.query('since')));

  return web;
}
