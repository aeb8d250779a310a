// Small HTTP helpers: replies as data, errors as values with a status, bounded body reading.
import type { IncomingMessage } from 'node:http';

/** What a handler answers; the server adds the common headers and writes it. */
export interface Reply {
  status: number;
  type?: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
}

/** An error that is the answer: its status and message go to the client as `{"error": message}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A body that is not JSON; keeps the parser's own error, which the `stack-traces` defect leaks. */
export class InvalidJsonError extends HttpError {
  constructor(readonly parseError: Error) {
    super(400, 'invalid JSON body');
  }
}

export const MAX_BODY_BYTES = 1024 * 1024;

export function json(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return { status, type: 'application/json; charset=utf-8', body: JSON.stringify(value), headers: { 'Cache-Control': 'no-store', ...headers } };
}

export function html(status: number, page: string): Reply {
  return { status, type: 'text/html; charset=utf-8', body: page };
}

export function text(status: number, body: string, type = 'text/plain; charset=utf-8'): Reply {
  return { status, type, body };
}

/** The media type of the request body, lower case, without parameters; '' when absent. */
export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

/**
 * Reads the whole body, up to `limit` bytes. Past the limit it answers 413 and asks to close
 * the connection, so the rest of an oversized body is never read.
 */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const tooLarge = (): HttpError => new HttpError(413, 'body too large', { Connection: 'close' });
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      fn();
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) settle(() => reject(tooLarge()));
      else chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => settle(() => resolve(Buffer.concat(chunks))));
    req.on('error', (err) => settle(() => reject(err)));
    req.on('close', () => settle(() => reject(new HttpError(400, 'request aborted'))));
  });
}

/** Cookie name -> value from a `Cookie` header; the first occurrence of a name wins. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
  }
  return cookies;
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
