import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from './index.js';
import type { Finding } from '../_shared/probe.js';
import { testContext } from '../../test-support/context.js';
import { recipesAuth, serve } from '../../test-support/server.js';
import type { AuthConfig } from '../_shared/auth.js';
import { startApp } from '../../../examples/recipes-app/src/app.js';
import { wildcardAdminApp } from '../../test-support/fixtures/apps.js';

/** An API whose CORS policy is `policy(origin)`; /api/me needs the `sid` cookie. */
function api(policy: (origin: string, req: IncomingMessage) => Record<string, string>) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const origin = req.headers.origin;
    const h = typeof origin === 'string' ? policy(origin, req) : {};
    if (req.method === 'OPTIONS') return res.writeHead(204, h).end();
    if (req.method === 'POST' && req.url === '/api/login') {
      return res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'sid=s1; HttpOnly; SameSite=Lax' }).end('{}');
    }
    if (req.url !== '/api/me') return res.writeHead(404, h).end();
    if (!req.headers.cookie?.includes('sid=s1')) return res.writeHead(401, { ...h, 'content-type': 'application/json' }).end('{"error":"login"}');
    res.writeHead(200, { ...h, 'content-type': 'application/json' }).end('{"user":"alice"}');
  };
}

const reflectAll = (origin: string, req: IncomingMessage): Record<string, string> => ({
  'access-control-allow-origin': origin,
  'access-control-allow-credentials': 'true',
  vary: 'Origin',
  ...(req.method === 'OPTIONS'
    ? { 'access-control-allow-methods': String(req.headers['access-control-request-method']), 'access-control-allow-headers': String(req.headers['access-control-request-headers'] ?? '*') }
    : {}),
});

const ids = (findings: Finding[], ...severities: Finding['severity'][]) =>
  findings.filter((f) => severities.length === 0 || severities.includes(f.severity)).map((f) => f.id).sort();

async function probe(url: string, opts: Record<string, unknown> = {}, auth?: AuthConfig) {
  const out = await cors.run({ path: '/api/me', ...opts }, testContext({ url, auth }));
  return { out, findings: out.observations.findings as Finding[] };
}

describe('cors probe', () => {
  test('the "cors" defect: foreign and null origins reflected with credentials, permissive preflight', async (t) => {
    const s = await serve(api(reflectAll));
    t.after(s.close);
    const { out, findings } = await probe(s.url);
    const high = findings.filter((f) => f.severity === 'high');
    // three origins (foreign, null, prefix variant) x (GET, preflight)
    assert.equal(high.length, 6);
    assert.deepEqual(new Set(high.map((f) => (f.observed as { origin: string }).origin)), new Set(['https://gonogo-probe.invalid', 'null', 'http://127.0.0.1.gonogo-probe.invalid']));
    const nullGet = high.find((f) => f.id === 'cors.get.credentials' && (f.observed as { origin: string }).origin === 'null');
    assert.equal((nullGet?.observed as Record<string, unknown>)['access-control-allow-origin'], 'null');
    assert.equal(out.observations.requests, 6);
  });

  test('no CORS headers at all is quiet', async (t) => {
    const s = await serve(api(() => ({})));
    t.after(s.close);
    const { out, findings } = await probe(s.url);
    assert.deepEqual(findings, []);
    assert.equal(out.observations.high, 0);
  });

  test('an allow-list of the app\'s own origin is quiet', async (t) => {
    let own = '';
    const s = await serve(api((origin): Record<string, string> => (origin === own ? { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' } : {})));
    own = s.url;
    t.after(s.close);
    assert.deepEqual((await probe(s.url)).findings, []);
  });

  test('a "starts with our origin" check is caught by the prefix variant only', async (t) => {
    let own = '';
    const s = await serve(api((origin, req) => (origin.startsWith('http://127.0.0.1') ? reflectAll(origin, req) : {})));
    own = s.url;
    t.after(s.close);
    assert.ok(own);
    const { findings } = await probe(s.url);
    assert.deepEqual(ids(findings, 'high'), ['cors.get.credentials', 'cors.preflight.credentials']);
    assert.ok(findings.every((f) => (f.observed as { origin: string }).origin === 'http://127.0.0.1.gonogo-probe.invalid'));
    const without = await probe(s.url, { originVariants: false });
    assert.deepEqual(without.findings, []);
  });

  test('* on an authenticated API is low, not high', async (t) => {
    const s = await serve(api(() => ({ 'access-control-allow-origin': '*' })));
    t.after(s.close);
    const { findings } = await probe(s.url, { originVariants: false });
    assert.deepEqual(ids(findings, 'high', 'medium'), []);
    assert.deepEqual(ids(findings, 'low'), ['cors.get.wildcard', 'cors.get.wildcard']);
  });

  test('* on a public path is info only', async (t) => {
    const s = await serve((req, res) => res.writeHead(200, { 'access-control-allow-origin': '*' }).end('{}'));
    t.after(s.close);
    const { findings } = await probe(s.url, { path: '/public', originVariants: false });
    assert.deepEqual(ids(findings, 'high', 'medium', 'low'), []);
    assert.ok(ids(findings, 'info').includes('cors.get.wildcard'));
  });

  test('reflection without credentials is low', async (t) => {
    const s = await serve(api((origin) => ({ 'access-control-allow-origin': origin, vary: 'Origin' })));
    t.after(s.close);
    const { findings } = await probe(s.url, { origins: ['https://gonogo-probe.invalid'], originVariants: false });
    assert.deepEqual(ids(findings), ['cors.get.reflected', 'cors.preflight.reflected']);
    assert.deepEqual(ids(findings, 'low'), ['cors.get.reflected', 'cors.preflight.reflected']);
  });

  test('a preflight that reflects with credentials but refuses the method is not the high finding', async (t) => {
    const s = await serve(api((origin, req) => ({ ...reflectAll(origin, req), ...(req.method === 'OPTIONS' ? { 'access-control-allow-methods': 'GET' } : {}) })));
    t.after(s.close);
    const { findings } = await probe(s.url, { origins: ['null'], originVariants: false });
    assert.deepEqual(ids(findings, 'high'), ['cors.get.credentials']);
    assert.deepEqual(ids(findings, 'low'), ['cors.preflight.reflected']);
  });

  test('loginAs sends the session cookie on the GET', async (t) => {
    let authed = 0;
    const s = await serve((req, res) => {
      if (req.url === '/api/me' && req.method === 'GET' && req.headers.cookie?.includes('sid=s1')) authed += 1;
      api(reflectAll)(req, res);
    });
    t.after(s.close);
    const auth: AuthConfig = { login: { url: '/api/login', method: 'POST', headers: {}, csrfHeader: 'X-CSRF-Token' }, users: { alice: { username: 'alice', password: 'pw' } } };
    const { out } = await probe(s.url, { loginAs: 'alice', origins: ['null'], originVariants: false }, auth);
    assert.equal(authed, 1);
    assert.equal(out.observations.requests, 3);
    const responses = out.observations.responses as { get: { status: number } }[];
    assert.equal(responses[0].get.status, 200);
  });

  test('a path the app does not route is said (info), not silently passed', async (t) => {
    const s = await serve(api(() => ({})));
    t.after(s.close);
    const { findings } = await probe(s.url, { path: '/nope', originVariants: false });
    assert.deepEqual(ids(findings), ['cors.path-not-found']);
  });

  test('refuses a path on another host before sending anything', async (t) => {
    const target = await serve(api(reflectAll));
    const other = await serve(api(reflectAll));
    t.after(target.close);
    t.after(other.close);
    await assert.rejects(probe(target.url, { path: `${other.url}/api/me` }), /refused/);
    assert.equal(other.hits(), 0);
    assert.equal(target.hits(), 0);
  });

  test('never sends more than maxRequests', async (t) => {
    const s = await serve(api(reflectAll));
    t.after(s.close);
    await assert.rejects(probe(s.url, { maxRequests: 3 }), /budget of 3/);
    assert.equal(s.hits(), 3);
  });
});

describe('cors probe against the recipes app', () => {
  const auth = recipesAuth('alice');

  test('"cors" defect: foreign, null and prefix origins reflected with credentials, anonymous and logged in', async (t) => {
    const app = await startApp({ defects: ['cors'] });
    t.after(app.close);
    for (const opts of [{}, { loginAs: 'alice' }]) {
      const { findings } = await probe(app.url, opts, auth);
      const high = findings.filter((f) => f.severity === 'high');
      assert.deepEqual(new Set(high.map((f) => f.id)), new Set(['cors.get.credentials', 'cors.preflight.credentials']));
      assert.equal(high.length, 6);
    }
  });

  test('clean app (plain and SPA), anonymous and logged in: no findings', async (t) => {
    for (const spa of [false, true]) {
      const app = await startApp({ spa });
      t.after(app.close);
      assert.deepEqual((await probe(app.url)).findings, []);
      assert.deepEqual((await probe(app.url, { loginAs: 'alice' }, auth)).findings, []);
    }
  });
});

describe('cors: judge what `*` opens, not its shape (issue 9, point 6)', () => {
  test('a wildcard admin API without login that takes cross-origin writes: medium for the writes, high for private data', async (t) => {
    const [open, closed] = await Promise.all([serve(wildcardAdminApp()), serve(wildcardAdminApp({ wildcard: false }))]);
    t.after(open.close);
    t.after(closed.close);
    const plain = (await cors.run({ path: '/admin/api/users' }, testContext({ url: open.url }))).observations;
    assert.deepEqual([...new Set(ids(plain.findings as Finding[], 'medium'))], ['cors.preflight.wildcard-writes']);
    const priv = (await cors.run({ path: '/admin/api/users', private: true }, testContext({ url: open.url }))).observations;
    assert.deepEqual([...new Set(ids(priv.findings as Finding[], 'high'))], ['cors.get.wildcard-private']);
    const quiet = (await cors.run({ path: '/admin/api/users', private: true }, testContext({ url: closed.url }))).observations;
    assert.deepEqual(quiet.findings, []);
  });

  test('`*` on public static content stays info', async (t) => {
    const s = await serve(wildcardAdminApp());
    t.after(s.close);
    const o = (await cors.run({ path: '/static/app.js' }, testContext({ url: s.url }))).observations;
    assert.equal(o.high, 0);
    assert.equal(o.medium, 0);
    assert.equal(o.low, 0);
    assert.ok(ids(o.findings as Finding[], 'info').includes('cors.get.wildcard'));
  });
});
