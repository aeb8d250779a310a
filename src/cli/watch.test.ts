// The watch commands in-process: `watch` on the fake clock against the real reference app,
// `rollback` by hand (once per release), `decide-rollback` and `report-issue` under the authority
// rules, `baseline record`. The engine's own behaviour (triggers, resume, races) is tested in
// src/watch/watch.test.ts; here: arguments, exit codes, what is printed and recorded.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApp } from '../../examples/recipes-app/src/app.js';
import type { RunningApp } from '../../examples/recipes-app/src/app.js';
import { openStore } from '../store/index.js';
import { runCli } from '../test-support/cli.js';
import { fakeClock } from '../test-support/clock.js';
import type { FakeClock } from '../test-support/clock.js';
import { serve } from '../test-support/server.js';
import type { TestServer } from '../test-support/server.js';

let app: RunningApp;
let control: TestServer;
let rollbacks = 0;

before(async () => {
  app = await startApp({});
  control = await serve((_req, res) => {
    rollbacks++;
    res.writeHead(200).end('ok');
  });
});
after(async () => {
  await app.close();
  await control.close();
});

function workspace(): { dir: string; config: string; env: Record<string, string | undefined> } {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-watch-cli-'));
  const config = join(dir, 'gonogo.yaml');
  const script = `fetch(process.env.CONTROL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(2))`;
  writeFileSync(
    config,
    `version: 1
name: shop
roles: { oncall: [rollback], viewer: [stage] }
people: { olga: [oncall], vic: [viewer] }
environments:
  production: { url: "${app.url}" }
stages:
  production:
    - { id: immediate, title: Immediate, budget: 30m, every: 10m, items: [HEALTH], signoff: [viewer] }
watch:
  minSamples: 1
  triggers:
    - { id: app-down, severity: immediate, items: [HEALTH] }
    - { id: reported-issue, severity: conditional, reports: true }
  rollback:
    run: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(script)}]
    timeout: 1m
    validate: [HEALTH]
items:
  - { id: HEALTH, title: health, tier: critical, check: { kind: http, url: "{{env.url}}/health" } }
`,
  );
  return { dir, config, env: { ...process.env, CI: '1', CONTROL: control.url } };
}

/**
 * Moves the fake clock while the watch sleeps between evaluations: then a sleeper with minutes left
 * waits (its pause); while an evaluation runs, only seconds-long timers do (checks' deadlines, the
 * run's heartbeat, the lease's renewal), and moving the clock under a check would time it wrongly.
 */
function drive(clock: FakeClock, done: Promise<unknown>): void {
  let finished = false;
  void done.finally(() => {
    finished = true;
  });
  const step = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    if (finished) return;
    const longest = Math.max(0, ...clock.remaining());
    // Straight to the pause's end: the renewals on the way wake in order.
    if (longest >= 60_000) await clock.advance(longest);
    setImmediate(() => void step());
  };
  void step();
}

describe('watch commands', () => {
  test('watch: every window passes -> exit 0, the summary on stdout, each evaluation on stderr, the sign-off hint', async () => {
    const w = workspace();
    const clock = fakeClock(Date.now());
    const run = runCli(['--config', w.config, '--release', 'v2', 'watch', 'production', '--previous', 'v1'], w.env, clock);
    drive(clock, run);
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /watch \w+ of v2 in production: PASSED/);
    assert.match(r.stderr, /watching release v2 in production: immediate \(30 min, every 10 min\)/);
    assert.equal((r.stderr.match(/error rate/g) ?? []).length, 3, 'three evaluations printed');
    assert.match(r.stderr, /window immediate: PASSED/);
    assert.match(r.stderr, /gonogo signoff --stage immediate --env production --as NAME --role viewer/);
    // The evaluations are runs of the release: the stage's sign-off binds to the last one.
    const signed = await runCli(['--config', w.config, '--release', 'v2', 'signoff', '--stage', 'immediate', '--env', 'production', '--as', 'vic', '--role', 'viewer'], w.env);
    assert.equal(signed.code, 0, signed.stderr);
  });

  test('rollback --dry-run prints the plan and records nothing; rollback runs once, a second is refused (exit 2); without the rollback permission it is refused', async () => {
    const w = workspace();
    const before = rollbacks;
    const base = ['--config', w.config, '--release', 'v9', 'rollback', '--env', 'production', '--previous', 'v8'];
    const dry = await runCli([...base, '--dry-run', '--as', 'olga', '--role', 'oncall'], w.env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /would roll back v9 in production to v8/);
    assert.match(dry.stdout, /post-rollback validation: HEALTH/);
    assert.equal(rollbacks, before);
    const refused = await runCli([...base, '--as', 'vic', '--role', 'viewer'], w.env);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /lacks the rollback permission/);
    const first = await runCli([...base, '--as', 'olga', '--role', 'oncall', '--reason', 'checkout broken'], w.env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /rolled back v9 in production: every step passed/);
    assert.match(first.stderr, /rollback validate: ok/);
    const second = await runCli([...base, '--as', 'olga', '--role', 'oncall'], w.env);
    assert.equal(second.code, 2);
    assert.match(second.stderr, /already claimed by olga \(oncall\)/);
    assert.equal(rollbacks, before + 1, 'the rollback command ran once');
  });

  test('report-issue is recorded; decide-rollback answers a waiting watch only, and only with the rollback permission', async () => {
    const w = workspace();
    const reported = await runCli(['--config', w.config, '--release', 'v3', 'report-issue', 'checkout emails are not sent', '--as', 'support'], w.env);
    assert.equal(reported.code, 0, reported.stderr);
    assert.match(reported.stdout, /no watch is running for it/);
    const store = await openStore(join(w.dir, '.gonogo', 'gonogo.db'), { readonly: true });
    const [issue] = await store.listEvents({ gate: 'shop', kinds: ['issue-report'] });
    await store.close();
    assert.equal(issue.data.summary, 'checkout emails are not sent');
    const unknown = await runCli(['--config', w.config, 'decide-rollback', '--watch', 'NOPE', '--continue', '--as', 'olga', '--role', 'oncall'], w.env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no watch NOPE/);
    const both = await runCli(['--config', w.config, 'decide-rollback', '--watch', 'X', '--continue', '--rollback', '--as', 'olga', '--role', 'oncall'], w.env);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /exactly one of --rollback or --continue/);
    const notAllowed = await runCli(['--config', w.config, 'decide-rollback', '--watch', 'X', '--continue', '--as', 'vic', '--role', 'viewer'], w.env);
    assert.equal(notAllowed.code, 2);
    assert.match(notAllowed.stderr, /lacks the rollback permission/);
  });

  test('baseline record measures the stage set\'s http items and stores it; invalidated, it no longer counts', async () => {
    const w = workspace();
    const r = await runCli(['--config', w.config, '--release', 'v1', 'baseline', 'record', '--env', 'production', '--rounds', '3'], w.env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /baseline of production at v1 \(probes, 3 samples\): error rate 0\.0%, p50 \d+ ms/);
    const bad = await runCli(['--config', w.config, 'baseline', 'record', '--rounds', '0'], w.env);
    assert.equal(bad.code, 2);
    const store = await openStore(join(w.dir, '.gonogo', 'gonogo.db'), { readonly: true });
    const { currentBaseline } = await import('../watch/baseline.js');
    assert.equal((await currentBaseline(store, 'shop', 'production'))?.samples, 3, 'the baseline counts');
    await store.close();
    const refused = await runCli(['--config', w.config, '--release', 'v1', 'baseline', 'invalidate', '--as', 'vic', '--role', 'viewer', '--reason', 'measured during an incident'], w.env);
    assert.equal(refused.code, 2);
    const invalidated = await runCli(['--config', w.config, '--release', 'v1', 'baseline', 'invalidate', '--as', 'olga', '--role', 'oncall', '--reason', 'measured during an incident'], w.env);
    assert.equal(invalidated.code, 0, invalidated.stderr);
    const after = await openStore(join(w.dir, '.gonogo', 'gonogo.db'), { readonly: true });
    assert.equal(await currentBaseline(after, 'shop', 'production'), undefined, 'an invalidated baseline never counts');
    await after.close();
  });
});
