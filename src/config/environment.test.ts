import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, formatProblem, parseConfig } from './load.js';
// parseConfig checks options against the kinds loaded: the registry loads them all.
import '../checks/index.js';
import { resolveEnvironment } from './environment.js';

const TEXT = `version: 1
environments:
  staging: { url: "\${STAGING_URL}", region: eu }
  production: { url: "https://example.com" }
items:
  - { id: H-1, title: Health, tier: critical, check: { kind: http, url: "{{env.url}}/health" } }
`;

const loaded = parseConfig(TEXT, 'gonogo.yaml');

test('environment: url from ${STAGING_URL} when set; --url and the release are literal values', () => {
  const env = resolveEnvironment(loaded, { processEnv: { STAGING_URL: 'https://staging.example.com' }, release: '1.4.2' });
  assert.deepEqual(env, { name: 'staging', url: 'https://staging.example.com', vars: { url: 'https://staging.example.com', region: 'eu', release: '1.4.2' }, literal: ['url'] });
  const over = resolveEnvironment(loaded, { processEnv: {}, urlOverride: 'http://127.0.0.1:9/?t=${X}' });
  assert.equal(over.url, 'http://127.0.0.1:9/?t=${X}', 'with --url, an unset STAGING_URL does not matter');
  assert.equal(resolveEnvironment(loaded, { name: 'production', processEnv: {} }).url, 'https://example.com');
});

const refusals: { name: string; processEnv: Record<string, string>; expect: RegExp }[] = [
  { name: 'unset', processEnv: {}, expect: /^gonogo\.yaml:3:14: environments\.staging\.url: environment "staging" takes its url from \$\{STAGING_URL\}, which is not set: set it .*export STAGING_URL=.* or pass --url/ },
  { name: 'empty', processEnv: { STAGING_URL: '' }, expect: /which is not set/ },
  { name: 'not a URL (the value is not shown)', processEnv: { STAGING_URL: 'staging-host:3000' }, expect: /\(\$\{STAGING_URL\}, as set\) is not an absolute http or https URL$/ },
];

for (const c of refusals) {
  test(`environment: refuses a run when \${STAGING_URL} is ${c.name}`, () => {
    assert.throws(() => resolveEnvironment(loaded, { processEnv: c.processEnv }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.problems.length, 1);
      assert.match(formatProblem(err.problems[0]), c.expect);
      assert.ok(!formatProblem(err.problems[0]).includes('staging-host'), 'a secret value is never echoed');
      return true;
    });
  });
}
