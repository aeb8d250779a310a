// Real servers on 127.0.0.1 for tests: fixtures that play a target app, and raw TCP servers for
// replies no HTTP server would send. Each closes with every connection it still holds, so a test
// that ends mid-request never keeps the process alive.
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { authSchema } from '../checks/_shared/auth.js';
import type { AuthConfig } from '../checks/_shared/auth.js';

/** An HTTP fixture listening on a loopback port. */
export interface TestServer {
  /** `http://127.0.0.1:<port>` (or the address it was asked to listen on), without a trailing slash. */
  url: string;
  port: number;
  /** `METHOD /path` of every request received, in order of arrival. */
  requests: string[];
  /** How many requests have arrived. */
  hits(): number;
  /** Stops listening and drops every open connection. */
  close(): Promise<void>;
}

/** A raw TCP fixture listening on a loopback port. */
export interface RawServer {
  /** `http://127.0.0.1:<port>`, as a client under test would be pointed at it. */
  url: string;
  port: number;
  /** How many connections have been opened to it. */
  connections(): number;
  /** Stops listening and destroys every open socket. */
  close(): Promise<void>;
}

async function listen(server: Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the test server has no port');
  return address.port;
}

/**
 * An HTTP server on 127.0.0.1 (or another loopback address, e.g. 127.0.0.2 to play another origin)
 * that answers with `handler` and records each request.
 */
export async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void, host = '127.0.0.1'): Promise<TestServer> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    handler(req, res);
  });
  const port = await listen(server, host);
  return {
    url: `http://${host}:${port}`,
    port,
    requests,
    hits: () => requests.length,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A handler that answers 200 with a text body of `fill` that never ends, written as fast as the client reads, until it leaves. */
export function endlessBody(fill: string): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const chunk = Buffer.alloc(16 * 1024, fill);
    const pump = (): void => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  };
}

/** A TCP server on 127.0.0.1 that does whatever `onConnection` does with each socket. */
export async function serveRaw(onConnection: (socket: Socket) => void): Promise<RawServer> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createNetServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port that was free a moment ago, for a test that must name a port before it binds it. */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The whole request body as text. */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString()));
    req.on('error', reject);
  });
}

/**
 * The `auth:` section for these users, logging in the way the recipes app (and the fixtures that
 * play it) expect: JSON `POST /api/login`, password `<name>-password`, CSRF token in `X-CSRF-Token`.
 */
export function recipesAuth(...names: string[]): AuthConfig {
  return authSchema.parse({ login: { url: '/api/login' }, users: Object.fromEntries(names.map((name) => [name, { username: name, password: `${name}-password` }])) });
}
