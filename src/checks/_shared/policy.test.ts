// Issue 9, points 8 and 13: an oversized answer is judged on its head, an error keeps its evidence
// and names the failing URL, and accepted findings are reported as ignored, never dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import errorHandling from '../error-handling/index.js';
import debugEndpoints from '../debug-endpoints/index.js';
import { CheckError } from '../types.js';
import type { Finding, IgnoredFinding } from './probe.js';
import { testContext } from '../../test-support/context.js';
import { serve } from '../../test-support/server.js';
import { bigBodyApp, leakyApp } from '../../test-support/fixtures/apps.js';
import { skipAllBut } from '../../test-support/fixtures/catalog.js';

const ids = (findings: unknown) => (findings as Finding[]).map((f) => f.id).sort();

test('a 600 KB answer is judged on its first part, with a note: the leak at its head is caught, a clean one is quiet', async (t) => {
  const [leaky, clean] = await Promise.all([serve(bigBodyApp({ leaky: true })), serve(bigBodyApp())]);
  t.after(leaky.close);
  t.after(clean.close);
  const caught = (await errorHandling.run({ paths: ['/big'] }, testContext({ url: leaky.url }))).observations;
  assert.deepEqual(ids(caught.findings), ['leak.file-path', 'leak.stack-trace', 'probe.truncated']);
  const quiet = (await errorHandling.run({ paths: ['/big'] }, testContext({ url: clean.url }))).observations;
  assert.deepEqual(ids(quiet.findings), ['probe.truncated']);
  assert.match((quiet.findings as Finding[])[0].message, /judged on their first 262144 bytes/);
});

test('a probe that errors keeps the exchanges it had and names the URL that failed', async (t) => {
  const s = await serve(bigBodyApp());
  t.after(s.close);
  await assert.rejects(errorHandling.run({ paths: ['/big', '/reset'] }, testContext({ url: s.url })), (err: unknown) => {
    assert.ok(err instanceof CheckError);
    assert.match(err.message, new RegExp(`at GET ${s.url}/reset|${s.url}/reset`));
    const evidence = err.evidence as { exchanges: { url: string; status?: number; error?: string }[]; failedUrl: string };
    assert.equal(evidence.exchanges[0].status, 200, 'the answer before the failure is kept');
    assert.equal(evidence.failedUrl, `${s.url}/reset`);
    return true;
  });
});

test('ignore: an accepted finding leaves the counts but is reported with its reason; once expired it counts again', async (t) => {
  const s = await serve(leakyApp());
  t.after(s.close);
  const base = { sourceMaps: false, skip: skipAllBut('/.env') };
  const plain = (await debugEndpoints.run(base, testContext({ url: s.url }))).observations;
  assert.equal(plain.high, 1);
  const reason = 'dummy values only, removed in the next release';
  const accepted = (await debugEndpoints.run({ ...base, ignore: [{ finding: 'exposed:/.env', reason, until: '2099-12-31' }] }, testContext({ url: s.url }))).observations;
  assert.equal(accepted.high, 0);
  const ignored = accepted.ignored as IgnoredFinding[];
  assert.deepEqual(ignored.map((f) => [f.id, f.ignored.reason]), [['exposed:/.env', reason]]);
  const expired = (await debugEndpoints.run({ ...base, ignore: [{ finding: 'exposed:*', reason, until: '2020-01-01' }] }, testContext({ url: s.url }))).observations;
  assert.equal(expired.high, 1);
  assert.ok(ids(expired.findings).includes('ignore.expired:exposed:/.env'));
  assert.throws(() => debugEndpoints.options.parse({ ignore: [{ finding: 'x', reason: 'y', until: '2099-02-31' }] }), /expected a date/);
  assert.throws(() => debugEndpoints.options.parse({ ignore: [{ finding: 'x', until: '2099-01-01' }] }));
});
