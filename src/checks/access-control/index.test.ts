import { test } from 'node:test';
import assert from 'node:assert/strict';
import accessControl from './index.js';
import { authSchema } from '../_shared/auth.js';
import { testContext } from '../../test-support/context.js';
import { readBody, recipesAuth, serve } from '../../test-support/server.js';
import { startApp } from '../../../examples/recipes-app/src/app.js';
import type { AppOptions } from '../../../examples/recipes-app/src/app.js';

interface Mode {
  /** How an object is refused to someone who may not read it. */
  refusal: 403 | 404 | 'spa';
  /** Defects: any logged-in user reads any object by id; listings show everyone's items; files are public. */
  idor?: boolean;
  listLeak?: boolean;
  publicFiles?: boolean;
}

interface Recipe {
  id: number;
  owner: string;
  title: string;
}

const SHELL = '<!doctype html><div id="root"></div>';

async function app(mode: Mode): Promise<{ url: string; requests: string[]; recipes: Recipe[]; close(): Promise<void> }> {
  const recipes: Recipe[] = [
    { id: 1, owner: 'alice', title: "Grandma's apple pie" },
    { id: 2, owner: 'bob', title: "Bob's chili" },
  ];
  const files = new Map([[1, { owner: 'alice', bytes: '%PDF-1.4 alice passport scan' }]]);
  const server = await serve((req, res) => {
    const path = req.url ?? '/';
    void readBody(req).then((body) => {
      const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      const refuse = () => (mode.refusal === 'spa' ? res.writeHead(200, { 'content-type': 'text/html' }).end(SHELL) : json(mode.refusal, { error: 'no' }));
      if (path === '/api/login' && req.method === 'POST') {
        const { username, password } = JSON.parse(body) as { username: string; password: string };
        if (password !== `${username}-password`) return void json(401, { error: 'bad' });
        res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': `sid=${username}; Path=/` });
        return void res.end(JSON.stringify({ user: { username }, csrfToken: `tok-${username}` }));
      }
      const user = /sid=(\w+)/.exec(req.headers.cookie ?? '')?.[1];
      if (path === '/api/recipes' && req.method === 'POST') {
        if (!user || req.headers['x-csrf-token'] !== `tok-${user}`) return void json(403, { error: 'csrf' });
        const r = { id: recipes.length + 1, owner: user, title: (JSON.parse(body) as { title: string }).title };
        recipes.push(r);
        return void json(201, { recipe: r, url: `/api/recipes/${r.id}` });
      }
      if (!user && !(mode.publicFiles && path.startsWith('/files/'))) return void json(401, { error: 'login' });
      if (path === '/api/recipes') return void json(200, recipes.filter((r) => mode.listLeak || r.owner === user));
      const recipe = /^\/api\/recipes\/(\d+)$/.exec(path);
      if (recipe) {
        const r = recipes.find((x) => x.id === Number(recipe[1]));
        if (!r) return void json(404, { error: 'not found' });
        return r.owner === user || mode.idor ? void json(200, { ...r, viewedAt: Date.now() + Math.random() }) : refuse();
      }
      const file = /^\/files\/(\d+)$/.exec(path);
      if (file) {
        const f = files.get(Number(file[1]));
        if (!f) return void json(404, { error: 'not found' });
        if (f.owner === user || mode.idor || mode.publicFiles) return void res.writeHead(200, { 'content-type': 'application/pdf' }).end(f.bytes);
        return refuse();
      }
      json(404, { error: 'not found' });
    });
  });
  return { ...server, recipes };
}

const auth = recipesAuth('alice', 'bob');

async function probe(url: string, opts: Record<string, unknown>): Promise<Record<string, unknown>> {
  return (await accessControl.run({ owner: 'alice', other: 'bob', ...opts }, testContext({ url, auth }))).observations;
}

const seeded = {
  objects: [{ path: '/api/recipes/1', marker: "Grandma's apple pie" }, { path: '/files/1' }],
  lists: [{ path: '/api/recipes' }],
};

const scenarios: { name: string; mode: Mode; opts: Record<string, unknown>; leaks: string[]; low?: number }[] = [
  { name: 'correct app refusing with 403', mode: { refusal: 403 }, opts: seeded, leaks: [] },
  { name: 'correct app hiding with 404', mode: { refusal: 404 }, opts: seeded, leaks: [] },
  { name: 'objects readable by any logged-in user (IDOR)', mode: { refusal: 403, idor: true }, opts: seeded, leaks: ['other:/api/recipes/1', 'other:/files/1'] },
  { name: "listing shows everyone's recipes", mode: { refusal: 403, listLeak: true }, opts: seeded, leaks: ['list.other:/api/recipes'] },
  { name: 'stored files readable anonymously', mode: { refusal: 403, publicFiles: true }, opts: seeded, leaks: ['other:/files/1', 'anonymous:/files/1'] },
  { name: 'a 200 SPA page for the other user is no leak, but noted', mode: { refusal: 'spa' }, opts: seeded, leaks: [], low: 2 },
  {
    name: 'without a marker, the same object by id (answers differ in a timestamp) is a leak',
    mode: { refusal: 403, idor: true },
    opts: { objects: [{ path: '/api/recipes/1' }] },
    leaks: ['other:/api/recipes/1'],
  },
];

for (const s of scenarios) {
  test(`access-control: ${s.name}`, async () => {
    const fixture = await app(s.mode);
    try {
      const obs = await probe(fixture.url, s.opts);
      assert.deepEqual(obs.leaks, s.leaks, JSON.stringify(obs.findings));
      assert.equal(obs.high, s.leaks.length);
      assert.equal(obs.low, s.low ?? 0);
      assert.equal(obs.requests, fixture.requests.length);
    } finally {
      await fixture.close();
    }
  });
}

const created = {
  objects: [{ create: { path: '/api/recipes', json: { title: 'private {{nonce}}' }, id: 'recipe.id' }, marker: 'private {{nonce}}' }],
  lists: [{ path: '/api/recipes' }],
};

test('access-control: an object the owner creates (unknown ids), correct app: quiet', async () => {
  const fixture = await app({ refusal: 403 });
  try {
    const obs = await probe(fixture.url, created);
    assert.equal(obs.high, 0, JSON.stringify(obs.findings));
    assert.match(fixture.recipes[2].title, /^private gonogo-[0-9a-f]{12}$/);
    assert.equal(fixture.recipes[2].owner, 'alice');
    assert.ok(fixture.requests.includes('GET /api/recipes/3'));
  } finally {
    await fixture.close();
  }
});

test('access-control: an object the owner creates, IDOR and list leak: caught, URL taken from the body', async () => {
  const fixture = await app({ refusal: 403, idor: true, listLeak: true });
  try {
    const opts = { ...created, objects: [{ ...created.objects[0], create: { ...created.objects[0].create, id: 'url' } }] };
    const obs = await probe(fixture.url, opts);
    assert.deepEqual(obs.leaks, ['other:/api/recipes/3', 'list.other:/api/recipes']);
  } finally {
    await fixture.close();
  }
});

test('access-control: fails closed when the owner cannot read the object or the marker is absent', async () => {
  const fixture = await app({ refusal: 403 });
  try {
    await assert.rejects(probe(fixture.url, { objects: [{ path: '/api/recipes/2' }] }), /the owner "alice" cannot read \/api\/recipes\/2 \(answered 403\)/);
    await assert.rejects(probe(fixture.url, { objects: [{ path: '/api/recipes/1', marker: 'Apple Strudel' }] }), /does not contain the marker "Apple Strudel"/);
    await assert.rejects(probe(fixture.url, { lists: [{ path: '/api/recipes', ownerMarker: 'Apple Strudel' }] }), /shows none of "Apple Strudel"/);
    await assert.rejects(probe(fixture.url, { lists: [{ path: '/api/recipes' }] }), /needs ownerMarker, or objects with a marker/);
    await assert.rejects(probe(fixture.url, { objects: [{ create: { path: '/api/nothing', json: {} } }] }), /answered 404 without "id"/);
  } finally {
    await fixture.close();
  }
});

test('access-control: a failed login fails closed', async () => {
  const fixture = await app({ refusal: 403, idor: true });
  try {
    const ctx = testContext({ url: fixture.url, auth: authSchema.parse({ login: { url: '/api/login' }, users: { alice: auth.users.alice, bob: { username: 'bob', password: 'x' } } }) });
    await assert.rejects(accessControl.run({ owner: 'alice', other: 'bob', ...seeded }, ctx), /login as "bob" failed/);
    await assert.rejects(probe(fixture.url, { ...seeded, other: 'alice' }), /both "alice"/);
  } finally {
    await fixture.close();
  }
});

test('access-control: stays within maxRequests and refuses a plan that does not fit', async () => {
  const fixture = await app({ refusal: 403, idor: true });
  try {
    // 2 logins + 2 objects x 3 + 1 list x 3 = 11
    await assert.rejects(probe(fixture.url, { ...seeded, maxRequests: 10 }), /needs up to 11 requests; maxRequests is 10/);
    assert.equal(fixture.requests.length, 0);
    const obs = await probe(fixture.url, { ...seeded, maxRequests: 11 });
    assert.equal(obs.requests, 11);
    assert.equal(fixture.requests.length, 11);
  } finally {
    await fixture.close();
  }
});

test('access-control: an object on another host is refused; nothing reaches it', async () => {
  const fixture = await app({ refusal: 403 });
  const other = await app({ refusal: 403, idor: true });
  try {
    const elsewhere = other.url.replace('127.0.0.1', 'localhost');
    await assert.rejects(probe(fixture.url, { objects: [{ path: `${elsewhere}/api/recipes/1` }] }), /not the configured target/);
    assert.equal(other.requests.length, 0);
  } finally {
    await fixture.close();
    await other.close();
  }
});

test('access-control: options schema is strict and documented', () => {
  assert.throws(() => accessControl.options.parse({}), /at least one object or list/);
  assert.throws(() => accessControl.options.parse({ objects: [{}] }), /either path or create/);
  assert.throws(() => accessControl.options.parse({ objects: [{ path: '/x', bogus: 1 }] }));
  const o = accessControl.options.parse({ lists: [{ path: '/x', ownerMarker: 'm' }] });
  // The defaults name no app's users: no owner, and the other is anonymous.
  assert.equal(o.owner, undefined);
  assert.equal(o.other, 'anonymous');
  assert.throws(() => accessControl.options.parse({ objects: [{ create: { path: '/x' } }] }), /create needs an owner/);
  for (const [k, v] of Object.entries(accessControl.options.shape)) assert.ok(v.description, `${k} has no description`);
});

// The reference app: the `idor` defect on vs off, the SPA trap, objects created on the fly.
const recipesUsers = recipesAuth('alice', 'bob', 'carol');
const seededObjects = {
  objects: [
    { path: '/api/recipes/1', marker: "Grandma's apple pie" },
    { path: '/api/documents/1', marker: 'alice-passport.pdf' },
    { path: '/files/1' },
  ],
  lists: [
    { path: '/api/recipes', ownerMarker: "Grandma's apple pie" },
    { path: '/api/documents', ownerMarker: 'alice-passport.pdf' },
  ],
};
const createdRecipe = {
  objects: [{ create: { path: '/api/recipes', json: { title: 'gonogo-private {{nonce}}' } }, marker: 'gonogo-private {{nonce}}' }],
  lists: [{ path: '/api/recipes' }],
};

const onRecipes: { name: string; app: AppOptions; opts: Record<string, unknown>; leaks: string[] }[] = [
  { name: 'right app: seeded objects', app: {}, opts: seededObjects, leaks: [] },
  { name: 'right app: SPA catch-all', app: { spa: true }, opts: seededObjects, leaks: [] },
  { name: 'right app: a recipe the owner creates', app: {}, opts: createdRecipe, leaks: [] },
  { name: 'idor: seeded objects', app: { defects: ['idor'] }, opts: seededObjects, leaks: ['other:/api/recipes/1', 'other:/api/documents/1', 'other:/files/1'] },
  { name: 'idor: a recipe the owner creates', app: { defects: ['idor'] }, opts: createdRecipe, leaks: ['other:/api/recipes/4'] },
  {
    name: 'recipes-public: anonymous reads the private recipe too (both probes see it)',
    app: { defects: ['recipes-public'] },
    opts: seededObjects,
    leaks: ['anonymous:/api/recipes/1', 'list.anonymous:/api/recipes'],
  },
  { name: 'a family member may see the shared recipe: carol is no "other"', app: {}, opts: { owner: 'carol', other: 'bob', objects: [{ path: '/api/recipes/3', marker: "Carol's lemon cake" }] }, leaks: [] },
];

for (const s of onRecipes) {
  test(`access-control on the recipes app: ${s.name}`, async () => {
    const recipes = await startApp(s.app);
    try {
      const obs = (await accessControl.run({ owner: 'alice', other: 'bob', ...s.opts }, testContext({ url: recipes.url, auth: recipesUsers }))).observations;
      assert.deepEqual(obs.leaks, s.leaks, JSON.stringify(obs.findings));
      assert.equal(obs.medium, 0);
    } finally {
      await recipes.close();
    }
  });
}

test('access-control on the recipes app: alice sees carol\'s shared recipe, so it cannot stand for a leak check', async () => {
  const recipes = await startApp({});
  try {
    const obs = (await accessControl.run({ owner: 'carol', other: 'alice', objects: [{ path: '/api/recipes/3', marker: "Carol's lemon cake" }] }, testContext({ url: recipes.url, auth: recipesUsers }))).observations;
    // Sharing within a family is by design; the probe reports what it sees, the config picks the users.
    assert.deepEqual(obs.leaks, ['other:/api/recipes/3']);
  } finally {
    await recipes.close();
  }
});
