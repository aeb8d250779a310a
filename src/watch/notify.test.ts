// Notifications against real receivers on 127.0.0.1: both payload shapes delivered, retries on 5xx
// with backoff on the (fake) clock, none on 4xx, no redirect followed, a hung receiver timed out
// without holding up anyone, a full queue dropping its oldest, flush at shutdown, and no secret sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createNotifier, resolveTargets, slackPayload } from './notify.js';
import type { NotifierOptions, NotifyOutcome, NotifyTarget, WatchNotification } from './notify.js';
import { fakeClock } from '../test-support/clock.js';
import type { FakeClock } from '../test-support/clock.js';
import { serve } from '../test-support/server.js';
import type { TestServer } from '../test-support/server.js';
import { Redactor } from '../util/redact.js';
import type { Clock } from '../util/clock.js';

const AT = Date.parse('2026-03-01T12:00:00Z');

function message(n = 1, extra: Partial<WatchNotification> = {}): WatchNotification {
  return { event: 'trigger', gate: 'recipes', env: 'production', release: 'abc1234', at: AT, summary: `immediate trigger error-rate-critical fired (${n})`, severity: 'critical', ...extra };
}

/** A receiver that records each request's headers and body, answering with `answer`. */
async function receiver(answer: (req: IncomingMessage, res: ServerResponse, body: string) => void = (_q, res) => res.end('ok')): Promise<TestServer & { bodies: string[]; headers: IncomingMessage['headers'][]; arrived(n: number): Promise<void> }> {
  const bodies: string[] = [];
  const headers: IncomingMessage['headers'][] = [];
  const waiters: { n: number; resolve(): void }[] = [];
  const server = await serve((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      bodies.push(body);
      headers.push(req.headers);
      for (const w of waiters.filter((x) => bodies.length >= x.n)) w.resolve();
      answer(req, res, body);
    });
  });
  const arrived = (n: number): Promise<void> => (bodies.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })));
  return Object.assign(server, { bodies, headers, arrived });
}

/** A clock that tells the test when a sleep of `ms` begins (the backoff, the timeout, the flush deadline). */
function observedClock(clock: FakeClock): Clock & { started(ms: number, nth?: number): Promise<void> } {
  const seen: number[] = [];
  const waiters: { ms: number; nth: number; resolve(): void }[] = [];
  const count = (ms: number): number => seen.filter((x) => x === ms).length;
  return {
    now: () => clock.now(),
    monotonic: () => clock.monotonic(),
    sleep(ms, signal) {
      seen.push(ms);
      for (const w of waiters.filter((x) => x.ms === ms && count(ms) >= x.nth)) w.resolve();
      return clock.sleep(ms, signal);
    },
    started: (ms, nth = 1) => (count(ms) >= nth ? Promise.resolve() : new Promise((resolve) => waiters.push({ ms, nth, resolve }))),
  };
}

/** The outcomes as they come, and a wait for the n-th. */
function outcomes(): { list: NotifyOutcome[]; warnings: string[]; onOutcome(o: NotifyOutcome): void; onWarning(w: string): void; count(n: number): Promise<void> } {
  const list: NotifyOutcome[] = [];
  const warnings: string[] = [];
  const waiters: { n: number; resolve(): void }[] = [];
  return {
    list,
    warnings,
    onOutcome(o) {
      list.push(o);
      for (const w of waiters.filter((x) => list.length >= x.n)) w.resolve();
    },
    onWarning: (w) => warnings.push(w),
    count: (n) => (list.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
  };
}

function notifier(targets: NotifyTarget[], clock: Clock, seen: ReturnType<typeof outcomes>, extra: Partial<NotifierOptions> = {}) {
  return createNotifier({ targets, clock, redactor: Redactor.of([]), onOutcome: seen.onOutcome, onWarning: seen.onWarning, ...extra });
}

test('delivered in both shapes: a Slack incoming-webhook body and a generic JSON event, with the configured headers', async (t) => {
  const slack = await receiver();
  const hook = await receiver();
  t.after(() => Promise.all([slack.close(), hook.close()]));
  const seen = outcomes();
  const n = notifier(
    [
      { kind: 'slack', url: `${slack.url}/services/T000/B000/slacktoken` },
      { kind: 'webhook', url: `${hook.url}/gonogo`, headers: { authorization: 'Bearer hook-token-1' } },
    ],
    fakeClock(),
    seen,
  );
  n.notify(message(1, { details: { trigger: 'error-rate-critical', value: 0.09, threshold: 0.05, event: 'not this' } }));
  await seen.count(2);
  assert.deepEqual(seen.list.map((o) => [o.target.replace(/:\d+/, ''), o.status, o.attempts]).sort(), [
    ['notify.0 (slack 127.0.0.1)', 'delivered', 1],
    ['notify.1 (webhook 127.0.0.1)', 'delivered', 1],
  ]);
  assert.equal(slack.requests[0], 'POST /services/T000/B000/slacktoken');
  const s = JSON.parse(slack.bodies[0]);
  assert.equal(s.text, 'gonogo recipes production abc1234: immediate trigger error-rate-critical fired (1)');
  assert.equal(s.blocks[0].type, 'section');
  assert.equal(s.blocks[0].text.type, 'mrkdwn');
  assert.equal(s.blocks[0].text.text, ':rotating_light: *gonogo recipes* · production · release `abc1234`\nimmediate trigger error-rate-critical fired (1)');
  assert.equal(s.blocks[1].elements[0].text, 'trigger at 2026-03-01T12:00:00.000Z');
  assert.equal(slack.headers[0]['content-type'], 'application/json');
  const w = JSON.parse(hook.bodies[0]);
  // The fixed fields cannot be overridden by details.
  assert.deepEqual(w, { event: 'trigger', gate: 'recipes', env: 'production', release: 'abc1234', at: '2026-03-01T12:00:00.000Z', summary: 'immediate trigger error-rate-critical fired (1)', severity: 'critical', trigger: 'error-rate-critical', value: 0.09, threshold: 0.05 });
  assert.equal(hook.headers[0].authorization, 'Bearer hook-token-1');
  assert.deepEqual(n.stats, { delivered: 2, failed: 0, dropped: 0, queued: 0 });
});

test('Slack mrkdwn control characters in values are escaped', () => {
  const p = slackPayload(message(1, { summary: 'p95 <script> & more', gate: '<!channel>' }));
  const block = p.blocks[0] as { text: { text: string } };
  assert.match(block.text.text, /\*gonogo &lt;!channel&gt;\* .*\np95 &lt;script&gt; &amp; more$/);
});

test('a failing receiver (500) is retried with backoff on the clock, then given up with the reason', async (t) => {
  const failing = await receiver((_q, res) => {
    res.statusCode = 500;
    res.end('database unavailable');
  });
  t.after(() => failing.close());
  const clock = fakeClock();
  const watched = observedClock(clock);
  const seen = outcomes();
  const n = notifier([{ kind: 'webhook', url: `${failing.url}/hook`, retries: 2 }], watched, seen, { backoffMs: 1000 });
  n.notify(message());
  // Backoff doubles: 1 s after the first failure, 2 s after the second.
  await watched.started(1000);
  assert.equal(failing.hits(), 1);
  await clock.advance(1000);
  await watched.started(2000);
  assert.equal(failing.hits(), 2);
  await clock.advance(2000);
  await seen.count(1);
  assert.equal(failing.hits(), 3);
  assert.deepEqual([seen.list[0].status, seen.list[0].attempts], ['failed', 3]);
  assert.equal(seen.list[0].message, 'gave up after 3 attempts: answered 500: database unavailable');
  assert.equal(seen.warnings.length, 1);
});

test('a 4xx is not retried; a redirect is not followed (the message goes only to the configured URL)', async (t) => {
  const elsewhere = await receiver();
  const refusing = await receiver((_q, res) => {
    res.statusCode = 404;
    res.end('no such hook');
  });
  const redirecting = await receiver((_q, res) => {
    res.writeHead(307, { location: `${elsewhere.url}/steal` });
    res.end();
  });
  t.after(() => Promise.all([elsewhere.close(), refusing.close(), redirecting.close()]));
  const seen = outcomes();
  const n = notifier([{ kind: 'webhook', url: refusing.url }, { kind: 'slack', url: redirecting.url }], fakeClock(), seen, { retries: 3 });
  n.notify(message());
  await seen.count(2);
  const by = Object.fromEntries(seen.list.map((o) => [o.target.split(' ')[0], o]));
  assert.deepEqual([by['notify.0'].status, by['notify.0'].attempts, by['notify.0'].message], ['failed', 1, 'answered 404: no such hook; not retried']);
  assert.deepEqual([by['notify.1'].status, by['notify.1'].attempts, by['notify.1'].message], ['failed', 1, 'answered 307 (a redirect, not followed); not retried']);
  assert.equal(refusing.hits(), 1);
  assert.equal(elsewhere.hits(), 0);
});

test('a hung receiver times out on the clock and holds up neither the caller nor the other receiver', async (t) => {
  const held: ServerResponse[] = [];
  const hung = await receiver((_q, res) => held.push(res));
  const healthy = await receiver();
  t.after(() => Promise.all([hung.close(), healthy.close()]));
  const clock = fakeClock();
  const watched = observedClock(clock);
  const seen = outcomes();
  const n = notifier([{ kind: 'webhook', url: hung.url, retries: 0, timeoutMs: 5000 }, { kind: 'webhook', url: healthy.url }], watched, seen);
  // notify() returns at once, whatever the receivers do.
  for (let i = 1; i <= 3; i++) assert.equal(n.notify(message(i)), undefined);
  await seen.count(3);
  assert.deepEqual(seen.list.map((o) => [o.target.split(' ')[0], o.status]), [['notify.1', 'delivered'], ['notify.1', 'delivered'], ['notify.1', 'delivered']]);
  assert.equal(n.stats.queued, 2);
  // The hung one: the first attempt ends at its timeout, then the next message is tried.
  await hung.arrived(1);
  await watched.started(5000);
  await clock.advance(5000);
  await seen.count(4);
  assert.deepEqual([seen.list[3].target.split(' ')[0], seen.list[3].status], ['notify.0', 'failed']);
  assert.match(seen.list[3].message, /^gave up after 1 attempt: no answer within 5000 ms/);
  await hung.arrived(2);
  assert.equal(n.stats.queued, 1);
});

test('a full queue drops its oldest message, counted and warned about', async (t) => {
  const hung = await receiver(() => undefined);
  t.after(() => hung.close());
  const seen = outcomes();
  const n = notifier([{ kind: 'webhook', url: hung.url }], fakeClock(), seen, { maxQueue: 2 });
  // 1 is in flight; 2 and 3 wait; 4 pushes 2 out, 5 pushes 3 out.
  for (let i = 1; i <= 5; i++) n.notify(message(i, { event: `e${i}` }));
  assert.deepEqual(seen.list.map((o) => [o.event, o.status]), [['e2', 'dropped'], ['e3', 'dropped']]);
  assert.deepEqual(n.stats, { delivered: 0, failed: 0, dropped: 2, queued: 2 });
  assert.equal(seen.warnings.length, 2);
  assert.match(seen.warnings[0], /^notification e2 to notify\.0 \(webhook 127\.0\.0\.1:\d+\) dropped: queue full \(2 waiting\): the oldest message was dropped$/);
});

test('flush waits for the queues to drain, or abandons what is left at its deadline', async (t) => {
  const ok = await receiver();
  const hung = await receiver(() => undefined);
  t.after(() => Promise.all([ok.close(), hung.close()]));
  const clock = fakeClock();
  const watched = observedClock(clock);
  const seen = outcomes();
  const drained = notifier([{ kind: 'webhook', url: ok.url }], watched, seen);
  drained.notify(message());
  assert.deepEqual(await drained.flush(1000), { undelivered: 0 });
  assert.equal(ok.hits(), 1);

  const stuck = notifier([{ kind: 'webhook', url: hung.url, timeoutMs: 60_000 }], watched, outcomes());
  stuck.notify(message(1));
  stuck.notify(message(2));
  const flushed = stuck.flush(1500);
  await watched.started(1500);
  await clock.advance(1500);
  assert.deepEqual(await flushed, { undelivered: 2 });
  assert.deepEqual(stuck.stats, { delivered: 0, failed: 0, dropped: 2, queued: 0 });
});

test('no secret in what is sent: payloads are redacted, and configured ${VAR}s are expanded and known as secrets', async (t) => {
  const hook = await receiver();
  t.after(() => hook.close());
  const { targets, secrets } = resolveTargets(
    [{ webhook: `${hook.url}/\${HOOK_PATH}`, headers: { authorization: 'Bearer ${HOOK_TOKEN}' }, timeout: '5s', retries: 3 }],
    { HOOK_PATH: 'path-secret-1234', HOOK_TOKEN: 'token-secret-5678' },
  );
  assert.deepEqual(secrets.sort(), ['path-secret-1234', 'token-secret-5678']);
  assert.deepEqual(targets, [{ kind: 'webhook', url: `${hook.url}/path-secret-1234`, headers: { authorization: 'Bearer token-secret-5678' }, timeoutMs: 5000, retries: 3 }]);
  const seen = outcomes();
  const n = createNotifier({ targets, clock: fakeClock(), redactor: Redactor.of([...secrets, 'db-password-9999']), onOutcome: seen.onOutcome });
  n.notify(message(1, { summary: 'check failed: login as admin/db-password-9999 refused', details: { evidence: { url: `${hook.url}/path-secret-1234`, 'db-password-9999': 'x' } } }));
  await seen.count(1);
  assert.equal(seen.list[0].status, 'delivered');
  assert.doesNotMatch(hook.bodies[0], /secret|db-password-9999/);
  assert.match(hook.bodies[0], /login as admin\/\*\*\*/);
  // The header still carries the token to the receiver (it is the receiver's own credential).
  assert.equal(hook.headers[0].authorization, 'Bearer token-secret-5678');
});
