import { test } from 'node:test';
import assert from 'node:assert/strict';
import csrf from './index.js';
import { authSchema } from '../_shared/auth.js';
import { testContext } from '../../test-support/context.js';
import { readBody, recipesAuth, serve } from '../../test-support/server.js';
import { startApp } from '../../../examples/recipes-app/src/app.js';
import type { Defect } from '../../../examples/recipes-app/src/app.js';

/** The defences a fixture app has; each scenario switches some off. */
interface Defences {
  token: boolean;
  origin: 'strict' | 'allow-null' | 'off';
  jsonOnly: boolean;
  cors?: 'reflect-credentials';
  sameSite?: 'Lax' | 'Strict';
  /** Answer a refused request with a redirect to the login page instead of 403. */
  redirectOnRefusal?: boolean;
}

interface Fixture {
  url: string;
  created: string[];
  requests: number;
  close(): Promise<void>;
}

/** A recipes-like app: JSON login, POST /api/recipes creates; defences as asked. */
async function app(d: Defences): Promise<Fixture> {
  const created: string[] = [];
  const server = await serve((req, res) => {
    void readBody(req).then((body) => {
      const self = `http://${req.headers.host ?? ''}`;
      const origin = req.headers.origin;
      const refuse = (status: number) => {
        if (d.redirectOnRefusal) res.writeHead(302, { location: '/login?error=csrf' }).end();
        else res.writeHead(status, { 'content-type': 'application/json' }).end('{"error":"refused"}');
      };
      if (req.url === '/api/login' && req.method === 'POST') {
        const { username, password } = JSON.parse(body) as { username: string; password: string };
        if (password !== `${username}-password`) return void res.writeHead(401).end();
        const attrs = d.sameSite ? `; SameSite=${d.sameSite}` : '';
        res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': `sid=sess-${username}; Path=/; HttpOnly${attrs}` });
        return void res.end(JSON.stringify({ user: { username }, csrfToken: 'tok' }));
      }
      if (req.url !== '/api/recipes') return void res.writeHead(404).end();
      if (req.method === 'OPTIONS') {
        if (d.cors === 'reflect-credentials' && origin) {
          res.writeHead(204, {
            'access-control-allow-origin': origin,
            'access-control-allow-credentials': 'true',
            'access-control-allow-methods': 'GET, POST, PUT',
            'access-control-allow-headers': 'Content-Type, X-CSRF-Token',
          });
        } else res.writeHead(204);
        return void res.end();
      }
      if (req.method !== 'POST' && req.method !== 'PUT') return void res.writeHead(405).end();
      if (!req.headers.cookie?.includes('sid=sess-')) return refuse(401);
      if (d.origin === 'strict' && origin !== undefined && origin !== self) return refuse(403);
      if (d.origin === 'allow-null' && origin !== undefined && origin !== 'null' && origin !== self) return refuse(403);
      if (d.token && req.headers['x-csrf-token'] !== 'tok') return refuse(403);
      const type = (req.headers['content-type'] ?? '').split(';')[0];
      let title: string | undefined;
      if (type === 'application/json' || (!d.jsonOnly && type === 'text/plain')) {
        try {
          title = (JSON.parse(body) as { title?: string }).title;
        } catch {
          return refuse(400);
        }
      } else if (!d.jsonOnly && type === 'application/x-www-form-urlencoded') {
        title = new URLSearchParams(body).get('title') ?? undefined;
      } else return void res.writeHead(415).end();
      if (!title) return refuse(400);
      created.push(title);
      res.writeHead(201, { 'content-type': 'application/json', ...(d.cors && origin ? { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true' } : {}) });
      res.end(JSON.stringify({ id: created.length, title }));
    });
  });
  return {
    url: server.url,
    created,
    get requests() {
      return server.hits();
    },
    close: server.close,
  };
}

const auth = recipesAuth('alice');
const secure: Defences = { token: true, origin: 'strict', jsonOnly: true };

async function probe(fixture: Fixture, opts: Record<string, unknown> & { request?: Record<string, unknown> } = {}) {
  const ctx = testContext({ url: fixture.url, auth });
  const request = { path: '/api/recipes', ...(opts.request ?? {}) };
  return (await csrf.run({ loginAs: 'alice', ...opts, request }, ctx)).observations;
}

const scenarios: { name: string; defences: Defences; opts?: Record<string, unknown>; accepted: string[]; high: number; info?: number; note?: RegExp }[] = [
  { name: 'correct app: token, origin check, JSON only', defences: secure, accepted: [], high: 0 },
  { name: 'token only, forms accepted: the token alone stops every forgery', defences: { token: true, origin: 'off', jsonOnly: false }, accepted: [], high: 0 },
  { name: 'origin check only: foreign and null origins refused', defences: { token: false, origin: 'strict', jsonOnly: false }, accepted: [], high: 0 },
  { name: 'JSON only, no token, no origin check: no form can reach it', defences: { token: false, origin: 'off', jsonOnly: true }, accepted: [], high: 0 },
  { name: 'no defence: form and text/plain forgeries go through', defences: { token: false, origin: 'off', jsonOnly: false }, accepted: ['form', 'text-plain', 'null-origin'], high: 3 },
  { name: 'origin check that lets Origin null through', defences: { token: false, origin: 'allow-null', jsonOnly: false }, accepted: ['null-origin'], high: 1 },
  { name: 'JSON only but CORS reflects the origin with credentials', defences: { token: false, origin: 'off', jsonOnly: true, cors: 'reflect-credentials' }, accepted: ['cors-json'], high: 1 },
  { name: 'CORS reflects, but the token holds: reported as info', defences: { ...secure, cors: 'reflect-credentials' }, accepted: [], high: 0, info: 1 },
  { name: 'no defence but SameSite=Lax cookies: still high', defences: { token: false, origin: 'off', jsonOnly: false, sameSite: 'Lax' }, accepted: ['form', 'text-plain', 'null-origin'], high: 3, note: /only SameSite=Lax session cookies stand in the way/ },
  { name: 'refusal by redirect to the login page is a refusal', defences: { ...secure, redirectOnRefusal: true }, accepted: [], high: 0 },
  { name: 'PUT: forms cannot send it, CORS can', defences: { token: false, origin: 'off', jsonOnly: false, cors: 'reflect-credentials' }, opts: { request: { method: 'PUT' } }, accepted: ['cors-json'], high: 1 },
];

for (const s of scenarios) {
  test(`csrf: ${s.name}`, async () => {
    const fixture = await app(s.defences);
    try {
      const obs = await probe(fixture, s.opts);
      assert.deepEqual(obs.accepted, s.accepted);
      assert.equal(obs.high, s.high, JSON.stringify(obs.findings));
      assert.equal(obs.medium, 0);
      if (s.note) assert.match(JSON.stringify(obs.findings), s.note);
      assert.equal(obs.info, s.info ?? 0);
      // Control + one object per accepted forgery; nothing else was created.
      assert.equal(fixture.created.length, 1 + s.accepted.length);
      assert.equal(obs.requests, fixture.requests);
    } finally {
      await fixture.close();
    }
  });
}

test('csrf: {{nonce}} makes each attempt distinct and verify.bodyIncludes can require it', async () => {
  const fixture = await app({ token: false, origin: 'off', jsonOnly: false });
  try {
    const obs = await probe(fixture, { request: { fields: { title: 'probe {{nonce}}' } }, verify: { bodyIncludes: '{{nonce}}' } });
    assert.deepEqual(obs.accepted, ['form', 'text-plain', 'null-origin']);
    assert.equal(new Set(fixture.created).size, 4);
    assert.ok(fixture.created.every((t) => /^probe gonogo-[0-9a-f]{12}=?$/.test(t)), fixture.created.join());
  } finally {
    await fixture.close();
  }
});

test('csrf: a control request the app refuses makes the probe an error, not a pass', async () => {
  const fixture = await app(secure);
  try {
    await assert.rejects(probe(fixture, { request: { path: '/api/nothing-here' } }), /control request refused: .* answered 404/);
  } finally {
    await fixture.close();
  }
});

test('csrf: a failed login fails closed', async () => {
  const fixture = await app(secure);
  try {
    const ctx = testContext({ url: fixture.url, auth: authSchema.parse({ login: { url: '/api/login' }, users: { alice: { username: 'alice', password: 'wrong' } } }) });
    await assert.rejects(csrf.run({ loginAs: 'alice', request: { path: '/api/recipes' } }, ctx), /login as "alice" failed/);
    await assert.rejects(csrf.run({ loginAs: 'alice', request: { path: '/api/recipes' } }, testContext({ url: fixture.url })), /no auth: section/);
    assert.equal(fixture.created.length, 0);
  } finally {
    await fixture.close();
  }
});

test('csrf: stays within maxRequests, refusing up front when the plan does not fit', async () => {
  const fixture = await app({ token: false, origin: 'off', jsonOnly: false, cors: 'reflect-credentials' });
  try {
    await assert.rejects(probe(fixture, { maxRequests: 7 }), /needs up to 8 requests; maxRequests is 7/);
    assert.equal(fixture.requests, 0);
    const obs = await probe(fixture, { maxRequests: 8 });
    assert.ok(Number(obs.requests) <= 8);
    assert.equal(obs.requests, fixture.requests);
  } finally {
    await fixture.close();
  }
});

test('csrf: a request path on another host is refused; nothing reaches that host', async () => {
  const fixture = await app(secure);
  const other = await app({ token: false, origin: 'off', jsonOnly: false });
  try {
    const elsewhere = other.url.replace('127.0.0.1', 'localhost');
    await assert.rejects(probe(fixture, { request: { path: `${elsewhere}/api/recipes` } }), /not the configured target/);
    assert.equal(other.requests, 0);
  } finally {
    await fixture.close();
    await other.close();
  }
});

test('csrf: options schema is strict and documented', () => {
  assert.throws(() => csrf.options.parse({ bogus: 1 }));
  assert.throws(() => csrf.options.parse({ vectors: ['jsonp'] }));
  assert.throws(() => csrf.options.parse({}), /request/, 'no default path: none fits every app');
  const o = csrf.options.parse({ request: { path: '/api/notes' } });
  assert.deepEqual(o.request, { method: 'POST', path: '/api/notes', fields: { title: 'gonogo-csrf-probe' } });
  for (const [k, v] of Object.entries(csrf.options.shape)) assert.ok(v.description, `${k} has no description`);
  assert.deepEqual(csrf.defaultExpect({ request: { path: '/x' } }), ['high == 0', 'medium == 0']);
});

// The reference app: the `csrf` defect on vs off, and no cross-talk from its `cors` defect.
const onRecipes: { defects: Defect[]; accepted: string[]; info: number }[] = [
  { defects: [], accepted: [], info: 0 },
  { defects: ['csrf'], accepted: ['form', 'text-plain', 'null-origin'], info: 0 },
  // The preflight lets the JSON request through, but the token still stops it.
  { defects: ['cors'], accepted: [], info: 1 },
];

for (const s of onRecipes) {
  test(`csrf on the recipes app with defects [${s.defects.join(', ')}]`, async () => {
    const recipes = await startApp({ defects: s.defects });
    try {
      const obs = (await csrf.run({ loginAs: 'alice', request: { path: '/api/recipes' } }, testContext({ url: recipes.url, auth }))).observations;
      assert.deepEqual(obs.accepted, s.accepted, JSON.stringify(obs.findings));
      assert.equal(obs.high, s.accepted.length);
      assert.equal(obs.medium, 0);
      assert.equal(obs.info, s.info);
    } finally {
      await recipes.close();
    }
  });
}

test('csrf on the recipes app: login broken fails closed', async () => {
  const recipes = await startApp({ defects: ['csrf'], faults: { authBroken: true } });
  try {
    await assert.rejects(csrf.run({ loginAs: 'alice', request: { path: '/api/recipes' } }, testContext({ url: recipes.url, auth })), /login as "alice" failed: .* answered 500/);
  } finally {
    await recipes.close();
  }
});
