// Issue 9, point 10: payload placement (query, JSON, form, header, raw path), against an open proxy
// fixture that fetches loopback URLs only. Every payload here is a loopback one aimed at the canary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ssrf from './index.js';
import { testContext } from '../../test-support/context.js';
import { serve } from '../../test-support/server.js';
import { rawProxyApp } from '../../test-support/fixtures/apps.js';

const LOOPBACK_ONLY = { payloads: ['http://127.0.0.1:{{canaryPort}}/t/{{token}}', 'http://localhost:{{canaryPort}}/t/{{token}}'], allowPrivatePayloads: false, waitMs: 50 };

test('an open proxy that takes the URL raw in the path, or in a header: caught; the same proxy refusing: quiet', async (t) => {
  const [open, safe] = await Promise.all([serve(rawProxyApp()), serve(rawProxyApp({ safe: true }))]);
  t.after(open.close);
  t.after(safe.close);
  const raw = { endpoints: [{ method: 'GET', path: '/', placement: 'path' }], ...LOOPBACK_ONLY };
  const caught = (await ssrf.run(raw, testContext({ url: open.url }))).observations;
  assert.equal((caught.vulnerable as string[]).length, 2, JSON.stringify(caught.findings));
  assert.ok(open.requests.some((r) => r.startsWith('GET /http://127.0.0.1:')), open.requests.join(', '));
  const header = { endpoints: [{ method: 'GET', path: '/fetch', placement: 'header', param: 'X-Fetch-Url' }], ...LOOPBACK_ONLY };
  assert.equal(((await ssrf.run(header, testContext({ url: open.url }))).observations.vulnerable as string[]).length, 2);
  for (const opts of [raw, header]) assert.deepEqual((await ssrf.run(opts, testContext({ url: safe.url }))).observations.vulnerable, []);
});

test('a 404 to every payload says to check the placement, not "no such endpoint"', async (t) => {
  const open = await serve(rawProxyApp());
  t.after(open.close);
  const wrong = { endpoints: [{ method: 'GET', path: '/', placement: 'query', param: 'u' }], ...LOOPBACK_ONLY };
  await assert.rejects(ssrf.run(wrong, testContext({ url: open.url })), /GET \/: the endpoint answered 404 to the payload: check the placement \(now query u\)/);
});

test('json and form placements put the payload in the named field', async (t) => {
  const bodies: string[] = [];
  const s = await serve((req, res) => {
    let b = '';
    req.on('data', (c: Buffer) => (b += c.toString()));
    req.on('end', () => {
      bodies.push(`${req.headers['content-type'] ?? ''} ${b}`);
      res.writeHead(200).end('ok');
    });
  });
  t.after(s.close);
  const payloads = ['http://127.0.0.1:{{canaryPort}}/t/fixed'];
  await ssrf.run({ endpoints: [{ path: '/a', placement: 'json', param: 'source' }, { path: '/b', placement: 'form', param: 'link' }], payloads, allowPrivatePayloads: false, waitMs: 0 }, testContext({ url: s.url }));
  assert.match(bodies[0], /^application\/json \{"source":"http:\/\/127\.0\.0\.1:\d+\/t\/fixed"\}$/);
  assert.match(bodies[1], /^application\/x-www-form-urlencoded link=http%3A%2F%2F127\.0\.0\.1%3A\d+%2Ft%2Ffixed$/);
});
