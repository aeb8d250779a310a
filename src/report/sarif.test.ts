import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import AjvDraft04 from 'ajv-draft-04';
import type { Log } from 'sarif';
import { renderSarif } from './sarif.js';
import type { GateOutcome } from '../engine/gate.js';
import type { ItemConfig } from '../config/schema.js';
import type { ItemResult } from '../model.js';
import debugEndpoints from '../checks/debug-endpoints/index.js';
import { testContext } from '../test-support/context.js';
import { serve } from '../test-support/server.js';
import { leakyApp } from '../test-support/fixtures/apps.js';
import { skipAllBut } from '../test-support/fixtures/catalog.js';

// The official SARIF 2.1.0 schema (draft-04), vendored: no network in tests.
const schema: unknown = JSON.parse(readFileSync(new URL('./sarif-schema-2.1.0.json', import.meta.url), 'utf8'));
// A CommonJS module: its class is `default` on what the ESM default import gives.
// The schema's `language` pattern is not valid with the `u` flag, so patterns run without it.
const ajv = new AjvDraft04.default({ allErrors: true, strict: false, unicodeRegExp: false });
const isUrl = (s: string): boolean => URL.canParse(s);
ajv.addFormat('uri', isUrl);
ajv.addFormat('uri-reference', (s: string) => isUrl(s) || URL.canParse(s, 'http://base.invalid/'));
ajv.addFormat('date-time', (s: string) => /^\d{4}-\d{2}-\d{2}T/.test(s) && !Number.isNaN(Date.parse(s)));
const validate = ajv.compile(typeof schema === 'object' && schema !== null ? schema : {});

function result(id: string, status: ItemResult['status'], message: string, evidence?: unknown): ItemResult {
  return { id, tier: 'critical', status, message, evidence, durationMs: 5, attempts: [] };
}

function item(id: string, kind: string): ItemConfig {
  const parsed: unknown = { id, title: `title of ${id}`, tier: 'critical', category: 'security', check: { kind } };
  // The renderer reads id, title, category and check.kind only.
  return parsed as ItemConfig;
}

function outcome(results: ItemResult[]): GateOutcome {
  return {
    runId: 'run-1',
    gate: 'notes',
    env: 'staging',
    command: 'check',
    release: 'abc123',
    selection: {},
    status: 'completed',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:02.000Z',
    results,
    partial: false,
  };
}

test('SARIF: one rule per finding id, severity as level, URL as location, evidence in the bag, ignored as suppressed; valid against the official schema', async (t) => {
  const app = await serve(leakyApp());
  t.after(app.close);
  const ignore = [{ finding: 'catch-all', reason: 'known SPA', until: '2099-12-31' }];
  const probe = await debugEndpoints.run({ sourceMaps: false, ignore, skip: skipAllBut('/.env') }, testContext({ url: app.url }));
  const results = [
    result('SEC-DEBUG', 'fail', 'high == 0 failed', probe.evidence),
    result('HEALTH-01', 'fail', 'status == 200 failed (status = 503)', { url: `${app.url}/health`, status: 503 }),
    result('SEC-CORS', 'error', 'could not verify: 5 of 6 answers were 429 (rate limited)'),
    result('SEC-HDR', 'pass', 'ok'),
  ];
  const text = renderSarif(outcome(results), [item('SEC-DEBUG', 'debug-endpoints'), item('HEALTH-01', 'http'), item('SEC-CORS', 'cors'), item('SEC-HDR', 'headers')]);
  const log = JSON.parse(text) as Log;
  assert.ok(validate(log), JSON.stringify(validate.errors?.slice(0, 5)));
  const run = log.runs[0];
  const ruleIds = (run.tool.driver.rules ?? []).map((r) => r.id);
  assert.deepEqual(ruleIds, [...new Set(ruleIds)], 'one rule per id');
  const env = run.results?.find((r) => r.ruleId === 'debug-endpoints/exposed:/.env');
  assert.equal(env?.level, 'error');
  assert.equal(env?.locations?.[0].physicalLocation?.artifactLocation?.uri, `${app.url}/.env`);
  assert.deepEqual(env?.properties?.evidence, { path: '/.env', status: 200, contentType: 'text/plain', evidence: 'keys: NODE_ENV, DB_PASSWORD, SECRET_KEY' });
  assert.equal(run.results?.find((r) => r.ruleId === 'http/failed')?.locations?.[0].physicalLocation?.artifactLocation?.uri, `${app.url}/health`);
  assert.equal(run.results?.find((r) => r.ruleId === 'cors/could-not-verify')?.level, 'warning');
  assert.ok(!run.results?.some((r) => String(r.message.text).startsWith('SEC-HDR')), 'a passing item without findings adds nothing');
});

test('SARIF schema validation can fail: a log without version, or with a bad level, is refused', () => {
  const good = JSON.parse(renderSarif(outcome([result('X', 'fail', 'boom')]), [item('X', 'http')])) as Record<string, unknown>;
  assert.ok(validate(good));
  const { version: _dropped, ...noVersion } = good;
  assert.equal(validate(noVersion), false);
  const badLevel = JSON.parse(JSON.stringify(good).replace('"level": "error"', '"level": "fatal"').replace('"level":"error"', '"level":"fatal"')) as unknown;
  assert.equal(validate(badLevel), false);
});
