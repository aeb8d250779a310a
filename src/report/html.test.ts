// `gonogo report --format html -o DIR` in-process against a store holding a real story: the release
// validated on staging (stages, a failing item waived, a stage and an item signed) by the CLI, then
// watched in production (runWatch, on the fake clock) against a real HTTP server on 127.0.0.1 that breaks after the first
// evaluation, so its immediate trigger fires and the real rollback command (a node process calling
// the server's control path) runs once and is validated. Then each of the five documents and the
// index is read for what it must hold; hostile text is escaped, secrets never written, and the
// Markdown report lands in the GitHub step summary.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { openStore } from '../store/index.js';
import { runCli } from '../test-support/cli.js';
import { fakeClock } from '../test-support/clock.js';
import { serve } from '../test-support/server.js';
import type { TestServer } from '../test-support/server.js';
import { systemClock } from '../util/clock.js';
import { Redactor } from '../util/redact.js';
import { runWatch } from '../watch/watch.js';
import { gatherReportSet } from './html-data.js';
import type { ReportSet } from './html-data.js';
import { PAGES, renderHtmlSet } from './html.js';
import { writePageSet } from './html-write.js';

/** A secret the config references: a command echoes it, a person types it into a note, a title spells it out. */
const SECRET = 'tok-7Hq2<&>"x9Zr';
const HOSTILE_TITLE = '<script>alert("pwned")</script> & <img src=x onerror=alert(1)>';
const FILES = Object.values(PAGES).map((p) => p.file);

let server: TestServer;
/** /prod/health answers ok once, then 500 until the rollback calls /control. */
let prodHealthHits = 0;
let rolledBack = false;
let dir = '';
let config = '';
let env: Record<string, string | undefined> = {};
const outputs: Record<string, string> = {};

function workspace(): void {
  dir = mkdtempSync(join(tmpdir(), 'gonogo-html-'));
  config = join(dir, 'gonogo.yaml');
  const node = JSON.stringify(process.execPath);
  const rollback = JSON.stringify('fetch(process.env.CONTROL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(2))');
  writeFileSync(
    config,
    `version: 1
name: shop
environments:
  staging: { url: "${server.url}" }
  production: { url: "${server.url}/prod" }
roles: { lead: ['*'], qa: [stage], oncall: [rollback, stage] }
people: { alice: [lead], quinn: [qa], olga: [oncall] }
rules: { requiredSignoffs: [decision, 'stage:functional'] }
stages:
  staging:
    - { id: deploy, title: Deploy to staging, budget: 15m, items: [BUILD, LINT] }
    - { id: functional, title: Functional testing, budget: 1h, items: [HEALTH, HOSTILE, TOKEN-ECHO], signoff: [qa] }
  production:
    - { id: immediate, title: Immediate, budget: 30m, every: 10m, items: [HEALTH], signoff: [oncall] }
watch:
  minSamples: 1
  consecutive: 1
  triggers:
    - { id: app-down, severity: immediate, title: Health check down, items: [HEALTH] }
  rollback:
    run: [${node}, -e, ${rollback}]
    timeout: 1m
    validate: [HEALTH]
items:
  - { id: BUILD, title: Build succeeds, tier: critical, category: build, phase: code-integration, owner: dana, risk: high, estimate: { optimistic: 1, likely: 2, pessimistic: 4 }, check: { kind: command, run: [${node}, -e, "console.log('built ok')"] } }
  - { id: LINT, title: Lint is clean, tier: high, category: build, phase: code-integration, owner: dana, estimate: { optimistic: 0.5, likely: 1, pessimistic: 2 }, check: { kind: command, run: [${node}, -e, "console.error('3 problems'); process.exit(1)"] } }
  - { id: HEALTH, title: Health endpoint answers, tier: critical, category: monitoring, phase: staging-validation, owner: olga, check: { kind: http, url: "{{env.url}}/health" } }
  - { id: HOSTILE, title: '${HOSTILE_TITLE.replace(/'/g, "''")}', tier: recommended, category: '<b>cat</b>', owner: '"mallory" <m@x>', check: { kind: command, run: [${node}, -e, "console.log('<script>evil()</script>')"] } }
  - { id: TOKEN-ECHO, title: Token is not echoed, tier: high, category: security, owner: erin, check: { kind: command, run: { sh: 'printf "token=%s" "$TOKEN"' }, env: { TOKEN: "\${REPORT_SECRET}" }, expect: ['stdout contains "never"'] } }
  - { id: DOC-01, title: 'Runbook reviewed (vault ${SECRET.replace(/'/g, "''")})', tier: high, category: docs, phase: staging-validation, manual: true, signers: [lead] }
`,
  );
  env = { ...process.env, CI: '1', REPORT_SECRET: SECRET, CONTROL: `${server.url}/control`, GITHUB_STEP_SUMMARY: undefined, GONOGO_STORE: undefined };
}

const gonogo = (args: readonly string[], extra: Record<string, string | undefined> = {}) => runCli(['--config', config, '--release', 'v1', ...args], { ...env, ...extra });

function read(out: string): Record<string, string> {
  return Object.fromEntries(FILES.map((f) => [f, readFileSync(join(out, f), 'utf8')]));
}

before(async () => {
  server = await serve((req, res) => {
    if (req.url === '/control') {
      rolledBack = true;
      res.writeHead(200).end('ok');
      return;
    }
    if (req.url === '/prod/health') {
      prodHealthHits++;
      const ok = prodHealthHits === 1 || rolledBack;
      res.writeHead(ok ? 200 : 500, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ok' : 'down' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  });
  workspace();
  const validate = await gonogo(['validate', 'staging', '--keep-going']);
  assert.equal(validate.code, 1, `LINT fails and is not waived yet: NO-GO\n${validate.stdout}${validate.stderr}`);
  const waive = await gonogo(['waive', 'LINT', '--mitigation', 'lint runs in CI <i>nightly</i>', '--owner', 'dana', '--expires', '2099-01-01', '--as', 'alice', '--role', 'lead']);
  assert.equal(waive.code, 0, waive.stderr);
  const stage = await gonogo(['signoff', '--stage', 'functional', '--as', 'quinn', '--role', 'qa', '--note', `checked <b>by hand</b> with ${SECRET}`]);
  assert.equal(stage.code, 0, stage.stderr);
  const item = await gonogo(['signoff', '--item', 'DOC-01', '--as', 'alice', '--role', 'lead']);
  assert.equal(item.code, 0, item.stderr);
  // The watch in-process, so that the fake clock moves only while it sleeps between evaluations,
  // never under the rollback command (whose timeout runs on the same clock).
  const clock = fakeClock(Date.now());
  const store = await openStore(join(dir, '.gonogo', 'gonogo.db'), { clock });
  try {
    const watched = await runWatch({
      loaded: await loadConfig(config),
      store,
      clock,
      stageSet: 'production',
      envName: 'production',
      release: { id: 'v1', source: 'option' },
      previous: 'v0',
      processEnv: env,
      onProgress: (p) => {
        if (p.type === 'pause') setImmediate(() => void clock.sleepers(1).then(() => clock.advance(p.ms)));
      },
    });
    assert.equal(watched.outcome, 'rolled-back', watched.state.reasons.join('\n'));
  } finally {
    await store.close();
  }
  assert.ok(rolledBack, 'the rollback command called the control path');

  const out = join(dir, 'record');
  const report = await gonogo(['report', '--format', 'html', '-o', out]);
  assert.equal(report.code, 0, report.stderr);
  assert.match(report.stdout, /wrote 6 pages to .*record: index\.html, checklist\.html/);
  Object.assign(outputs, read(out));
});
after(async () => {
  await server.close();
});

describe('report --format html', () => {
  test('writes index.html and the five documents, each a whole page linking to the others, with no script and a CSP', () => {
    assert.deepEqual(readdirSync(join(dir, 'record')).sort(), [...FILES].sort());
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('tmp')), [], 'no temporary folder is left behind');
    for (const [file, text] of Object.entries(outputs)) {
      assert.match(text, /^<!doctype html>/, file);
      assert.match(text, /<\/html>\n$/, file);
      assert.match(text, /Content-Security-Policy" content="default-src 'none'/, file);
      for (const other of FILES) assert.ok(text.includes(`href="${other}"`), `${file} links to ${other}`);
      assert.doesNotMatch(text, /<script|javascript:|\son\w+="/i, `${file}: no script, no handler`);
      assert.doesNotMatch(text, /<link|src="http/i, `${file}: nothing loaded from elsewhere`);
    }
    assert.match(outputs['index.html'], /Go\/No-Go Record — shop/);
  });

  test('checklist: every item with its status, evidence, owner, sign-offs and waivers, and the decision', () => {
    const c = outputs['checklist.html'];
    for (const id of ['BUILD', 'LINT', 'HEALTH', 'HOSTILE', 'TOKEN-ECHO', 'DOC-01']) assert.ok(c.includes(`id="item-${id}"`), id);
    assert.match(c, /st-pass">✔ pass<\/span><\/td><td><code id="item-BUILD">/);
    assert.match(c, /st-waived">~ waived<\/span><\/td><td><code id="item-LINT">/);
    assert.match(c, /<li>&gt; 3 problems<\/li>/, "the failing command's output is its evidence");
    assert.match(c, /<td>dana<\/td>/);
    assert.match(c, /waiver until 2099-01-01T23:59:59\.999Z: lint runs in CI &lt;i&gt;nightly&lt;\/i&gt; \(owner dana\) — alice \(lead\)/);
    assert.match(c, /sign-off — alice \(lead\)/, "DOC-01's sign-off is beside it");
    assert.match(c, /Decision: <span class="verdict NO_GO">NO-GO<\/span>/);
    assert.match(c, /<h3>Missing sign-offs<\/h3><ul><li>decision<\/li><\/ul>/);
    assert.match(c, /sign-off stage functional: checked &lt;b&gt;by hand&lt;\/b&gt; with \*\*\*/);
  });

  test('staging validation record: the stages with time against budget, each stage\'s items, the stage sign-off that counts, the runs', () => {
    const s = outputs['staging-validation.html'];
    assert.match(s, /<td>Deploy to staging<div class="muted">deploy<\/div><\/td><td>15m 00s<\/td><td>BUILD, LINT<\/td>/);
    // Each stage failed in the run (LINT, TOKEN-ECHO; LINT's waiver came later), within its budget.
    assert.match(s, /<td>Deploy to staging<\/td><td><span class="status st-failed">✖ failed<\/span><\/td><td>[\d.]+ (ms|s)<\/td><td>15m 00s<\/td><td><span class="status st-passed">within<\/span>/);
    assert.match(s, /<td>Functional testing<\/td><td><span class="status st-failed">✖ failed<\/span><\/td><td>[\d.]+ (ms|s)<\/td><td>1h 00m<\/td><td><span class="status st-passed">within<\/span><\/td><td><\/td><td>qa<div class="muted">unsigned when the run ended<\/div><\/td><td><div><span class="status st-counts">counts<\/span> quinn \(qa\)<\/div>/);
    assert.match(s, /<h3>Functional testing — .*<code>TOKEN-ECHO<\/code>/s);
    assert.match(s, /<td>functional<\/td><td>quinn<\/td><td>qa<\/td>.*st-counts">counts<\/span>/s);
    assert.match(s, /<h3>Missing stage sign-offs<\/h3><p class="muted">None\.<\/p>/);
    assert.match(s, /validate:staging/);
  });

  test('production validation record: windows, the watch\'s verdicts, the trigger that fired, the rollback and its steps, charts', () => {
    const p = outputs['production-validation.html'];
    assert.match(p, /<td>Immediate<div class="muted">immediate<\/div><\/td><td>30m 00s<\/td><td>10m 00s<\/td>/);
    assert.match(p, /<td>app-down<div class="muted">Health check down<\/div><\/td><td><span class="status st-failed">immediate: rolls back<\/span><\/td><td>items not passing: HEALTH<\/td>/);
    assert.match(p, /Outcome<\/dt><dd><span class="status st-rolled-back">ROLLED-BACK<\/span>/);
    assert.match(p, /Previous release<\/dt><dd>v0<\/dd>/);
    assert.match(p, /<td>immediate<\/td><td>app-down<\/td><td><span class="status st-failed">immediate<\/span><\/td><td>[^<]*HEALTH fail[^<]*<\/td><td>rolls back at once<\/td>/);
    assert.match(p, /<td>rollback<\/td><td><span class="status st-passed">✔ ok<\/span>/);
    assert.match(p, /<td>validate<\/td><td><span class="status st-passed">✔ ok<\/span>/);
    assert.match(p, /✔ every step passed/);
    assert.match(p, /stopped: the watch ended rolled-back/, 'the window the rollback cut short has no verdict');
    assert.match(p, /<figure class="chart" id="chart-latency"/);
    assert.match(p, /<figure class="chart" id="chart-error-rate"/);
    assert.match(p, /mark-immediate/, 'the firing is marked on the charts');
  });

  test('readiness assessment: readiness, tiers, categories, the critical path, blockers, risks, remaining time', () => {
    const a = outputs['readiness-assessment.html'];
    assert.match(a, /<h2>Readiness by tier<\/h2>/);
    assert.match(a, /<td>High priority<\/td><td><svg class="bar".*?<\/svg>1\/3 \(33%\)<\/td><td>1<\/td><td>0<\/td><td>0<\/td><td>1<\/td><td>0<\/td>/, 'high: DOC-01 passed, TOKEN-ECHO failed, LINT waived');
    assert.match(a, /<td>code-integration<\/td><td><span class="status st-in-progress">in progress<\/span>/, 'BUILD passed, LINT waived (not passed)');
    assert.match(a, /<td>staging-validation<\/td><td><span class="status st-passed">✔ done<\/span>/);
    assert.match(a, /<td>0\.5 h<\/td><td>1 h<\/td><td>2 h<\/td>/, "LINT's estimate is what is left; TOKEN-ECHO has none");
    assert.match(a, /<h2>Estimated time remaining<\/h2>/);
    assert.match(a, /<td>&lt;b&gt;cat&lt;\/b&gt;<\/td>/, 'a category is text, escaped');
    assert.match(a, /<h2>Staging validation<\/h2>/);
  });

  test('quick reference: decision, reasons, blockers, pending sign-offs, the rollback command, contacts, key metrics', () => {
    const q = outputs['quick-reference.html'];
    assert.match(q, /<span class="verdict NO_GO big">NO-GO<\/span>/);
    assert.match(q, /<h2>Why<\/h2><ul><li>/);
    assert.match(q, /<h2>Pending sign-offs and decisions<\/h2><ul><li>decision \(staging\)<\/li>/);
    assert.match(q, /gonogo rollback --release v1 --env production --previous v0 --as NAME --role lead\|oncall/);
    assert.match(q, /rollback: .* \(timeout 1m\)/);
    assert.match(q, /post-rollback validation: HEALTH/);
    assert.match(q, /<td>alice<\/td><td>lead<\/td><td>\*<\/td>/);
    assert.match(q, /<td>olga<\/td><td>oncall<\/td><td>rollback, stage<\/td>/);
    assert.match(q, /<h2>Key metrics<\/h2>/);
    assert.match(q, /Last evaluation .* \(window immediate/);
    assert.match(q, /Rolled back<\/span> at /);
  });

  test('hostile text from the config or a person is shown as text, never as markup', () => {
    const all = Object.values(outputs).join('\n');
    assert.ok(outputs['checklist.html'].includes('&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;'), 'the title, escaped');
    assert.ok(outputs['checklist.html'].includes('&quot;mallory&quot; &lt;m@x&gt;'), 'the owner, escaped');
    assert.ok(outputs['checklist.html'].includes('&lt;script&gt;evil()&lt;/script&gt;') || !all.includes('evil()'), "the command's output, escaped");
    assert.doesNotMatch(all, /<script|<img|<b>|<i>/i);
  });

  test('no secret in any page: the echoed token and the note are masked', () => {
    const all = Object.values(outputs).join('\n');
    for (const form of [SECRET, 'tok-7Hq2&lt;&amp;&gt;&quot;x9Zr', encodeURIComponent(SECRET)]) assert.ok(!all.includes(form), `a form of the secret: ${form}`);
    assert.match(outputs['checklist.html'], /token=\*\*\*/, 'the token went out and came back, masked');
    // Written out in the config (a title), it never went through the store: only the report's own redaction masks it.
    assert.match(outputs['checklist.html'], /Runbook reviewed \(vault \*\*\*\)/);
  });

  test('without -o: exit 2 and a message naming -o DIR; nothing written', async () => {
    const r = await gonogo(['report', '--format', 'html']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /report --format html writes a folder of pages .*-o DIR/);
    assert.equal(r.stdout, '');
  });

  test('-o naming a file: exit 2, the file untouched', async () => {
    const file = join(dir, 'a-file.html');
    writeFileSync(file, 'mine');
    const r = await gonogo(['report', '--format', 'html', '-o', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /exists and is not a folder/);
    assert.equal(readFileSync(file, 'utf8'), 'mine');
  });

  test('into an existing folder: the pages are replaced, other files there are left alone, no temporary folder remains', async () => {
    const out = join(dir, 'ticket-1234');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'keep me');
    writeFileSync(join(out, 'index.html'), 'old');
    const r = await gonogo(['report', '--format', 'html', '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(out).sort(), [...FILES, 'notes.txt'].sort());
    assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'keep me');
    assert.match(readFileSync(join(out, 'index.html'), 'utf8'), /^<!doctype html>/);
  });

  test('report --format markdown appends the report to $GITHUB_STEP_SUMMARY, redacted; json does not', async () => {
    const summary = join(dir, 'step-summary.md');
    writeFileSync(summary, 'before\n');
    const md = await gonogo(['report'], { GITHUB_STEP_SUMMARY: summary });
    assert.equal(md.code, 0, md.stderr);
    const text = readFileSync(summary, 'utf8');
    assert.ok(text.startsWith('before\n# Go/No-Go Checklist — shop'), text.slice(0, 80));
    assert.match(text, /# Production Readiness Assessment — shop/);
    assert.ok(!text.includes(SECRET));
    assert.match(text, /token=\\\*\\\*\\\*/, 'the masked token, Markdown-escaped');
    const json = await gonogo(['report', '--format', 'json'], { GITHUB_STEP_SUMMARY: summary });
    assert.equal(json.code, 0, json.stderr);
    assert.equal(readFileSync(summary, 'utf8'), text, 'json leaves the summary alone');
  });
});

describe('renderHtmlSet and writePageSet', () => {
  async function gathered(): Promise<ReportSet> {
    const loaded = await loadConfig(config);
    const store = await openStore(join(dir, '.gonogo', 'gonogo.db'), { readonly: true });
    try {
      return await gatherReportSet({ loaded, store, clock: systemClock, release: { id: 'v1', source: 'option' } });
    } finally {
      await store.close();
    }
  }

  test('the redactor is applied to every finished page: a secret that reached the data raw, or escaped, is masked', async () => {
    const set = await gathered();
    const leaky: ReportSet = { ...set, items: set.items.map((i) => (i.id === 'BUILD' ? { ...i, title: `deploy key ${SECRET}` } : i)) };
    const plain = renderHtmlSet(leaky);
    assert.ok(plain.some((p) => p.html.includes('tok-7Hq2&lt;&amp;&gt;&quot;x9Zr')), 'without a redactor the escaped secret is there: the check below means something');
    const redact = Redactor.of([SECRET]);
    for (const p of renderHtmlSet(leaky, { redact: (t) => redact.text(t) })) {
      assert.ok(!p.html.includes('tok-7Hq2'), p.file);
      if (p.file === PAGES.checklist.file) assert.match(p.html, /deploy key \*\*\*/);
    }
  });

  test('a release with no run, no stage set run and no watch: every document says so instead of failing', async () => {
    const loaded = await loadConfig(config);
    const store = await openStore(join(dir, '.gonogo', 'gonogo.db'), { readonly: true });
    try {
      const set = await gatherReportSet({ loaded, store, clock: systemClock, release: { id: 'v9', source: 'option' } });
      const pages = Object.fromEntries(renderHtmlSet(set).map((p) => [p.file, p.html]));
      assert.match(pages['checklist.html'], /none yet: automated items count as not run/);
      assert.match(pages['staging-validation.html'], /No <code>gonogo validate staging<\/code> run of release v9 yet/);
      assert.match(pages['production-validation.html'], /No watch of release v9 in production yet/);
      assert.match(pages['quick-reference.html'], /No watch evaluation of this release yet/);
    } finally {
      await store.close();
    }
  });

  test('a new folder appears whole (written aside, renamed into place); a page name with a folder in it is refused before anything is written', async () => {
    const base = mkdtempSync(join(tmpdir(), 'gonogo-html-write-'));
    const out = join(base, 'nested', 'set');
    const written = await writePageSet(out, [{ file: 'index.html', html: 'a' }, { file: 'b.html', html: 'b' }]);
    assert.deepEqual(written, [join(out, 'index.html'), join(out, 'b.html')]);
    assert.deepEqual(readdirSync(join(base, 'nested')), ['set']);
    await assert.rejects(writePageSet(join(base, 'other'), [{ file: '../escape.html', html: 'x' }]), /not a plain file name/);
    assert.ok(!existsSync(join(base, 'other')) && !existsSync(join(base, 'escape.html')));
  });
});
