import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { DEFECTS, parseDefects, parseFaults, startApp } from './app.js';
import type { AppOptions, RunningApp } from './app.js';
import { call, login, rawExchange } from './test-client.js';
import { fakeClock } from '../../../src/test-support/clock.js';
import { serve } from '../../../src/test-support/server.js';
import type { TestServer } from '../../../src/test-support/server.js';

async function withApp(opts: AppOptions, fn: (app: RunningApp) => Promise<void>): Promise<void> {
  const app = await startApp(opts);
  try {
    await fn(app);
  } finally {
    await app.close();
  }
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** The `id` of every object in a list, for comparing lists of recipes or documents. */
function ids(list: unknown): string[] {
  assert.ok(Array.isArray(list), `expected a list, got ${JSON.stringify(list)}`);
  return list.map((item: unknown) => (typeof item === 'object' && item !== null && 'id' in item ? String(item.id) : '?')).sort();
}

/** A POST that carries the session and its CSRF token, as the app's own page would send it. */
function post(base: string, path: string, session: { sid: string; csrf: string }, body: unknown): ReturnType<typeof call> {
  return call(base, path, { method: 'POST', sid: session.sid, headers: { ...JSON_TYPE, 'x-csrf-token': session.csrf }, body: JSON.stringify(body) });
}

/** A loopback server whose every answer is a redirect to `location(path)`. */
function redirector(location: (path: string) => string): Promise<TestServer> {
  return serve((req, res) => {
    res.writeHead(302, { location: location(req.url ?? '/') }).end();
  });
}

describe('the right app', () => {
  test('serves /health, the pages and Prometheus /metrics labelled by route template', async () => {
    await withApp({}, async ({ url }) => {
      const health = await call(url, '/health');
      assert.equal(health.status, 200);
      const body = health.json();
      assert.equal(body.status, 'ok');
      assert.equal(body.version, '1.4.2');
      assert.equal(typeof body.uptimeSeconds, 'number');
      assert.deepEqual(body.checks, { db: 'ok' });

      for (const path of ['/', '/login']) {
        const page = await call(url, path);
        assert.equal(page.status, 200);
        assert.match(String(page.headers['content-type']), /^text\/html/);
        assert.doesNotMatch(page.text, /<script>|<style>| on\w+=/, 'no inline script: the strict CSP must not break the page');
      }

      await call(url, '/api/recipes/1');
      await call(url, '/api/recipes/2');
      const metrics = await call(url, '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(String(metrics.headers['content-type']), /^text\/plain/);
      assert.match(metrics.text, /http_requests_total\{method="GET",route="\/api\/recipes\/:id",status="401"\} 2/);
      // The +Inf bucket, not a latency bucket: how fast /health answered depends on the machine.
      assert.match(metrics.text, /http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/health",status="200"\} 1/);
      assert.match(metrics.text, /process_cpu_user_seconds_total/);
      assert.doesNotMatch(metrics.text, /route="\/api\/recipes\/1"/);
    });
  });

  test('login sets an HttpOnly SameSite session cookie and a CSRF token that state changes must carry', async () => {
    await withApp({}, async ({ url }) => {
      const wrong = await call(url, '/api/login', { method: 'POST', headers: JSON_TYPE, body: '{"username":"alice","password":"nope"}' });
      assert.equal(wrong.status, 401);
      assert.deepEqual(wrong.json(), { error: 'invalid credentials' });

      const res = await call(url, '/api/login', { method: 'POST', headers: JSON_TYPE, body: '{"username":"alice","password":"alice-password"}' });
      assert.equal(res.status, 200);
      const cookie = res.headers['set-cookie']?.[0] ?? '';
      assert.match(cookie, /^sid=[\w-]{20,}; Path=\/; HttpOnly; SameSite=Lax$/);
      const { user, csrfToken } = res.json();
      assert.deepEqual(user, { id: '1', username: 'alice', role: 'user' });
      assert.equal(typeof csrfToken, 'string');
      const session = { sid: /^sid=([^;]*)/.exec(cookie)?.[1] ?? '', csrf: String(csrfToken) };

      const me = await call(url, '/api/me', { sid: session.sid });
      assert.equal(me.status, 200);
      assert.equal(me.json().csrfToken, session.csrf);
      assert.equal((await call(url, '/api/me')).status, 401);

      const recipe = { title: 'Pancakes', ingredients: ['flour', 'milk'] };
      const noToken = await call(url, '/api/recipes', { method: 'POST', sid: session.sid, headers: JSON_TYPE, body: JSON.stringify(recipe) });
      assert.equal(noToken.status, 403);
      assert.deepEqual(noToken.json(), { error: 'CSRF check failed' });
      const badToken = await call(url, '/api/recipes', { method: 'POST', sid: session.sid, headers: { ...JSON_TYPE, 'x-csrf-token': 'forged' }, body: '{}' });
      assert.equal(badToken.status, 403);
      const foreign = await call(url, '/api/recipes', {
        method: 'POST',
        sid: session.sid,
        headers: { ...JSON_TYPE, 'x-csrf-token': session.csrf, origin: 'https://evil.example' },
        body: JSON.stringify(recipe),
      });
      assert.equal(foreign.status, 403);
      const foreignReferer = await call(url, '/api/recipes', {
        method: 'POST',
        sid: session.sid,
        headers: { ...JSON_TYPE, 'x-csrf-token': session.csrf, referer: 'https://evil.example/page' },
        body: JSON.stringify(recipe),
      });
      assert.equal(foreignReferer.status, 403);
      const own = await call(url, '/api/recipes', {
        method: 'POST',
        sid: session.sid,
        headers: { ...JSON_TYPE, 'x-csrf-token': session.csrf, origin: url },
        body: JSON.stringify(recipe),
      });
      assert.equal(own.status, 201);
      assert.equal(own.json().title, 'Pancakes');
      assert.match(String(own.json().id), /^\d+$/);

      const logout = await call(url, '/api/logout', { method: 'POST', sid: session.sid, headers: { 'x-csrf-token': session.csrf } });
      assert.equal(logout.status, 200);
      assert.match(logout.headers['set-cookie']?.[0] ?? '', /^sid=; .*Max-Age=0/);
      assert.equal((await call(url, '/api/me', { sid: session.sid })).status, 401);
    });
  });

  test('login takes a form post, marks the cookie Secure behind HTTPS, and refuses a foreign Origin', async () => {
    await withApp({}, async ({ url }) => {
      const form = await call(url, '/api/login', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-proto': 'https' },
        body: 'username=bob&password=bob-password',
      });
      assert.equal(form.status, 200);
      assert.match(form.headers['set-cookie']?.[0] ?? '', /; HttpOnly; SameSite=Lax; Secure$/);
      const foreign = await call(url, '/api/login', {
        method: 'POST',
        headers: { ...JSON_TYPE, origin: 'https://evil.example' },
        body: '{"username":"bob","password":"bob-password"}',
      });
      assert.equal(foreign.status, 403);
      assert.deepEqual(foreign.json(), { error: 'CSRF check failed' });
    });
  });

  test('recipes are private to their owner and shared with the family', async () => {
    await withApp({}, async ({ url }) => {
      assert.equal((await call(url, '/api/recipes')).status, 401);
      const alice = await login(url, 'alice');
      const bob = await login(url, 'bob');
      const carol = await login(url, 'carol');
      assert.deepEqual(ids((await call(url, '/api/recipes', { sid: alice.sid })).json().recipes), ['1', '3']);
      assert.deepEqual(ids((await call(url, '/api/recipes', { sid: bob.sid })).json().recipes), ['2']);
      const pie = await call(url, '/api/recipes/1', { sid: alice.sid });
      assert.equal(pie.json().title, "Grandma's apple pie");
      assert.equal((await call(url, '/api/recipes/1', { sid: bob.sid })).status, 404);
      assert.equal((await call(url, '/api/recipes/1', { sid: carol.sid })).status, 404, 'family sees only shared recipes');
      assert.equal((await call(url, '/api/recipes/3', { sid: alice.sid })).status, 200);
      assert.equal((await call(url, '/api/recipes/999', { sid: alice.sid })).status, 404);

      const bobEdits = await call(url, '/api/recipes/1', { method: 'PUT', sid: bob.sid, headers: { ...JSON_TYPE, 'x-csrf-token': bob.csrf }, body: '{"title":"Mine"}' });
      assert.equal(bobEdits.status, 404);
      const aliceEdits = await call(url, '/api/recipes/1', { method: 'PUT', sid: alice.sid, headers: { ...JSON_TYPE, 'x-csrf-token': alice.csrf }, body: '{"shared":true}' });
      assert.equal(aliceEdits.status, 200);
      assert.equal(aliceEdits.json().shared, true);
      assert.equal((await call(url, '/api/recipes/1', { sid: carol.sid })).status, 200, 'shared now');
      assert.equal((await call(url, '/api/recipes/2', { method: 'DELETE', sid: alice.sid, headers: { 'x-csrf-token': alice.csrf } })).status, 404);
      assert.equal((await call(url, '/api/recipes/2', { method: 'DELETE', sid: bob.sid, headers: { 'x-csrf-token': bob.csrf } })).status, 204);

      assert.deepEqual((await call(url, '/api/family', { sid: alice.sid })).json().members, [
        { id: '1', username: 'alice' },
        { id: '3', username: 'carol' },
      ]);
      const invite = await post(url, '/api/family/invite', alice, { username: 'bob' });
      assert.equal(invite.status, 200);
      assert.deepEqual(ids(invite.json().members), ['1', '2', '3']);
      assert.equal((await post(url, '/api/family/invite', alice, { username: 'nobody' })).status, 404);
    });
  });

  test('documents are stored, listed and served to their owner only', async () => {
    await withApp({}, async ({ url }) => {
      const alice = await login(url, 'alice');
      const bob = await login(url, 'bob');
      const upload = await call(url, '/api/documents?name=recipe-card.pdf', {
        method: 'POST',
        sid: alice.sid,
        headers: { 'content-type': 'application/pdf', 'x-csrf-token': alice.csrf },
        body: Buffer.from('%PDF-1.4 recipe card'),
      });
      assert.equal(upload.status, 201);
      const { id, name, url: fileUrl } = upload.json();
      assert.equal(name, 'recipe-card.pdf');
      assert.equal(fileUrl, `/files/${String(id)}`);
      assert.deepEqual(ids((await call(url, '/api/documents', { sid: alice.sid })).json().documents), ['1', String(id)]);

      const file = await call(url, String(fileUrl), { sid: alice.sid });
      assert.equal(file.status, 200);
      assert.equal(file.text, '%PDF-1.4 recipe card');
      assert.match(String(file.headers['content-disposition']), /^attachment/);
      assert.equal((await call(url, '/api/documents/1', { sid: alice.sid })).json().name, 'alice-passport.pdf');
      assert.equal((await call(url, '/api/documents/1', { sid: bob.sid })).status, 404);
      assert.equal((await call(url, '/files/1', { sid: bob.sid })).status, 404);
      assert.equal((await call(url, '/files/1')).status, 401);

      const huge = await call(url, '/api/documents?name=big.pdf', {
        method: 'POST',
        sid: alice.sid,
        headers: { 'content-type': 'application/pdf', 'x-csrf-token': alice.csrf },
        body: Buffer.alloc(1024 * 1024 + 1),
      });
      assert.equal(huge.status, 413);
    });
  });

  test('admin pages answer 401 anonymous, 403 to users and 200 to admins', async () => {
    await withApp({}, async ({ url }) => {
      const alice = await login(url, 'alice');
      const admin = await login(url, 'admin');
      for (const path of ['/admin', '/api/admin/users']) {
        assert.equal((await call(url, path)).status, 401, path);
        assert.equal((await call(url, path, { sid: alice.sid })).status, 403, path);
        assert.equal((await call(url, path, { sid: admin.sid })).status, 200, path);
      }
      const users = (await call(url, '/api/admin/users', { sid: admin.sid })).json().users;
      assert.deepEqual(ids(users), ['1', '2', '3', '4']);
    });
  });

  test('errors are plain JSON: 400, 404, 405, 413, 415, and garbage does not hurt', async () => {
    await withApp({}, async ({ url }) => {
      const alice = await login(url, 'alice');
      const malformed = await call(url, '/api/recipes', { method: 'POST', sid: alice.sid, headers: { ...JSON_TYPE, 'x-csrf-token': alice.csrf }, body: '{"title":' });
      assert.equal(malformed.status, 400);
      assert.deepEqual(malformed.json(), { error: 'invalid JSON body' });
      const plain = await call(url, '/api/recipes', { method: 'POST', sid: alice.sid, headers: { 'content-type': 'text/plain', 'x-csrf-token': alice.csrf }, body: '{"title":"x"}' });
      assert.equal(plain.status, 415);
      const unknown = await call(url, '/no/such/page');
      assert.equal(unknown.status, 404);
      assert.deepEqual(unknown.json(), { error: 'not found' });
      assert.equal((await call(url, '/.env')).status, 404);
      const wrongMethod = await call(url, '/api/recipes/import');
      assert.equal(wrongMethod.status, 405);
      assert.equal(wrongMethod.headers.allow, 'POST, OPTIONS');
      assert.equal((await call(url, '/api/recipes/abc', { sid: alice.sid })).status, 404);
      const tooBig = await call(url, '/api/login', { method: 'POST', headers: JSON_TYPE, body: 'x'.repeat(1024 * 1024 + 1) });
      assert.equal(tooBig.status, 413);

      assert.match(await rawExchange(url, 'GARBAGE \x00\x01 nonsense\r\n\r\n'), /^HTTP\/1\.1 400/);
      assert.match(await rawExchange(url, 'GET http://elsewhere.example/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 400/);
      for (const res of [malformed, plain, unknown, wrongMethod]) assert.doesNotMatch(res.text, /\bat \w|\/src\/|SELECT|postgres:/);
      assert.equal((await call(url, '/health')).status, 200, 'still serving');
    });
  });
});

describe('each defect switches one protection off', () => {
  test('covers every defect in DEFECTS', () => {
    // One test below per defect; a new defect without one fails here.
    assert.deepEqual(Object.keys(DEFECTS).sort(), [
      'cors',
      'csrf',
      'debug',
      'headers',
      'idor',
      'insecure-cookie',
      'rate-limit',
      'recipes-public',
      'ssrf',
      'stack-traces',
      'weak-csp',
    ]);
  });

  test('headers', async () => {
    await withApp({}, async ({ url }) => {
      for (const path of ['/', '/api/me', '/no/such/page']) {
        const { headers } = await call(url, path);
        assert.equal(headers['content-security-policy'], "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'");
        assert.equal(headers['x-frame-options'], 'DENY');
        assert.equal(headers['x-content-type-options'], 'nosniff');
        assert.equal(headers['referrer-policy'], 'strict-origin-when-cross-origin');
        assert.equal(headers['permissions-policy'], 'camera=(), microphone=(), geolocation=()');
        assert.equal(headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
        assert.equal(headers['x-powered-by'], undefined);
        assert.doesNotMatch(String(headers.server), /\d/);
      }
    });
    await withApp({ defects: ['headers'] }, async ({ url }) => {
      const { headers } = await call(url, '/');
      for (const name of ['content-security-policy', 'x-frame-options', 'x-content-type-options', 'referrer-policy', 'permissions-policy', 'strict-transport-security']) {
        assert.equal(headers[name], undefined, name);
      }
      assert.equal(headers['x-powered-by'], 'Express');
      assert.equal(headers.server, 'nginx/1.18.0');
    });
  });

  test('weak-csp', async () => {
    await withApp({ defects: ['weak-csp'] }, async ({ url }) => {
      const { headers } = await call(url, '/');
      assert.equal(headers['content-security-policy'], "default-src *; script-src 'self' 'unsafe-inline' 'unsafe-eval' data:");
      assert.equal(headers['x-frame-options'], 'DENY', 'the other headers stay right');
      assert.equal(headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    });
  });

  test('insecure-cookie', async () => {
    const cookieOf = async (url: string): Promise<string> =>
      (await call(url, '/api/login', { method: 'POST', headers: JSON_TYPE, body: '{"username":"alice","password":"alice-password"}' })).headers['set-cookie']?.[0] ?? '';
    await withApp({}, async ({ url }) => assert.match(await cookieOf(url), /; HttpOnly; SameSite=Lax$/));
    await withApp({ defects: ['insecure-cookie'] }, async ({ url }) => {
      const cookie = await cookieOf(url);
      assert.match(cookie, /^sid=[\w-]+; Path=\/$/);
    });
  });

  test('csrf', async () => {
    // What a cross-site page can send without JavaScript: a form, or text/plain that looks like JSON.
    const forged = (url: string, sid: string, type: string, body: string): ReturnType<typeof call> =>
      call(url, '/api/recipes', { method: 'POST', sid, headers: { 'content-type': type, origin: 'https://evil.example' }, body });
    await withApp({}, async ({ url }) => {
      const alice = await login(url, 'alice');
      assert.equal((await forged(url, alice.sid, 'application/x-www-form-urlencoded', 'title=Forged')).status, 403);
      assert.equal((await forged(url, alice.sid, 'text/plain', '{"title":"Forged"}')).status, 403);
      const noOrigin = await call(url, '/api/recipes', { method: 'POST', sid: alice.sid, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'title=Forged' });
      assert.equal(noOrigin.status, 403, 'no token');
    });
    await withApp({ defects: ['csrf'] }, async ({ url }) => {
      const alice = await login(url, 'alice');
      const form = await forged(url, alice.sid, 'application/x-www-form-urlencoded', 'title=Forged+form&ingredients=salt&shared=on');
      assert.equal(form.status, 201);
      assert.deepEqual([form.json().title, form.json().ingredients, form.json().shared], ['Forged form', ['salt'], true]);
      const textJson = await forged(url, alice.sid, 'text/plain', '{"title":"Forged text"}');
      assert.equal(textJson.status, 201);
      assert.equal(textJson.json().title, 'Forged text');
      assert.equal((await forged(url, alice.sid, 'text/plain', 'title=Forged+pairs')).json().title, 'Forged pairs');
    });
  });

  test('rate-limit', async () => {
    let now = Date.parse('2024-05-01T12:00:00Z');
    const attempt = (url: string): Promise<number> =>
      call(url, '/api/login', { method: 'POST', headers: JSON_TYPE, body: '{"username":"alice","password":"guess"}' }).then((r) => r.status);
    await withApp({ loginLimit: 3, now: () => now }, async ({ url }) => {
      assert.deepEqual([await attempt(url), await attempt(url), await attempt(url)], [401, 401, 401]);
      const limited = await call(url, '/api/login', { method: 'POST', headers: JSON_TYPE, body: '{"username":"alice","password":"alice-password"}' });
      assert.equal(limited.status, 429);
      assert.equal(limited.headers['retry-after'], '60');
      now += 30_000;
      const later = await call(url, '/api/login', { method: 'POST', headers: JSON_TYPE, body: '{}' });
      assert.equal(later.headers['retry-after'], '30');
      now += 31_000;
      assert.equal(await attempt(url), 401, 'the window has passed');
    });
    await withApp({}, async ({ url }) => {
      const statuses = [];
      for (let i = 0; i < 11; i++) statuses.push(await attempt(url));
      assert.equal(statuses.at(-1), 429, 'default limit is 10 a minute');
    });
    await withApp({ defects: ['rate-limit'], loginLimit: 3 }, async ({ url }) => {
      for (let i = 0; i < 20; i++) assert.equal(await attempt(url), 401);
    });
  });

  test('ssrf', async () => {
    await withApp({}, async ({ url }) => {
      const alice = await login(url, 'alice');
      for (const target of [`${url}/health`, 'http://localhost/', 'http://10.0.0.1/', 'http://169.254.169.254/latest/meta-data/', 'http://example.invalid/', 'file:///etc/passwd']) {
        const res = await post(url, '/api/recipes/import', alice, { url: target });
        assert.equal(res.status, 400, target);
        assert.deepEqual(res.json(), { error: 'URL not allowed' });
      }
      assert.equal((await call(url, '/internal/config')).status, 404);
    });
    await withApp({ defects: ['ssrf'] }, async ({ url }) => {
      const alice = await login(url, 'alice');
      const res = await post(url, '/api/recipes/import', alice, { url: `${url}/internal/config` });
      assert.equal(res.status, 200);
      assert.match(String(res.json().excerpt), /hunter2-internal/);
      assert.equal((await call(url, '/internal/config')).json().dbPassword, 'hunter2-internal');
    });
  });

  test('debug', async () => {
    await withApp({}, async ({ url }) => {
      for (const path of ['/.env', '/debug/vars', '/.git/config', '/api/debug']) assert.equal((await call(url, path)).status, 404, path);
    });
    await withApp({ defects: ['debug'] }, async ({ url }) => {
      assert.match((await call(url, '/.env')).text, /^DATABASE_URL=postgres:\/\/recipes:s3cret@db\/recipes$/m);
      assert.match((await call(url, '/.env')).text, /^SESSION_SECRET=/m);
      const vars = (await call(url, '/debug/vars')).json();
      assert.ok(Array.isArray(vars.cmdline));
      assert.equal(typeof vars.memstats, 'object');
      assert.match((await call(url, '/.git/config')).text, /^\[core\]\n\trepositoryformatversion = 0/);
      assert.equal(typeof (await call(url, '/api/debug')).json().env, 'object');
    });
  });

  test('recipes-public', async () => {
    await withApp({}, async ({ url }) => {
      assert.equal((await call(url, '/api/recipes')).status, 401);
      assert.equal((await call(url, '/api/recipes/1')).status, 401);
    });
    await withApp({ defects: ['recipes-public'] }, async ({ url }) => {
      assert.deepEqual(ids((await call(url, '/api/recipes')).json().recipes), ['1', '2', '3']);
      assert.equal((await call(url, '/api/recipes/1')).json().title, "Grandma's apple pie");
    });
  });

  test('idor', async () => {
    const bobReads = async (url: string): Promise<number[]> => {
      const bob = await login(url, 'bob');
      return Promise.all(['/api/documents/1', '/files/1', '/api/recipes/1'].map(async (path) => (await call(url, path, { sid: bob.sid })).status));
    };
    await withApp({}, async ({ url }) => assert.deepEqual(await bobReads(url), [404, 404, 404]));
    await withApp({ defects: ['idor'] }, async ({ url }) => {
      assert.deepEqual(await bobReads(url), [200, 200, 200]);
      const bob = await login(url, 'bob');
      assert.match((await call(url, '/files/1', { sid: bob.sid })).text, /Passport of Alice/);
      assert.equal((await call(url, '/files/1')).status, 401, 'anonymous still refused');
    });
  });

  test('cors', async () => {
    const preflight = { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'x-csrf-token' } };
    await withApp({}, async ({ url }) => {
      const get = await call(url, '/api/me', { headers: { origin: 'https://evil.example' } });
      assert.equal(get.headers['access-control-allow-origin'], undefined);
      const pre = await call(url, '/api/recipes/1', preflight);
      assert.equal(pre.status, 204);
      assert.equal(pre.headers['access-control-allow-origin'], undefined);
      assert.equal(pre.headers['access-control-allow-methods'], undefined);
      assert.equal(pre.headers['access-control-allow-credentials'], undefined);
    });
    await withApp({ defects: ['cors'] }, async ({ url }) => {
      for (const origin of ['https://evil.example', 'null']) {
        const get = await call(url, '/api/me', { headers: { origin } });
        assert.equal(get.headers['access-control-allow-origin'], origin);
        assert.equal(get.headers['access-control-allow-credentials'], 'true');
      }
      const pre = await call(url, '/api/recipes/1', preflight);
      assert.equal(pre.status, 204);
      assert.equal(pre.headers['access-control-allow-origin'], 'https://evil.example');
      assert.equal(pre.headers['access-control-allow-methods'], 'DELETE');
      assert.equal(pre.headers['access-control-allow-headers'], 'x-csrf-token');
    });
  });

  test('stack-traces', async () => {
    await withApp({ defects: ['stack-traces'] }, async ({ url }) => {
      const alice = await login(url, 'alice');
      const malformed = await call(url, '/api/recipes', { method: 'POST', sid: alice.sid, headers: { ...JSON_TYPE, 'x-csrf-token': alice.csrf }, body: '{"title":' });
      assert.equal(malformed.status, 500);
      const body = malformed.json();
      assert.match(String(body.stack), /SyntaxError[\s\S]*\n\s+at .*recipes-app\/src\/\w+\.ts:\d+/);
      assert.equal(body.database, 'postgres://recipes:s3cret@db:5432/recipes');
      const sql = await call(url, '/api/recipes/abc');
      assert.equal(sql.status, 500);
      assert.equal(sql.json().error, 'SQLITE_ERROR: near "abc": syntax error');
      assert.match(sql.text, /SELECT \* FROM recipes/);
      assert.equal((await call(url, '/no/such/page')).status, 404, 'a plain 404 stays plain');
    });
    // The right app's side (400 and 404, no stack) is covered by 'errors are plain JSON'.
  });
});

test('spa mode answers every unknown non-API GET with the shell, unless the debug defect is on', async () => {
  const shell = '<!doctype html><div id="root"></div><script src="/app.js"></script>';
  await withApp({ spa: true }, async ({ url }) => {
    for (const path of ['/.env', '/debug/vars', '/phpinfo.php', '/.git/config', '/recipes/42']) {
      const res = await call(url, path);
      assert.equal(res.status, 200, path);
      assert.match(String(res.headers['content-type']), /^text\/html/);
      assert.equal(res.text, shell);
    }
    assert.equal((await call(url, '/api/nope')).status, 404);
    assert.equal((await call(url, '/api/debug')).status, 404);
    assert.equal((await call(url, '/.env', { method: 'POST', headers: JSON_TYPE, body: '{}' })).status, 404);
    assert.equal((await call(url, '/app.js')).status, 200);
  });
  await withApp({ spa: true, defects: ['debug'] }, async ({ url }) => {
    assert.match((await call(url, '/.env')).text, /^DATABASE_URL=/);
    assert.equal((await call(url, '/phpinfo.php')).text, shell);
  });
});

test('the ssrf fixture fetches loopback in any spelling, follows redirects, and never leaves loopback', async () => {
  await withApp({ defects: ['ssrf'] }, async ({ url }) => {
    const alice = await login(url, 'alice');
    const port = new URL(url).port;
    const importing = (target: string): ReturnType<typeof call> => post(url, '/api/recipes/import', alice, { url: target });
    for (const host of ['2130706433', '0177.0.0.1', '0x7f.0.0.1', 'localhost', '127.1']) {
      const res = await importing(`http://${host}:${port}/internal/config`);
      assert.equal(res.status, 200, host);
      assert.match(String(res.json().excerpt), /hunter2-internal/);
    }
    const page = await importing(`${url}/login`);
    assert.equal(page.json().title, 'Log in · Family recipes');

    const toInternal = await redirector(() => `${url}/internal/config`);
    const toPrivate = await redirector(() => 'http://10.0.0.1/');
    const toMetadata = await redirector(() => 'http://169.254.169.254/latest/meta-data/');
    const loop = await redirector((path) => `${path}x`);
    try {
      assert.match(String((await importing(toInternal.url)).json().excerpt), /hunter2-internal/);
      // Refused by the fixture's guard before any connection: a 502 naming the guard, never a
      // connect that failed or a 504 after one timed out.
      const guard = 'fetch failed: the fixture connects only to loopback addresses';
      const refused: [string, string][] = [
        ['http://10.0.0.1/', guard],
        ['http://example.invalid/', 'fetch failed: could not resolve example.invalid'],
        ['http://[fd00::1]/', guard],
        [toPrivate.url, guard],
        [toMetadata.url, guard],
      ];
      for (const [target, error] of refused) {
        const res = await importing(target);
        assert.equal(res.status, 502, target);
        assert.deepEqual(res.json(), { error }, target);
      }
      assert.deepEqual([toPrivate.hits(), toMetadata.hits()], [1, 1], 'each redirect was fetched once and its target refused');
      const looping = await importing(loop.url);
      assert.equal(looping.status, 502);
      assert.match(String(looping.json().error), /more than 3 redirects/);
    } finally {
      await Promise.all([toInternal, toPrivate, toMetadata, loop].map((s) => s.close()));
    }
  });
  await withApp({ defects: ['ssrf'], resolveHost: (name) => (name === 'recipes.internal.test' ? ['127.0.0.1'] : undefined) }, async ({ url }) => {
    const alice = await login(url, 'alice');
    const res = await post(url, '/api/recipes/import', alice, { url: `http://recipes.internal.test:${new URL(url).port}/internal/config` });
    assert.equal(res.status, 200, 'an injected resolver plays DNS');
  });
});

describe('faults', () => {
  test('error rate fails a deterministic share of requests, never /health', async () => {
    await withApp({ faults: { errorRate: 0.25 } }, async ({ url, setFaults }) => {
      const statuses = [];
      for (let i = 0; i < 8; i++) statuses.push((await call(url, '/api/me')).status);
      assert.deepEqual(statuses, [401, 401, 401, 500, 401, 401, 401, 500]);
      for (let i = 0; i < 5; i++) assert.equal((await call(url, '/health')).status, 200);
      for (let i = 0; i < 3; i++) assert.equal((await call(url, '/api/me')).status, 401);
      assert.deepEqual((await call(url, '/api/me')).json(), { error: 'injected fault' }, '/health did not count');
      setFaults({});
      for (let i = 0; i < 8; i++) assert.equal((await call(url, '/api/me')).status, 401);
    });
  });

  test('latency holds each answer for exactly its delay; down answers 503 everywhere; auth-broken fails login with 500', async () => {
    const clock = fakeClock();
    await withApp({ sleep: clock.sleep }, async ({ url, setFaults }) => {
      setFaults({ latencyMs: 150 });
      let answered = false;
      const health = call(url, '/health').then((res) => {
        answered = true;
        return res;
      });
      await clock.sleepers(1);
      await clock.advance(149);
      assert.deepEqual([clock.waiting, answered], [1, false], 'still held 1 ms before the delay ends');
      await clock.advance(1);
      assert.equal((await health).status, 200);

      setFaults({ down: true });
      for (const path of ['/health', '/', '/api/recipes']) assert.equal((await call(url, path)).status, 503, path);

      setFaults({ authBroken: true });
      const res = await call(url, '/api/login', { method: 'POST', headers: JSON_TYPE, body: '{"username":"alice","password":"alice-password"}' });
      assert.equal(res.status, 500);
      assert.equal((await call(url, '/health')).status, 200);

      setFaults({});
      await login(url, 'alice');
      assert.throws(() => setFaults({ errorRate: 2 }), /errorRate/);
    });
  });

  test('the integrity check agrees with the ledger through writes, updates and deletes, and fails under the integrity fault', async () => {
    await withApp({}, async ({ url, setFaults }) => {
      const healthy = await call(url, '/health/integrity');
      assert.equal(healthy.status, 200);
      assert.deepEqual({ ...healthy.json(), checksum: typeof healthy.json().checksum }, { ok: true, recipes: 3, checksum: 'string' });
      const alice = await login(url, 'alice');
      const created = await post(url, '/api/recipes', alice, { title: 'Pancakes', ingredients: ['flour', 'milk'] });
      const id = String(created.json().id);
      const write = (method: string, body?: unknown) =>
        call(url, `/api/recipes/${id}`, { method, sid: alice.sid, headers: { ...JSON_TYPE, 'x-csrf-token': alice.csrf }, body: body === undefined ? undefined : JSON.stringify(body) });
      assert.equal((await write('PUT', { title: 'Crepes' })).status, 200);
      const afterWrites = (await call(url, '/health/integrity')).json();
      assert.deepEqual([afterWrites.ok, afterWrites.recipes], [true, 4]);
      assert.notEqual(afterWrites.checksum, healthy.json().checksum, 'the checksum covers the rows');

      setFaults({ integrity: true });
      const broken = await call(url, '/health/integrity');
      assert.equal(broken.status, 500);
      assert.deepEqual([broken.json().ok, broken.json().problem], [false, 'the recipes table holds 3 rows, its ledger recorded 4']);
      assert.equal((await call(url, '/health')).status, 200, 'only the integrity check sees it');

      setFaults({});
      assert.equal((await write('DELETE')).status, 204);
      assert.deepEqual((await call(url, '/health/integrity')).json(), healthy.json(), 'back to the seeded rows after the delete');
    });
  });

  test('the integrity fault is seen on an empty table too; error-rate spares the integrity check', async () => {
    await withApp({ users: [{ username: 'dave', password: 'dave-password', role: 'user' }], faults: { integrity: true, errorRate: 1 } }, async ({ url }) => {
      const res = await call(url, '/health/integrity');
      assert.equal(res.status, 500);
      assert.deepEqual([res.json().ok, res.json().problem], [false, 'the recipes table holds 1 row, its ledger recorded 0']);
      assert.equal((await call(url, '/')).status, 500, 'error-rate 1 fails the other routes');
    });
  });

  test('parseFaults reads the RECIPES_FAULTS syntax', () => {
    assert.deepEqual(parseFaults('error-rate=0.2, latency-ms=300,down,auth-broken'), { errorRate: 0.2, latencyMs: 300, down: true, authBroken: true });
    assert.deepEqual(parseFaults('integrity'), { integrity: true });
    assert.throws(() => parseFaults('integrity=yes'), /fault "integrity" takes no value/);
    assert.deepEqual(parseFaults(''), {});
    assert.throws(() => parseFaults('slow'), /unknown fault "slow"; known faults: error-rate=<0\.\.1>, latency-ms=<ms>, down, auth-broken, integrity/);
    assert.throws(() => parseFaults('error-rate=lots'), /needs a number/);
    assert.throws(() => parseFaults('error-rate=1.5'), /between 0 and 1/);
  });
});

test('parseDefects names unknown defects and lists the known ones', () => {
  assert.deepEqual(parseDefects('ssrf,csrf'), ['ssrf', 'csrf']);
  assert.deepEqual(parseDefects(' ssrf , ssrf ,'), ['ssrf']);
  assert.deepEqual(parseDefects(''), []);
  assert.throws(
    () => parseDefects('ssrf,sqli,xss'),
    (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.equal(
        err.message,
        'unknown defects: sqli, xss; known defects: headers, weak-csp, insecure-cookie, csrf, rate-limit, ssrf, debug, recipes-public, idor, cors, stack-traces',
      );
      return true;
    },
  );
});

test('the CLI prints its URL once listening and exits cleanly on SIGTERM', async () => {
  const main = fileURLToPath(new URL('./main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    env: { ...process.env, PORT: '0', RECIPES_DEFECTS: 'csrf,ssrf', RECIPES_FAULTS: 'latency-ms=1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // Its first line, or its exit if it dies first: no wall-clock bound (the runner's timeout is one).
    const lines = createInterface({ input: child.stdout });
    const line = await Promise.race([
      once(lines, 'line').then(([first]: string[]) => first),
      once(child, 'exit').then(([code]) => assert.fail(`exited ${String(code)} before listening: ${stderr}`)),
    ]);
    const match = /^recipes-app listening on (http:\/\/127\.0\.0\.1:\d+) \(defects: csrf,ssrf\)$/.exec(line);
    assert.ok(match, line);
    assert.equal((await call(match[1], '/health')).status, 200);
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
