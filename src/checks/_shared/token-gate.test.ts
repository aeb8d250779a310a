// A token API gated end to end from its gonogo.yaml (test-support/fixtures/token-api-gate): the
// login recipes load and run, the csrf item is skipped with its reason, and neither the password
// nor the pasted token appears anywhere in the results.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../config/load.js';
import { runGate } from '../../engine/gate.js';
import { openStore } from '../../store/index.js';
import { systemClock } from '../../util/clock.js';
import { serve } from '../../test-support/server.js';
import { bearerApp } from '../../test-support/fixtures/apps.js';

const CONFIG = join(import.meta.dirname, '..', '..', 'test-support', 'fixtures', 'token-api-gate', 'gonogo.yaml');
const SECRETS = { TOKEN_API_ALICE_PASSWORD: 'alice-password', TOKEN_API_OPS_TOKEN: 'tok-ops' };

test('a token API gated from YAML: bearer login and pasted token work, csrf is not applicable, no secret is kept', async (t) => {
  const [right, leaky] = await Promise.all([serve(bearerApp()), serve(bearerApp({ cookieWrites: true }))]);
  t.after(right.close);
  t.after(leaky.close);
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-token-gate-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const loaded = await loadConfig(CONFIG);
  const run = async (url: string, n: number) => {
    const store = await openStore(join(dir, `g${n}.db`));
    try {
      return await runGate({ loaded, store, clock: systemClock, urlOverride: url, processEnv: { ...process.env, ...SECRETS }, release: { id: 'r1', source: 'option' } });
    } finally {
      await store.close();
    }
  };
  const [ok, bad] = await Promise.all([run(right.url, 1), run(leaky.url, 2)]);
  const status = (o: typeof ok, id: string) => o.results.find((r) => r.id === id);
  assert.equal(status(ok, 'SEC-AUTH')?.status, 'pass', status(ok, 'SEC-AUTH')?.message);
  assert.equal(status(ok, 'SEC-CSRF')?.status, 'skipped');
  assert.match(status(ok, 'SEC-CSRF')?.message ?? '', /not applicable: writes need a bearer token/);
  assert.equal(status(bad, 'SEC-CSRF')?.status, 'fail', 'a leftover cookie that authorizes writes is caught');
  for (const o of [ok, bad]) {
    const text = JSON.stringify(o.results);
    for (const secret of Object.values(SECRETS)) assert.ok(!text.includes(secret), `${secret} leaked into the results`);
  }
});
