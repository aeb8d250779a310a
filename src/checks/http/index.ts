import { z } from 'zod';
import { defineKind } from '../types.js';
import { DEFAULT_REDIRECTS, REDIRECT_POLICIES, httpRequest } from '../../util/http.js';

// Every body is held in memory (and judged, and kept in part as evidence): a config cannot ask for an unbounded one.
const MAX_BODY_BYTES = 64 * 1024 * 1024;

const options = z.strictObject({
  url: z.string().describe('URL to request; `{{env.url}}` expands to the environment base URL.'),
  method: z.string().default('GET').describe('HTTP method.'),
  headers: z.record(z.string(), z.string()).default({}).describe('Request headers.'),
  body: z.string().optional().describe('Request body, sent as is.'),
  json: z.unknown().optional().describe('Request body sent as JSON (sets content-type).'),
  followRedirects: z
    .enum(REDIRECT_POLICIES)
    .default('same-origin')
    .describe(
      `Which redirects to follow, at most ${DEFAULT_REDIRECTS.max} (more is an error). \`same-origin\`: only those to the URL's own scheme, host and port; ` +
        'a redirect elsewhere is the answer (status and `location` header), for `expect:` to judge. ' +
        '`any`: every one, without the Authorization, Cookie and Proxy-Authorization headers once the chain leaves the origin. `none`: the redirect is the answer.',
    ),
  maxBodyBytes: z
    .number()
    .int()
    .positive()
    .max(MAX_BODY_BYTES)
    .default(1024 * 1024)
    .describe(`A larger response body is an error. At most ${MAX_BODY_BYTES / (1024 * 1024)} MiB: the whole body is held in memory.`),
});

// What a JSON text can start with: anything else (an HTML page) is not parsed, as a failed parse costs an exception.
const JSON_START = /^\s*[[{"\-\dtfn]/;

function parseJson(text: string): unknown {
  if (!JSON_START.test(text)) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export default defineKind({
  name: 'http',
  description: 'One HTTP request; conditions on status, headers, JSON body paths, body text and latency.',
  options,
  fields: ['status', 'headers', 'body', 'text', 'latency_ms', 'url', 'redirects'],
  defaultExpect: () => ['status >= 200 && status < 400'],
  host: (o) => {
    try {
      return new URL(o.url).host;
    } catch {
      return undefined;
    }
  },
  async run(o, ctx) {
    const json = o.json !== undefined;
    const res = await httpRequest({
      url: o.url,
      method: o.method,
      headers: json ? { 'content-type': 'application/json', ...o.headers } : o.headers,
      body: json ? JSON.stringify(o.json) : o.body,
      signal: ctx.signal,
      redirects: { ...DEFAULT_REDIRECTS, policy: o.followRedirects },
      maxBodyBytes: o.maxBodyBytes,
      dispatcher: ctx.dispatcher,
    });
    // Session cookies are live credentials: their names and flags are kept, their values are not.
    const seen = res.setCookies.length > 0 ? { ...res.headers, 'set-cookie': res.setCookies.map((c) => c.replace(/^([^=;]*)=[^;]*/, '$1=***')).join(', ') } : res.headers;
    return {
      observations: {
        status: res.status,
        headers: seen,
        body: parseJson(res.body),
        text: res.body,
        latency_ms: res.latencyMs,
        url: res.url,
        redirects: res.redirects.length,
      },
      evidence: {
        request: { method: o.method, url: o.url },
        status: res.status,
        headers: seen,
        bodyExcerpt: res.body.slice(0, 2048),
        latencyMs: res.latencyMs,
        redirects: res.redirects,
      },
    };
  },
});
