import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// parseConfig checks options against loaded kinds: the registry loads them all (the engine loads only those a run uses).
import '../checks/index.js';
import { parseConfig } from '../config/load.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { fakeClock } from '../test-support/clock.js';
import { Recorder, runGate } from './gate.js';
import type { ItemResult } from '../model.js';
import { Redactor } from '../util/redact.js';
import { gateState } from './state.js';
import { serve } from '../test-support/server.js';
import type { TestServer } from '../test-support/server.js';

// Staged validation against a real HTTP target and a real SQLite file.
// Time is a fake clock: `/slow` takes 60 ms of it to answer, so stage durations are exact.
const clock = fakeClock();
let server: TestServer;
let url = '';
/** A promise and what resolves it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

// `/hold` answers once a test releases it.
let hold = deferred();
// `/hold-first` holds the first request it gets (until `hold` is released) and answers the others at once.
let heldFirst = false;
before(async () => {
  server = await serve((req, res) => {
    const answer = (): void => void res.writeHead(req.url === '/broken' ? 500 : 200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    if (req.url === '/slow') void clock.advance(60).then(answer);
    else if (req.url === '/hold') void hold.promise.then(answer);
    else if (req.url === '/hold-first' && !heldFirst) {
      heldFirst = true;
      void hold.promise.then(answer);
    }
    else answer();
  });
  url = server.url;
});
after(() => server.close());

const check = (path: string): string => `{ kind: http, url: "{{env.url}}${path}", expect: ['status == 200'] }`;

function config(): string {
  return `version: 1
name: staged
environments: { staging: { url: ${url} } }
roles: { qa-lead: [stage], engineer: [item] }
stages:
  staging:
    - { id: deploy, title: Deploy, budget: 15m, items: [DEPLOY-1, DEPLOY-2] }
    - { id: security, title: Security, budget: 1ms, items: [SEC-1], signoff: [qa-lead] }
    - { id: functional, title: Functional, budget: 1h, items: [FUNC-1] }
items:
  - { id: DEPLOY-1, title: deployed, tier: critical, check: ${check('/health')} }
  - { id: DEPLOY-2, title: migrated, tier: critical, check: ${check('/broken')} }
  - { id: SEC-1, title: secure, tier: critical, check: ${check('/slow')} }
  - { id: FUNC-1, title: works, tier: high, check: ${check('/health')} }
`;
}

async function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(join(mkdtempSync(join(tmpdir(), 'gonogo-gate-')), 'g.db'));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

test('validate: a critical failure stops the stages after it; the rest are not run, and say why', async () => {
  await withStore(async (store) => {
    const loaded = parseConfig(config(), 'gonogo.yaml');
    const out = await runGate({ loaded, store, clock, stageSet: 'staging' });
    assert.deepEqual(out.stages?.map((s) => [s.id, s.status]), [['deploy', 'failed'], ['security', 'not-run'], ['functional', 'not-run']]);
    assert.deepEqual(out.stages?.[0].failedCritical, ['DEPLOY-2']);
    const sec = out.results.find((r) => r.id === 'SEC-1');
    assert.equal(sec?.status, 'error');
    assert.match(sec?.message ?? '', /not run: validation stopped after stage deploy/);
    assert.equal(out.decision?.verdict, 'NO_GO');
  });
});

test('validate --keep-going: every stage runs; a stage past its budget says so; missing stage sign-offs show', async () => {
  await withStore(async (store) => {
    const loaded = parseConfig(config(), 'gonogo.yaml');
    const out = await runGate({ loaded, store, clock, stageSet: 'staging', keepGoing: true });
    assert.deepEqual(out.stages?.map((s) => s.status), ['failed', 'passed', 'passed']);
    const security = out.stages?.[1];
    assert.equal(security?.durationMs, 60);
    assert.equal(security?.overBudget, true, 'took 60 ms of a 1 ms budget');
    assert.equal(out.stages?.[0].durationMs, 0);
    assert.equal(out.stages?.[0].overBudget, false);
    assert.equal(security?.signedOff, false);
    // A stage sign-off binds to the stage's last run: a row naming that run by a role the stage
    // does not ask for does not count; by qa-lead it does, until the stage runs again.
    const release = { id: out.release, source: 'option' as const };
    const signoff = (by: string, role: string, runId: string) =>
      store.addAttestation({ kind: 'signoff', gate: 'staged', release: release.id, env: 'staging', run: { id: runId, verdict: 'NO_GO', configHash: loaded.hash }, target: { type: 'stage', id: 'security' }, by, role, at: new Date(clock.now()).toISOString() });
    await signoff('eve', 'engineer', out.runId);
    const stageSigned = async (): Promise<boolean | undefined> => (await gateState({ loaded, store, clock, release })).attestations.some((v) => v.standing === 'counts');
    assert.equal(await stageSigned(), false);
    await signoff('quinn', 'qa-lead', out.runId);
    assert.equal(await stageSigned(), true);
    const again = await runGate({ loaded, store, clock, release, stageSet: 'staging', keepGoing: true });
    assert.equal(again.stages?.[1].signedOff, false, 'the stage ran again: the sign-off was for its previous run');
    assert.equal(await stageSigned(), false);
  });
});

test('an interrupted run is stored aborted, with no decision, and its results kept', async () => {
  await withStore(async (store) => {
    const loaded = parseConfig(config(), 'gonogo.yaml');
    const controller = new AbortController();
    controller.abort(new Error('interrupted'));
    const out = await runGate({ loaded, store, clock, signal: controller.signal });
    assert.equal(out.status, 'aborted');
    assert.equal(out.decision, undefined);
    const stored = await store.getRun(out.runId);
    assert.equal(stored?.status, 'aborted');
    assert.equal(stored?.decision, undefined);
    assert.equal(stored?.results.length, 4);
    assert.ok(stored?.results.every((r) => r.status === 'error'));
  });
});

test('a completed run is stored with its decision and the hash of its config', async () => {
  await withStore(async (store) => {
    const loaded = parseConfig(config(), 'gonogo.yaml');
    const out = await runGate({ loaded, store, clock, selection: { only: ['DEPLOY-1', 'FUNC-1'] } });
    assert.equal(out.partial, true);
    assert.match(out.decision?.reasons[0] ?? '', /partial run: covers 2 of 4 items/);
    const [summary] = await store.listRuns({ gate: 'staged' });
    assert.equal(summary.configHash, loaded.hash);
    assert.equal(summary.verdict, out.decision?.verdict);
  });
});

test('results are stored in batches while the run goes on: within 100 ms of the clock a result is on disk (a run killed later keeps it)', async () => {
  await withStore(async (store) => {
    hold = deferred();
    const loaded = parseConfig(
      `version: 1
name: batches
environments: { staging: { url: ${url} } }
items:
  - { id: QUICK-1, title: answers, tier: high, check: ${check('/health')} }
  - { id: HELD-1, title: held, tier: high, check: ${check('/hold')} }
`,
      'gonogo.yaml',
    );
    const quickEnded = deferred();
    const run = runGate({ loaded, store, clock, onEvent: (e) => e.type === 'end' && e.result.id === 'QUICK-1' && quickEnded.resolve() });
    try {
      await quickEnded.promise;
      // (Its status is not asked: the store's clock is the system's, the run's is this test's.)
      const [running] = await store.listRuns({ gate: 'batches' });
      await clock.advance(100);
      // The batch is written as the turn ends (a few turns of the event loop, no time).
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      const stored = await store.getRun(running.id);
      assert.deepEqual(stored?.results.map((r) => [r.id, r.status]), [['QUICK-1', 'pass']], 'the finished check is on disk, the held one still runs');
    } finally {
      hold.resolve();
    }
    const out = await run;
    assert.deepEqual((await store.getRun(out.runId))?.results.map((r) => r.id).sort(), ['HELD-1', 'QUICK-1']);
  });
});

test('a batch of results is written once results pause for 5 ms, and at the latest 100 ms after its first, however steadily they land', async () => {
  await withStore(async (store) => {
    const clock = fakeClock();
    const runId = await store.beginRun({ gate: 'recorder', env: 'staging', command: 'check', release: 'r1', selection: {}, configHash: 'h', startedAt: new Date(clock.now()).toISOString(), pid: process.pid, host: 'test' });
    const recorder = new Recorder(store, runId, Redactor.of([]), clock);
    const result = (i: number): ItemResult => ({ id: `R-${i}`, tier: 'high', status: 'pass', message: 'ok', durationMs: 1, attempts: [] });
    const stored = async (): Promise<number> => {
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      return (await store.getRun(runId))?.results.length ?? 0;
    };
    // A burst: three results 1 ms apart, then a pause.
    for (let i = 0; i < 3; i++) {
      recorder.save(result(i));
      await clock.advance(1);
    }
    await clock.advance(3);
    assert.equal(await stored(), 0, '4 ms after the last result of the burst, the batch still waits');
    await clock.advance(1);
    assert.equal(await stored(), 3, '5 ms after it, the batch is on disk');
    // A steady stream, a result every 2 ms: no pause, so the batch is written at 100 ms.
    for (let i = 3; i < 60; i++) {
      recorder.save(result(i));
      await clock.advance(2);
    }
    assert.equal(await stored(), 3 + 50, 'the 50 results of the first 100 ms are on disk while the stream goes on');
    await recorder.settle();
    assert.equal(await stored(), 60);
  });
});

test('the state at the end of a run is the state status reads afterwards, whether the run holds the latest results or a newer run does', async () => {
  await withStore(async (store) => {
    hold = deferred();
    heldFirst = false;
    const loaded = parseConfig(
      `version: 1
name: own-run
environments: { staging: { url: ${url} } }
items:
  - { id: QUICK-1, title: answers, tier: high, check: ${check('/health')} }
  - { id: BROKEN-1, title: fails, tier: recommended, check: ${check('/broken')} }
  - { id: HELD-1, title: held the first time, tier: high, check: ${check('/hold-first')} }
  - { id: MANUAL-1, title: by hand, tier: recommended, manual: true }
`,
      'gonogo.yaml',
    );
    const release = { id: 'r-own', source: 'option' as const };
    const status = (): ReturnType<typeof gateState> => gateState({ loaded, store, clock, release });
    // Run A waits on HELD-1 while run B, begun after it, runs every item and completes first.
    const heldStarted = deferred();
    const a = runGate({ loaded, store, clock, release, onEvent: (e) => e.type === 'start' && e.id === 'HELD-1' && heldStarted.resolve() });
    await heldStarted.promise;
    const b = await runGate({ loaded, store, clock, release });
    assert.deepEqual(b.state, await status(), "B is the newest completed run and holds every item's result");
    assert.deepEqual(new Set(b.state?.results.flatMap((r) => r.runId ?? [])), new Set([b.runId]));
    hold.resolve();
    const outA = await a;
    // B sorts after A (it began later), so B's results stay the latest: A's end shows them, not its own.
    assert.deepEqual(outA.state, await status());
    assert.deepEqual(new Set(outA.state?.results.flatMap((r) => r.runId ?? [])), new Set([b.runId]));
  });
});

test('the state at the end of a partial run takes the items it did not run from earlier runs, as status does', async () => {
  await withStore(async (store) => {
    const loaded = parseConfig(
      `version: 1
name: own-partial
environments: { staging: { url: ${url} } }
items:
  - { id: QUICK-1, title: answers, tier: high, check: ${check('/health')} }
  - { id: BROKEN-1, title: fails, tier: recommended, check: ${check('/broken')} }
`,
      'gonogo.yaml',
    );
    const release = { id: 'r-partial', source: 'option' as const };
    const full = await runGate({ loaded, store, clock, release });
    const partial = await runGate({ loaded, store, clock, release, selection: { only: ['QUICK-1'] } });
    assert.deepEqual(partial.state, await gateState({ loaded, store, clock, release }));
    assert.equal(partial.state?.results.find((r) => r.id === 'BROKEN-1')?.runId, full.runId);
  });
});
