import http from 'node:http';
import { once } from 'node:events';

/** One request that reached the canary. */
export interface CanaryHit {
  /** The token in the path (`/t/<token>`, `/redirect/<token>`), or undefined for any other path. */
  token?: string;
  /** `hit` for /t/, `redirect` for the first hop of the redirect payload, `other` for anything else. */
  kind: 'hit' | 'redirect' | 'other';
  method: string;
  path: string;
  /** Address the connection came from. */
  from?: string;
  userAgent?: string;
}

/** gonogo's own out-of-band listener, open for the length of one probe. */
export interface Canary {
  /** Port both listeners share. */
  port: number;
  /** Whether a second listener on ::1 is up (so `http://[::1]:port` reaches the canary too). */
  ipv6: boolean;
  readonly hits: readonly CanaryHit[];
  /** The body `/t/<token>` answers with: finding it in the target's answer means the content came back. */
  body(token: string): string;
  close(): Promise<void>;
}

/** At most this many hits are kept; a flood of requests must not grow memory without bound. */
const MAX_HITS = 200;
const TOKEN = /^\/(t|redirect)\/([A-Za-z0-9_-]{1,64})(?:[/?#]|$)/;

/**
 * Opens the canary on `host:port` (port 0 = any free port) and, when the host is 127.0.0.1, on
 * `[::1]` at the same port if the machine has IPv6 loopback. `/t/<token>` answers a body naming
 * the token; `/redirect/<token>` answers 302 to `redirectTo(token, port)`.
 */
export async function openCanary(opts: { host: string; port: number; redirectTo: (token: string, port: number) => string }): Promise<Canary> {
  const hits: CanaryHit[] = [];
  let port = opts.port;
  const body = (token: string) => `gonogo-canary-${token}`;
  const handler: http.RequestListener = (req, res) => {
    const path = req.url ?? '/';
    const m = TOKEN.exec(path);
    const kind = m ? (m[1] === 't' ? 'hit' : 'redirect') : 'other';
    if (hits.length < MAX_HITS) {
      hits.push({ token: m?.[2], kind, method: req.method ?? '', path: path.slice(0, 200), from: req.socket.remoteAddress, userAgent: req.headers['user-agent'] });
    }
    req.resume();
    if (m && kind === 'redirect') {
      res.writeHead(302, { location: opts.redirectTo(m[2], port), connection: 'close' }).end();
    } else if (m) {
      res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' }).end(body(m[2]));
    } else {
      res.writeHead(404, { connection: 'close' }).end();
    }
  };

  const servers: http.Server[] = [];
  const listen = async (host: string, port: number): Promise<http.Server> => {
    const server = http.createServer(handler);
    server.listen(port, host);
    await once(server, 'listening');
    return server;
  };
  const main = await listen(opts.host, opts.port);
  servers.push(main);
  const address = main.address();
  if (address !== null && typeof address === 'object') port = address.port;
  let ipv6 = false;
  if (opts.host === '127.0.0.1') {
    try {
      servers.push(await listen('::1', port));
      ipv6 = true;
    } catch {
      // No IPv6 loopback here (or the port is taken on it): [::1] payloads cannot reach the canary.
    }
  }
  return {
    port,
    ipv6,
    hits,
    body,
    close: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.closeAllConnections();
              s.close(() => resolve());
            }),
        ),
      );
    },
  };
}
