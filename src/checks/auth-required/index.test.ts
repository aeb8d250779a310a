import { test } from 'node:test';
import assert from 'node:assert/strict';
import authRequired from './index.js';
import { authSchema } from '../_shared/auth.js';
import { testContext } from '../../test-support/context.js';
import { readBody, recipesAuth, serve } from '../../test-support/server.js';
import { startApp } from '../../../examples/recipes-app/src/app.js';
import type { AppOptions } from '../../../examples/recipes-app/src/app.js';

/** How the fixture answers someone it should refuse. */
type Refusal = '401' | 'redirect-login' | 'login-page-200' | 'error-200' | 'empty-200' | '404' | 'spa-shell' | 'redirect-home';

interface Mode {
  refusal: Refusal;
  /** Defects: recipes readable anonymously; admin routes open to any logged-in user. */
  recipesPublic?: boolean;
  adminOpen?: boolean;
  /** Anonymous /api/me answers 200 {"user":null} (no data) instead of 401. */
  meNull?: boolean;
  /** Anonymous /api/recipes answers 200 `[]`: nothing to show, but let in. */
  emptyList?: boolean;
  /** Every unknown GET answers the SPA shell. */
  spa?: boolean;
  /** Anonymous requests crash with 500. */
  crash?: boolean;
}

const SHELL = '<!doctype html><html><body><div id="root"></div><script src="/app.js"></script></body></html>';
const LOGIN = '<!doctype html><form method="post" action="/login"><input name="u"><input type="password" name="p"></form>';
const RECIPES = JSON.stringify([{ id: 1, title: "Grandma's apple pie" }]);
const ADMIN_USERS = JSON.stringify([{ id: 1, username: 'alice', email: 'alice@example.test' }]);

function app(mode: Mode): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  return serve((req, res) => {
    const path = req.url ?? '/';
    void readBody(req).then((body) => {
      if (path === '/api/login' && req.method === 'POST') {
        const { username, password } = JSON.parse(body) as { username: string; password: string };
        if (password !== `${username}-password`) return void res.writeHead(401).end();
        res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': `sid=${username}; Path=/; HttpOnly` });
        return void res.end(JSON.stringify({ user: { username }, csrfToken: 't' }));
      }
      const user = /sid=(\w+)/.exec(req.headers.cookie ?? '')?.[1];
      const refuse = (status = 401) => {
        if (mode.crash && !user) return void res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal Server Error');
        switch (mode.refusal) {
          case '401':
            return void res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":"login required"}');
          case 'redirect-login':
            return void res.writeHead(302, { location: '/login?next=' + encodeURIComponent(path) }).end();
          case 'redirect-home':
            return void res.writeHead(302, { location: '/' }).end();
          case 'login-page-200':
            return void res.writeHead(200, { 'content-type': 'text/html' }).end(LOGIN);
          case 'error-200':
            return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"error":"unauthorized","status":401}');
          case 'empty-200':
            return void res.writeHead(200).end();
          case '404':
            return void res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
          case 'spa-shell':
            return void res.writeHead(200, { 'content-type': 'text/html' }).end(SHELL);
        }
      };
      const send = (type: string, body: string) => res.writeHead(200, { 'content-type': type }).end(body);
      if (path === '/api/recipes') return user || mode.recipesPublic ? send('application/json', RECIPES) : mode.emptyList ? send('application/json', '[]') : refuse();
      if (path === '/api/me') {
        if (user) return send('application/json', JSON.stringify({ user: { username: user } }));
        return mode.meNull ? send('application/json', '{"user":null}') : refuse();
      }
      if (path === '/api/admin/users') return user === 'admin' || (user && mode.adminOpen) ? send('application/json', ADMIN_USERS) : refuse(user ? 403 : 401);
      if (path === '/admin') return user === 'admin' || (user && mode.adminOpen) ? send('text/html', '<h1>Admin</h1><table><tr><td>alice</td></tr></table>') : refuse(user ? 403 : 401);
      if (mode.spa && req.method === 'GET') return send('text/html', SHELL);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
    });
  });
}

const auth = authSchema.parse({
  login: { url: '/api/login' },
  users: {
    alice: { username: 'alice', password: 'alice-password', role: 'user' },
    admin: { username: 'admin', password: 'admin-password', role: 'admin' },
  },
});

async function probe(url: string, opts: Record<string, unknown>): Promise<Record<string, unknown>> {
  return (await authRequired.run(opts, testContext({ url, auth }))).observations;
}

const apiPaths = ['/api/recipes', '/api/me'];
const adminPaths = { paths: ['/admin', '/api/admin/users'], asUser: 'alice' };

const scenarios: { name: string; mode: Mode; opts: Record<string, unknown>; exposed: string[] }[] = [
  { name: 'correct app answering 401', mode: { refusal: '401' }, opts: { paths: apiPaths }, exposed: [] },
  { name: 'redirect to the login page', mode: { refusal: 'redirect-login' }, opts: { paths: apiPaths }, exposed: [] },
  { name: 'a 200 login page is no data', mode: { refusal: 'login-page-200' }, opts: { paths: apiPaths }, exposed: [] },
  // A 2xx is access whatever the body (issue 9, point 7): an app that "refuses" with a 200 lets the caller in.
  { name: 'a 200 error object is access', mode: { refusal: 'error-200' }, opts: { paths: apiPaths }, exposed: ['anonymous:GET /api/recipes', 'anonymous:GET /api/me'] },
  { name: '/api/me answering {"user":null} is access', mode: { refusal: '401', meNull: true }, opts: { paths: apiPaths }, exposed: ['anonymous:GET /api/me'] },
  { name: 'an empty 200 list is access', mode: { refusal: '401', emptyList: true }, opts: { paths: apiPaths }, exposed: ['anonymous:GET /api/recipes'] },
  { name: 'an empty 200 body is access', mode: { refusal: 'empty-200' }, opts: { paths: ['/api/recipes'] }, exposed: ['anonymous:GET /api/recipes'] },
  { name: 'SPA shell for anonymous equals the catch-all page', mode: { refusal: 'spa-shell', spa: true }, opts: { paths: ['/admin'] }, exposed: [] },
  { name: 'recipes readable anonymously', mode: { refusal: '401', recipesPublic: true }, opts: { paths: apiPaths }, exposed: ['anonymous:GET /api/recipes'] },
  { name: 'recipes public even behind an SPA', mode: { refusal: 'spa-shell', spa: true, recipesPublic: true }, opts: { paths: apiPaths }, exposed: ['anonymous:GET /api/recipes'] },
  { name: 'admin routes refuse anonymous and non-admin', mode: { refusal: '401' }, opts: adminPaths, exposed: [] },
  {
    name: 'admin routes open to any logged-in user',
    mode: { refusal: '401', adminOpen: true },
    opts: adminPaths,
    exposed: ['user.alice:GET /admin', 'user.alice:GET /api/admin/users'],
  },
  {
    name: 'a data marker in a refusal is a leak',
    mode: { refusal: '401' },
    opts: { paths: [{ path: '/api/recipes', dataMarkers: ['login required'] }] },
    exposed: ['anonymous:GET /api/recipes'],
  },
  { name: '404 to anonymous counts as hidden once the control user reads it', mode: { refusal: '404' }, opts: { paths: adminPaths.paths, control: 'admin' }, exposed: [] },
];

for (const s of scenarios) {
  test(`auth-required: ${s.name}`, async () => {
    const fixture = await app(s.mode);
    try {
      const obs = await probe(fixture.url, s.opts);
      assert.deepEqual(obs.exposed, s.exposed, JSON.stringify(obs.findings));
      assert.equal(obs.high, s.exposed.length);
      assert.equal(obs.requests, fixture.requests.length);
    } finally {
      await fixture.close();
    }
  });
}

test('auth-required: a redirect to somewhere other than login is a refusal, noted', async () => {
  const fixture = await app({ refusal: 'redirect-home' });
  try {
    const obs = await probe(fixture.url, { paths: ['/api/recipes'] });
    assert.equal(obs.high, 0);
    assert.equal(obs.info, 1);
    assert.match(JSON.stringify(obs.findings), /redirects to \/, not to a login page/);
  } finally {
    await fixture.close();
  }
});

test('auth-required: control is compared byte for byte, so an unknown content type that matches is exposed', async () => {
  const fixture = await app({ refusal: '401', adminOpen: true });
  try {
    const obs = await probe(fixture.url, { paths: ['/admin'], asUser: 'alice', control: 'admin' });
    assert.deepEqual(obs.exposed, ['user.alice:GET /admin']);
    assert.match(JSON.stringify(obs.findings), /exactly what admin sees/);
  } finally {
    await fixture.close();
  }
});

test('auth-required: fails closed when a path cannot be verified', async () => {
  const hidden = await app({ refusal: '404' });
  const crashing = await app({ refusal: '401', crash: true });
  try {
    await assert.rejects(probe(hidden.url, { paths: ['/api/recipes'] }), /could not verify: GET \/api\/recipes as anonymous answered 404/);
    await assert.rejects(probe(crashing.url, { paths: ['/api/recipes'] }), /answered 500: neither a refusal nor data/);
    await assert.rejects(probe(hidden.url, { paths: ['/api/typo'], control: 'admin' }), /control user "admin" could not read GET \/api\/typo \(answered 404\)/);
  } finally {
    await hidden.close();
    await crashing.close();
  }
});

test('auth-required: a failed login fails closed', async () => {
  const fixture = await app({ refusal: '401' });
  try {
    await assert.rejects(probe(fixture.url, { paths: ['/admin'], asUser: 'mallory' }), /unknown user "mallory"/);
    const ctx = testContext({ url: fixture.url, auth: authSchema.parse({ login: { url: '/api/login' }, users: { alice: { username: 'alice', password: 'x' } } }) });
    await assert.rejects(authRequired.run({ paths: ['/admin'], asUser: 'alice' }, ctx), /login as "alice" failed/);
  } finally {
    await fixture.close();
  }
});

test('auth-required: stays within maxRequests and refuses a plan that does not fit', async () => {
  const fixture = await app({ refusal: 'spa-shell', spa: true });
  try {
    // 2 logins + 2 paths x (control + anonymous + user) + 1 baseline = 9
    const opts = { paths: ['/admin', '/api/admin/users'], asUser: 'alice', control: 'admin' };
    await assert.rejects(probe(fixture.url, { ...opts, maxRequests: 8 }), /needs up to 9 requests; maxRequests is 8/);
    assert.equal(fixture.requests.length, 0);
    const obs = await probe(fixture.url, { ...opts, maxRequests: 9 });
    assert.ok(Number(obs.requests) <= 9);
    assert.equal(obs.requests, fixture.requests.length);
  } finally {
    await fixture.close();
  }
});

test('auth-required: a path on another host is refused; nothing reaches it', async () => {
  const fixture = await app({ refusal: '401' });
  const other = await app({ refusal: '401', recipesPublic: true });
  try {
    const elsewhere = other.url.replace('127.0.0.1', 'localhost');
    await assert.rejects(probe(fixture.url, { paths: [`${elsewhere}/api/recipes`] }), /not the configured target/);
    assert.equal(other.requests.length, 0);
  } finally {
    await fixture.close();
    await other.close();
  }
});

test('auth-required: options schema is strict and documented', () => {
  assert.throws(() => authRequired.options.parse({ paths: [] }));
  assert.throws(() => authRequired.options.parse({ paths: ['/x'], extra: true }));
  assert.throws(() => authRequired.options.parse({ paths: ['/x'], loginPattern: '^(?!/home)' }), /invalid regular expression: lookahead/);
  for (const [k, v] of Object.entries(authRequired.options.shape)) assert.ok(v.description, `${k} has no description`);
});

// The reference app: the `recipes-public` defect on vs off, the SPA trap, and no cross-talk from `idor`.
const recipesUsers = recipesAuth('alice', 'admin');
const userRoutes = { paths: ['/api/me', '/api/recipes', '/api/recipes/1', '/api/documents', '/api/documents/1', '/files/1'], dataMarkers: ["Grandma's apple pie", 'alice-passport.pdf'] };
const adminRoutes = { paths: ['/admin', '/api/admin/users'], asUser: 'alice', control: 'admin' };

const onRecipes: { name: string; app: AppOptions; opts: Record<string, unknown>; exposed: string[] }[] = [
  { name: 'right app: user routes', app: {}, opts: userRoutes, exposed: [] },
  { name: 'right app: admin routes, non-admin refused too', app: {}, opts: adminRoutes, exposed: [] },
  { name: 'SPA catch-all: user routes', app: { spa: true }, opts: userRoutes, exposed: [] },
  { name: 'SPA catch-all: admin routes', app: { spa: true }, opts: adminRoutes, exposed: [] },
  { name: 'idor (logged-in only) is not this probe\'s', app: { defects: ['idor'] }, opts: userRoutes, exposed: [] },
  { name: 'recipes-public', app: { defects: ['recipes-public'] }, opts: userRoutes, exposed: ['anonymous:GET /api/recipes', 'anonymous:GET /api/recipes/1'] },
];

for (const s of onRecipes) {
  test(`auth-required on the recipes app: ${s.name}`, async () => {
    const recipes = await startApp(s.app);
    try {
      const obs = (await authRequired.run(s.opts, testContext({ url: recipes.url, auth: recipesUsers }))).observations;
      assert.deepEqual(obs.exposed, s.exposed, JSON.stringify(obs.findings));
      assert.equal(obs.medium, 0);
    } finally {
      await recipes.close();
    }
  });
}
