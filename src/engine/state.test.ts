import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// parseConfig checks options against loaded kinds: the registry loads them all (the engine loads only those a run uses).
import '../checks/index.js';
import { parseConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/load.js';
import { verifyChain } from '../store/audit.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { fakeClock } from '../test-support/clock.js';
import { serve } from '../test-support/server.js';
import { tamperableSqlite } from '../test-support/tamper.js';
import type { TestServer } from '../test-support/server.js';
import { AuthorityError, giveRevocation, giveSignoff, giveWaiver } from './attest.js';
import { runGate } from './gate.js';
import type { Release } from './release.js';
import { gateState } from './state.js';

// The gate's state across runs of one release, against a real HTTP target and a real SQLite file.
// `/flaky` answers what the test last set, so one item can fail in one run and pass in the next.
const clock = fakeClock(Date.parse('2026-11-30T09:00:00Z'));
let server: TestServer;
let flaky = 500;
before(async () => {
  server = await serve((req, res) => void res.writeHead(req.url === '/flaky' ? flaky : 200).end('ok'));
});
after(() => server.close());

const R1: Release = { id: 'r1', source: 'option', author: { name: 'Dev Author', email: 'dev@example.com' } };

function config(opts: { apiExpect?: string; requireDecision?: boolean } = {}): LoadedConfig {
  const check = (path: string, expect = 'status == 200'): string => `{ kind: http, url: "{{env.url}}${path}", expect: ['${expect}'] }`;
  return parseConfig(
    `version: 1
name: shop
environments: { staging: { url: ${server.url} } }
rules: { requiredSignoffs: [${opts.requireDecision ? 'decision' : ''}] }
roles: { release-manager: [decision, revoke], qa-lead: [stage], eng-lead: [waive] }
people: { erin: [release-manager], quinn: [qa-lead], lee: [eng-lead], dev: { roles: [release-manager], emails: [dev@example.com] } }
items:
  - { id: HEALTH, title: health, tier: critical, check: ${check('/health')} }
  - { id: API, title: api, tier: critical, check: ${check('/flaky', opts.apiExpect)} }
  - { id: DOCS, title: docs, tier: high, check: ${check('/health')} }
`,
    'gonogo.yaml',
  );
}

async function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(join(mkdtempSync(join(tmpdir(), 'gonogo-state-')), 'g.db'));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

test('a partial run updates only the items it ran; the state keeps the rest from earlier runs of the release', async () => {
  await withStore(async (store) => {
    const loaded = config();
    flaky = 500;
    const full = await runGate({ loaded, store, clock, release: R1 });
    assert.equal(full.decision?.verdict, 'NO_GO');
    assert.equal(full.state?.decision.verdict, 'NO_GO');

    // Only DOCS, which passes: the selection is GO, the release is still NO-GO (API failed and has not run since).
    const docsOnly = await runGate({ loaded, store, clock, release: R1, selection: { only: ['DOCS'] } });
    assert.equal(docsOnly.partial, true);
    assert.equal(docsOnly.decision?.verdict, 'GO', 'a partial run decides over its selection');
    assert.equal(docsOnly.state?.decision.verdict, 'NO_GO', 'the state of the release is not replaced by the selection');
    assert.equal((await gateState({ loaded, store, clock, release: R1 })).decision.verdict, 'NO_GO');
    assert.deepEqual(docsOnly.state?.results.map((r) => [r.id, r.status, r.runId]), [['HEALTH', 'pass', full.runId], ['API', 'fail', full.runId], ['DOCS', 'pass', docsOnly.runId]]);

    // API fixed and re-run alone: now every item's latest result passes.
    flaky = 200;
    const apiOnly = await runGate({ loaded, store, clock, release: R1, selection: { only: ['API'] } });
    assert.equal(apiOnly.state?.decision.verdict, 'GO');
    const state = await gateState({ loaded, store, clock, release: R1 });
    assert.equal(state.decision.verdict, 'GO');
    assert.equal(state.lastRun?.id, apiOnly.runId);

    // Another release has run nothing.
    const other = await gateState({ loaded, store, clock, release: { id: 'r2', source: 'option' } });
    assert.equal(other.decision.verdict, 'NO_GO');
    assert.match(other.results[0].message, /not run for release r2/);
  });
});

test('a run deleted behind gonogo\'s back to bring back an older GO breaks the chain status shows; one older than every run of the release is left to verify', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'gonogo-state-')), 'g.db');
  const forger = tamperableSqlite(file);
  const loaded = config();
  const store = await openStore(file);
  let ran: string[];
  try {
    flaky = 200;
    const early = await runGate({ loaded, store, clock, release: R1 });
    const good = await runGate({ loaded, store, clock, release: R1 });
    flaky = 500;
    const bad = await runGate({ loaded, store, clock, release: R1 });
    assert.equal(bad.state?.decision.verdict, 'NO_GO');
    ran = [early.runId, good.runId, bad.runId].map(String);
  } finally {
    await store.close();
  }
  const [early, , bad] = ran;
  const stateNow = async () => {
    const reader = await openStore(file, { readonly: true });
    try {
      return { state: await gateState({ loaded, store: reader, clock, release: R1 }), verified: await verifyChain(reader, 'shop') };
    } finally {
      await reader.close();
    }
  };
  // The failing run removed: its results would show GO, and the chain says what happened.
  await forger.exec(`DELETE FROM results WHERE run_id = '${bad}'; DELETE FROM runs WHERE id = '${bad}'`);
  const forged = await stateNow();
  assert.equal(forged.state.decision.verdict, 'GO');
  assert.equal(forged.state.chain.intact, false);
  assert.match(forged.state.chain.problem?.message ?? '', new RegExp(`run ${bad} recorded by entry \\d+ was deleted`));
  assert.equal(forged.verified.intact, false);
  // The oldest run deleted as well: nothing newer comes back through it (every item has a newer
  // result), so status looks from the oldest run left; verify, walking everything, finds it.
  await forger.exec(`DELETE FROM results WHERE run_id = '${early}'; DELETE FROM runs WHERE id = '${early}'`);
  const older = await stateNow();
  assert.match(older.state.chain.problem?.message ?? '', new RegExp(`run ${bad} `));
  assert.match(older.verified.problem?.message ?? '', new RegExp(`run ${early} `));
});

test('a config edited after the run makes the changed items not run: status is never GO on results of another definition', async () => {
  await withStore(async (store) => {
    flaky = 200;
    const run = await runGate({ loaded: config(), store, clock, release: R1 });
    assert.equal(run.decision?.verdict, 'GO');
    // The API check now demands a body it never saw: its old pass says nothing about that.
    const edited = config({ apiExpect: 'body contains "healthy"' });
    const state = await gateState({ loaded: edited, store, clock, release: R1 });
    assert.equal(state.configChanged, true);
    assert.deepEqual(state.staleItems, ['API']);
    assert.equal(state.decision.verdict, 'NO_GO');
    assert.match(state.decision.reasons[0], /config changed: 1 item must run again \(API\)/);
    assert.match(state.results[1].message, /not run: its definition changed/);
    // The unchanged items keep their results.
    assert.equal(state.results[0].status, 'pass');
  });
});

test('a decision sign-off signs one run: it counts until a newer run of the release, and is refused with the rule when not allowed', async () => {
  await withStore(async (store) => {
    flaky = 200;
    const loaded = config({ requireDecision: true });
    const run = await runGate({ loaded, store, clock, release: R1 });
    assert.equal(run.decision?.verdict, 'NO_GO', 'the decision sign-off is missing');
    assert.deepEqual(run.decision?.missingSignoffs, ['decision']);
    const ctx = { loaded, store, clock, release: R1 };

    // Refusals record nothing.
    await assert.rejects(giveSignoff(ctx, { target: { type: 'decision' }, by: 'quinn', role: 'qa-lead' }), (e: unknown) => e instanceof AuthorityError && /qa-lead may not sign decision/.test(e.message));
    await assert.rejects(giveSignoff(ctx, { target: { type: 'decision' }, by: 'dev', role: 'release-manager' }), /author of this release/);
    await assert.rejects(giveSignoff(ctx, { target: { type: 'decision' }, by: 'erin', role: 'release-manager', runId: 'NOT-THE-RUN' }), /not the newest completed run/);
    assert.deepEqual(await store.listAttestations('shop'), []);

    // The store is read once for the sign-off: the state before, the verdict it signs, the state after.
    let reads = 0;
    const counted: Store = new Proxy(store, {
      get(target, key, receiver) {
        const value: unknown = Reflect.get(target, key, receiver);
        if (key === 'listRuns' && typeof value === 'function') {
          return (...args: unknown[]) => {
            reads++;
            return Reflect.apply(value, target, args);
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { attestation, state } = await giveSignoff({ ...ctx, store: counted }, { target: { type: 'decision' }, by: 'erin', role: 'release-manager' });
    assert.equal(reads, 1);
    assert.equal(state.decision.verdict, 'GO', 'the state after counts the sign-off just recorded');
    assert.deepEqual(state.attestations.map((v) => [v.attestation.id, v.standing]), [[attestation.id, 'counts']]);
    assert.equal((await gateState(ctx)).decision.verdict, 'GO', 'as a fresh read does');
    assert.equal(attestation.kind === 'signoff' && attestation.run?.id, run.runId);
    assert.equal(attestation.kind === 'signoff' && attestation.run?.verdict, 'GO', 'it records the verdict it makes');
    await assert.rejects(giveSignoff(ctx, { target: { type: 'decision' }, by: 'erin', role: 'release-manager' }), /already signed/);

    // Running the checks again starts a new run: the sign-off was for the previous one.
    const rerun = await runGate({ loaded, store, clock, release: R1 });
    assert.equal(rerun.state?.decision.verdict, 'NO_GO');
    const view = rerun.state?.attestations.find((v) => v.attestation.id === attestation.id);
    assert.equal(view?.standing, 'stale');
    assert.match(view?.why ?? '', /is newer/);
  });
});

test('a revocation withdraws a sign-off without deleting it; only its author or the revoke permission may', async () => {
  await withStore(async (store) => {
    flaky = 200;
    const loaded = config({ requireDecision: true });
    await runGate({ loaded, store, clock, release: R1 });
    const ctx = { loaded, store, clock, release: R1 };
    const { attestation } = await giveSignoff(ctx, { target: { type: 'decision' }, by: 'erin', role: 'release-manager' });
    await assert.rejects(giveRevocation(ctx, { attestationId: attestation.id, by: 'quinn', role: 'qa-lead', reason: 'no' }), /lacks the revoke permission/);
    await giveRevocation(ctx, { attestationId: attestation.id, by: 'erin', role: 'release-manager', reason: 'smoke test ran on the wrong build' });
    const state = await gateState(ctx);
    assert.equal(state.decision.verdict, 'NO_GO');
    assert.equal(state.attestations.find((v) => v.attestation.id === attestation.id)?.standing, 'revoked');
    assert.equal((await store.listAttestations('shop')).length, 2, 'nothing deleted');
    await assert.rejects(giveRevocation(ctx, { attestationId: attestation.id, by: 'erin', role: 'release-manager', reason: 'again' }), /already revoked/);
  });
});

test('a waiver needs the waive permission and spans releases until it expires', async () => {
  await withStore(async (store) => {
    flaky = 200;
    const loaded = config();
    const ctx = { loaded, store, clock, release: R1 };
    const expires = clock.now() + 86_400_000;
    await assert.rejects(giveWaiver(ctx, { itemId: 'DOCS', by: 'erin', role: 'release-manager', mitigation: 'm', owner: 'o', expires }), /lacks the waive permission/);
    const waiver = await giveWaiver(ctx, { itemId: 'DOCS', by: 'lee', role: 'eng-lead', mitigation: 'docs ship next sprint', owner: 'lee', expires });
    const r2 = await gateState({ ...ctx, release: { id: 'r2', source: 'option' } });
    assert.equal(r2.attestations.find((v) => v.attestation.id === waiver.id)?.standing, 'counts');
    await clock.advance(expires + 1 - clock.now());
    const later = await gateState(ctx);
    assert.equal(later.attestations.find((v) => v.attestation.id === waiver.id)?.standing, 'expired');
  });
});

test('a --url run (a preview deployment of the release) counts for the environment it was run as', async () => {
  await withStore(async (store) => {
    flaky = 200;
    const loaded = config();
    await runGate({ loaded, store, clock, release: R1, urlOverride: server.url.replace('127.0.0.1', 'localhost') });
    const state = await gateState({ loaded, store, clock, release: R1 });
    assert.deepEqual(state.staleItems, []);
    assert.equal(state.decision.verdict, 'GO');
  });
});
