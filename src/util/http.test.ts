import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { httpRequest, HttpCheckError, hostKey, isAllowedHost } from './http.js';
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

test('maxRedirects 0 returns the redirect itself; past the cap is an error', QUICK, async (t) => {
  const { url } = await httpServer(t, (req, res) => {
    const n = Number(req.url?.slice(1));
    res.writeHead(302, { location: `/${n + 1}` }).end();
  });
  const first = await httpRequest({ url: `${url}/1`, maxRedirects: 0, signal: AbortSignal.timeout(5000) });
  assert.equal(first.status, 302);
  assert.equal(first.headers.location, '/2');
  const err = await rejection(httpRequest({ url: `${url}/1`, maxRedirects: 3, signal: AbortSignal.timeout(5000) }));
  assert.ok(err instanceof HttpCheckError);
  assert.match(err.message, /too many redirects \(more than 3\), last to \/5/);
});

test('hostile: a redirect loop is named as one, with its path', QUICK, async (t) => {
  const { url } = await httpServer(t, (req, res) => {
    res.writeHead(302, { location: req.url === '/a' ? '/b' : '/a' }).end();
  });
  const err = await rejection(httpRequest({ url: `${url}/a`, maxRedirects: 20, signal: AbortSignal.timeout(5000) }));
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

test('allowedHosts: a request to another host is refused before anything is sent', QUICK, async (t) => {
  const target = await rawServer(t, (socket) => socket.end('HTTP/1.1 204 No Content\r\n\r\n'));
  const port = new URL(target.url).port;
  const allowed = new Set([`127.0.0.1:${port}`]);
  const err = await rejection(httpRequest({ url: `http://localhost:${port}/`, allowedHosts: allowed, signal: AbortSignal.timeout(5000) }));
  assert.equal(err.message, `refused to send a request to localhost:${port}: not the configured target`);
  assert.equal(target.connections(), 0);
});

test('allowedHosts: a redirect off the target is refused before it is followed', QUICK, async (t) => {
  const elsewhere = await rawServer(t, (socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret'));
  const { url, requests } = await httpServer(t, (_req, res) => res.writeHead(302, { location: `${elsewhere.url}/internal` }).end());
  const allowed = new Set([new URL(url).host]);
  const err = await rejection(httpRequest({ url: `${url}/go`, allowedHosts: allowed, signal: AbortSignal.timeout(5000) }));
  assert.match(err.message, /refused to send a request to 127\.0\.0\.1:\d+: not the configured target/);
  assert.deepEqual(requests, ['GET /go']);
  assert.equal(elsewhere.connections(), 0);
});

test('host keys and the allow-list', () => {
  assert.equal(hostKey(new URL('http://Example.COM/x')), 'example.com:80');
  assert.equal(hostKey(new URL('https://example.com/x')), 'example.com:443');
  assert.equal(isAllowedHost(new URL('https://example.com:8443/'), new Set(['example.com'])), true);
  assert.equal(isAllowedHost(new URL('https://example.com:8443/'), new Set(['example.com:443'])), false);
});

test('hostile: a server that never answers ends by the signal, with the reason', QUICK, async (t) => {
  const { url, connections } = await rawServer(t, () => undefined);
  const err = await rejection(httpRequest({ url, signal: AbortSignal.timeout(200) }));
  assert.ok(err instanceof HttpCheckError);
  assert.match(err.message, /timeout: gave up on 127\.0\.0\.1:\d+ while waiting for the response$/);
  assert.equal(connections(), 1);
});

test('hostile: headers sent and then nothing ends by the signal', QUICK, async (t) => {
  const { url } = await rawServer(t, (socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst'));
  const controller = new AbortController();
  const pending = httpRequest({ url, signal: controller.signal });
  setTimeout(() => controller.abort(new Error('check timed out after 0.2s')), 200);
  const err = await rejection(pending);
  assert.match(err.message, /^check timed out after 0\.2s: gave up on 127\.0\.0\.1:\d+ while reading the body \(5 bytes received\)$/);
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
    socket.write('HTTP/1.1 302 Found\r\nLocation: /next\r\nTransfer-Encoding: chunked\r\n\r\n');
    every(t, socket, 100, () => socket.write('1\r\nr\r\n'));
  });
  const err = await rejection(httpRequest({ url, signal: AbortSignal.timeout(500) }));
  assert.match(err.message, /timeout: gave up on .* while reading a redirect$/);
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
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial body');
    setTimeout(() => socket.resetAndDestroy(), 20);
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

test('unsupported schemes are refused', QUICK, async () => {
  const err = await rejection(httpRequest({ url: 'file:///etc/passwd', signal: AbortSignal.timeout(5000) }));
  assert.equal(err.message, 'unsupported URL scheme file: in file:///etc/passwd');
});
