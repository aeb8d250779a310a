import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import http from './index.js';
import { testContext } from '../../test-support/context.js';
import { readBody, serve, serveRaw } from '../../test-support/server.js';

const QUICK = { timeout: 10_000 };

type Hooks = { after: (fn: () => Promise<void> | void) => void };

/** The recipes app's shape, as far as these checks need it. */
async function recipesApp(t: Hooks): Promise<{ url: string; seen: { method?: string; headers: IncomingMessage['headers']; body: string }[] }> {
  const seen: { method?: string; headers: IncomingMessage['headers']; body: string }[] = [];
  const server = await serve((req: IncomingMessage, res: ServerResponse) => {
    void readBody(req).then((body) => {
      seen.push({ method: req.method, headers: req.headers, body });
      if (req.url === '/health') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-App-Version': '2.4.1' });
        return res.end(JSON.stringify({ status: 'ok', checks: { db: 'up' } }));
      }
      if (req.url === '/old-health') return res.writeHead(301, { Location: '/health' }).end();
      if (req.url === '/about') return res.end('<h1>Family recipes</h1>');
      if (req.url === '/api/recipes') return res.writeHead(201, { 'content-type': 'application/json' }).end(body);
      if (req.url === '/big') return res.end('b'.repeat(10_000));
      res.writeHead(404).end('not found');
    });
  });
  t.after(server.close);
  return { url: server.url, seen };
}

async function rawServer(t: Hooks, onConnection: (socket: Socket) => void): Promise<string> {
  const server = await serveRaw(onConnection);
  t.after(server.close);
  return server.url;
}

test('observations: status, lower-cased headers, parsed JSON body, text, latency, url, redirects', QUICK, async (t) => {
  const { url } = await recipesApp(t);
  const { observations, evidence } = await http.run({ url: `${url}/health` }, testContext({ url }));
  assert.equal(observations.status, 200);
  assert.deepEqual(observations.body, { status: 'ok', checks: { db: 'up' } });
  assert.equal(observations.text, '{"status":"ok","checks":{"db":"up"}}');
  assert.equal(Reflect.get(Object(observations.headers), 'x-app-version'), '2.4.1');
  assert.equal(typeof observations.latency_ms, 'number');
  assert.equal(observations.url, `${url}/health`);
  assert.equal(observations.redirects, 0);
  assert.deepEqual(Reflect.get(Object(evidence), 'request'), { method: 'GET', url: `${url}/health` });
});

test('a body that is not JSON leaves body undefined and text set', QUICK, async (t) => {
  const { url } = await recipesApp(t);
  const { observations } = await http.run({ url: `${url}/about` }, testContext({ url }));
  assert.equal(observations.body, undefined);
  assert.equal(observations.text, '<h1>Family recipes</h1>');
});

test('an error status is an observation, judged elsewhere', QUICK, async (t) => {
  const { url } = await recipesApp(t);
  const { observations } = await http.run({ url: `${url}/missing` }, testContext({ url }));
  assert.equal(observations.status, 404);
  assert.deepEqual(http.defaultExpect({ url }), ['status >= 200 && status < 400']);
});

test('json is sent as JSON with its content type; headers and method are sent', QUICK, async (t) => {
  const { url, seen } = await recipesApp(t);
  const { observations } = await http.run(
    { url: `${url}/api/recipes`, method: 'POST', headers: { Authorization: 'Bearer test-token' }, json: { title: 'Pierogi' } },
    testContext({ url }),
  );
  assert.equal(observations.status, 201);
  assert.deepEqual(observations.body, { title: 'Pierogi' });
  assert.equal(seen[0].method, 'POST');
  assert.equal(seen[0].headers['content-type'], 'application/json');
  assert.equal(seen[0].headers.authorization, 'Bearer test-token');
});

test('a given content-type is kept for a JSON body', QUICK, async (t) => {
  const { url, seen } = await recipesApp(t);
  await http.run({ url: `${url}/api/recipes`, method: 'POST', headers: { 'content-type': 'application/vnd.recipes+json' }, json: [] }, testContext({ url }));
  assert.equal(seen[0].headers['content-type'], 'application/vnd.recipes+json');
});

test('redirects are followed and counted, or not followed when told', QUICK, async (t) => {
  const { url } = await recipesApp(t);
  const followed = await http.run({ url: `${url}/old-health` }, testContext({ url }));
  assert.equal(followed.observations.status, 200);
  assert.equal(followed.observations.redirects, 1);
  assert.equal(followed.observations.url, `${url}/health`);
  const notFollowed = await http.run({ url: `${url}/old-health`, followRedirects: 'none' }, testContext({ url }));
  assert.equal(notFollowed.observations.status, 301);
  assert.equal(Reflect.get(Object(notFollowed.observations.headers), 'location'), '/health');
});

/**
 * The case from the field: a bearer token on a URL that redirects to another origin (127.0.0.2, the
 * same machine under another address), and a same-origin hop before it.
 */
async function tokenTrap(t: Hooks): Promise<{ url: string; seen: Map<string, IncomingMessage['headers']>; other: { url: string; requests: string[] } }> {
  const seen = new Map<string, IncomingMessage['headers']>();
  const other = await serve((req, res) => {
    seen.set(`other ${req.url ?? ''}`, req.headers);
    res.end('collected');
  }, '127.0.0.2');
  t.after(other.close);
  const target = await serve((req, res) => {
    seen.set(`target ${req.url ?? ''}`, req.headers);
    if (req.url === '/old') return res.writeHead(301, { location: '/api/release' }).end();
    res.writeHead(302, { location: `${other.url}/collect` }).end();
  });
  t.after(target.close);
  return { url: target.url, seen, other };
}

const credentials = { Authorization: 'Bearer release-token', Cookie: 'sid=live-session' };

test('a redirect to another origin is not followed by default: the 302 and its location are observed', QUICK, async (t) => {
  const { url, seen, other } = await tokenTrap(t);
  const { observations } = await http.run({ url: `${url}/old`, headers: credentials }, testContext({ url }));
  assert.equal(observations.status, 302);
  assert.equal(Reflect.get(Object(observations.headers), 'location'), `${other.url}/collect`);
  assert.equal(observations.url, `${url}/api/release`, 'the same-origin hop was followed');
  assert.equal(observations.redirects, 1);
  assert.equal(seen.get('target /api/release')?.authorization, 'Bearer release-token', 'same-origin hops keep the credentials');
  assert.deepEqual(other.requests, [], 'nothing reached the other origin');
});

test('followRedirects any: the other origin is reached without authorization or cookie', QUICK, async (t) => {
  const { url, seen, other } = await tokenTrap(t);
  const { observations } = await http.run({ url: `${url}/old`, headers: credentials, followRedirects: 'any' }, testContext({ url }));
  assert.equal(observations.status, 200);
  assert.equal(observations.url, `${other.url}/collect`);
  assert.deepEqual(other.requests, ['GET /collect']);
  const there = seen.get('other /collect');
  assert.equal(there?.authorization, undefined);
  assert.equal(there?.cookie, undefined);
  const here = seen.get('target /api/release');
  assert.equal(here?.authorization, 'Bearer release-token', 'same-origin hops keep the credentials');
  assert.equal(here?.cookie, 'sid=live-session');
});

test('followRedirects none: even a same-origin redirect is the observation', QUICK, async (t) => {
  const { url, other } = await tokenTrap(t);
  const { observations } = await http.run({ url: `${url}/old`, headers: credentials, followRedirects: 'none' }, testContext({ url }));
  assert.equal(observations.status, 301);
  assert.equal(observations.redirects, 0);
  assert.deepEqual(other.requests, []);
});

test('a chain of 10 redirects is followed; 11 is an error', QUICK, async (t) => {
  const server = await serve((req, res) => {
    const n = Number(req.url?.slice(1));
    if (n === 11) return res.end('landed');
    res.writeHead(302, { location: `/${n + 1}` }).end();
  });
  t.after(server.close);
  const { url } = server;
  const ten = await http.run({ url: `${url}/1` }, testContext({ url }));
  assert.equal(ten.observations.text, 'landed');
  assert.equal(ten.observations.redirects, 10);
  await assert.rejects(http.run({ url: `${url}/0` }, testContext({ url })), { message: 'too many redirects (more than 10), last to /11' });
});

test('a body over maxBodyBytes is an error', QUICK, async (t) => {
  const { url } = await recipesApp(t);
  await assert.rejects(http.run({ url: `${url}/big`, maxBodyBytes: 1000 }, testContext({ url })), /response body larger than 1000 bytes/);
});

test('hostile: a target that never answers ends by the context signal with an error', QUICK, async (t) => {
  const url = await rawServer(t, () => undefined);
  await assert.rejects(http.run({ url }, testContext({ url, timeoutMs: 300 })), /timeout: gave up on 127\.0\.0\.1:\d+ while waiting for the response/);
});

test('hostile: an endless body stops at the cap', QUICK, async (t) => {
  const url = await rawServer(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = `4000\r\n${'e'.repeat(0x4000)}\r\n`;
    const pump = (): void => {
      while (!socket.destroyed && socket.write(chunk));
      if (!socket.destroyed) socket.once('drain', pump);
    };
    pump();
  });
  await assert.rejects(http.run({ url, maxBodyBytes: 100_000 }, testContext({ url })), /response body larger than 100000 bytes/);
});

test('hostile: a redirect loop is an error naming the loop', QUICK, async (t) => {
  const url = await rawServer(t, (socket) => {
    socket.once('data', (d: Buffer) => {
      const path = d.toString().split(' ')[1];
      socket.end(`HTTP/1.1 302 Found\r\nLocation: ${path === '/ping' ? '/pong' : '/ping'}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    });
  });
  await assert.rejects(http.run({ url: `${url}/ping` }, testContext({ url })), {
    message: `redirect loop: ${url}/ping -> ${url}/pong -> ${url}/ping`,
  });
});

test('hostile: a garbage reply is an error saying it is not HTTP', QUICK, async (t) => {
  const url = await rawServer(t, (socket) => socket.end('\x16\x03\x01 this is not http'));
  await assert.rejects(http.run({ url }, testContext({ url })), {
    message: /^not an HTTP response from 127\.0\.0\.1:\d+, starting "\\u0016\\u0003\\u0001 this is not http"/,
  });
});

test('options: strict, with defaults; the host is the URL host', () => {
  const parsed = http.options.parse({ url: 'https://staging.recipes.test/health' });
  assert.deepEqual(parsed, { url: 'https://staging.recipes.test/health', method: 'GET', headers: {}, followRedirects: 'same-origin', maxBodyBytes: 1024 * 1024 });
  assert.equal(http.options.safeParse({ url: 'x', retry: 3 }).success, false);
  for (const followRedirects of ['same-origin', 'any', 'none']) assert.equal(http.options.safeParse({ url: 'x', followRedirects }).success, true, followRedirects);
  for (const followRedirects of [5, 0, true, 'all', 'same-host']) {
    assert.equal(http.options.safeParse({ url: 'x', followRedirects }).success, false, `followRedirects: ${JSON.stringify(followRedirects)}`);
  }
  assert.equal(http.options.safeParse({ url: 'x', maxBodyBytes: 64 * 1024 * 1024 }).success, true);
  assert.equal(http.options.safeParse({ url: 'x', maxBodyBytes: 64 * 1024 * 1024 + 1 }).success, false, 'maxBodyBytes is bounded');
  assert.equal(http.host({ url: 'https://Staging.Recipes.test:8443/health' }, { name: 'staging', vars: {} }), 'staging.recipes.test:8443');
  assert.equal(http.host({ url: '{{env.url}}/health' }, { name: 'staging', vars: {} }), undefined);
});

test('http: session cookie values are not kept in observations or evidence; names and flags are', async () => {
  const server = await serve((_, res) => res.writeHead(200, { 'set-cookie': ['sid=live-session-token-123; Path=/; HttpOnly', 'theme=dark'] }).end('ok'));
  try {
    const { url } = server;
    const out = await http.run({ url, method: 'GET', headers: {}, followRedirects: 'none', maxBodyBytes: 1024 }, testContext({ url }));
    const all = JSON.stringify(out);
    assert.ok(!all.includes('live-session-token-123'), all);
    assert.match(all, /sid=\*\*\*; Path=\/; HttpOnly/);
  } finally {
    await server.close();
  }
});

/** A connection pool that counts the requests handed to it. */
class CountingPool extends Agent {
  dispatched = 0;
  dispatch(options: Agent.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.dispatched += 1;
    return super.dispatch(options, handler);
  }
}

test("requests go through the run's connection pool (the context's dispatcher)", QUICK, async (t) => {
  const app = await recipesApp(t);
  const pool = new CountingPool();
  t.after(() => pool.destroy());
  const { observations } = await http.run({ url: `${app.url}/old-health` }, { ...testContext({ url: app.url }), dispatcher: pool });
  assert.equal(observations.status, 200);
  assert.equal(pool.dispatched, 2, 'the request and the redirect it followed');
});
