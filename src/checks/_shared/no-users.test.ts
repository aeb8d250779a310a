// Issue 9, points 4 and 5: apps without users (nobody logs in) and token apps (CSRF does not apply
// once a cookie-only write is refused), each against a fixture app of that shape: the defect
// caught, the right app quiet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import csrf from '../csrf/index.js';
import accessControl from '../access-control/index.js';
import authRequired from '../auth-required/index.js';
import { authSchema } from './auth.js';
import type { Finding } from './probe.js';
import { testContext } from '../../test-support/context.js';
import { serve } from '../../test-support/server.js';
import { basicApp, bearerApp, leakyApp } from '../../test-support/fixtures/apps.js';
import type { Handler } from '../../test-support/fixtures/apps.js';

async function app(t: { after(fn: () => Promise<void>): void }, handler: Handler) {
  const server = await serve(handler);
  t.after(server.close);
  return server;
}

const high = (findings: unknown) => (findings as Finding[]).filter((f) => f.severity === 'high').map((f) => f.id).sort();

const notes = { request: { path: '/api/notes', fields: { text: 'gonogo {{nonce}}' } } };

test('no users: a cross-site form or text/plain post with no credentials at all is a finding; the hardened app refuses it', async (t) => {
  const [leaky, hardened] = await Promise.all([app(t, leakyApp()), app(t, leakyApp({ hardened: true }))]);
  const caught = (await csrf.run(notes, testContext({ url: leaky.url }))).observations;
  assert.deepEqual(high(caught.findings), ['csrf.form', 'csrf.multipart', 'csrf.null-origin', 'csrf.text-plain']);
  assert.match((caught.findings as Finding[])[0].message, /with no credentials at all/);
  assert.equal(caught.user, 'anonymous');
  const quiet = (await csrf.run(notes, testContext({ url: hardened.url }))).observations;
  assert.deepEqual(high(quiet.findings), []);
  assert.equal(quiet.control, 201, 'the control write was accepted, so the refusals mean a defence');
});

test('no users: a private resource readable anonymously is a finding for access-control and auth-required; refused, both are quiet', async (t) => {
  const [leaky, hardened] = await Promise.all([app(t, leakyApp()), app(t, leakyApp({ hardened: true }))]);
  const opts = { objects: [{ path: '/api/notes' }], lists: [{ path: '/api/notes', ownerMarker: 'launch codes' }] };
  const caught = (await accessControl.run(opts, testContext({ url: leaky.url }))).observations;
  assert.deepEqual(caught.leaks, ['anonymous:/api/notes', 'list.anonymous:/api/notes']);
  const quiet = (await accessControl.run(opts, testContext({ url: hardened.url }))).observations;
  assert.deepEqual(quiet.leaks, []);
  assert.deepEqual((await authRequired.run({ paths: ['/api/notes'] }, testContext({ url: leaky.url }))).observations.exposed, ['anonymous:GET /api/notes']);
  assert.deepEqual((await authRequired.run({ paths: ['/api/notes'] }, testContext({ url: hardened.url }))).observations.exposed, []);
  // Without an owner, a 404 proves nothing (a missing route looks the same): error, not pass.
  await assert.rejects(accessControl.run({ objects: [{ path: '/api/nothing' }] }, testContext({ url: hardened.url })), /could not verify: \/api\/nothing as anonymous answered 404/);
});

const tokenAuth = authSchema.parse({
  login: { url: '/auth/token', json: { email: '{{username}}@example.test', password: '{{password}}' }, token: { path: '$.data.access_token' } },
  users: { alice: { username: 'alice', password: 'alice-password' } },
});
const items = { loginAs: 'alice', request: { path: '/api/items', fields: { name: 'gonogo {{nonce}}' } } };

test('token app: once a write with the cookies alone is refused, CSRF is not applicable (skipped, with the reason)', async (t) => {
  const s = await app(t, bearerApp());
  const out = await csrf.run(items, testContext({ url: s.url, auth: tokenAuth }));
  assert.match(out.skip ?? '', /^not applicable: writes need a bearer token, not an ambient credential \(a cross-site write with the cookies alone was refused: 401\)/);
  assert.equal(out.observations.control, 201, 'the control write with the token went through');
});

test('token app whose leftover session cookie authorizes writes: the forgery is caught, not skipped', async (t) => {
  const s = await app(t, bearerApp({ cookieWrites: true }));
  const out = await csrf.run(items, testContext({ url: s.url, auth: tokenAuth }));
  assert.equal(out.skip, undefined);
  assert.ok(high(out.observations.findings).includes('csrf.form'), JSON.stringify(out.observations.findings));
  assert.match((out.observations.findings as Finding[])[0].message, /with the cookies alone/);
});

test('HTTP Basic is ambient: a browser resends it cross-site, so an unprotected write is a finding', async (t) => {
  const s = await app(t, basicApp());
  const auth = authSchema.parse({ users: { alice: { username: 'alice', password: 'alice-password', basic: true } } });
  const out = await csrf.run({ loginAs: 'alice', request: { path: '/api/me' } }, testContext({ url: s.url, auth }));
  assert.equal(out.skip, undefined);
  assert.ok(high(out.observations.findings).includes('csrf.form'));
});
