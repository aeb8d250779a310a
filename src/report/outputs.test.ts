// Real runs, every surface: a gate run by runGate against a real HTTP server, a real process and
// a real SQLite store, then rendered as text, Markdown, JUnit, annotations and JSON. The JSON
// documents are validated against the committed schema/gonogo-output.schema.json with ajv.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
// parseConfig checks options against loaded kinds: the registry loads them all (the engine loads only those a run uses).
import '../checks/index.js';
import { parseConfig } from '../config/load.js';
import { runGate } from '../engine/gate.js';
import type { GateOutcome } from '../engine/gate.js';
import type { Release } from '../engine/release.js';
import { openStore } from '../store/index.js';
import { serve } from '../test-support/server.js';
import type { TestServer } from '../test-support/server.js';
import { systemClock } from '../util/clock.js';
import { renderAnnotations } from './annotations.js';
import { renderJson, runDocument, stateDocument } from './json.js';
import { renderJunit } from './junit.js';
import { renderRunMarkdown } from './markdown.js';
import { outputJsonSchemaText } from './output-schema.js';
import { renderOutcomeText } from './text.js';

const SCHEMA_FILE = new URL('../../schema/gonogo-output.schema.json', import.meta.url);

let server: TestServer;
let first: GateOutcome;
let second: GateOutcome;
let items: ReturnType<typeof parseConfig>['config']['items'];

// A target with the defects a first run meets: a health endpoint that is down, a page without any
// security header, a migration that fails, and two checks whose URL variable is not set.
function config(url: string): string {
  const migrate = JSON.stringify([process.execPath, '-e', "console.log('connecting to db'); console.error('error: relation \"users\" does not exist'); process.exit(3)"]);
  return `version: 1
name: outputs
environments: { staging: { url: ${url} } }
roles: { release-manager: [decision, item, waive, revoke] }
stages:
  staging:
    - { id: smoke, title: Smoke, budget: 15m, items: [HEALTH-01, SEC-HEADERS, MIGRATE-01, API-01, API-02] }
items:
  - { id: HEALTH-01, title: Health endpoint answers, tier: critical, check: { kind: http, url: "{{env.url}}/health", expect: ['status == 200'] } }
  - { id: SEC-HEADERS, title: Security headers, tier: critical, check: { kind: headers, path: / } }
  - { id: MIGRATE-01, title: Migrations dry run, tier: high, check: { kind: command, run: ${migrate}, timeout: 20s } }
  - { id: API-01, title: API v1, tier: high, check: { kind: http, url: "\${OUTPUTS_TEST_API}/v1" } }
  - { id: API-02, title: API v2, tier: high, check: { kind: http, url: "\${OUTPUTS_TEST_API}/v2" } }
  - { id: RUNBOOK-01, title: Runbook reviewed, tier: recommended, manual: true }
`;
}

before(async () => {
  server = await serve((req, res) => {
    if (req.url === '/health') return void res.writeHead(503, { 'content-type': 'application/json' }).end('{"status":"down"}');
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>');
  });
  const loaded = parseConfig(config(server.url), join(mkdtempSync(join(tmpdir(), 'gonogo-outputs-')), 'gonogo.yaml'));
  items = loaded.config.items;
  const store = await openStore(join(loaded.dir, 'gonogo.db'));
  const release: Release = { id: 'rel-1', source: 'option' };
  const processEnv = { PATH: process.env.PATH };
  try {
    first = await runGate({ loaded, store, clock: systemClock, release, processEnv });
    // Attestations of every kind, so that the state document lists each with its standing.
    const at = new Date().toISOString();
    const base = { gate: loaded.gate, release: release.id, by: 'erin', role: 'release-manager', at };
    await store.addAttestation({ ...base, kind: 'signoff', target: { type: 'item', id: 'RUNBOOK-01' }, note: 'read it twice' });
    const waiver = await store.addAttestation({ ...base, kind: 'waiver', itemId: 'MIGRATE-01', mitigation: 'run by hand', owner: 'dana', expires: '2999-01-01T00:00:00.000Z' });
    await store.addAttestation({ ...base, kind: 'revocation', attestationId: waiver.id, reason: 'not safe' });
    await store.addAttestation({ ...base, kind: 'signoff', target: { type: 'decision' }, env: 'staging', run: { id: first.runId, verdict: 'NO_GO', configHash: loaded.hash } });
    second = await runGate({ loaded, store, clock: systemClock, release, processEnv, stageSet: 'staging', keepGoing: true });
  } finally {
    await store.close();
  }
});
after(() => server.close());

test('outputs: a NO-GO from a probe puts its findings on screen in text, Markdown and JUnit, not only in JSON', () => {
  assert.equal(first.decision?.verdict, 'NO_GO');
  const text = renderOutcomeText(first, items);
  assert.match(text, /SEC-HEADERS \[critical\] Security headers — fail: .*high was \d/);
  assert.match(text, /^ {6}high csp\.missing: no Content-Security-Policy header/m);
  assert.match(text, /^ {6}medium nosniff\.missing: /m);
  const md = renderRunMarkdown(first, items);
  assert.match(md, /^- high csp\.missing: no Content-Security-Policy header/m);
  const junit = renderJunit(first, items);
  assert.match(junit, /high csp\.missing: no Content-Security-Policy header/);
});

test("outputs: a command's argv and the last lines of its output, an http check's request and answer", () => {
  const text = renderOutcomeText(first, items);
  assert.match(text, /MIGRATE-01 \[high\] Migrations dry run — fail: exit_code == 0: exit_code was 3\n {6}\$ \S*node -e .*\(exit code 3\)\n {6}> connecting to db\n {6}> error: relation "users" does not exist\n/);
  assert.match(text, new RegExp(`HEALTH-01 \\[critical\\] Health endpoint answers — fail: status == 200: status was 503\\n {6}GET ${server.url}/health → 503 in [\\d.]+ ms\\n {6}content-type: application/json\\n {6}body: \\{"status":"down"\\}\\n`));
  const md = renderRunMarkdown(first, items);
  assert.match(md, /^- \\> error: relation "users" does not exist$/m);
});

test('outputs: two items errored for one unset variable are one line naming both, on every surface', () => {
  const cause = 'environment variable OUTPUTS_TEST_API is not set';
  assert.match(renderOutcomeText(first, items), new RegExp(`! 2 items error: ${cause}\\n {6}API-01, API-02\\n`));
  assert.ok(renderRunMarkdown(first, items).includes(`| ❗ error | 2 items | API-01, API-02 | 🟡 High priority | environment variable OUTPUTS\\_TEST\\_API is not set |`));
  assert.match(renderJunit(first, items), new RegExp(`the same cause \\(${cause}\\) affects 1 other item\\(s\\): API-02`));
  const annotations = renderAnnotations(first, items).trimEnd().split('\n');
  assert.equal(annotations.filter((l) => l.includes(cause.replace(/ /g, ' '))).length, 1, annotations.join('\n'));
  assert.match(annotations[0], /^::error title=gonogo%3A NO-GO \(outputs%2C staging\)::/);
});

let compiled: ((doc: unknown) => string | undefined) | undefined;

/** The committed schema compiled once (strict mode: a keyword ajv does not know is an error, not ignored). */
function validator(): (doc: unknown) => string | undefined {
  if (compiled) return compiled;
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')));
  compiled = (doc) => (validate(doc) ? undefined : ajv.errorsText(validate.errors, { separator: '\n' }));
  return compiled;
}

test('outputs: schema/gonogo-output.schema.json is what the zod schema generates (run `npm run schema` after changing it)', () => {
  assert.equal(readFileSync(SCHEMA_FILE, 'utf8'), outputJsonSchemaText());
});

test('outputs: the run and state documents of real runs are valid against the published schema, with schemaVersion 1', () => {
  const validate = validator();
  const runs = [first, second];
  for (const outcome of runs) {
    const doc: unknown = JSON.parse(renderJson(outcome, items));
    assert.equal(validate(doc), undefined, `run ${outcome.command}`);
    assert.deepEqual(doc, JSON.parse(JSON.stringify(runDocument(outcome, items))));
  }
  const run = runDocument(second, items);
  assert.equal(run.schemaVersion, 1);
  assert.equal(run.document, 'run');
  assert.equal(run.release, 'rel-1');
  assert.deepEqual(run.stages?.map((s) => s.id), ['smoke']);
  assert.deepEqual(run.causes, [{ cause: 'environment variable OUTPUTS_TEST_API is not set', items: ['API-01', 'API-02'] }]);

  assert.ok(second.state, 'runGate returns the state after the run');
  const state = stateDocument(second.state, items, second.finishedAt);
  assert.equal(validate(state), undefined);
  assert.equal(state.schemaVersion, 1);
  assert.equal(state.release, 'rel-1');
  assert.equal(state.lastRun?.id, second.runId);
  assert.deepEqual(state.attestations.map((a) => a.kind), ['signoff', 'waiver', 'revocation', 'signoff']);
  const waiver = state.attestations[1];
  assert.equal(waiver.standing, 'revoked', waiver.why);
  assert.equal(state.attestations[3].standing, 'stale', 'the decision sign-off names the first run; a newer one exists');
  assert.deepEqual(
    state.items.map((i) => [i.id, i.status]),
    [['HEALTH-01', 'fail'], ['SEC-HEADERS', 'fail'], ['MIGRATE-01', 'fail'], ['API-01', 'error'], ['API-02', 'error'], ['RUNBOOK-01', 'pass']],
  );
});

test('outputs: a document that breaks the contract is refused by the schema', () => {
  const validate = validator();
  const good = runDocument(first, items);
  const broken: { name: string; doc: unknown }[] = [
    { name: 'another schemaVersion', doc: { ...good, schemaVersion: 2 } },
    { name: 'a verdict outside the three', doc: { ...good, decision: 'MAYBE' } },
    { name: 'an undocumented field', doc: { ...good, extra: true } },
    { name: 'an item without its status', doc: { ...good, items: good.items.map(({ status: _, ...rest }) => rest) } },
    { name: 'a state document without attestations', doc: { ...stateDocument(first.state ?? assert.fail('no state'), items, first.finishedAt), attestations: undefined } },
  ];
  for (const b of broken) assert.notEqual(validate(JSON.parse(JSON.stringify(b.doc))), undefined, b.name);
});
