// Safety: every payload here is a loopback form, and the fixture importer connects only to
// loopback addresses (and never looks a name up in DNS): no packet leaves this machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import ssrf, { DEFAULT_PAYLOADS, reachOf, selectPayloads } from './index.js';
import { openCanary } from './canary.js';
import { authSchema } from '../_shared/auth.js';
import { fakeClock } from '../../test-support/clock.js';
import { testContext } from '../../test-support/context.js';
import { freePort, readBody, recipesAuth, serve } from '../../test-support/server.js';
import { startApp } from '../../../examples/recipes-app/src/app.js';
import type { Defect } from '../../../examples/recipes-app/src/app.js';

/**
 * How the fixture's importer treats a URL:
 * - safe: refuses every URL (all test payloads are internal), echoing it in the error;
 * - full-read: fetches it (loopback only), follows redirects, returns the content;
 * - blind: fetches it, returns nothing of it;
 * - late: answers 202 first, fetches afterwards (a queue);
 * - allowlist-follow: allows only host `canary.test` (played as 127.0.0.1), then follows redirects unchecked;
 * - allowlist-strict: the same allow-list, checked again on every redirect hop.
 */
type Importer = 'safe' | 'full-read' | 'blind' | 'late' | 'allowlist-follow' | 'allowlist-strict';

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost)$/;

/** One GET, loopback only, up to 3 redirects; `allowed` judges each hop. */
async function fetchLoopback(raw: string, allowed: (u: URL, hop: number) => boolean): Promise<{ status: number; body: string }> {
  let url = new URL(raw);
  for (let hop = 0; hop < 4; hop++) {
    if (!allowed(url, hop)) throw new Error(`URL not allowed: ${url.href}`);
    const name = url.hostname.replace(/^\[|\]$/g, '');
    const host = name === 'canary.test' || name === 'localhost' ? '127.0.0.1' : name;
    if (!LOOPBACK.test(host)) throw new Error('the fixture connects only to loopback');
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host, port: url.port || 80, path: url.pathname + url.search, agent: false, timeout: 5000 }, resolve).on('error', reject);
    });
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(Buffer.from(c as Buffer));
    const location = res.headers.location;
    if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && location) {
      url = new URL(location, url);
      continue;
    }
    return { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString().slice(0, 500) };
  }
  throw new Error('too many redirects');
}

async function app(importer: Importer): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const pending: Promise<unknown>[] = [];
  const server = await serve((req, res) => {
    void readBody(req).then((body) => {
      const json = (status: number, v: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(v));
      if (req.url === '/api/login' && req.method === 'POST') {
        const { username, password } = JSON.parse(body) as { username: string; password: string };
        if (password !== `${username}-password`) return void json(401, { error: 'bad credentials' });
        res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': `sid=${username}; Path=/` });
        return void res.end(JSON.stringify({ csrfToken: 'tok' }));
      }
      if (req.url === '/internal/config') return void json(200, { internal: true, dbPassword: 'hunter2' });
      if (req.url !== '/api/import' || req.method !== 'POST') return void json(404, { error: 'not found' });
      if (!req.headers.cookie?.includes('sid=') || req.headers['x-csrf-token'] !== 'tok') return void json(401, { error: 'login required' });
      const { url } = JSON.parse(body) as { url: string };
      const allowedHost = (u: URL) => u.hostname === 'canary.test';
      const allow = (u: URL, hop: number): boolean => {
        if (importer === 'allowlist-follow') return hop > 0 || allowedHost(u);
        if (importer === 'allowlist-strict') return allowedHost(u);
        return true;
      };
      if (importer === 'safe') return void json(400, { error: `URL not allowed: ${url}` });
      if (importer === 'late') {
        json(202, { queued: true });
        pending.push(fetchLoopback(url, allow).catch(() => undefined));
        return;
      }
      fetchLoopback(url, allow).then(
        (r) => json(200, importer === 'blind' ? { ok: true } : { title: 'Imported', excerpt: r.body }),
        (err: Error) => json(502, { error: err.message }),
      );
    });
  });
  return {
    url: server.url,
    requests: server.requests,
    close: async () => {
      await Promise.all(pending);
      await server.close();
    },
  };
}

const auth = recipesAuth('alice');
const endpoint = { method: 'POST', path: '/api/import', loginAs: 'alice' };

/** Loopback forms only, each aimed at the canary. */
const LOOPBACK_PAYLOADS = [
  'http://127.0.0.1:{{canaryPort}}/t/{{token}}',
  'http://localhost:{{canaryPort}}/t/{{token}}',
  'http://2130706433:{{canaryPort}}/t/{{token}}',
  'http://0177.0.0.1:{{canaryPort}}/t/{{token}}',
  '{{canary}}/redirect/{{token}}',
];

async function probe(url: string, opts: Record<string, unknown>): Promise<Record<string, unknown>> {
  return (await ssrf.run({ endpoints: [endpoint], payloads: LOOPBACK_PAYLOADS, allowPrivatePayloads: false, waitMs: 50, ...opts }, testContext({ url, auth }))).observations;
}

test('ssrf: a full-read importer is caught on every loopback spelling and the redirect', async () => {
  const fixture = await app('full-read');
  try {
    const obs = await probe(fixture.url, {});
    assert.equal(obs.high, LOOPBACK_PAYLOADS.length, JSON.stringify(obs.findings));
    assert.match(JSON.stringify(obs.findings), /the canary's content came back/);
    assert.match(JSON.stringify(obs.findings), /followed the redirect to an internal URL/);
    assert.equal(obs.requests, fixture.requests.length);
  } finally {
    await fixture.close();
  }
});

test('ssrf: [::1] reaches the canary when this machine has IPv6 loopback, else it is skipped, never a quiet pass', async () => {
  const fixture = await app('full-read');
  try {
    const obs = await probe(fixture.url, { payloads: ['http://[::1]:{{canaryPort}}/t/{{token}}', 'http://127.0.0.1:{{canaryPort}}/t/{{token}}'] });
    const canary = obs.canary;
    assert.ok(canary !== null && typeof canary === 'object' && 'ipv6' in canary);
    if (canary.ipv6) {
      assert.equal(obs.high, 2);
      assert.deepEqual(obs.skipped, []);
    } else {
      assert.equal(obs.high, 1);
      assert.deepEqual(obs.skipped, ['http://[::1]:{{canaryPort}}/t/{{token}}']);
    }
  } finally {
    await fixture.close();
  }
});

test('ssrf: a blind importer is caught by the canary alone', async () => {
  const fixture = await app('blind');
  try {
    const obs = await probe(fixture.url, {});
    assert.equal(obs.high, LOOPBACK_PAYLOADS.length);
    assert.doesNotMatch(JSON.stringify(obs.findings), /content came back/);
  } finally {
    await fixture.close();
  }
});

test('ssrf: a queued fetch that hits after the answer is caught by the final wait', async () => {
  const fixture = await app('late');
  try {
    const obs = await probe(fixture.url, { payloads: ['http://127.0.0.1:{{canaryPort}}/t/{{token}}'], waitMs: 1000 });
    assert.equal(obs.high, 1, JSON.stringify(obs));
  } finally {
    await fixture.close();
  }
});

test('ssrf: a safe importer is quiet; the canary is never hit; the echoed URL is no evidence', async () => {
  const fixture = await app('safe');
  try {
    const obs = await probe(fixture.url, { payloads: [...LOOPBACK_PAYLOADS, 'http://127.0.0.1:{{canaryPort}}/computeMetadata/v1/instance-id'] });
    assert.equal(obs.high, 0, JSON.stringify(obs.findings));
    assert.equal(obs.medium, 0);
    assert.equal(obs.hits, 0);
    assert.equal(obs.requests, 1 + LOOPBACK_PAYLOADS.length + 1);
  } finally {
    await fixture.close();
  }
});

test('ssrf: internal content coming back is caught by its markers', async () => {
  const fixture = await app('full-read');
  try {
    const obs = await probe(fixture.url, { payloads: [`${fixture.url}/internal/config`] });
    assert.equal(obs.high, 1);
    assert.match(JSON.stringify(obs.findings), /internal content/);
  } finally {
    await fixture.close();
  }
});

test('ssrf: an allow-listed host that redirects inside is caught; the allowed fetch itself is only info', async () => {
  const port = await freePort();
  const canary = { port, publicUrl: `http://canary.test:${port}` };
  const payloads = ['{{canary}}/t/{{token}}', '{{canary}}/redirect/{{token}}'];
  const follows = await app('allowlist-follow');
  const strict = await app('allowlist-strict');
  try {
    const bad = await probe(follows.url, { canary, payloads });
    assert.equal(bad.high, 1, JSON.stringify(bad.findings));
    assert.match(JSON.stringify(bad.findings), /redirect\/\{\{token\}\}.*followed the redirect/);
    assert.equal(bad.info, 1);
    const good = await probe(strict.url, { canary, payloads });
    assert.equal(good.high, 0, JSON.stringify(good.findings));
    // It fetched both allowed URLs (the redirect's first hop too), and stopped there.
    assert.equal(good.info, 2);
  } finally {
    await follows.close();
    await strict.close();
  }
});

test('ssrf: fails closed: no login, a missing endpoint, a failed login', async () => {
  const fixture = await app('full-read');
  try {
    await assert.rejects(probe(fixture.url, { endpoints: [{ path: '/api/import' }] }), /answered 401 to every payload: it needs a login/);
    await assert.rejects(probe(fixture.url, { endpoints: [{ ...endpoint, path: '/api/nope' }] }), /the endpoint answered 404 to the payload: check the placement \(now template\)/);
    const ctx = testContext({ url: fixture.url, auth: authSchema.parse({ login: { url: '/api/login' }, users: { alice: { username: 'alice', password: 'x' } } }) });
    await assert.rejects(ssrf.run({ endpoints: [endpoint], payloads: LOOPBACK_PAYLOADS }, ctx), /login as "alice" failed/);
  } finally {
    await fixture.close();
  }
});

test('ssrf: stays within maxRequests and refuses a plan that does not fit', async () => {
  const fixture = await app('full-read');
  try {
    await assert.rejects(probe(fixture.url, { endpoints: [endpoint, endpoint], maxRequests: 10 }), /needs 11 requests \(2 endpoints x 5 payloads, 1 logins\); maxRequests is 10/);
    assert.equal(fixture.requests.length, 0);
    const obs = await probe(fixture.url, { endpoints: [endpoint, endpoint], maxRequests: 11 });
    assert.equal(obs.requests, 11);
    assert.equal(fixture.requests.length, 11);
  } finally {
    await fixture.close();
  }
});

test('ssrf: an endpoint on another host is refused; nothing reaches it', async () => {
  const fixture = await app('safe');
  const other = await app('full-read');
  try {
    const elsewhere = other.url.replace('127.0.0.1', 'localhost');
    await assert.rejects(probe(fixture.url, { endpoints: [{ path: `${elsewhere}/api/import` }] }), /answered none of the payloads: refused to send a request to localhost/);
    assert.equal(other.requests.length, 0);
  } finally {
    await fixture.close();
    await other.close();
  }
});

test('ssrf: the canary is closed after the probe, also when it fails', async () => {
  const port = await freePort();
  const fixture = await app('full-read');
  try {
    await probe(fixture.url, { canary: { port } });
    await assert.rejects(probe(fixture.url, { canary: { port }, endpoints: [{ path: '/api/import' }] }), /401/);
    // Both runs could bind the same port again, and it is free now.
    const again = await openCanary({ host: '127.0.0.1', port, redirectTo: () => '/' });
    await again.close();
  } finally {
    await fixture.close();
  }
});

test('ssrf: the canary names the token, redirects, ignores and bounds everything else', async () => {
  const canary = await openCanary({ host: '127.0.0.1', port: 0, redirectTo: (t, p) => `http://127.0.0.1:${p}/t/${t}-r` });
  try {
    const get = (path: string) =>
      new Promise<http.IncomingMessage>((resolve, reject) => http.get({ host: '127.0.0.1', port: canary.port, path, agent: false }, (r) => { r.resume(); resolve(r); }).on('error', reject));
    assert.equal((await get('/t/abc')).statusCode, 200);
    const r = await get('/redirect/def');
    assert.equal(r.statusCode, 302);
    assert.equal(r.headers.location, `http://127.0.0.1:${canary.port}/t/def-r`);
    assert.equal((await get('/favicon.ico')).statusCode, 404);
    assert.deepEqual(canary.hits.map((h) => [h.kind, h.token]), [['hit', 'abc'], ['redirect', 'def'], ['other', undefined]]);
  } finally {
    await canary.close();
  }
});

test('ssrf: reachOf reads hosts the way fetchers do', () => {
  const table: [string, string][] = [
    ['http://127.0.0.1/', 'loopback'],
    ['http://2130706433/', 'loopback'],
    ['http://0177.0.0.1/', 'loopback'],
    ['http://0x7f.1/', 'loopback'],
    ['http://0.0.0.0/', 'loopback'],
    ['http://[::1]/', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', 'loopback'],
    ['http://localhost:8080/', 'loopback'],
    ['http://169.254.169.254/latest/meta-data/', 'private'],
    ['http://10.1.2.3/', 'private'],
    ['http://172.31.255.255/', 'private'],
    ['http://192.168.0.1/', 'private'],
    ['http://metadata.google.internal/', 'private'],
    ['http://[fd00::1]/', 'private'],
    ['http://172.32.0.1/', 'external'],
    ['http://example.com/', 'external'],
  ];
  for (const [url, reach] of table) assert.equal(reachOf(url), reach, url);
});

test('ssrf: the default payloads cover the issue list; allowPrivatePayloads: false keeps only loopback and the canary', () => {
  for (const want of ['127.0.0.1', 'localhost', '0.0.0.0', '[::1]', '169.254.169.254', '2130706433', '0177.0.0.1', '10.0.0.1', '/redirect/']) {
    assert.ok(DEFAULT_PAYLOADS.some((p) => p.includes(want)), want);
  }
  const kept = selectPayloads(DEFAULT_PAYLOADS, false);
  assert.ok(kept.length > 5);
  assert.ok(kept.every((p) => p.includes('{{canary') || reachOf(p) === 'loopback'), kept.join(' '));
  assert.deepEqual(selectPayloads(DEFAULT_PAYLOADS, true), [...DEFAULT_PAYLOADS]);
});

test('ssrf: options schema is strict and documented', () => {
  assert.throws(() => ssrf.options.parse({ endpoints: [] }));
  assert.throws(() => ssrf.options.parse({ endpoints: [{ path: '/x' }], waitMs: 60_000 }));
  assert.throws(() => ssrf.options.parse({ endpoints: [{ path: '/x', extra: 1 }] }));
  const o = ssrf.options.parse({ endpoints: [{ path: '/x' }] });
  assert.deepEqual(o.canary, { host: '127.0.0.1', port: 0, redirectTo: 'http://127.0.0.1:{{canaryPort}}/t/{{token}}' });
  assert.equal(o.allowPrivatePayloads, true);
  for (const [k, v] of Object.entries(ssrf.options.shape)) assert.ok(v.description, `${k} has no description`);
});

// The reference app: the `ssrf` defect on vs off, and no cross-talk from `csrf`. Its importer
// connects only to loopback, and every payload here is a loopback form.
const importEndpoint = { method: 'POST', path: '/api/recipes/import', loginAs: 'alice' };

const onRecipes: { defects: Defect[]; vulnerable: boolean }[] = [
  { defects: [], vulnerable: false },
  { defects: ['csrf'], vulnerable: false },
  { defects: ['ssrf'], vulnerable: true },
];

for (const s of onRecipes) {
  test(`ssrf on the recipes app with defects [${s.defects.join(', ')}]`, async () => {
    const recipes = await startApp({ defects: s.defects });
    try {
      const payloads = [...LOOPBACK_PAYLOADS, 'http://127.1:{{canaryPort}}/t/{{token}}', `${recipes.url}/internal/config`];
      const obs = (
        await ssrf.run({ endpoints: [importEndpoint], payloads, allowPrivatePayloads: false, waitMs: 50 }, testContext({ url: recipes.url, auth }))
      ).observations;
      assert.equal(obs.high, s.vulnerable ? payloads.length : 0, JSON.stringify(obs.findings));
      assert.equal(obs.medium, 0);
      if (s.vulnerable) assert.match(JSON.stringify(obs.findings), /internal\/config: the answer holds internal content/);
      else assert.equal(obs.hits, 0);
    } finally {
      await recipes.close();
    }
  });
}

test('ssrf: an abort during the wait for late hits ends the probe and still closes the canary', async () => {
  const port = await freePort();
  const fixture = await app('safe');
  const controller = new AbortController();
  try {
    const clock = fakeClock();
    const ctx = { ...testContext({ url: fixture.url, auth }), clock, signal: controller.signal };
    const run = ssrf.run({ endpoints: [endpoint], payloads: LOOPBACK_PAYLOADS, canary: { port }, waitMs: 5000 }, ctx);
    // The probe's final wait is its one sleep on the clock: abort once it sleeps, every payload answered.
    await clock.sleepers(1);
    assert.equal(fixture.requests.length, 1 + LOOPBACK_PAYLOADS.length, 'the login and every payload were sent');
    controller.abort(new Error('check timed out'));
    await assert.rejects(run, /check timed out/);
    const again = await openCanary({ host: '127.0.0.1', port, redirectTo: () => '/' });
    await again.close();
  } finally {
    await fixture.close();
  }
});
