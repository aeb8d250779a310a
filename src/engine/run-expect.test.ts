// Placeholders in `expect:` are filled in by the engine before judging (the small edit in run.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { runChecks } from './run.js';
import { defineKind } from '../checks/types.js';
import { parseCondition } from '../conditions/index.js';
import type { ItemConfig } from '../config/schema.js';
import { fakeClock } from '../test-support/clock.js';

const echo = defineKind({
  name: 'echo',
  description: 'observes the version it is given',
  options: z.strictObject({ version: z.string() }),
  fields: ['version'],
  defaultExpect: () => [],
  run: async (o) => ({ observations: { version: o.version } }),
});

const cases: { name: string; observed: string; vars: Record<string, string>; status: string; message: RegExp }[] = [
  { name: 'the release matches', observed: '1.4.2', vars: { release: '1.4.2', region: 'eu' }, status: 'pass', message: /version == "1\.4\.2"/ },
  { name: 'another release', observed: '1.4.1', vars: { release: '1.4.2', region: 'eu' }, status: 'fail', message: /version == "1\.4\.2": version was "1\.4\.1"/ },
  { name: 'no release given', observed: '1.4.2', vars: { region: 'eu' }, status: 'error', message: /\{\{release\}\} has no value in this run/ },
];

for (const c of cases) {
  test(`engine: expect with {{release}}: ${c.name} is ${c.status}`, async () => {
    const r = parseCondition('version == {{release}}', ['version']);
    assert.ok(r.ok);
    const item = { id: 'V-1', title: 'Version', tier: 'high', check: { kind: 'echo', version: c.observed } } as unknown as ItemConfig;
    const [result] = await runChecks([item], new Map([['V-1', [r.condition]]]), {
      env: { name: 't', vars: c.vars },
      configDir: '.',
      clock: fakeClock(),
      concurrency: 1,
      perHost: 1,
      defaultTimeoutMs: 1000,
      kinds: { echo },
    });
    assert.equal(result.status, c.status, result.message);
    assert.match(result.message, c.message);
  });
}
