// A tiny HTTP client for the app's tests: exact control over headers and bodies (a browser-like
// client would add or forbid some), one connection per request, bounded by a timeout.
import http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';

export interface TestResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON. */
  json(): Record<string, unknown>;
}

export interface TestRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Session cookie value (`sid`), sent as `Cookie: sid=...`. */
  sid?: string;
}

export function call(base: string, path: string, req: TestRequest = {}): Promise<TestResponse> {
  const headers: Record<string, string> = { ...req.headers };
  if (req.sid !== undefined) headers.cookie = `sid=${req.sid}`;
  return new Promise((resolve, reject) => {
    const r = http.request(`${base}${path}`, { method: req.method ?? 'GET', headers, agent: false, signal: AbortSignal.timeout(10_000) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          json() {
            const value: unknown = JSON.parse(text);
            if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`not a JSON object: ${text}`);
            return { ...value };
          },
        });
      });
    });
    r.on('error', reject);
    r.end(req.body);
  });
}

/** Sends raw bytes on a fresh connection and returns whatever comes back before it closes. */
export function rawExchange(base: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.setTimeout(5_000, () => socket.destroy(new Error('raw exchange timed out')));
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

/** Logs in and returns the session id and CSRF token. */
export async function login(base: string, username: string, password = `${username}-password`): Promise<{ sid: string; csrf: string }> {
  const res = await call(base, '/api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login as ${username} failed: ${res.status} ${res.text}`);
  const cookie = res.headers['set-cookie']?.[0] ?? '';
  const sid = /^sid=([^;]*)/.exec(cookie)?.[1];
  const csrf = res.json().csrfToken;
  if (!sid || typeof csrf !== 'string') throw new Error(`login as ${username}: no session in ${cookie} / ${res.text}`);
  return { sid, csrf };
}
