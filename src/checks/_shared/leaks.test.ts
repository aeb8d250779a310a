import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskSecrets } from './leaks.js';

test('maskSecrets: secrets in a leaked .env or URL are masked, ordinary text kept', () => {
  const env = 'DATABASE_URL=postgres://recipes:s3cret@db/recipes\nSESSION_SECRET=abcdef123456\nNODE_ENV=production';
  const masked = maskSecrets(env);
  assert.ok(!masked.includes('s3cret'), masked);
  assert.ok(!masked.includes('abcdef123456'), masked);
  assert.match(masked, /NODE_ENV=production/);
  assert.equal(maskSecrets('<html>hello</html>'), '<html>hello</html>');
});
