// The routes and their handlers. Handlers return a Reply or throw an HttpError; the server
// (app.ts) owns headers, CSRF, faults, metrics and error rendering.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Defect, Faults } from './defects.js';
import { HttpError, InvalidJsonError, html, json, mediaType, readBody, text } from './http.js';
import type { Reply } from './http.js';
import type { Metrics } from './metrics.js';
import { APP_JS, adminPage, homePage, loginPage } from './pages.js';
import { classifyAddress, fetchPreview } from './ssrf.js';
import type { PreviewOptions } from './ssrf.js';
import type { LoginLimiter, Recipe, Session, Sessions, Store, StoredDocument, User } from './store.js';

export const VERSION = '1.4.2';

/** One running app's state; passed to every handler, never held in module scope. */
export interface AppState {
  has(defect: Defect): boolean;
  readonly spa: boolean;
  readonly store: Store;
  readonly sessions: Sessions;
  readonly limiter: LoginLimiter;
  readonly metrics: Metrics;
  readonly now: () => number;
  readonly startedAt: number;
  /** Aborted when the server closes, so an import in flight does not outlive it. */
  readonly lifetime: AbortSignal;
  readonly resolveHost?: PreviewOptions['resolve'];
  faults: Faults;
}

/** What a handler knows about the request. */
export interface Ctx {
  req: IncomingMessage;
  app: AppState;
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
  session: Session | undefined;
  user: User | undefined;
  /** The request came over HTTPS (directly or per X-Forwarded-Proto). */
  secure: boolean;
  clientIp: string;
}

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteDef {
  method: Method;
  /** A template: literal segments and `:name` parameters, one segment each. */
  path: string;
  /** Exempt from the CSRF token (not from the Origin check): login, which has no session yet. */
  csrfExempt?: boolean;
  /** Errors render as an HTML page rather than JSON. */
  page?: boolean;
  handler(ctx: Ctx): Reply | Promise<Reply>;
}

/** The SQL error the `stack-traces` defect shows for a non-numeric id. */
export class FakeSqlError extends Error {
  constructor(readonly sql: string, token: string) {
    super(`SQLITE_ERROR: near "${token}": syntax error`);
  }
}

const FAKE_ENV = {
  DATABASE_URL: 'postgres://recipes:s3cret@db/recipes',
  SESSION_SECRET: 'keyboard-cat-3f9a1c0d7e',
  NODE_ENV: 'production',
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
} as const;

const DOTENV = Object.entries(FAKE_ENV)
  .map(([k, v]) => `${k}=${v}\n`)
  .join('');

const GIT_CONFIG = `[core]
\trepositoryformatversion = 0
\tfilemode = true
\tbare = false
\tlogallrefupdates = true
[remote "origin"]
\turl = git@github.com:smith-family/recipes.git
\tfetch = +refs/heads/*:refs/remotes/origin/*
[branch "main"]
\tremote = origin
\tmerge = refs/heads/main
`;

const ID = /^\d{1,12}$/;
const DOCUMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._ -]{0,199}$/;
const DOCUMENT_TYPES = new Set(['application/pdf', 'image/png', 'image/jpeg', 'text/plain']);
const notFound = (): HttpError => new HttpError(404, 'not found');

function requireUser(ctx: Ctx): User {
  if (!ctx.user) throw new HttpError(401, 'authentication required');
  return ctx.user;
}

function requireAdmin(ctx: Ctx): User {
  const user = requireUser(ctx);
  if (user.role !== 'admin') throw new HttpError(403, 'forbidden');
  return user;
}

type Input = Record<string, unknown>;

/**
 * The request body as an object. The right app takes JSON only (and forms for login, whose
 * page posts one); the `csrf` defect also takes forms and text/plain, like lax servers do,
 * which is what lets a cross-site form post through.
 */
async function readInput(ctx: Ctx, allowForm = false): Promise<Input> {
  const lax = ctx.app.has('csrf');
  const type = mediaType(ctx.req);
  const accepted =
    type === 'application/json' || ((allowForm || lax) && type === 'application/x-www-form-urlencoded') || (lax && type === 'text/plain');
  if (!accepted) throw new HttpError(415, 'unsupported media type: send application/json');
  const raw = (await readBody(ctx.req)).toString('utf8');
  if (type === 'application/json' || (type === 'text/plain' && /^\s*[{[]/.test(raw))) return parseJsonObject(raw);
  return parseForm(raw);
}

function parseJsonObject(raw: string): Input {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new InvalidJsonError(err instanceof Error ? err : new Error(String(err)));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'expected a JSON object');
  return { ...value };
}

function parseForm(raw: string): Input {
  const input: Input = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    const previous = input[key];
    input[key] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
  }
  return input;
}

function stringField(input: Input, key: string, max: number): string | undefined {
  const value = input[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) throw new HttpError(400, `${key} must be a non-empty string of at most ${max} characters`);
  return value.trim();
}

function requiredString(input: Input, key: string, max: number): string {
  const value = stringField(input, key, max);
  if (value === undefined) throw new HttpError(400, `${key} is required`);
  return value;
}

// A form sends one line per ingredient, or repeats the field; JSON sends an array.
function ingredientsField(input: Input): string[] | undefined {
  const value = input.ingredients;
  if (value === undefined) return undefined;
  const list = typeof value === 'string' ? value.split('\n').map((s) => s.trim()).filter((s) => s !== '') : value;
  if (!Array.isArray(list) || list.length > 100 || !list.every((s): s is string => typeof s === 'string' && s.length <= 200)) {
    throw new HttpError(400, 'ingredients must be a list of at most 100 strings');
  }
  return list;
}

function booleanField(input: Input, key: string): boolean | undefined {
  const value = input[key];
  if (value === undefined || typeof value === 'boolean') return value;
  if (value === 'true' || value === 'on' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new HttpError(400, `${key} must be a boolean`);
}

const userView = (u: User): { id: string; username: string; role: string } => ({ id: u.id, username: u.username, role: u.role });

function recipeView(store: Store, r: Recipe): Record<string, unknown> {
  return { id: r.id, title: r.title, ingredients: r.ingredients, owner: store.users.get(r.ownerId)?.username ?? null, shared: r.shared, createdAt: r.createdAt, updatedAt: r.updatedAt };
}

function documentView(store: Store, d: StoredDocument): Record<string, unknown> {
  return { id: d.id, name: d.name, url: `/files/${d.id}`, size: d.bytes.length, contentType: d.contentType, owner: store.users.get(d.ownerId)?.username ?? null, createdAt: d.createdAt };
}

function sessionCookie(ctx: Ctx, value: string, clear = false): string {
  const parts = [`sid=${value}`, 'Path=/'];
  if (!ctx.app.has('insecure-cookie')) parts.push('HttpOnly', 'SameSite=Lax');
  if (ctx.secure) parts.push('Secure');
  if (clear) parts.push('Max-Age=0');
  return parts.join('; ');
}

/** The recipe `:id` names, if this user may change it (owner, or family when shared). */
function accessibleRecipe(ctx: Ctx): { user: User; recipe: Recipe } {
  const user = requireUser(ctx);
  const recipe = ID.test(ctx.params.id) ? ctx.app.store.recipes.get(ctx.params.id) : undefined;
  if (!recipe || !ctx.app.store.canAccessRecipe(user, recipe)) throw notFound();
  return { user, recipe };
}

/** The document `:id` names, if this user may read it (owner; anyone logged in with `idor`). */
function readableDocument(ctx: Ctx): StoredDocument {
  const user = requireUser(ctx);
  const doc = ID.test(ctx.params.id) ? ctx.app.store.documents.get(ctx.params.id) : undefined;
  if (!doc || (doc.ownerId !== user.id && !ctx.app.has('idor'))) throw notFound();
  return doc;
}

function preview(body: string): { title: string; excerpt: string } {
  const fromTag = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(body)?.[1];
  const firstLine = body.split('\n').find((line) => line.trim() !== '') ?? '';
  return { title: (fromTag ?? firstLine).replace(/\s+/g, ' ').trim().slice(0, 200), excerpt: body.slice(0, 500) };
}

function isLoopbackClient(ctx: Ctx): boolean {
  return isIP(ctx.clientIp) !== 0 && classifyAddress(ctx.clientIp) === 'loopback';
}

/** The row the integrity fault finds in an empty table. */
const PHANTOM_ROW: Recipe = { id: '0', title: '', ingredients: [], ownerId: '0', shared: false, createdAt: '', updatedAt: '' };

const core: RouteDef[] = [
  {
    method: 'GET',
    path: '/health',
    handler: ({ app }) =>
      json(200, { status: 'ok', version: VERSION, uptimeSeconds: Math.floor((app.now() - app.startedAt) / 1000), checks: { db: 'ok' } }),
  },
  {
    method: 'GET',
    path: '/health/integrity',
    handler: ({ app }) => {
      const rows = [...app.store.recipes.values()];
      // The fault: storage lost the last row the ledger recorded (or, on an empty table, holds one it never did).
      const scanned = !app.faults.integrity ? rows : rows.length > 0 ? rows.slice(0, -1) : [PHANTOM_ROW];
      const report = app.store.checkIntegrity(scanned);
      return json(report.ok ? 200 : 500, report);
    },
  },
  { method: 'GET', path: '/metrics', handler: async ({ app }) => text(200, await app.metrics.render(), app.metrics.contentType) },
  { method: 'GET', path: '/', handler: () => html(200, homePage()) },
  { method: 'GET', path: '/login', handler: () => html(200, loginPage()) },
  { method: 'GET', path: '/app.js', handler: () => text(200, APP_JS, 'text/javascript; charset=utf-8') },
  {
    method: 'GET',
    path: '/admin',
    page: true,
    handler: (ctx) => {
      requireAdmin(ctx);
      return html(200, adminPage([...ctx.app.store.users.values()].map(userView)));
    },
  },

  {
    method: 'POST',
    path: '/api/login',
    csrfExempt: true,
    handler: async (ctx) => {
      const { app } = ctx;
      if (!app.has('rate-limit')) {
        const wait = app.limiter.attempt(ctx.clientIp);
        if (wait > 0) throw new HttpError(429, 'too many login attempts', { 'Retry-After': String(wait) });
      }
      if (app.faults.authBroken) throw new HttpError(500, 'internal error');
      const input = await readInput(ctx, true);
      const { username, password } = input;
      if (typeof username !== 'string' || typeof password !== 'string') throw new HttpError(400, 'username and password are required');
      const user = app.store.verify(username, password);
      if (!user) throw new HttpError(401, 'invalid credentials');
      // A fresh session id on every login, so a planted cookie is never promoted.
      if (ctx.session) app.sessions.delete(ctx.session.id);
      const session = app.sessions.create(user.id);
      return json(200, { user: userView(user), csrfToken: session.csrfToken }, { 'Set-Cookie': sessionCookie(ctx, session.id) });
    },
  },
  {
    method: 'POST',
    path: '/api/logout',
    handler: (ctx) => {
      if (ctx.session) ctx.app.sessions.delete(ctx.session.id);
      return json(200, { ok: true }, { 'Set-Cookie': sessionCookie(ctx, '', true) });
    },
  },
  {
    method: 'GET',
    path: '/api/me',
    handler: (ctx) => json(200, { user: userView(requireUser(ctx)), csrfToken: ctx.session?.csrfToken }),
  },

  {
    method: 'GET',
    path: '/api/recipes',
    handler: (ctx) => {
      const { store } = ctx.app;
      if (!ctx.user && ctx.app.has('recipes-public')) return json(200, { recipes: [...store.recipes.values()].map((r) => recipeView(store, r)) });
      const user = requireUser(ctx);
      return json(200, { recipes: store.visibleRecipes(user).map((r) => recipeView(store, r)) });
    },
  },
  {
    method: 'POST',
    path: '/api/recipes',
    handler: async (ctx) => {
      const user = requireUser(ctx);
      const input = await readInput(ctx);
      const recipe = ctx.app.store.addRecipe(user.id, requiredString(input, 'title', 200), ingredientsField(input) ?? [], booleanField(input, 'shared') ?? false);
      return json(201, recipeView(ctx.app.store, recipe));
    },
  },
  {
    method: 'POST',
    path: '/api/recipes/import',
    handler: async (ctx) => {
      requireUser(ctx);
      const url = requiredString(await readInput(ctx), 'url', 2048);
      const outcome = await fetchPreview(url, { vulnerable: ctx.app.has('ssrf'), signal: ctx.app.lifetime, resolve: ctx.app.resolveHost });
      if (outcome.kind === 'not-allowed') throw new HttpError(400, 'URL not allowed');
      if (outcome.kind === 'failed') throw new HttpError(outcome.timedOut ? 504 : 502, `fetch failed: ${outcome.detail}`);
      return json(200, preview(outcome.body));
    },
  },
  {
    method: 'GET',
    path: '/api/recipes/:id',
    handler: (ctx) => {
      const { app, params } = ctx;
      // Looked up before the access check, like the sloppy code this defect imitates.
      if (!ID.test(params.id)) {
        if (app.has('stack-traces')) throw new FakeSqlError(`SELECT * FROM recipes WHERE id = ${params.id}`, params.id.slice(0, 100));
        throw notFound();
      }
      const recipe = app.store.recipes.get(params.id);
      if (!ctx.user && app.has('recipes-public')) {
        if (!recipe) throw notFound();
        return json(200, recipeView(app.store, recipe));
      }
      const user = requireUser(ctx);
      if (!recipe || !(app.store.canAccessRecipe(user, recipe) || app.has('idor'))) throw notFound();
      return json(200, recipeView(app.store, recipe));
    },
  },
  {
    method: 'PUT',
    path: '/api/recipes/:id',
    handler: async (ctx) => {
      const { recipe } = accessibleRecipe(ctx);
      const input = await readInput(ctx);
      const change = { title: stringField(input, 'title', 200), ingredients: ingredientsField(input), shared: booleanField(input, 'shared') };
      return json(200, recipeView(ctx.app.store, ctx.app.store.updateRecipe(recipe, change)));
    },
  },
  {
    method: 'DELETE',
    path: '/api/recipes/:id',
    handler: (ctx) => {
      const { recipe } = accessibleRecipe(ctx);
      ctx.app.store.deleteRecipe(recipe);
      return { status: 204 };
    },
  },

  {
    method: 'GET',
    path: '/api/family',
    handler: (ctx) => {
      const user = requireUser(ctx);
      return json(200, { members: ctx.app.store.familyMembers(user).map((u) => ({ id: u.id, username: u.username })) });
    },
  },
  {
    method: 'POST',
    path: '/api/family/invite',
    handler: async (ctx) => {
      const user = requireUser(ctx);
      const { store } = ctx.app;
      const invitee = store.userByName(requiredString(await readInput(ctx), 'username', 100));
      if (!invitee) throw new HttpError(404, 'user not found');
      if (invitee === user) throw new HttpError(400, 'cannot invite yourself');
      if (!store.joinFamily(user, invitee)) throw new HttpError(409, 'user already belongs to another family');
      return json(200, { members: store.familyMembers(user).map((u) => ({ id: u.id, username: u.username })) });
    },
  },

  {
    method: 'POST',
    path: '/api/documents',
    handler: async (ctx) => {
      const user = requireUser(ctx);
      const name = ctx.query.get('name') ?? '';
      if (!DOCUMENT_NAME.test(name)) throw new HttpError(400, 'name must be a file name: letters, digits, spaces, dot, dash, underscore');
      const bytes = await readBody(ctx.req);
      if (bytes.length === 0) throw new HttpError(400, 'empty document');
      const type = mediaType(ctx.req);
      const doc = ctx.app.store.addDocument(user.id, name, DOCUMENT_TYPES.has(type) ? type : 'application/octet-stream', bytes);
      return json(201, documentView(ctx.app.store, doc));
    },
  },
  {
    method: 'GET',
    path: '/api/documents',
    handler: (ctx) => {
      const user = requireUser(ctx);
      const { store } = ctx.app;
      return json(200, { documents: [...store.documents.values()].filter((d) => d.ownerId === user.id).map((d) => documentView(store, d)) });
    },
  },
  { method: 'GET', path: '/api/documents/:id', handler: (ctx) => json(200, documentView(ctx.app.store, readableDocument(ctx))) },
  {
    method: 'GET',
    path: '/files/:id',
    handler: (ctx) => {
      const doc = readableDocument(ctx);
      // Always a download: user content must never render as a page of this origin.
      return {
        status: 200,
        type: doc.contentType,
        body: doc.bytes,
        headers: { 'Content-Disposition': `attachment; filename="${doc.name.replace(/"/g, '')}"`, 'Cache-Control': 'private, no-store' },
      };
    },
  },

  {
    method: 'GET',
    path: '/api/admin/users',
    handler: (ctx) => {
      requireAdmin(ctx);
      return json(200, { users: [...ctx.app.store.users.values()].map((u) => ({ ...userView(u), family: u.familyId })) });
    },
  },
];

const debugRoutes: RouteDef[] = [
  { method: 'GET', path: '/.env', handler: () => text(200, DOTENV) },
  { method: 'GET', path: '/.git/config', handler: () => text(200, GIT_CONFIG) },
  {
    method: 'GET',
    path: '/debug/vars',
    handler: () => {
      const m = process.memoryUsage();
      // Shaped like Go's expvar; the command line is made up so no real argument leaks.
      return json(200, {
        cmdline: ['/usr/local/bin/node', '/srv/recipes/dist/server.js', '--port=3000'],
        memstats: { Alloc: m.heapUsed, TotalAlloc: m.heapTotal, Sys: m.rss, HeapAlloc: m.heapUsed, HeapSys: m.heapTotal, External: m.external, NumGC: 0 },
      });
    },
  },
  {
    method: 'GET',
    path: '/api/debug',
    handler: ({ app }) =>
      // A made-up environment: the real one may hold the host's secrets.
      json(200, { env: FAKE_ENV, node: process.version, pid: process.pid, uptimeSeconds: Math.floor((app.now() - app.startedAt) / 1000) }),
  },
];

const ssrfRoutes: RouteDef[] = [
  {
    method: 'GET',
    path: '/internal/config',
    handler: (ctx) => {
      if (!isLoopbackClient(ctx)) throw notFound();
      return json(200, { internal: true, dbPassword: 'hunter2-internal' });
    },
  },
];

/** The routes of an app with these defects; defect-only routes exist only when switched on. */
export function routeTable(app: Pick<AppState, 'has'>): RouteDef[] {
  return [...core, ...(app.has('debug') ? debugRoutes : []), ...(app.has('ssrf') ? ssrfRoutes : [])];
}
