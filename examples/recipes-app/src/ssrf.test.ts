import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyAddress, connectHttp, fetchPreview, resolveWithoutDns } from './ssrf.js';
import type { AddressClass, Connect, ConnectTarget } from './ssrf.js';
import { endlessBody, serve } from '../../../src/test-support/server.js';

/** A Connect that records every target instead of sending a packet, answering from a script. */
function spy(answer: (t: ConnectTarget) => { status: number; location?: string; body?: string }): { connect: Connect; targets: ConnectTarget[] } {
  const targets: ConnectTarget[] = [];
  return {
    targets,
    connect: async (target) => {
      targets.push(target);
      const { status, location, body = '' } = answer(target);
      return { status, location, body: Buffer.from(body) };
    },
  };
}

test('classifies addresses, including IPv4 spelled inside IPv6', () => {
  const cases: Array<[string, AddressClass]> = [
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0:0:0:0:0:ffff:7f00:1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.1.1', 'private'],
    ['::ffff:10.0.0.1', 'private'],
    ['fd00::1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['64:ff9b::a00:1', 'reserved'],
    ['not an address', 'reserved'],
    ['93.184.216.34', 'public'],
    ['2606:4700::1111', 'public'],
  ];
  for (const [address, expected] of cases) assert.equal(classifyAddress(address), expected, address);
});

test('resolves only IP literals and localhost names, so no DNS query ever leaves the host', () => {
  assert.deepEqual(resolveWithoutDns('127.0.0.1'), ['127.0.0.1']);
  assert.deepEqual(resolveWithoutDns('[::1]'), ['::1']);
  assert.deepEqual(resolveWithoutDns('[::ffff:7f00:1]'), ['127.0.0.1']);
  assert.deepEqual(resolveWithoutDns('LOCALHOST.'), ['127.0.0.1', '::1']);
  assert.deepEqual(resolveWithoutDns('api.localhost'), ['127.0.0.1', '::1']);
  assert.equal(resolveWithoutDns('example.invalid'), undefined);
  assert.equal(resolveWithoutDns('localhost.example.com'), undefined);
});

describe('fetchPreview never connects anywhere but loopback', () => {
  const targets = [
    'http://10.0.0.1/',
    'http://169.254.169.254/latest/meta-data/',
    'http://[fd00::1]/',
    'http://[::ffff:10.0.0.1]/',
    'http://example.invalid/',
    'http://93.184.216.34/',
    'https://one.one.one.one/',
    'http://0.0.0.0:8080/',
  ];

  for (const vulnerable of [false, true]) {
    test(vulnerable ? 'with the ssrf defect (no policy, only the fixture guard)' : 'when right', async () => {
      for (const url of targets) {
        const { connect, targets: sent } = spy(() => ({ status: 200, body: 'should never be fetched' }));
        const outcome = await fetchPreview(url, { vulnerable, connect });
        assert.notEqual(outcome.kind, 'fetched', url);
        assert.deepEqual(sent, [], `${url} must not be connected to`);
      }
    });
  }

  test('a redirect to a non-loopback address is not followed, in either mode', async () => {
    for (const vulnerable of [false, true]) {
      const { connect, targets: sent } = spy(() => ({ status: 302, location: 'http://169.254.169.254/latest/meta-data/' }));
      // The right app refuses the loopback first hop itself; the lax one fetches it and stops at the redirect.
      const resolve = (host: string): string[] | undefined => (host === 'recipes.test' ? ['127.0.0.1'] : resolveWithoutDns(host));
      const outcome = await fetchPreview('http://recipes.test/start', { vulnerable, connect, resolve });
      if (vulnerable) {
        assert.equal(outcome.kind, 'failed');
        assert.deepEqual(
          sent.map((t) => t.address),
          ['127.0.0.1'],
          'only the first hop',
        );
      } else {
        assert.equal(outcome.kind, 'not-allowed');
        assert.deepEqual(sent, []);
      }
    }
  });

  test('a name that resolves to both loopback and private is refused when right, pinned to loopback when not', async () => {
    const resolve = (): string[] => ['10.0.0.7', '127.0.0.1'];
    const right = spy(() => ({ status: 200 }));
    assert.equal((await fetchPreview('http://mixed.test/', { vulnerable: false, connect: right.connect, resolve })).kind, 'not-allowed');
    assert.deepEqual(right.targets, []);
    const lax = spy(() => ({ status: 200, body: 'ok' }));
    assert.equal((await fetchPreview('http://mixed.test:8080/p?q=1', { vulnerable: true, connect: lax.connect, resolve })).kind, 'fetched');
    assert.deepEqual(
      lax.targets.map((t) => [t.address, t.port, t.path, t.hostHeader]),
      [['127.0.0.1', 8080, '/p?q=1', 'mixed.test:8080']],
    );
  });

  test('[::1] is connected to as ::1, with the host header the URL named', async () => {
    const { connect, targets: sent } = spy(() => ({ status: 200, body: 'hello' }));
    const outcome = await fetchPreview('http://[::1]:9/x', { vulnerable: true, connect });
    assert.equal(outcome.kind, 'fetched');
    assert.deepEqual(
      sent.map((t) => [t.address, t.hostHeader]),
      [['::1', '[::1]:9']],
    );
  });
});

describe('connectHttp is bounded', () => {
  test('an endless body is cut at maxBytes', async () => {
    const endless = await serve(endlessBody('a'));
    try {
      const outcome = await fetchPreview(`${endless.url}/`, { vulnerable: true, maxBytes: 64 * 1024 });
      assert.equal(outcome.kind, 'fetched');
      assert.equal(outcome.kind === 'fetched' && outcome.body.length, 64 * 1024);
    } finally {
      await endless.close();
    }
  });

  test('a target that never answers times out', async () => {
    const silent = await serve(() => {});
    try {
      const outcome = await fetchPreview(`${silent.url}/`, { vulnerable: true, timeoutMs: 200 });
      assert.deepEqual(outcome.kind === 'failed' && [outcome.timedOut, outcome.detail], [true, 'timed out after 200 ms']);
    } finally {
      await silent.close();
    }
  });

  test('the default connect sends one GET to the address it is given', async () => {
    // It checks nothing itself: fetchPreview, its only caller, checks every hop before calling it.
    const ok = await serve((_req, res) => res.end('<title> Soup </title>'));
    try {
      const { hostname, port } = new URL(ok.url);
      const result = await connectHttp(
        { protocol: 'http:', address: hostname, port: Number(port), path: '/', hostHeader: `${hostname}:${port}`, maxBytes: 1024 },
        AbortSignal.timeout(2_000),
      );
      assert.equal(result.body.toString(), '<title> Soup </title>');
    } finally {
      await ok.close();
    }
  });
});
