import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderOutcomeText, renderStatusText } from './text.js';
import type { ItemConfig } from '../config/schema.js';
import type { GateOutcome } from '../engine/gate.js';
import type { Decision, ItemResult, Status, Tier } from '../model.js';

const ITEMS: ItemConfig[] = [
  { id: 'SEC-005', title: 'CSRF protection', tier: 'critical' },
  { id: 'OPS-002', title: 'Migrations dry run', tier: 'critical' },
  ...Array.from({ length: 23 }, (_, i): ItemConfig => ({ id: `P-${String(i + 1).padStart(2, '0')}`, title: `probe ${i + 1}`, tier: 'high' })),
];
const result = (id: string, tier: Tier, status: Status, message: string, evidence?: unknown): ItemResult => ({ id, tier, status, message, evidence, durationMs: 1, attempts: [] });
const count = { total: 2, passed: 0, failed: 2, error: 0, pending: 0, skipped: 0, waived: 0 };
const DECISION: Decision = { verdict: 'NO_GO', readiness: 0, tiers: { critical: count, high: count, recommended: count }, reasons: ['2 of 2 critical items not passed'], conditions: [], blockers: ['SEC-005', 'OPS-002'], missingSignoffs: [] };

const findings = Array.from({ length: 11 }, (_, i) => ({ id: `csrf.case-${i}`, severity: i === 10 ? 'high' : 'medium', message: `case ${i} accepted`, observed: { method: 'POST', path: `/api/${i}`, status: 201 } }));
const RESULTS: ItemResult[] = [
  result('SEC-005', 'critical', 'fail', 'high == 0: high was 1', { findings }),
  result('OPS-002', 'critical', 'fail', 'exit_code == 0: exit_code was 1', { command: ['npm', 'run', 'migrate', '--', '--dry-run'], exitCode: 1, signal: null, outputTail: 'connecting\nerror: relation "users" does not exist\n' }),
  ...ITEMS.slice(2).map((i) => result(i.id, 'high', 'error', `cannot log in as "alice": environment variable ALICE_PASSWORD is not set`)),
];

test('text outcome: a NO-GO from a probe shows its findings worst first, capped; a command its argv and output; one line for 23 items failing for one cause', () => {
  const o: GateOutcome = { runId: 'r', gate: 'g', env: 'staging', command: 'check', release: 'abc', selection: {}, status: 'completed', startedAt: '2026-11-26T12:00:00Z', finishedAt: '2026-11-26T12:00:01Z', decision: DECISION, results: RESULTS, partial: false };
  const text = renderOutcomeText(o, ITEMS);
  const expected = [
    'Not passed:',
    '  ✖ SEC-005 [critical] CSRF protection — fail: high == 0: high was 1',
    '      high csrf.case-10: case 10 accepted — POST /api/10 → 201',
    '      medium csrf.case-0: case 0 accepted — POST /api/0 → 201',
    ...[1, 2, 3, 4, 5].map((i) => `      medium csrf.case-${i}: case ${i} accepted — POST /api/${i} → 201`),
    '      and 4 more',
    '  ✖ OPS-002 [critical] Migrations dry run — fail: exit_code == 0: exit_code was 1',
    '      $ npm run migrate -- --dry-run (exit code 1)',
    '      > connecting',
    '      > error: relation "users" does not exist',
    '  ! 23 items error: environment variable ALICE_PASSWORD is not set',
    '      P-01, P-02, P-03, P-04, P-05, P-06, P-07, P-08, P-09, P-10, P-11, P-12 and 11 more',
    '',
    'Decision: NO-GO',
  ];
  assert.ok(text.startsWith(expected.join('\n')), text);
});

test('text status: each blocker with what was observed, fewer lines than the run summary', () => {
  const text = renderStatusText({ gate: 'g', decision: DECISION, results: RESULTS, items: ITEMS, now: Date.parse('2026-11-26T12:00:00Z') });
  assert.ok(text.includes('Blockers (2):\n  ✖ SEC-005 [critical] CSRF protection — fail: high == 0: high was 1\n      high csrf.case-10'), text);
  assert.ok(text.includes('      and 8 more\n  ✖ OPS-002'), text);
  assert.ok(text.includes('      $ npm run migrate -- --dry-run (exit code 1)'), text);
});
