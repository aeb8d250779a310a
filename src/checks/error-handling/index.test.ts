import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import errorHandling from './index.js';
import { findLeaks } from '../_shared/leaks.js';
import type { Finding } from '../_shared/probe.js';
import { testContext } from '../../test-support/context.js';
import { recipesAuth, serve } from '../../test-support/server.js';
import { authSchema } from '../_shared/auth.js';
import type { AuthConfig } from '../_shared/auth.js';
import { startApp } from '../../../examples/recipes-app/src/app.js';

/** Reads (and drops) the request body, then answers. */
function drain(req: IncomingMessage, then: (body: string) => void): void {
  let body = '';
  req.on('data', (c: Buffer) => {
    if (body.length < 10_000) body += c.toString();
  });
  req.on('end', () => then(body));
}

const ids = (findings: Finding[], ...severities: Finding['severity'][]) =>
  findings.filter((f) => severities.length === 0 || severities.includes(f.severity)).map((f) => f.id).sort();

async function probe(url: string, opts: Record<string, unknown> = {}, auth?: AuthConfig) {
  const out = await errorHandling.run(opts, testContext({ url, auth }));
  return { out, findings: out.observations.findings as Finding[] };
}

const NODE_STACK = `SyntaxError: Unexpected end of JSON input
    at JSON.parse (<anonymous>)
    at parseBody (/usr/src/app/server.js:41:17)
    at Layer.handle [as handle_request] (/usr/src/app/node_modules/express/lib/router/layer.js:95:5)`;

describe('leak detectors', () => {
  const positives: [string, string, string][] = [
    ['Node stack in JSON', JSON.stringify({ error: 'x', stack: NODE_STACK }), 'stack-trace'],
    ['Node stack in Express HTML', '<pre>TypeError: x<br> &nbsp; &nbsp;at Object.handle (/app/routes.js:12:3)</pre>', 'stack-trace'],
    ['anonymous Node frame', 'Error: boom\n    at /srv/app/index.js:7:11', 'stack-trace'],
    ['Python', 'Traceback (most recent call last):\n  File "/srv/app/views.py", line 12, in index', 'stack-trace'],
    ['Java', 'Exception in thread "main" java.lang.NullPointerException\n\tat com.acme.Foo.bar(Foo.java:42)', 'stack-trace'],
    ['Java frame only', '\tat org.springframework.web.Servlet.service(Servlet.java:750)', 'stack-trace'],
    ['.NET', '   at Acme.Web.Controllers.Home.Index() in C:\\src\\Acme\\Home.cs:line 42', 'stack-trace'],
    ['PHP', '<b>Fatal error</b>:  Uncaught Error: x in /var/www/html/index.php:3', 'file-path'],
    ['PHP on line', 'Warning: include(x): failed in /var/www/html/index.php on line 3', 'stack-trace'],
    ['Ruby', "app/models/user.rb:12:in `find'", 'stack-trace'],
    ['Go', 'panic: runtime error\n\ngoroutine 1 [running]:\nmain.main()', 'stack-trace'],
    ['SQLite', '{"error":"SQLITE_ERROR: near \\"abc\\": syntax error"}', 'sql-error'],
    ['PostgreSQL', 'ERROR: syntax error at or near "\'" at character 33', 'sql-error'],
    ['MySQL', "You have an error in your SQL syntax; check the manual", 'sql-error'],
    ['Oracle', 'ORA-00933: SQL command not properly ended', 'sql-error'],
    ['SQLSTATE', 'SQLSTATE[42000]: Syntax error', 'sql-error'],
    ['raw SQL', '{"sql":"SELECT * FROM recipes WHERE id = abc"}', 'sql-error'],
    ['home path', 'cannot open /home/deploy/app/config.yml', 'file-path'],
    ['Windows path', 'Could not find file C:\\inetpub\\wwwroot\\web.config', 'file-path'],
    ['database URL', '{"database":"postgres://recipes:s3cret@db:5432/recipes"}', 'secret'],
    ['AWS key', 'key AKIAIOSFODNN7EXAMPLE', 'secret'],
    ['private key', '-----BEGIN RSA PRIVATE KEY-----\nMIIE', 'secret'],
    ['password=', 'connect failed: host=db user=app password=hunter22', 'secret'],
    ['env-style secret in JSON', '{"SESSION_SECRET":"keyboard-cat-3f9a"}', 'secret'],
  ];
  for (const [name, text, kind] of positives) {
    test(`catches: ${name}`, () => {
      assert.ok(findLeaks(text).some((l) => l.kind === kind), JSON.stringify(findLeaks(text)));
    });
  }

  const negatives: [string, string][] = [
    ['a JSON error', '{"error":"invalid JSON body"}'],
    ['a plain 500', '{"error":"internal error"}'],
    ['an SPA shell', '<!doctype html><div id="root"></div><script src="/assets/index-4f2a.js"></script><link href="/app/main.css">'],
    ['a login form', '<form method="post" action="/api/login"><input name="password" type="password"></form>'],
    ['an express 404', '<pre>Cannot GET /api/gonogo-no-such-route</pre>'],
    ['validation text', '{"error":"password must be at least 8 characters","csrfToken":"abcdef123456"}'],
    ['a URL without credentials', 'see https://docs.example.com/errors/E42'],
    ['prose with select', 'Select a recipe from the list'],
  ];
  for (const [name, text] of negatives) {
    test(`quiet on: ${name}`, () => assert.deepEqual(findLeaks(text), []));
  }

  test('a secret is masked in the evidence', () => {
    const [leak] = findLeaks('postgres://recipes:s3cret@db/recipes');
    assert.equal(leak.match, 'postgres://recipes:***@db');
    const [pw] = findLeaks('password=hunter22');
    assert.equal(pw.match.includes('hunter22'), false);
  });
});

/** The reference app's endpoints: app-specific paths belong in config (issue 9, point 11), as here. */
const RECIPES_REQUESTS = [
  { name: 'malformed JSON', method: 'POST', path: '/api/recipes', send: 'malformed-json' },
  { name: 'malformed id', path: "/api/recipes/gonogo'" },
  { name: 'unknown route', path: '/gonogo-no-such-route' },
  { name: 'unknown API route', path: '/api/gonogo-no-such-route' },
  { name: 'oversized body', method: 'POST', path: '/api/recipes', send: 'oversized' },
  { name: 'wrong method', method: 'PATCH', path: '/api/recipes' },
];

test('the defaults name no app: the root, unknown paths, and the configured login for the bodies', async (t) => {
  const seen: string[] = [];
  const s = await serve((req, res) =>
    drain(req, () => {
      seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
      res.writeHead(404).end();
    }),
  );
  t.after(s.close);
  await probe(s.url, { oversizeBytes: 4096 });
  assert.deepEqual(seen.filter((r) => r.startsWith('POST')), ['POST /', 'POST /']);
  seen.length = 0;
  const auth = authSchema.parse({ login: { url: '/session' }, users: {} });
  await probe(s.url, { oversizeBytes: 4096 }, auth);
  assert.deepEqual(seen.filter((r) => r.startsWith('POST')), ['POST /session', 'POST /session']);
  assert.ok(!seen.some((r) => r.includes('recipes')), seen.join(', '));
});

describe('error-handling probe against live servers', () => {
  /**
   * A fixture API: `leaky` renders errors with a stack and the database URL. The stack is fixed, not
   * this process's own: a real one names the checkout's folder, and a clone under /tmp would add a
   * file-path finding that a clone under /work does not.
   */
  function api(leaky: boolean) {
    return (req: IncomingMessage, res: ServerResponse) =>
      drain(req, (body) => {
        const fail = (status: number, err: Error) =>
          res
            .writeHead(status, { 'content-type': 'application/json' })
            .end(JSON.stringify(leaky ? { error: err.message, stack: `${err.name}: ${err.message}\n    at JSON.parse (<anonymous>)\n    at handler (/app/server.js:12:3)`, db: 'postgres://app:pw@db/app' } : { error: status === 500 ? 'internal error' : err.message }));
        if (req.url === '/api/recipes' && req.method === 'POST') {
          try {
            JSON.parse(body);
            return res.writeHead(201).end('{}');
          } catch (err) {
            return fail(500, err instanceof Error ? err : new Error(String(err)));
          }
        }
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      });
  }

  test('leaking errors: stack trace (medium) and credentials URL (high), with the request named', async (t) => {
    const s = await serve(api(true));
    t.after(s.close);
    const { out, findings } = await probe(s.url, { oversizeBytes: 4096, paths: RECIPES_REQUESTS });
    assert.deepEqual(ids(findings), ['leak.secret', 'leak.stack-trace']);
    const secret = findings.find((f) => f.id === 'leak.secret');
    assert.equal((secret?.observed as { request: string }).request, 'malformed JSON');
    assert.deepEqual((secret?.observed as { matches: string[] }).matches, ['URL with credentials: postgres://app:***@db']);
    assert.equal(out.observations.high, 1);
    assert.equal(out.observations.server_errors, 1);
  });

  test('a bare 500 is not a finding (counted in server_errors)', async (t) => {
    const s = await serve(api(false));
    t.after(s.close);
    const { out, findings } = await probe(s.url, { oversizeBytes: 4096, paths: RECIPES_REQUESTS });
    assert.deepEqual(findings, []);
    assert.equal(out.observations.server_errors, 1);
    assert.equal(out.observations.requests, 6);
  });

  test('a server that slams the door on an oversized body is info, not an error', async (t) => {
    const s = await serve((req, res) => {
      if (Number(req.headers['content-length']) > 100_000) return req.socket.destroy();
      api(false)(req, res);
    });
    t.after(s.close);
    const { findings } = await probe(s.url);
    assert.deepEqual(ids(findings), ['oversized.closed']);
  });

  test('a reset on an ordinary request is an error (could not verify)', async (t) => {
    const s = await serve((req) => req.socket.destroy());
    t.after(s.close);
    await assert.rejects(probe(s.url, { paths: ['/'] }));
  });

  test('loginAs sends the session cookie and the CSRF token', async (t) => {
    const s = await serve((req, res) => {
      if (req.url === '/api/login') {
        return drain(req, () => res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'sid=s1; HttpOnly' }).end('{"csrfToken":"t0k"}'));
      }
      // Only a logged-in request with its token reaches the leaky parser.
      if (req.headers.cookie?.includes('sid=s1') && req.headers['x-csrf-token'] === 't0k') return api(true)(req, res);
      drain(req, () => res.writeHead(401).end('{"error":"login"}'));
    });
    t.after(s.close);
    const auth: AuthConfig = { login: { url: '/api/login', method: 'POST', headers: {}, csrfHeader: 'X-CSRF-Token' }, users: { alice: { username: 'alice', password: 'pw' } } };
    const paths = [{ method: 'POST', path: '/api/recipes', send: 'malformed-json' }];
    assert.deepEqual((await probe(s.url, { paths })).findings, []);
    assert.deepEqual(ids((await probe(s.url, { paths, loginAs: 'alice' }, auth)).findings), ['leak.secret', 'leak.stack-trace']);
  });

  test('refuses a path on another host before sending anything', async (t) => {
    const target = await serve(api(true));
    const other = await serve(api(true));
    t.after(target.close);
    t.after(other.close);
    await assert.rejects(probe(target.url, { paths: ['/api/recipes', `${other.url}/boom`] }), /refused/);
    assert.equal(other.hits(), 0);
    assert.equal(target.hits(), 0);
  });

  test('never sends more than maxRequests', async (t) => {
    const s = await serve(api(false));
    t.after(s.close);
    await assert.rejects(probe(s.url, { maxRequests: 4, oversizeBytes: 4096 }), /budget of 4/);
    assert.equal(s.hits(), 4);
  });
});

describe('error-handling probe against the recipes app', () => {
  const auth = recipesAuth('alice');

  test('"stack-traces" on: caught anonymously (malformed id) and logged in (malformed JSON too)', async (t) => {
    const app = await startApp({ defects: ['stack-traces'] });
    t.after(app.close);
    const anon = await probe(app.url, { paths: RECIPES_REQUESTS });
    assert.deepEqual(ids(anon.findings, 'high'), ['leak.secret']);
    assert.deepEqual(ids(anon.findings, 'medium'), ['leak.sql-error', 'leak.stack-trace']);
    const logged = await probe(app.url, { loginAs: 'alice', paths: RECIPES_REQUESTS }, auth);
    const requests = new Set(logged.findings.map((f) => (f.observed as { request: string }).request));
    assert.deepEqual(requests, new Set(['malformed JSON', 'malformed id']));
  });

  test('clean app, plain and SPA, anonymous and logged in: quiet', async (t) => {
    for (const spa of [false, true]) {
      const app = await startApp({ spa });
      t.after(app.close);
      assert.deepEqual((await probe(app.url, { paths: RECIPES_REQUESTS })).findings, []);
      const logged = await probe(app.url, { loginAs: 'alice', paths: RECIPES_REQUESTS }, auth);
      assert.deepEqual(logged.findings, []);
      // Logged in, the oversized body reaches the body limit: 413, not a reset.
      const statuses = (logged.out.observations.responses as { name: string; status: number }[]).map((r) => [r.name, r.status]);
      assert.deepEqual(statuses.find(([name]) => name === 'oversized body'), ['oversized body', 413]);
    }
  });
});
