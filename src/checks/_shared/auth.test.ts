import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { authSchema, login, readPath, fillTemplate } from './auth.js';
import type { AuthConfig } from './auth.js';
import { ProbeClient } from './probe.js';
import { testContext } from '../../test-support/context.js';
import { readBody, serve as serveHttp } from '../../test-support/server.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A login endpoint shaped by `answer`; records what it was sent. */
async function serve(answer: (req: Seen, res: http.ServerResponse) => void): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = await serveHttp((req, res) => {
    void readBody(req).then((body) => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      answer(s, res);
    });
  });
  return { url: server.url, seen, close: server.close };
}

const users = { alice: { username: 'alice', password: 'alice-password' } };

/** Accepts alice-password only, the way the reference app does. */
function recipesLike(req: Seen, res: http.ServerResponse): void {
  const body = JSON.parse(req.body || '{}') as { username?: string; password?: string };
  if (req.url !== '/api/login' || body.password !== `${body.username ?? ''}-password`) {
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid credentials"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['sid=s3cr3t; Path=/; HttpOnly; SameSite=Lax', 'old=x; Max-Age=0'] });
  res.end(JSON.stringify({ user: { id: 1, username: body.username, role: 'user' }, csrfToken: 'tok-123' }));
}

test('defaults fit the reference app: JSON login at /api/login, sid cookie, csrfToken from the body', async () => {
  const app = await serve(recipesLike);
  try {
    const ctx = testContext({ url: app.url });
    const auth = authSchema.parse({ login: { url: '/api/login' }, users });
    const client = new ProbeClient(ctx, 5);
    const s = await login(auth, 'alice', ctx, client);
    assert.equal(s.cookieHeader(), 'sid=s3cr3t');
    assert.equal(s.csrfToken, 'tok-123');
    assert.deepEqual(s.headers(), { cookie: 'sid=s3cr3t', 'x-csrf-token': 'tok-123' });
    assert.deepEqual(s.headers({ withToken: false }), { cookie: 'sid=s3cr3t' });
    assert.equal(client.requests, 1);
    assert.equal(app.seen[0].method, 'POST');
    assert.deepEqual(JSON.parse(app.seen[0].body), { username: 'alice', password: 'alice-password' });
    assert.equal(app.seen[0].headers['content-type'], 'application/json');
    assert.equal(app.seen[0].headers['origin'], app.url);
  } finally {
    await app.close();
  }
});

test('a rotated or deleted cookie replaces the old one', async () => {
  const app = await serve(recipesLike);
  try {
    const ctx = testContext({ url: app.url });
    const s = await login(authSchema.parse({ login: { url: '/api/login' }, users }), 'alice', ctx, new ProbeClient(ctx, 5));
    s.absorb({ setCookies: ['sid=rotated; Path=/', 'theme=dark'] });
    assert.equal(s.cookieHeader(), 'sid=rotated; theme=dark');
    s.absorb({ setCookies: ['theme=; Expires=Thu, 01 Jan 1970 00:00:00 GMT'] });
    assert.equal(s.cookieHeader(), 'sid=rotated');
  } finally {
    await app.close();
  }
});

test('form login with {{env.url}} in the URL, token from a header', async () => {
  const app = await serve((req, res) => {
    const form = new URLSearchParams(req.body);
    const ok = req.url === '/session' && form.get('user') === 'alice' && form.get('pw') === 'alice-password';
    res.writeHead(ok ? 302 : 200, ok ? { location: '/', 'set-cookie': 'session=abc', 'x-xsrf': 'hdr-tok' } : {}).end();
  });
  try {
    const ctx = testContext({ url: app.url });
    const auth = authSchema.parse({
      login: { url: '{{env.url}}/session', form: { user: '{{username}}', pw: '{{password}}' }, csrfToken: { from: 'header', name: 'X-XSRF' }, csrfHeader: 'X-XSRF' },
      users,
    });
    const s = await login(auth, 'alice', ctx, new ProbeClient(ctx, 5));
    assert.equal(s.cookieHeader(), 'session=abc');
    assert.deepEqual(s.headers(), { cookie: 'session=abc', 'x-xsrf': 'hdr-tok' });
    assert.equal(app.seen[0].headers['content-type'], 'application/x-www-form-urlencoded');
  } finally {
    await app.close();
  }
});

test('token from a cookie (double submit) and from an HTML pattern', async () => {
  const app = await serve((req, res) => {
    res.writeHead(200, { 'set-cookie': ['sid=1', 'XSRF-TOKEN=cookie-tok'], 'content-type': 'text/html' });
    res.end('<form><input type="hidden" name="csrf" value="html-tok"></form>');
  });
  try {
    const ctx = testContext({ url: app.url });
    const fromCookie = authSchema.parse({ login: { url: '/api/login', csrfToken: { from: 'cookie' } }, users });
    assert.equal((await login(fromCookie, 'alice', ctx, new ProbeClient(ctx, 5))).csrfToken, 'cookie-tok');
    const fromHtml = authSchema.parse({ login: { url: '/api/login', csrfToken: { from: 'body', pattern: 'name="csrf" value="([^"]+)"' } }, users });
    assert.equal((await login(fromHtml, 'alice', ctx, new ProbeClient(ctx, 5))).csrfToken, 'html-tok');
    // The pattern runs on the linear-time engine: one it cannot take is refused at load.
    assert.throws(() => authSchema.parse({ login: { url: '/api/login', csrfToken: { from: 'body', pattern: '(?<=value=")[^"]+' } }, users }), /lookbehind/);
  } finally {
    await app.close();
  }
});

test('fails closed: no auth section, unknown user, wrong password, no cookie, missing configured token', async () => {
  const app = await serve(recipesLike);
  const noCookie = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  try {
    const ctx = testContext({ url: app.url });
    await assert.rejects(login(undefined, 'alice', ctx, new ProbeClient(ctx, 5)), /no auth: section/);
    await assert.rejects(login(authSchema.parse({ login: { url: '/api/login' }, users }), 'mallory', ctx, new ProbeClient(ctx, 5)), /unknown user "mallory": auth.users has alice/);
    const wrong = authSchema.parse({ login: { url: '/api/login' }, users: { alice: { username: 'alice', password: 'nope' } } });
    await assert.rejects(login(wrong, 'alice', ctx, new ProbeClient(ctx, 5)), (err: Error) => {
      assert.match(err.message, /login as "alice" failed: POST http:\/\/127\.0\.0\.1:\d+\/api\/login answered 401/);
      assert.doesNotMatch(err.message, /nope/);
      return true;
    });
    const needsSid = authSchema.parse({ login: { url: '/api/login', sessionCookie: 'connect.sid' }, users });
    await assert.rejects(login(needsSid, 'alice', ctx, new ProbeClient(ctx, 5)), /set no "connect.sid" cookie/);
    const wantsHeaderToken = authSchema.parse({ login: { url: '/api/login', csrfToken: { from: 'header' } }, users });
    await assert.rejects(login(wantsHeaderToken, 'alice', ctx, new ProbeClient(ctx, 5)), /no CSRF token found/);

    const ctx2 = testContext({ url: noCookie.url });
    await assert.rejects(login(authSchema.parse({ login: { url: '/api/login' }, users }), 'alice', ctx2, new ProbeClient(ctx2, 5)), /set no cookie/);
  } finally {
    await app.close();
    await noCookie.close();
  }
});

test('a login URL on another host is refused before anything is sent', async () => {
  const target = await serve(recipesLike);
  const elsewhere = await serve(recipesLike);
  try {
    const ctx = testContext({ url: target.url });
    const port = new URL(elsewhere.url).port;
    const auth = authSchema.parse({ login: { url: `http://localhost:${port}/api/login` }, users });
    await assert.rejects(login(auth, 'alice', ctx, new ProbeClient(ctx, 5)), /not the configured target/);
    assert.equal(elsewhere.seen.length, 0);
    assert.equal(target.seen.length, 0);
  } finally {
    await target.close();
    await elsewhere.close();
  }
});

test('the login counts against the budget', async () => {
  const app = await serve(recipesLike);
  try {
    const ctx = testContext({ url: app.url });
    const client = new ProbeClient(ctx, 1);
    await login(authSchema.parse({ login: { url: '/api/login' }, users }), 'alice', ctx, client);
    await assert.rejects(login(authSchema.parse({ login: { url: '/api/login' }, users }), 'alice', ctx, client), /budget of 1 spent/);
    assert.equal(app.seen.length, 1);
  } finally {
    await app.close();
  }
});

test('schema: strict, json and form are exclusive', () => {
  assert.throws(() => authSchema.parse({ login: { url: '/api/login' }, users, extra: 1 }));
  assert.throws(() => authSchema.parse({ login: { json: {}, form: {} }, users }));
  const a: AuthConfig = authSchema.parse({ login: { url: '/api/login' }, users });
  assert.equal(a.login?.csrfHeader, 'X-CSRF-Token');
  assert.throws(() => authSchema.parse({ login: {}, users }), /url/, 'the login URL has no default: it names no app');
});

test('readPath and fillTemplate', () => {
  assert.equal(readPath({ a: { b: [{ c: 7 }] } }, 'a.b[0].c'), 7);
  assert.equal(readPath({ a: [1, 2] }, 'a.1'), 2);
  assert.equal(readPath({ a: 1 }, 'a.b'), undefined);
  assert.equal(readPath({}, 'constructor'), undefined);
  assert.deepEqual(fillTemplate({ u: '{{username}}', n: 3, l: ['{{x}}', '{{unknown}}'] }, { username: 'al', x: 'X' }), { u: 'al', n: 3, l: ['X', '{{unknown}}'] });
});

test('a rate-limited login says so', async () => {
  const app = await serve((_req, res) => res.writeHead(429, { 'retry-after': '42' }).end());
  try {
    const ctx = testContext({ url: app.url });
    await assert.rejects(login(authSchema.parse({ login: { url: '/api/login' }, users }), 'alice', ctx, new ProbeClient(ctx, 5)), /answered 429 \(rate limited, Retry-After 42: the target's login limit is spent\)/);
  } finally {
    await app.close();
  }
});

test('with a run-wide login map, each user logs in once however many probes ask; a failed login is not kept', async () => {
  const app = await serve(recipesLike);
  try {
    const ctx = { ...testContext({ url: app.url }), logins: new Map() };
    const auth = authSchema.parse({ login: { url: '/api/login' }, users: { ...users, mallory: { username: 'mallory', password: 'wrong' } } });
    const sessions = await Promise.all([1, 2, 3].map(() => login(auth, 'alice', ctx, new ProbeClient(ctx, 5))));
    assert.equal(app.seen.length, 1);
    for (const s of sessions) assert.equal(s.cookieHeader(), 'sid=s3cr3t');
    await assert.rejects(login(auth, 'mallory', ctx, new ProbeClient(ctx, 5)), /login as "mallory" failed/);
    await assert.rejects(login(auth, 'mallory', ctx, new ProbeClient(ctx, 5)), /login as "mallory" failed/);
    assert.equal(app.seen.length, 3, 'a failed login is tried again, not served from the map');
  } finally {
    await app.close();
  }
});
