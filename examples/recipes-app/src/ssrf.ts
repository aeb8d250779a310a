// The recipe import's outbound fetch, and the address rules it is judged by.
//
// Two rules apply to every hop, both before any connection is made:
// - the app's policy (when the app is right): every resolved address must be public;
// - the fixture's guard (always): only loopback is ever connected to. With the `ssrf` defect
//   the policy is off, so the app fetches anything it is given, but the fixture still never
//   sends a packet beyond this machine. Names are not looked up in DNS either: only IP
//   literals and `localhost` resolve, so not even a resolver query leaves the host.
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';

export type AddressClass = 'loopback' | 'private' | 'link-local' | 'unspecified' | 'multicast' | 'reserved' | 'public';

type Family = 'ipv4' | 'ipv6';
const RANGES: ReadonlyArray<readonly [AddressClass, string, number, Family]> = [
  ['unspecified', '0.0.0.0', 8, 'ipv4'],
  ['loopback', '127.0.0.0', 8, 'ipv4'],
  ['private', '10.0.0.0', 8, 'ipv4'],
  ['private', '172.16.0.0', 12, 'ipv4'],
  ['private', '192.168.0.0', 16, 'ipv4'],
  ['private', '100.64.0.0', 10, 'ipv4'], // carrier-grade NAT
  ['link-local', '169.254.0.0', 16, 'ipv4'], // cloud metadata lives here
  ['multicast', '224.0.0.0', 4, 'ipv4'],
  ['reserved', '240.0.0.0', 4, 'ipv4'],
  ['reserved', '192.0.0.0', 24, 'ipv4'],
  ['reserved', '192.0.2.0', 24, 'ipv4'],
  ['reserved', '198.18.0.0', 15, 'ipv4'],
  ['reserved', '198.51.100.0', 24, 'ipv4'],
  ['reserved', '203.0.113.0', 24, 'ipv4'],
  ['unspecified', '::', 128, 'ipv6'],
  ['loopback', '::1', 128, 'ipv6'],
  ['private', 'fc00::', 7, 'ipv6'],
  ['link-local', 'fe80::', 10, 'ipv6'],
  ['multicast', 'ff00::', 8, 'ipv6'],
  // Prefixes that embed or translate to IPv4 (IPv4-compatible, NAT64, 6to4, Teredo) and documentation.
  ['reserved', '::', 96, 'ipv6'],
  ['reserved', '64:ff9b::', 96, 'ipv6'],
  ['reserved', '2002::', 16, 'ipv6'],
  ['reserved', '2001::', 32, 'ipv6'],
  ['reserved', '2001:db8::', 32, 'ipv6'],
];

// First match wins, so the order of RANGES (specific classes first) is the classification order.
const LISTS: ReadonlyArray<readonly [AddressClass, BlockList]> = RANGES.map(([cls, net, prefix, family]) => {
  const list = new BlockList();
  list.addSubnet(net, prefix, family);
  return [cls, list] as const;
});

/** `::ffff:a.b.c.d` (in any spelling) as `a.b.c.d`; other addresses unchanged, brackets removed. */
export function unmapAddress(address: string): string {
  const bare = address.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(bare) !== 6) return bare;
  const groups = expandIPv6(bare);
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (!mapped) return bare;
  return [groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff].join('.');
}

function expandIPv6(address: string): number[] {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1].split('.').map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const parse = (part: string | undefined): number[] => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const left = parse(head);
  const right = parse(tail);
  const zeros = tail === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right];
}

/** What kind of address `address` is; anything that is not an IP address is 'reserved'. */
export function classifyAddress(address: string): AddressClass {
  const ip = unmapAddress(address);
  const version = isIP(ip);
  if (version === 0) return 'reserved';
  const family: Family = version === 4 ? 'ipv4' : 'ipv6';
  for (const [cls, list] of LISTS) if (list.check(ip, family)) return cls;
  return 'public';
}

/** IP literals as themselves, `localhost` names as loopback, anything else unresolved (no DNS). */
export function resolveWithoutDns(hostname: string): string[] | undefined {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '');
  if (isIP(host) !== 0) return [unmapAddress(host)];
  if (host === 'localhost' || host.endsWith('.localhost')) return ['127.0.0.1', '::1'];
  return undefined;
}

/** One outbound GET, to an address already checked; the host name travels only in headers. */
export interface ConnectTarget {
  protocol: 'http:' | 'https:';
  address: string;
  port: number;
  path: string;
  hostHeader: string;
  /** TLS server name, when the URL named a host rather than an address. */
  servername?: string;
  maxBytes: number;
}

export interface ConnectResult {
  status: number;
  location?: string;
  body: Buffer;
}

export type Connect = (target: ConnectTarget, signal: AbortSignal) => Promise<ConnectResult>;

export interface PreviewOptions {
  /** The `ssrf` defect: no address policy, only the fixture's loopback guard. */
  vulnerable: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
  maxBytes?: number;
  maxRedirects?: number;
  /** Name resolution; injectable so tests can play DNS. Default: {@link resolveWithoutDns}. */
  resolve?: (hostname: string) => string[] | undefined;
  /** The one function that sends packets; injectable so tests can prove it is never called. */
  connect?: Connect;
}

export type PreviewOutcome =
  | { kind: 'fetched'; url: string; status: number; body: string }
  | { kind: 'not-allowed'; detail: string }
  | { kind: 'failed'; detail: string; timedOut?: boolean };

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Fetches `rawUrl` for a recipe preview, bounded in time, size and redirects; never throws. */
export async function fetchPreview(rawUrl: string, opts: PreviewOptions): Promise<PreviewOutcome> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const maxBytes = opts.maxBytes ?? 256 * 1024;
  const maxRedirects = opts.maxRedirects ?? 3;
  const resolve = opts.resolve ?? resolveWithoutDns;
  const connect = opts.connect ?? connectHttp;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;

  let next = rawUrl;
  for (let redirects = 0; ; redirects++) {
    let url: URL;
    try {
      url = new URL(next);
    } catch {
      return opts.vulnerable ? { kind: 'failed', detail: 'invalid URL' } : { kind: 'not-allowed', detail: 'invalid URL' };
    }
    const protocol = url.protocol;
    if (protocol !== 'http:' && protocol !== 'https:') {
      return opts.vulnerable ? { kind: 'failed', detail: `unsupported scheme ${protocol}` } : { kind: 'not-allowed', detail: `scheme ${protocol}` };
    }
    const addresses = resolve(url.hostname);
    if (!addresses || addresses.length === 0) {
      // A right app cannot vouch for a name it cannot resolve; a lax one simply fails to fetch it.
      return opts.vulnerable ? { kind: 'failed', detail: `could not resolve ${url.hostname}` } : { kind: 'not-allowed', detail: `unresolved ${url.hostname}` };
    }
    if (!opts.vulnerable) {
      const blocked = addresses.find((a) => classifyAddress(a) !== 'public');
      if (blocked !== undefined) return { kind: 'not-allowed', detail: `${classifyAddress(blocked)} address` };
    }
    const address = pickLoopback(addresses);
    if (address === undefined) {
      return { kind: 'failed', detail: 'the fixture connects only to loopback addresses' };
    }
    const literal = isIP(url.hostname.replace(/^\[|\]$/g, '')) !== 0;
    let result: ConnectResult;
    try {
      result = await connect(
        {
          protocol,
          address,
          port: url.port ? Number(url.port) : protocol === 'https:' ? 443 : 80,
          path: `${url.pathname}${url.search}`,
          hostHeader: url.host,
          servername: protocol === 'https:' && !literal ? url.hostname : undefined,
          maxBytes,
        },
        signal,
      );
    } catch (err) {
      if (timeout.aborted) return { kind: 'failed', detail: `timed out after ${timeoutMs} ms`, timedOut: true };
      return { kind: 'failed', detail: err instanceof Error ? err.message : 'fetch failed' };
    }
    if (REDIRECTS.has(result.status) && result.location !== undefined) {
      if (redirects >= maxRedirects) return { kind: 'failed', detail: `more than ${maxRedirects} redirects` };
      try {
        next = new URL(result.location, url).href;
      } catch {
        return { kind: 'failed', detail: 'invalid redirect location' };
      }
      continue;
    }
    return { kind: 'fetched', url: url.href, status: result.status, body: result.body.toString('utf8') };
  }
}

// IPv4 first: a loopback listener is far more often on 127.0.0.1 than on ::1.
function pickLoopback(addresses: string[]): string | undefined {
  const loopback = addresses.map(unmapAddress).filter((a) => classifyAddress(a) === 'loopback');
  return loopback.find((a) => isIP(a) === 4) ?? loopback[0];
}

/** The default {@link Connect}: one GET on a fresh connection, body cut at `maxBytes`. */
export const connectHttp: Connect = (target, signal) =>
  new Promise<ConnectResult>((resolve, reject) => {
    const options: https.RequestOptions = {
      host: target.address,
      port: target.port,
      path: target.path,
      method: 'GET',
      headers: { host: target.hostHeader, 'user-agent': 'recipes-app-import/1.4.2', accept: 'text/html, text/plain;q=0.9, */*;q=0.5' },
      signal,
      agent: false,
    };
    if (target.servername !== undefined) options.servername = target.servername;
    const req = target.protocol === 'https:' ? https.request(options) : http.request(options);
    req.on('error', reject);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const location = typeof res.headers.location === 'string' ? res.headers.location : undefined;
      if (REDIRECTS.has(status)) {
        res.destroy();
        resolve({ status, location, body: Buffer.alloc(0) });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        resolve({ status, location, body: Buffer.concat(chunks).subarray(0, target.maxBytes) });
      };
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        // An endless body is cut, not waited for.
        if (size >= target.maxBytes) {
          finish();
          res.destroy();
        }
      });
      res.on('end', finish);
      res.on('error', (err) => {
        if (!done) reject(err);
      });
      res.on('close', () => {
        if (!done) reject(signal.aborted ? signal.reason : new Error('connection closed before the body ended'));
        done = true;
      });
    });
    req.end();
  });
