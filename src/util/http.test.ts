import { getEventListeners } from 'node:events';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import { httpRequest, HttpCheckError, isAllowedOrigin } from './http.js';
import { endlessBody, freePort, serve, serveRaw } from '../test-support/server.js';
import type { RawServer, TestServer } from '../test-support/server.js';

// Every hostile case must end on its own, well inside this: a hang fails the test instead of the suite.
const QUICK = { timeout: 10_000 };

type Hooks = { after: (fn: () => Promise<void> | void) => void };

/** A real HTTP server on a loopback port; closed, connections and all, after the test. */
async function httpServer(t: Hooks, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const server = await serve(handler);
  t.after(server.close);
  return server;
}

/** A raw TCP server that does whatever `onConnection` does with each socket: for replies no HTTP server would send. */
async function rawServer(t: Hooks, onConnection: (socket: Socket) => void): Promise<RawServer> {
  const server = await serveRaw(onConnection);
  t.after(server.close);
  return server;
}

/** Timers a hostile server starts must stop when its client leaves or the test ends. */
function every(t: Hooks, socket: Socket | ServerResponse, ms: number, fn: () => void): void {
  const timer = setInterval(fn, ms);
  const stop = (): void => clearInterval(timer);
  socket.on('close', stop);
  t.after(stop);
}

/**
 * An agent that aborts `controller` with `reason` as soon as the client has the response headers
 * (`headers`) or a piece of the body (`body`): an abort that lands at a known step, on an event, not
 * after a guessed delay.
 */
function abortOn(t: Hooks, step: 'headers' | 'body', controller: AbortController, reason: Error): Dispatcher {
  const agent = new Agent();
  t.after(() => agent.close());
  return agent.compose((dispatch) => (opts, handler) =>
    dispatch(opts, {
      onRequestStart: (c, context) => handler.onRequestStart?.(c, context),
      onRequestUpgrade: (c, status, headers, socket) => handler.onRequestUpgrade?.(c, status, headers, socket),
      onResponseStart: (c, status, headers, message) => {
        handler.onResponseStart?.(c, status, headers, message);
        if (step === 'headers') controller.abort(reason);
      },
      onResponseData: (c, chunk) => {
        handler.onResponseData?.(c, chunk);
        if (step === 'body') controller.abort(reason);
      },
      onResponseEnd: (c, trailers) => handler.onResponseEnd?.(c, trailers),
      onResponseError: (c, err) => handler.onResponseError?.(c, err),
    }),
  );
}

/** What each request to a server carried, by path: the headers a redirect may or may not have kept. */
function recordHeaders(seen: Map<string, IncomingMessage['headers']>, req: IncomingMessage): void {
  seen.set(req.url ?? '', req.headers);
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof Error, `not an Error: ${String(err)}`);
    return err;
  }
  assert.fail('expected the request to fail');
}

test('happy path: JSON body, lower-cased headers, set-cookie kept apart, latency', QUICK, async (t) => {
  const { url } = await httpServer(t, (req, res) => {
    res.setHeader('X-Release-Train', 'Spring');
    res.setHeader('Set-Cookie', ['sid=abc; HttpOnly', 'theme=dark']);
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ status: 'ok', method: req.method }));
  });
  const res = await httpRequest({ url: `${url}/health`, signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body), { status: 'ok', method: 'GET' });
  assert.equal(res.headers['x-release-train'], 'Spring');
  assert.equal(res.headers['content-type'], 'application/json');
  assert.deepEqual(res.setCookies, ['sid=abc; HttpOnly', 'theme=dark']);
  assert.equal(res.url, `${url}/health`);
  assert.deepEqual(res.redirects, []);
  assert.equal(typeof res.latencyMs, 'number');
});

test('a request leaves nothing listening on its signal once it settles, answered or failed (the engine reuses a quiet signal)', QUICK, async (t) => {
  const { url } = await httpServer(t, (req, res) => {
    if (req.url === '/redirect') res.writeHead(302, { location: '/big' }).end('moved');
    else res.end('x'.repeat(req.url === '/big' ? 4096 : 10));
  });
  const signal = new AbortController().signal;
  assert.equal((await httpRequest({ url: `${url}/ok`, signal })).body, 'x'.repeat(10));
  assert.equal(getEventListeners(signal, 'abort').length, 0, 'after an answer');
  assert.equal((await httpRequest({ url: `${url}/redirect`, signal, maxBodyBytes: 100, truncateBody: true })).truncated, true);
  assert.equal(getEventListeners(signal, 'abort').length, 0, 'after a redirect and a truncated body');
  await rejection(httpRequest({ url: `${url}/big`, signal, maxBodyBytes: 100 }));
  assert.equal(getEventListeners(signal, 'abort').length, 0, 'after a body over the cap');
  await rejection(httpRequest({ url: `http://127.0.0.1:${await freePort()}/`, signal }));
  assert.equal(getEventListeners(signal, 'abort').length, 0, 'after a refused connection');
});

test('request method, headers and body are sent', QUICK, async (t) => {
  const { url } = await httpServer(t, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => res.end(`${req.method} ${req.headers['x-token']} ${body}`));
  });
  const res = await httpRequest({ url, method: 'post', headers: { 'X-Token': 't1' }, body: 'payload', signal: AbortSignal.timeout(5000) });
  assert.equal(res.body, 'POST t1 payload');
});

test('redirects are followed and recorded; 303 turns a POST into a GET', QUICK, async (t) => {
  const { url, requests } = await httpServer(t, (req, res) => {
    if (req.url === '/login') return res.writeHead(303, { location: '/step' }).end();
    if (req.url === '/step') return res.writeHead(302, { location: `${url}/home` }).end();
    res.end(`home via ${req.method}`);
  });
  const res = await httpRequest({ url: `${url}/login`, method: 'POST', body: 'user=a', signal: AbortSignal.timeout(5000) });
  assert.equal(res.body, 'home via GET');
  assert.equal(res.url, `${url}/home`);
  assert.deepEqual(res.redirects, [`${url}/login`, `${url}/step`]);
  assert.deepEqual(requests, ['POST /login', 'GET /step', 'GET /home']);
});

test('policy none returns the redirect itself; past the cap is an error; the default cap is 10', QUICK, async (t) => {
  // `/n` redirects to `/n+1`, up to `/11`, which answers: ten hops from `/1`, eleven from `/0`.
  const { url } = await httpServer(t, (req, res) => {
    const n = Number(req.url?.slice(1));
    if (n === 11) return res.end('landed');
    res.writeHead(302, { location: `/${n + 1}` }).end();
  });
  const first = await httpRequest({ url: `${url}/1`, redirects: { policy: 'none', max: 10 }, signal: AbortSignal.timeout(5000) });
  assert.equal(first.status, 302);
  assert.equal(first.headers.location, '/2');
  const err = await rejection(httpRequest({ url: `${url}/1`, redirects: { policy: 'same-origin', max: 3 }, signal: AbortSignal.timeout(5000) }));
  assert.ok(err instanceof HttpCheckError);
  assert.match(err.message, /too many redirects \(more than 3\), last to \/5/);

  const ten = await httpRequest({ url: `${url}/1`, signal: AbortSignal.timeout(5000) });
  assert.equal(ten.body, 'landed');
  assert.equal(ten.redirects.length, 10);
  const eleven = await rejection(httpRequest({ url: `${url}/0`, signal: AbortSignal.timeout(5000) }));
  assert.equal(eleven.message, 'too many redirects (more than 10), last to /11');
});

test('by default a redirect to another origin is not followed: the redirect is the answer', QUICK, async (t) => {
  const other = await serve((_req, res) => res.end('elsewhere'), '127.0.0.2');
  t.after(other.close);
  const { url, requests } = await httpServer(t, (_req, res) => res.writeHead(302, { location: `${other.url}/landing` }).end('moved'));
  const res = await httpRequest({ url: `${url}/start`, headers: { authorization: 'Bearer release-token' }, signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 302);
  assert.equal(res.headers.location, `${other.url}/landing`);
  assert.equal(res.url, `${url}/start`);
  assert.deepEqual(res.redirects, []);
  assert.deepEqual(requests, ['GET /start']);
  assert.deepEqual(other.requests, [], 'nothing reached the other origin');
});

test('policy any: credentials stay on their origin, for the rest of the chain; other headers go on', QUICK, async (t) => {
  const seen = new Map<string, IncomingMessage['headers']>();
  const target = await httpServer(t, (req, res) => {
    recordHeaders(seen, req);
    if (req.url === '/start') return res.writeHead(302, { location: '/step' }).end();
    if (req.url === '/step') return res.writeHead(307, { location: `${other.url}/landing` }).end();
    res.end(`back at ${req.url}`);
  });
  const other = await serve((req, res) => {
    recordHeaders(seen, req);
    res.writeHead(302, { location: `${target.url}/back` }).end();
  }, '127.0.0.2');
  t.after(other.close);
  // Names in every case a caller may write them.
  const headers = { Authorization: 'Bearer release-token', COOKIE: 'sid=live-session', 'proxy-authorization': 'Basic cHJveHk6cHc=', 'X-Trace': 't-1' };
  const res = await httpRequest({ url: `${target.url}/start`, headers, redirects: { policy: 'any', max: 10 }, signal: AbortSignal.timeout(5000) });
  assert.equal(res.body, 'back at /back');
  assert.deepEqual(res.redirects, [`${target.url}/start`, `${target.url}/step`, `${other.url}/landing`]);
  for (const path of ['/start', '/step']) {
    const h = seen.get(path);
    assert.equal(h?.authorization, 'Bearer release-token', `${path} is on the origin the credentials were given for`);
    assert.equal(h?.cookie, 'sid=live-session');
    assert.equal(h?.['proxy-authorization'], 'Basic cHJveHk6cHc=');
  }
  for (const path of ['/landing', '/back']) {
    const h = seen.get(path);
    assert.ok(h, `${path} was requested`);
    assert.equal(h.authorization, undefined, `${path}: authorization left behind`);
    assert.equal(h.cookie, undefined, `${path}: cookie left behind`);
    assert.equal(h['proxy-authorization'], undefined, `${path}: proxy-authorization left behind`);
    assert.equal(h['x-trace'], 't-1');
  }
});

test('another port or scheme of the same host is another origin: not followed by default', QUICK, async (t) => {
  const otherPort = await httpServer(t, (_req, res) => res.end('other port'));
  const { url } = await httpServer(t, (req, res) => {
    const to = req.url === '/port' ? `${otherPort.url}/` : `https://127.0.0.1:${new URL(otherPort.url).port}/`;
    res.writeHead(301, { location: to }).end();
  });
  for (const path of ['/port', '/scheme']) {
    const res = await httpRequest({ url: `${url}${path}`, signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 301, path);
  }
  assert.deepEqual(otherPort.requests, []);
});

test('hostile: a redirect loop is named as one, with its path', QUICK, async (t) => {
  const { url } = await httpServer(t, (req, res) => {
    res.writeHead(302, { location: req.url === '/a' ? '/b' : '/a' }).end();
  });
  const err = await rejection(httpRequest({ url: `${url}/a`, signal: AbortSignal.timeout(5000) }));
  assert.equal(err.message, `redirect loop: ${url}/a -> ${url}/b -> ${url}/a`);

  const self = await httpServer(t, (_req, res) => res.writeHead(301, { location: '/same' }).end());
  const selfErr = await rejection(httpRequest({ url: `${self.url}/same`, signal: AbortSignal.timeout(5000) }));
  assert.match(selfErr.message, /^redirect loop: /);
});

test('hostile: a redirect to an unreadable location is an error naming it', QUICK, async (t) => {
  const { url } = await rawServer(t, (socket) => {
    socket.end('HTTP/1.1 302 Found\r\nLocation: http://[not-an-ip/\r\nContent-Length: 0\r\n\r\n');
  });
  const err = await rejection(httpRequest({ url, signal: AbortSignal.timeout(5000) }));
  assert.ok(err instanceof HttpCheckError);
  assert.match(err.message, /redirect to an invalid location "http:\/\/\[not-an-ip\/"/);
});

test('allowedOrigins: a request to another origin is refused before anything is sent', QUICK, async (t) => {
  const target = await rawServer(t, (socket) => socket.end('HTTP/1.1 204 No Content\r\n\r\n'));
  const elsewhere = await rawServer(t, (socket) => socket.end('HTTP/1.1 204 No Content\r\n\r\n'));
  const allowed = new Set([new URL(target.url).origin]);
  const byName = await rejection(httpRequest({ url: `http://localhost:${target.port}/`, allowedOrigins: allowed, signal: AbortSignal.timeout(5000) }));
  assert.equal(byName.message, `refused to send a request to localhost:${target.port}: not the configured target`);
  const byPort = await rejection(httpRequest({ url: `${elsewhere.url}/`, allowedOrigins: allowed, signal: AbortSignal.timeout(5000) }));
  assert.equal(byPort.message, `refused to send a request to 127.0.0.1:${elsewhere.port}: not the configured target`);
  assert.equal(target.connections(), 0);
  assert.equal(elsewhere.connections(), 0);
});

test('allowedOrigins: a redirect off the target is refused before it is followed, whatever the policy', QUICK, async (t) => {
  const elsewhere = await rawServer(t, (socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret'));
  const { url, requests } = await httpServer(t, (_req, res) => res.writeHead(302, { location: `${elsewhere.url}/internal` }).end());
  const allowed = new Set([new URL(url).origin]);
  const err = await rejection(httpRequest({ url: `${url}/go`, allowedOrigins: allowed, redirects: { policy: 'any', max: 10 }, signal: AbortSignal.timeout(5000) }));
  assert.match(err.message, /refused to send a request to 127\.0\.0\.1:\d+: not the configured target/);
  assert.deepEqual(requests, ['GET /go']);
  assert.equal(elsewhere.connections(), 0);
});

test('the allow-list compares origins: scheme, host and port, default ports normalised', () => {
  const cases: { name: string; url: string; allowed: string[]; ok: boolean }[] = [
    { name: 'same origin', url: 'http://127.0.0.1:3000/api', allowed: ['http://127.0.0.1:3000'], ok: true },
    { name: 'another port of the host', url: 'http://127.0.0.1:3001/api', allowed: ['http://127.0.0.1:3000'], ok: false },
    { name: 'default port spelled out', url: 'http://LOCALHOST:80/x', allowed: ['http://localhost'], ok: true },
    { name: 'a port-less target allows port 80 only', url: 'http://localhost:8080/x', allowed: ['http://localhost'], ok: false },
    { name: 'https default port', url: 'https://example.com:443/', allowed: ['https://example.com'], ok: true },
    { name: 'another scheme', url: 'https://localhost/', allowed: ['http://localhost'], ok: false },
    { name: 'a host name alone allows nothing', url: 'https://example.com:8443/', allowed: ['example.com'], ok: false },
    { name: 'an opaque origin never', url: 'file:///etc/passwd', allowed: ['null'], ok: false },
  ];
  for (const c of cases) assert.equal(isAllowedOrigin(new URL(c.url), new Set(c.allowed)), c.ok, c.name);
});

test('hostile: a server that never answers ends by the signal, with the reason', QUICK, async (t) => {
  const controller = new AbortController();
  // The deadline strikes once the request has arrived: the client is then waiting for an answer that never comes.
  const { url, connections } = await rawServer(t, (socket) => socket.once('data', () => controller.abort(new Error('check timed out after 2s'))));
  const err = await rejection(httpRequest({ url, signal: controller.signal }));
  assert.ok(err instanceof HttpCheckError);
  assert.match(err.message, /^check timed out after 2s: gave up on 127\.0\.0\.1:\d+ while waiting for the response$/);
  assert.equal(connections(), 1);
});

test('hostile: headers sent and then nothing ends by the signal', QUICK, async (t) => {
  const { url } = await rawServer(t, (socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst'));
  const controller = new AbortController();
  const dispatcher = abortOn(t, 'body', controller, new Error('check timed out after 2s'));
  const err = await rejection(httpRequest({ url, signal: controller.signal, dispatcher }));
  // How much of `first` was counted before the abort is undici's business; the step is ours.
  assert.match(err.message, /^check timed out after 2s: gave up on 127\.0\.0\.1:\d+ while reading the body \(\d+ bytes received\)$/);
});

test('hostile: a body trickling one byte a second ends by the signal', QUICK, async (t) => {
  const { url } = await rawServer(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n');
    every(t, socket, 1000, () => socket.write('x'));
  });
  const err = await rejection(httpRequest({ url, signal: AbortSignal.timeout(1500) }));
  assert.ok(err instanceof HttpCheckError);
  assert.match(err.message, /timeout: gave up on .* while reading the body \(\d+ bytes received\)$/);
});

test('hostile: headers trickling one byte a second end by the signal', QUICK, async (t) => {
  const { url } = await rawServer(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\nX-Slow: ');
    every(t, socket, 1000, () => socket.write('y'));
  });
  const err = await rejection(httpRequest({ url, signal: AbortSignal.timeout(1500) }));
  assert.match(err.message, /timeout: gave up on .* while waiting for the response$/);
});

test('hostile: a redirect whose body never ends stops at the signal', QUICK, async (t) => {
  const { url, connections } = await rawServer(t, (socket) => {
    // One chunk and never the last one: the body does not end.
    socket.write('HTTP/1.1 302 Found\r\nLocation: /next\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nr\r\n');
  });
  const controller = new AbortController();
  const dispatcher = abortOn(t, 'body', controller, new Error('check timed out after 2s'));
  const err = await rejection(httpRequest({ url, signal: controller.signal, dispatcher }));
  assert.match(err.message, /^check timed out after 2s: gave up on .* while reading a redirect$/);
  assert.equal(connections(), 1, 'the redirect was not followed after the deadline');
});

test('hostile: an endless body stops at the size cap', QUICK, async (t) => {
  const { url } = await httpServer(t, endlessBody('z'));
  const err = await rejection(httpRequest({ url, maxBodyBytes: 256 * 1024, signal: AbortSignal.timeout(5000) }));
  assert.ok(err instanceof HttpCheckError);
  assert.equal(err.message, 'response body larger than 262144 bytes: stopped reading');
});

test('hostile: endless headers end with an error, not a stall', QUICK, async (t) => {
  const { url } = await rawServer(t, (socket) => {
    socket.write('HTTP/1.1 200 OK\r\n');
    let i = 0;
    const pump = (): void => {
      while (!socket.destroyed && socket.write(`X-Flood-${i++}: ${'h'.repeat(100)}\r\n`));
      if (!socket.destroyed) socket.once('drain', pump);
    };
    pump();
  });
  const err = await rejection(httpRequest({ url, signal: AbortSignal.timeout(5000) }));
  assert.ok(err instanceof HttpCheckError);
  assert.match(err.message, /^response headers from 127\.0\.0\.1:\d+ are too large/);
});

test('hostile: a connection reset mid-body is an error naming the reset', QUICK, async (t) => {
  const { url } = await rawServer(t, (socket) => {
    // Reset once the partial body has left for the client (the write's callback), not after a guessed delay.
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial body', () => socket.resetAndDestroy());
  });
  const err = await rejection(httpRequest({ url, signal: AbortSignal.timeout(5000) }));
  assert.ok(err instanceof HttpCheckError);
  // Usually mid-body; a reset can also discard what the client had not read yet.
  assert.match(err.message, /^connection reset by 127\.0\.0\.1:\d+ while (reading the body \(\d+ bytes received\)|waiting for the response) \(ECONNRESET\)$/);
});

test('hostile: a body cut short by a clean close is an error, not a short body', QUICK, async (t) => {
  const { url } = await rawServer(t, (socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly this'));
  const err = await rejection(httpRequest({ url, signal: AbortSignal.timeout(5000) }));
  assert.ok(err instanceof HttpCheckError);
  assert.match(err.message, /^127\.0\.0\.1:\d+ closed the connection while reading the body \(9 bytes received\)/);
});

test('hostile: a reply that is not HTTP at all is an error saying so', QUICK, async (t) => {
  const { url } = await rawServer(t, (socket) => socket.write('SSH-2.0-OpenSSH_9.6\r\n'));
  const err = await rejection(httpRequest({ url, signal: AbortSignal.timeout(5000) }));
  assert.ok(err instanceof HttpCheckError);
  assert.match(err.message, /^not an HTTP response from 127\.0\.0\.1:\d+, starting "SSH-2\.0-OpenSSH_9\.6\\r\\n"/);
});

test('hostile: a reset before any reply, and a refused connection', QUICK, async (t) => {
  const reset = await rawServer(t, (socket) => socket.resetAndDestroy());
  const resetErr = await rejection(httpRequest({ url: reset.url, signal: AbortSignal.timeout(5000) }));
  assert.ok(resetErr instanceof HttpCheckError);
  assert.match(resetErr.message, /^(connection reset by|127\.0\.0\.1:\d+ closed the connection)/);

  const closed = await rawServer(t, () => undefined);
  const port = new URL(closed.url).port;
  const nobody = await freePort();
  assert.ok(String(nobody) !== port);
  const refused = await rejection(httpRequest({ url: `http://127.0.0.1:${nobody}/`, signal: AbortSignal.timeout(5000) }));
  assert.match(refused.message, /^connection refused by 127\.0\.0\.1:\d+ while waiting for the response \(ECONNREFUSED\)$/);
});

test('an already aborted signal sends nothing', QUICK, async (t) => {
  const { url, connections } = await rawServer(t, (socket) => socket.end('HTTP/1.1 204 No Content\r\n\r\n'));
  const err = await rejection(httpRequest({ url, signal: AbortSignal.abort(new Error('run interrupted')) }));
  assert.match(err.message, /^run interrupted: gave up on 127\.0\.0\.1:\d+ before sending anything$/);
  assert.equal(connections(), 0);
});

test('CONNECT (a tunnel, no answer to judge) is refused before anything is sent', QUICK, async (t) => {
  const { url, connections } = await rawServer(t, (socket) => socket.end('HTTP/1.1 200 Connection Established\r\n\r\n'));
  const err = await rejection(httpRequest({ url, method: 'connect', signal: AbortSignal.timeout(5000) }));
  assert.match(err.message, /^UND_ERR_INVALID_ARG: invalid method \(127\.0\.0\.1:\d+, while waiting for the response\)$/);
  assert.equal(connections(), 0);
});

test('unsupported schemes are refused', QUICK, async () => {
  const err = await rejection(httpRequest({ url: 'file:///etc/passwd', signal: AbortSignal.timeout(5000) }));
  assert.equal(err.message, 'unsupported URL scheme file: in file:///etc/passwd');
});
