import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProbeClient } from './probe.js';
import { testContext } from '../../test-support/context.js';
import { serve } from '../../test-support/server.js';
import type { TestServer } from '../../test-support/server.js';

type Hooks = { after: (fn: () => Promise<void> | void) => void };

/** A server that must never be reached: another origin on the target's host. */
async function bystander(t: Hooks): Promise<TestServer> {
  const server = await serve((_req, res) => res.end('internal admin'));
  t.after(server.close);
  return server;
}

test('a port-less target allows port 80 only: another port of the host is refused before anything is sent', async (t) => {
  const other = await bystander(t);
  const client = new ProbeClient(testContext({ url: 'http://127.0.0.1' }), 10);
  assert.throws(() => client.assertOnTarget(['/health', `http://127.0.0.1:${other.port}/admin`]), {
    message: `refused: http://127.0.0.1:${other.port}/admin resolves to http://127.0.0.1:${other.port}, which is not the configured target`,
  });
  await assert.rejects(client.send({ path: `http://127.0.0.1:${other.port}/admin` }), /not the configured target/);
  assert.deepEqual(other.requests, []);
});

test('with a port, another port or another scheme of the host is another origin, refused', async (t) => {
  const other = await bystander(t);
  const target = await serve((_req, res) => res.end('ok'));
  t.after(target.close);
  const client = new ProbeClient(testContext({ url: target.url }), 10);
  client.assertOnTarget(['/health', `${target.url}/api`, `http://127.0.0.1:${target.port}/`]);
  for (const elsewhere of [`${other.url}/admin`, `https://127.0.0.1:${target.port}/`]) {
    assert.throws(() => client.assertOnTarget([elsewhere]), /not the configured target/, elsewhere);
    await assert.rejects(client.send({ path: elsewhere }), /not the configured target/, elsewhere);
  }
  assert.deepEqual(other.requests, []);
  assert.deepEqual(target.requests, []);
});

test('a redirect to another port of the host is refused before it is followed', async (t) => {
  const other = await bystander(t);
  const target = await serve((_req, res) => res.writeHead(302, { location: `${other.url}/admin` }).end());
  t.after(target.close);
  const client = new ProbeClient(testContext({ url: target.url }), 10);
  await assert.rejects(client.send({ path: '/login', maxRedirects: 5 }), /refused to send a request to 127\.0\.0\.1:\d+: not the configured target/);
  assert.deepEqual(target.requests, ['GET /login']);
  assert.deepEqual(other.requests, []);
  const answer = await client.send({ path: '/login' });
  assert.equal(answer.status, 302, 'without maxRedirects the redirect is the answer');
});
