import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PAYLOADS, payloadNotice } from './index.js';
import { fillTemplate } from '../_shared/auth.js';

// The default payloads make a vulnerable target connect to its own network: a run says which classes went out.
test('ssrf notice: the default payloads are announced by class, cloud metadata and private ranges named', () => {
  const canary = 'http://canary.example:4999';
  const urls = DEFAULT_PAYLOADS.map((p) => fillTemplate(p, { canary, canaryPort: '4999', token: 'x' }));
  const notice = payloadNotice(urls, canary);
  assert.match(notice, /asked the target to fetch 16 URL\(s\)/);
  assert.match(notice, /cloud metadata \(2\)/);
  assert.match(notice, /private ranges \(3\)/);
  assert.match(notice, /gonogo's canary \(2\)/);
  assert.match(notice, /loopback \(9\)/);
});

test('ssrf notice: a loopback-only list says so and names no private class', () => {
  const notice = payloadNotice(['http://127.0.0.1:1/t/a', 'http://localhost:1/t/b'], 'http://127.0.0.1:4999');
  assert.match(notice, /loopback \(2\)/);
  assert.doesNotMatch(notice, /metadata|private/);
});
