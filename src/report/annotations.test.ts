import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeData, escapeProperty, renderAnnotations } from './annotations.js';
import type { ItemConfig } from '../config/schema.js';
import type { GateOutcome } from '../engine/gate.js';
import type { Decision, ItemResult, Status, Tier } from '../model.js';

/** Reads a workflow command line back as the runner does (ActionCommand.TryParseV2 and its unescaping). */
function parseCommand(line: string): { command: string; properties: Record<string, string>; message: string } {
  const m = /^::([a-z]+)(?: ([^:]*))?::(.*)$/.exec(line);
  if (!m) throw new Error(`not a workflow command: ${line}`);
  const unescape = (s: string, property: boolean): string => {
    let out = s.replace(/%0D/g, '\r').replace(/%0A/g, '\n');
    if (property) out = out.replace(/%3A/g, ':').replace(/%2C/g, ',');
    return out.replace(/%25/g, '%');
  };
  const properties: Record<string, string> = {};
  for (const pair of (m[2] ?? '').split(',').filter((p) => p !== '')) {
    const i = pair.indexOf('=');
    properties[pair.slice(0, i)] = unescape(pair.slice(i + 1), true);
  }
  return { command: m[1], properties, message: unescape(m[3], false) };
}

const escapes: { name: string; text: string; data: string; property: string }[] = [
  { name: 'plain text is unchanged', text: 'SEC-005 CSRF protection', data: 'SEC-005 CSRF protection', property: 'SEC-005 CSRF protection' },
  { name: 'percent first, so an escape in the text stays literal', text: '100% %0A', data: '100%25 %250A', property: '100%25 %250A' },
  { name: 'line breaks', text: 'a\r\nb\nc', data: 'a%0D%0Ab%0Ac', property: 'a%0D%0Ab%0Ac' },
  { name: 'colons and commas end a property, not a message', text: 'high == 0: high was 3, medium 1', data: 'high == 0: high was 3, medium 1', property: 'high == 0%3A high was 3%2C medium 1' },
];

for (const s of escapes) {
  test(`annotations escape: ${s.name}`, () => {
    assert.equal(escapeData(s.text), s.data);
    assert.equal(escapeProperty(s.text), s.property);
  });
}

const ITEMS: ItemConfig[] = [
  { id: 'SEC-005', title: 'CSRF protection, forms', tier: 'critical' },
  { id: 'SEC-010', title: 'Headers', tier: 'high' },
  { id: 'SEC-011', title: 'CORS', tier: 'high' },
  { id: 'DOC-001', title: 'Release notes', tier: 'recommended' },
  { id: 'DOC-002', title: 'Changelog', tier: 'recommended' },
  { id: 'OK-001', title: 'Health', tier: 'critical' },
];

const result = (id: string, tier: Tier, status: Status, message: string, evidence?: unknown): ItemResult => ({ id, tier, status, message, evidence, durationMs: 1, attempts: [] });
const count = { total: 0, passed: 0, failed: 0, error: 0, pending: 0, skipped: 0, waived: 0 };
const decision = (verdict: Decision['verdict'], reasons: string[], blockers: string[] = []): Decision => ({ verdict, readiness: 50, tiers: { critical: count, high: count, recommended: count }, reasons, conditions: [], blockers, missingSignoffs: [] });

function outcome(results: ItemResult[], d: Decision | undefined, status: GateOutcome['status'] = 'completed'): GateOutcome {
  return { runId: 'run-1', gate: 'recipes', env: 'staging', command: 'check', release: 'abc1234', selection: {}, status, startedAt: '2026-11-26T11:58:00.000Z', finishedAt: '2026-11-26T12:00:00.000Z', decision: d, results, partial: false };
}

const probeFail = result('SEC-005', 'critical', 'fail', 'high == 0: high was 2', {
  findings: [
    { id: 'csrf.form', severity: 'high', message: 'a cross-site form POST was accepted', observed: { method: 'POST', path: '/api/recipes', status: 201 } },
    { id: 'csrf.null-origin', severity: 'high', message: 'Origin: null was accepted', observed: { method: 'POST', path: '/api/recipes', status: 201 } },
  ],
});
const unset = 'environment variable ALICE_PASSWORD is not set';

test('annotations: the NO-GO, then the root cause shared by many items once, then each failure with its findings', () => {
  const results = [
    probeFail,
    result('SEC-010', 'high', 'error', `cannot log in as "alice": ${unset}`),
    result('SEC-011', 'high', 'error', unset),
    result('DOC-001', 'recommended', 'fail', 'exists == true: exists was false', { path: 'CHANGELOG.md', exists: false }),
    result('OK-001', 'critical', 'pass', 'status == 200'),
  ];
  const text = renderAnnotations(outcome(results, decision('NO_GO', ['1 of 2 critical items not passed: SEC-005'], ['SEC-005'])), ITEMS);
  const lines = text.trimEnd().split('\n');
  const parsed = lines.map(parseCommand);
  assert.deepEqual(
    parsed.map((c) => [c.command, c.properties.title]),
    [
      ['error', 'gonogo: NO-GO (recipes, staging)'],
      ['error', 'SEC-005 CSRF protection, forms (critical, fail)'],
      ['error', `2 items error: ${unset}`],
      ['warning', 'DOC-001 Release notes (recommended, fail)'],
    ],
  );
  assert.equal(parsed[0].message, '1 of 2 critical items not passed: SEC-005');
  assert.equal(parsed[1].message, ['high == 0: high was 2', 'high csrf.form: a cross-site form POST was accepted — POST /api/recipes → 201', 'high csrf.null-origin: Origin: null was accepted — POST /api/recipes → 201'].join('\n'));
  assert.equal(parsed[2].message, `${unset}\nitems: SEC-010, SEC-011`);
  assert.equal(parsed[3].message, 'exists == true: exists was false\nCHANGELOG.md: not found');
});

test('annotations: a clean GO says nothing; GO WITH CONDITIONS warns; an aborted run is an error', () => {
  assert.equal(renderAnnotations(outcome([result('OK-001', 'critical', 'pass', 'ok')], decision('GO', ['all critical passed'])), ITEMS), '');
  const conditions = parseCommand(renderAnnotations(outcome([], decision('GO_WITH_CONDITIONS', ['2 high items waived'])), ITEMS).trimEnd());
  assert.deepEqual([conditions.command, conditions.properties.title], ['warning', 'gonogo: GO WITH CONDITIONS (recipes, staging)']);
  const aborted = parseCommand(renderAnnotations(outcome([], undefined, 'aborted'), ITEMS).trimEnd());
  assert.deepEqual([aborted.command, aborted.properties.title], ['error', 'gonogo: run aborted (recipes, staging)']);
});

test('annotations: a recommended item that is a blocker is an error', () => {
  const text = renderAnnotations(outcome([result('DOC-002', 'recommended', 'fail', 'nope')], decision('NO_GO', ['DOC-002 blocks'], ['DOC-002'])), ITEMS);
  assert.equal(parseCommand(text.trimEnd().split('\n')[1]).command, 'error');
});

test('annotations: hostile text from a target stays inside its own command, and reads back exactly', () => {
  const hostile = 'line 1\r\n::error title=forged::pwned\n100%0A, title=x: y';
  const text = renderAnnotations(outcome([result('SEC-010', 'high', 'fail', hostile)], decision('NO_GO', [hostile])), [{ id: 'SEC-010', title: 'a: b, c\n::warning::x', tier: 'high' }]);
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.length, 2, text);
  for (const line of lines) assert.match(line, /^::(error|warning) title=[^:]*::/);
  const item = parseCommand(lines[1]);
  assert.equal(item.properties.title, 'SEC-010 a: b, c\n::warning::x (high, fail)');
  assert.equal(item.message, hostile);
  assert.equal(parseCommand(lines[0]).message, hostile);
});
