// Header values and pages come from the target. These inputs were quadratic on V8's backtracking
// engine; on the linear one they must simply be answered, and answered right.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metaCsp } from './index.js';
import { analyzeCsp } from './csp.js';
import { analyzeHsts, analyzeLeaks, observeCookies } from './rules.js';

const fill = (unit: string, size = 256 * 1024): string => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);

test('metaCsp answers on a page of unclosed <meta tags and of attribute names', () => {
  assert.equal(metaCsp(fill('<meta ')), undefined);
  assert.equal(metaCsp(`<meta ${fill('a')}>`), undefined);
  assert.equal(metaCsp(`<meta http-equiv="Content-Security-Policy" content="default-src 'self'">${fill('<meta ')}`), "default-src 'self'");
});

test('header rules answer on 16 KiB hostile values', () => {
  const digits = fill('1', 16 * 1024);
  assert.deepEqual(analyzeLeaks({ server: digits }).map((f) => f.id), ['leak.server.product']);
  assert.deepEqual(analyzeLeaks({ server: `${digits}.2` }).map((f) => f.id), ['leak.server.version']);
  assert.deepEqual(analyzeHsts(fill('; max-age=1', 16 * 1024), true, 1).map((f) => f.id), ['hsts.no-subdomains']);
  assert.deepEqual(analyzeHsts(`max-age=${digits}x`, true, 1).map((f) => f.id), ['hsts.invalid']);
  assert.deepEqual(analyzeHsts(`max-age=${digits.slice(0, 8)}; includeSubDomains`, true, 1), []);
  const csp = analyzeCsp({ header: `script-src ${fill("'nonce-", 16 * 1024)}; object-src 'none'; base-uri 'none'` });
  assert.deepEqual(csp.map((f) => f.id), []);
  assert.deepEqual(observeCookies([`${fill('toke', 4096)}=1`], '/', { fromLogin: false }).map((c) => c.role), ['other']);
});
