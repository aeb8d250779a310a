// Issue 9, point 3: the logins real apps use, each against a fixture app of that shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authSchema, login } from './auth.js';
import { ProbeClient } from './probe.js';
import { testContext } from '../../test-support/context.js';
import { serve } from '../../test-support/server.js';
import { basicApp, bearerApp, csrfEndpointApp } from '../../test-support/fixtures/apps.js';
import type { Handler } from '../../test-support/fixtures/apps.js';

async function app(t: { after(fn: () => Promise<void>): void }, handler: Handler) {
  const server = await serve(handler);
  t.after(server.close);
  return server;
}

/** Logs in as `user` with `auth`, then asks `path` with the session: what the app says back. */
async function whoAmI(url: string, auth: unknown, user = 'alice', path = '/api/me') {
  const ctx = testContext({ url, auth: authSchema.parse(auth) });
  const client = new ProbeClient(ctx, 10);
  const session = await login(ctx.auth, user, ctx, client);
  const res = await client.send({ path, headers: session.headers() });
  return { session, res, client };
}

test('bearer token read by JSONPath from a JSON login (no cookie at all) and sent as Authorization', async (t) => {
  const s = await app(t, bearerApp());
  const auth = { login: { url: '/auth/token', json: { email: '{{username}}@example.test', password: '{{password}}' }, token: { path: '$.data.access_token' } }, users: { alice: { username: 'alice', password: 'alice-password' } } };
  const { session, res } = await whoAmI(s.url, auth);
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body), { user: 'alice' });
  assert.equal(session.credential, 'token');
  assert.deepEqual(session.headers({ ambientOnly: true }), {}, 'a bearer token is never ambient');
  // Defect: the wrong path finds no token, and that is an error naming the path, not a login.
  await assert.rejects(whoAmI(s.url, { ...auth, login: { ...auth.login, token: { path: '$.token' } } }), /without a token at \$\.token/);
  assert.throws(() => authSchema.parse({ ...auth, login: { ...auth.login, token: { path: '$[' } } }), /JSONPath/);
});

test('form-urlencoded login to a per-user recipe', async (t) => {
  const s = await app(t, bearerApp());
  const auth = { users: { alice: { username: 'alice', password: 'alice-password', login: { url: '/auth/token', form: { email: '{{username}}@x.test', password: '{{password}}' }, token: { path: '$.data.access_token', scheme: 'Bearer' } } } } };
  const { res } = await whoAmI(s.url, auth);
  assert.equal(res.status, 200);
});

test('static per-user headers: no login request, the token is the user; a wrong one is refused by the app', async (t) => {
  const s = await app(t, bearerApp());
  const ok = await whoAmI(s.url, { users: { alice: { headers: { Authorization: 'Bearer tok-alice' } } } });
  assert.equal(ok.res.status, 200);
  assert.deepEqual(s.requests, ['GET /api/me'], 'no login request');
  const bad = await whoAmI(s.url, { users: { alice: { headers: { Authorization: 'Bearer tok-' } } } });
  assert.equal(bad.res.status, 401);
});

test('HTTP Basic: ambient like a cookie (browsers resend it cross-site)', async (t) => {
  const s = await app(t, basicApp());
  const { res, session } = await whoAmI(s.url, { users: { alice: { username: 'alice', password: 'alice-password', basic: true } } });
  assert.deepEqual(JSON.parse(res.body), { user: 'alice' });
  assert.equal(session.credential, 'basic');
  assert.match(session.headers({ ambientOnly: true }).authorization ?? '', /^Basic /);
  const wrong = await whoAmI(s.url, { users: { alice: { username: 'alice', password: 'nope', basic: true } } });
  assert.equal(wrong.res.status, 401);
  assert.throws(() => authSchema.parse({ users: { alice: { basic: true } } }), /basic needs username and password/);
});

test('a command that prints a token, for any other login; a failing one is an error, not a session', async (t) => {
  const s = await app(t, bearerApp());
  const { res } = await whoAmI(s.url, { users: { alice: { command: { run: [process.execPath, '-e', 'console.log("tok-alice")'] } } } });
  assert.equal(res.status, 200);
  await assert.rejects(whoAmI(s.url, { users: { alice: { command: { run: [process.execPath, '-e', 'process.exit(3)'] } } } }), /token command of "alice" .* failed/);
});

test('CSRF token from its own endpoint after a form login that redirects', async (t) => {
  const s = await app(t, csrfEndpointApp());
  const auth = {
    login: { url: '/session', form: { login: '{{username}}', pass: '{{password}}' }, csrfToken: { from: 'endpoint', url: '/csrf', path: 'token' } },
    users: { alice: { username: 'alice', password: 'alice-password' } },
  };
  const ctx = testContext({ url: s.url, auth: authSchema.parse(auth) });
  const client = new ProbeClient(ctx, 10);
  const session = await login(ctx.auth, 'alice', ctx, client);
  assert.equal(session.csrfToken, 'csrf-s1');
  const write = await client.send({ path: '/api/notes', method: 'POST', headers: { ...session.headers(), 'content-type': 'application/json' }, body: '{}' });
  assert.equal(write.status, 201);
  const without = await client.send({ path: '/api/notes', method: 'POST', headers: { ...session.headers({ withToken: false }), 'content-type': 'application/json' }, body: '{}' });
  assert.equal(without.status, 403, 'the app checks the token: the test would see it if it did not');
  // A failed form login (a redirect back to the form) sets no cookie: an error, not a session.
  const wrong = authSchema.parse({ ...auth, users: { alice: { username: 'alice', password: 'nope' } } });
  await assert.rejects(login(wrong, 'alice', ctx, new ProbeClient(ctx, 10)), /set no cookie/);
});

test('anonymous is a principal with no credentials, and no user may take its name', () => {
  assert.throws(() => authSchema.parse({ users: { anonymous: { headers: { a: 'b' } } } }), /principal with no credentials/);
  assert.throws(() => authSchema.parse({ users: { alice: { basic: true, username: 'a', password: 'b', headers: {} } } }), /at most one of/);
});
