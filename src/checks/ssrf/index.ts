import { randomBytes } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import { z } from 'zod';
import { defineKind } from '../types.js';
import { fillTemplate, login } from '../_shared/auth.js';
import type { Session } from '../_shared/auth.js';
import { ProbeClient, PROBE_FIELDS, probeBudget, probeDefaultExpect, probeOutcome } from '../_shared/probe.js';
import type { Finding } from '../_shared/probe.js';
import { openCanary } from './canary.js';
import type { CanaryHit } from './canary.js';

/**
 * Built-in payloads, for real targets. `{{canary}}` is the canary's base URL, `{{canaryPort}}` its
 * port, `{{token}}` a value unique to one payload sent to one endpoint (a hit names its payload).
 * The loopback forms point at the canary's port: they reach it when gonogo runs on the target's
 * host (local runs, CI with the app beside it); elsewhere they are judged by what comes back.
 */
export const DEFAULT_PAYLOADS: readonly string[] = [
  '{{canary}}/t/{{token}}',
  'http://127.0.0.1:{{canaryPort}}/t/{{token}}',
  'http://localhost:{{canaryPort}}/t/{{token}}',
  'http://[::1]:{{canaryPort}}/t/{{token}}',
  'http://2130706433:{{canaryPort}}/t/{{token}}',
  'http://0177.0.0.1:{{canaryPort}}/t/{{token}}',
  'http://0.0.0.0:{{canaryPort}}/t/{{token}}',
  '{{canary}}/redirect/{{token}}',
  'http://127.0.0.1/',
  'http://localhost/',
  'http://[::1]/',
  'http://169.254.169.254/latest/meta-data/',
  'http://metadata.google.internal/computeMetadata/v1/',
  'http://10.0.0.1/',
  'http://172.16.0.1/',
  'http://192.168.0.1/',
];

/** Text that only internal services answer with. */
export const DEFAULT_MARKERS: readonly string[] = [
  'ami-id',
  'instance-id',
  'local-ipv4',
  'computeMetadata',
  '"AccessKeyId"',
  '"internal":true',
  '"internal": true',
  'PRIVATE KEY-----',
  'root:x:0:0:',
];

const PLACEMENTS = ['template', 'query', 'json', 'form', 'header', 'path'] as const;

const endpointSchema = z.strictObject({
  method: z.string().default('POST').describe('HTTP method.'),
  path: z.string().describe('Path of the URL-fetching endpoint; may contain `{{payload}}` (URL-encoded), for GET endpoints.'),
  placement: z
    .enum(PLACEMENTS)
    .default('template')
    .describe(
      'Where the payload goes: `template` (`{{payload}}` in path and body, as written), `query` (`?<param>=`), `json` (`{"<param>": ...}`), `form` (`<param>=`), `header` (`<param>: `), or `path`: appended raw, unencoded, as an open proxy takes it (`/http://...`).',
    ),
  param: z.string().default('url').describe('Name of the query parameter, JSON field, form field or header that carries the payload.'),
  body: z
    .string()
    .optional()
    .describe('Body template with `{{payload}}` (escaped for the content type). Default `{"url":"{{payload}}"}`, none for GET and HEAD.'),
  contentType: z.string().default('application/json').describe('Content type of the body.'),
  loginAs: z.string().optional().describe('Test user (a name in `auth.users`) to send the requests as, with the CSRF token.'),
});

const options = z.strictObject({
  endpoints: z.array(endpointSchema).min(1).describe('Endpoints that fetch a URL they are given (recipe import, webhooks, previews).'),
  payloads: z
    .array(z.string())
    .min(1)
    .optional()
    .describe(
      'URL templates to submit (`{{canary}}`, `{{canaryPort}}`, `{{token}}`). Default: loopback in its spellings, 0.0.0.0, cloud metadata, private ranges and a redirect from the canary. Tests give loopback forms only.',
    ),
  allowPrivatePayloads: z
    .boolean()
    .default(true)
    .describe(
      'Submit payloads aimed at private ranges and cloud metadata (10/8, 172.16/12, 192.168/16, 169.254/16, *.internal). They make a vulnerable target connect into its own network; turn off where even that is unwelcome.',
    ),
  canary: z
    .strictObject({
      host: z.string().default('127.0.0.1').describe('Address the canary listens on. Loopback by default: only a target on this machine can reach it.'),
      port: z.number().int().min(0).max(65535).default(0).describe('Port to listen on; 0 = any free port.'),
      publicUrl: z
        .url()
        .optional()
        .describe('URL under which the target reaches the canary (a tunnel or this runner\'s address), when it is not on this machine.'),
      redirectTo: z
        .string()
        .default('http://127.0.0.1:{{canaryPort}}/t/{{token}}')
        .describe('Where `/redirect/<token>` sends the fetcher (`{{canaryPort}}`, `{{token}}`); an internal URL.'),
    })
    .prefault({})
    .describe('gonogo\'s own out-of-band listener, open for the length of the probe.'),
  internalMarkers: z
    .array(z.string())
    .default([...DEFAULT_MARKERS])
    .describe('Text that, in an endpoint\'s answer, shows internal content came back.'),
  waitMs: z
    .number()
    .int()
    .min(0)
    .max(5000)
    .default(500)
    .describe('How long to wait after the last payload for a late canary hit (a fetcher that works from a queue).'),
  ...probeBudget,
});

// Addresses a fetcher must never be steered to. Loopback and unspecified reach the target itself;
// the rest reach its network.
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addSubnet('0.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addAddress('::', 'ipv6');
const PRIVATE = new BlockList();
for (const [net, prefix] of [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['169.254.0.0', 16], ['100.64.0.0', 10]] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv4');
}
PRIVATE.addSubnet('fc00::', 7, 'ipv6');
PRIVATE.addSubnet('fe80::', 10, 'ipv6');

type Reach = 'loopback' | 'private' | 'external';

const METADATA_HOSTS = new Set(['169.254.169.254', 'metadata.google.internal', '100.100.100.200', 'fd00:ec2::254']);

/**
 * Which classes of address the probe asked the target to fetch, said once per run: a vulnerable
 * target really connects to them (its own loopback, its private network, its cloud's metadata).
 */
export function payloadNotice(urls: readonly string[], canaryUrl: string): string {
  const counts = new Map<string, number>();
  for (const url of urls) {
    let host = '';
    try {
      host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
    } catch {
      // counted as external below
    }
    const cls = url.startsWith(canaryUrl) ? "gonogo's canary" : METADATA_HOSTS.has(host) ? 'cloud metadata' : reachOf(url) === 'loopback' ? 'loopback' : reachOf(url) === 'private' ? 'private ranges' : 'external';
    counts.set(cls, (counts.get(cls) ?? 0) + 1);
  }
  const parts = [...counts].map(([cls, n]) => `${cls} (${n})`);
  const internal = counts.has('cloud metadata') || counts.has('private ranges');
  return `asked the target to fetch ${urls.length} URL(s): ${parts.join(', ')}${internal ? '; allowPrivatePayloads: false stops the private-range and metadata ones' : ''}`;
}

/** Where a URL's host points, as the WHATWG parser reads it (`2130706433` and `0177.0.0.1` are 127.0.0.1). */
export function reachOf(url: string): Reach {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return 'external';
  }
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host)?.[1];
  if (mapped) host = mapped;
  const v = isIP(host);
  if (v !== 0) {
    const family = v === 4 ? 'ipv4' : 'ipv6';
    if (LOOPBACK.check(host, family)) return 'loopback';
    return PRIVATE.check(host, family) ? 'private' : 'external';
  }
  if (host === 'localhost' || host.endsWith('.localhost')) return 'loopback';
  return host.endsWith('.internal') ? 'private' : 'external';
}

/** The payload templates to send: without private-network ones unless allowed. The canary is ours wherever it listens. */
export function selectPayloads(templates: readonly string[], allowPrivate: boolean): string[] {
  return templates.filter((p) => allowPrivate || p.includes('{{canary') || reachOf(p) !== 'private');
}

/** Removes the payload as echoed back (raw, JSON-escaped, URL-encoded) so an error quoting it is no evidence. */
function withoutEcho(body: string, payload: string): string {
  let out = body;
  for (const form of new Set([payload, JSON.stringify(payload).slice(1, -1), encodeURIComponent(payload)])) out = out.split(form).join('');
  return out;
}

/** A marker as it reads once the importer has quoted the fetched text in JSON or HTML. */
function spellings(marker: string): string[] {
  const html = marker.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  return [...new Set([marker, JSON.stringify(marker).slice(1, -1), html, marker.replace(/"/g, '&#34;')])];
}

function escapeFor(contentType: string, value: string): string {
  if (/json/i.test(contentType)) return JSON.stringify(value).slice(1, -1);
  if (/x-www-form-urlencoded/i.test(contentType)) return encodeURIComponent(value);
  return value;
}

type Endpoint = z.output<typeof endpointSchema>;

/** The request that carries one payload, by the endpoint's placement. */
function place(e: Endpoint, method: string, url: string): { path: string; body?: string; contentType: string; headers: Record<string, string> } {
  const bodyless = method === 'GET' || method === 'HEAD';
  const templated = (contentType: string) => (bodyless ? undefined : fillTemplate(e.body ?? '{"url":"{{payload}}"}', { payload: escapeFor(contentType, url) }));
  const path = fillTemplate(e.path, { payload: encodeURIComponent(url) });
  switch (e.placement) {
    case 'query': {
      const sep = path.includes('?') ? '&' : '?';
      return { path: `${path}${sep}${encodeURIComponent(e.param)}=${encodeURIComponent(url)}`, body: templated(e.contentType), contentType: e.contentType, headers: {} };
    }
    case 'json':
      return { path, body: JSON.stringify({ [e.param]: url }), contentType: 'application/json', headers: {} };
    case 'form':
      return { path, body: new URLSearchParams({ [e.param]: url }).toString(), contentType: 'application/x-www-form-urlencoded', headers: {} };
    case 'header':
      return { path, body: templated(e.contentType), contentType: e.contentType, headers: { [e.param.toLowerCase()]: url } };
    case 'path':
      // Unencoded, after a slash: `/http://127.0.0.1:1234/t/x` stays a path on the target.
      return { path: `${path.replace(/\/+$/, '')}/${url}`, body: templated(e.contentType), contentType: e.contentType, headers: {} };
    default:
      return { path, body: templated(e.contentType), contentType: e.contentType, headers: {} };
  }
}

interface Sent {
  endpoint: string;
  payload: string;
  url: string;
  token: string;
  status?: number;
  error?: string;
  markers: string[];
  reflected: boolean;
}

export default defineKind({
  name: 'ssrf',
  description:
    'Submits internal URLs (loopback in its spellings, metadata, private ranges, a redirect) and an out-of-band canary to URL-fetching endpoints; a canary hit or internal content coming back is a finding. ' +
    'The default payloads ask the target to fetch cloud-metadata (169.254.169.254, metadata.google.internal) and private-range addresses: a vulnerable target really connects to them (allowPrivatePayloads: false to stop); each run says once which classes were sent.',
  options,
  fields: [...PROBE_FIELDS, 'vulnerable', 'hits', 'canary', 'sent', 'skipped'],
  defaultExpect: probeDefaultExpect,
  async run(o, ctx) {
    const templates = selectPayloads(o.payloads ?? DEFAULT_PAYLOADS, o.allowPrivatePayloads);
    const users = [...new Set(o.endpoints.flatMap((e) => (e.loginAs ? [e.loginAs] : [])))];
    const planned = users.length + o.endpoints.length * templates.length;
    if (planned > o.maxRequests) {
      throw new Error(`the ssrf probe needs ${planned} requests (${o.endpoints.length} endpoints x ${templates.length} payloads, ${users.length} logins); maxRequests is ${o.maxRequests}`);
    }
    if (templates.length === 0) throw new Error('no payloads left to send (allowPrivatePayloads: false removed them all)');

    const client = new ProbeClient(ctx, o);
    return client.guard(async () => {
      const sessions = new Map<string, Session>();
      for (const u of users) sessions.set(u, await login(ctx.auth, u, ctx, client));

      const canary = await openCanary({
        host: o.canary.host,
        port: o.canary.port,
        redirectTo: (token, port) => fillTemplate(o.canary.redirectTo, { canaryPort: String(port), token: `${token}-r` }),
      });
      const canaryPort = canary.port;
      try {
        // Without a listener on ::1, an [::1] payload aimed at the canary could only come back quiet: a false pass.
        const unreachable = templates.filter((t) => !canary.ipv6 && t.includes('{{canaryPort}}') && /^https?:\/\/\[::1\]/i.test(t));
        const usable = templates.filter((t) => !unreachable.includes(t));
        const redirectReach = reachOf(fillTemplate(o.canary.redirectTo, { canaryPort: String(canaryPort), token: 'x' }));
        const listenHost = o.canary.host === '0.0.0.0' || o.canary.host === '::' ? '127.0.0.1' : o.canary.host;
        const canaryUrl = (o.canary.publicUrl ?? `http://${isIP(listenHost) === 6 ? `[${listenHost}]` : listenHost}:${canaryPort}`).replace(/\/+$/, '');
        const sent: Sent[] = [];
        const byToken = new Map<string, Sent>();
        const findings: Finding[] = [];

        for (const e of o.endpoints) {
          const method = e.method.toUpperCase();
          const label = `${method} ${e.path}`;
          const session = e.loginAs ? sessions.get(e.loginAs) : undefined;
          const origin = new URL(client.url('/')).origin;
          for (const template of usable) {
            const token = randomBytes(8).toString('hex');
            const url = fillTemplate(template, { canary: canaryUrl, canaryPort: String(canaryPort), token });
            const placed = place(e, method, url);
            const hasBody = placed.body !== undefined;
            const body = placed.body;
            const s: Sent = { endpoint: label, payload: template, url, token, markers: [], reflected: false };
            sent.push(s);
            byToken.set(token, s);
            try {
              const res = await client.send({
                path: placed.path,
                method,
                headers: { ...(session ? session.headers() : {}), origin, ...(hasBody ? { 'content-type': placed.contentType } : {}), ...placed.headers },
                body,
              });
              session?.absorb(res);
              s.status = res.status;
              const answer = withoutEcho(res.body, url);
              s.markers = o.internalMarkers.filter((m) => spellings(m).some((form) => answer.includes(form)));
              s.reflected = answer.includes(canary.body(token)) || answer.includes(canary.body(`${token}-r`));
            } catch (err) {
              // A target that resets or cannot answer one payload has not shown a defect; the rest still run.
              if (ctx.signal.aborted) throw err;
              s.error = err instanceof Error ? err.message : String(err);
            }
          }
          const answered = sent.filter((s) => s.endpoint === label);
          const statuses = new Set(answered.map((s) => s.status));
          if (answered.every((s) => s.error !== undefined)) throw new Error(`${label} answered none of the payloads: ${answered[0]?.error ?? ''}`);
          if (statuses.size === 1 && (statuses.has(401) || statuses.has(404) || statuses.has(405))) {
            const status = answered[0]?.status ?? 0;
            if (status === 404) {
              // A route that exists may 404 on a payload in the wrong place; it is no proof of "no such endpoint".
              throw new Error(`${label}: the endpoint answered 404 to the payload: check the placement (now ${e.placement}${e.placement === 'template' ? '' : ` ${e.param}`}); nothing was verified`);
            }
            throw new Error(`${label} answered ${status} to every payload: ${status === 401 ? 'it needs a login (set loginAs)' : 'the method is not allowed there'}; nothing was verified`);
          }
        }

        // A fetcher may work from a queue: give late hits a moment, once for all payloads (tokens name them).
        if (o.waitMs > 0) await ctx.clock.sleep(o.waitMs, ctx.signal);

        const unattributed: CanaryHit[] = [];
        const hitsFor = new Map<Sent, CanaryHit[]>();
        for (const hit of canary.hits) {
          const s = hit.token ? byToken.get(hit.token.replace(/-r$/, '')) : undefined;
          if (!s) unattributed.push(hit);
          else hitsFor.set(s, [...(hitsFor.get(s) ?? []), hit]);
        }
        for (const s of sent) {
          const hits = hitsFor.get(s) ?? [];
          const direct = hits.filter((h) => h.token === s.token);
          const followed = hits.filter((h) => h.token === `${s.token}-r`);
          const reach = reachOf(s.url);
          const evidence: string[] = [];
          if (direct.length > 0 && reach !== 'external') evidence.push(`the canary was hit from ${direct[0].from ?? 'an unknown address'}`);
          if (followed.length > 0 && redirectReach !== 'external') {
            evidence.push('the fetcher followed the redirect to an internal URL');
          }
          if (s.markers.length > 0) evidence.push(`the answer holds internal content (${s.markers.map((m) => JSON.stringify(m)).join(', ')})`);
          if (s.reflected && reach !== 'external') evidence.push("the canary's content came back in the answer");
          const observed = { url: s.url, status: s.status, hits: hits.map((h) => ({ path: h.path, from: h.from, userAgent: h.userAgent })), markers: s.markers };
          if (evidence.length > 0) {
            findings.push({ id: `ssrf:${s.endpoint}:${s.payload}`, severity: 'high', message: `${s.endpoint} fetched ${s.url}: ${evidence.join('; ')}`, observed });
          } else if (direct.length > 0) {
            findings.push({
              id: `ssrf.external:${s.endpoint}:${s.payload}`,
              severity: 'info',
              message: `${s.endpoint} fetched the public canary ${s.url}: it fetches URLs it is given (expected of an importer; the internal payloads tell whether it is safe)`,
              observed,
            });
          } else if (s.error !== undefined) {
            findings.push({ id: `ssrf.no-answer:${s.endpoint}:${s.payload}`, severity: 'info', message: `${s.endpoint} gave no answer for ${s.url}: ${s.error}`, observed });
          }
        }
        if (unattributed.length > 0) {
          findings.push({
            id: 'ssrf.canary-unattributed',
            severity: 'medium',
            message: `the canary got ${unattributed.length} request(s) no payload accounts for (a fetcher rewriting URLs, or something else probing it)`,
            observed: unattributed.slice(0, 10),
          });
        }
        const vulnerable = findings.filter((f) => f.severity === 'high').map((f) => f.id);
        return {
          ...probeOutcome(findings, client, {
          vulnerable,
          hits: canary.hits.length,
          canary: { url: canaryUrl, port: canaryPort, ipv6: canary.ipv6 },
          skipped: unreachable,
          sent: sent.map(({ endpoint, url, status, error }) => ({ endpoint, url, status, error })),
          }),
          notice: payloadNotice(sent.map((s) => s.url), canaryUrl),
        };
      } finally {
        await canary.close();
      }
    });
  },
});
