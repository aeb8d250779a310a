// Sessions and the sign-in limit as plain objects on the fake clock: what a cookie holds and when it
// stops reading, what a forger can and cannot do with one, and that the limiter's memory is bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeClock } from '../test-support/clock.js';
import { LoginLimiter } from './security.js';
import { csrfMatches, SESSION_MS, Sessions } from './session.js';

test('a session reads back as issued until its 8 hours are over, and not after sign-out', async () => {
  const clock = fakeClock();
  const sessions = new Sessions(clock);
  const { value, session } = sessions.issue({ name: 'erin', role: 'release-manager' });
  assert.deepEqual(sessions.read(value), session);
  assert.equal(session.expires, clock.now() + SESSION_MS);
  assert.equal(session.csrf.length, 32, '24 random bytes, base64url');
  await clock.advance(SESSION_MS - 1);
  assert.ok(sessions.read(value));
  await clock.advance(1);
  assert.equal(sessions.read(value), undefined);
  const other = sessions.issue({ name: 'rick', role: 'release-manager' });
  sessions.signOut(other.session);
  assert.equal(sessions.read(other.value), undefined);
});

test('a cookie changed in any way, signed by another key, or made up reads as nobody', () => {
  const clock = fakeClock();
  const sessions = new Sessions(clock);
  const { value } = sessions.issue({ name: 'vic', role: 'viewer' });
  const [payload, sig] = value.split('.');
  const promoted = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), r: 'release-manager' })).toString('base64url');
  const stretched = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), e: clock.now() + 10 * SESSION_MS })).toString('base64url');
  for (const forged of [`${promoted}.${sig}`, `${stretched}.${sig}`, `${payload}.${sig.slice(1)}`, `${payload}.`, payload, '', 'x'.repeat(5000), `${payload}.${sig}x`]) {
    assert.equal(sessions.read(forged), undefined, forged.slice(0, 40));
  }
  assert.equal(new Sessions(clock).read(value), undefined, 'another key (a restart)');
  assert.equal(new Sessions(clock, Buffer.alloc(32, 7)).read(new Sessions(clock, Buffer.alloc(32, 7)).issue({ name: 'a', role: 'b' }).value)?.name, 'a', 'the same key reads it');
});

test('the CSRF token matches its own session only, and nothing matches a missing token', () => {
  const sessions = new Sessions(fakeClock());
  const a = sessions.issue({ name: 'a', role: 'r' }).session;
  const b = sessions.issue({ name: 'b', role: 'r' }).session;
  assert.equal(csrfMatches(a, a.csrf), true);
  assert.equal(csrfMatches(a, b.csrf), false);
  assert.equal(csrfMatches(a, undefined), false);
  assert.equal(csrfMatches(a, ''), false);
  assert.equal(csrfMatches(a, `${a.csrf}x`), false);
});

test('the sign-in limit: failures per client in a window, Retry-After in whole seconds, others unaffected, memory bounded', async () => {
  const clock = fakeClock();
  const limiter = new LoginLimiter(clock, { max: 3, windowMs: 60_000 });
  for (let i = 0; i < 3; i++) {
    assert.equal(limiter.retryAfter('10.0.0.1'), undefined);
    limiter.failed('10.0.0.1');
  }
  assert.equal(limiter.retryAfter('10.0.0.1'), 60);
  assert.equal(limiter.retryAfter('10.0.0.2'), undefined, 'another client');
  await clock.advance(59_500);
  assert.equal(limiter.retryAfter('10.0.0.1'), 1, 'rounded up');
  await clock.advance(500);
  assert.equal(limiter.retryAfter('10.0.0.1'), undefined, 'a new window');
  limiter.failed('10.0.0.1');
  assert.equal(limiter.retryAfter('10.0.0.1'), undefined, 'counted afresh');

  for (let i = 0; i < 25_000; i++) limiter.failed(`client-${i}`);
  assert.ok(limiter.size <= 10_000, `at most 10,000 clients remembered, not ${limiter.size}`);
});
