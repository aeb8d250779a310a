import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capLines, explainEvidence, explainResults, rootCause, rootCauses } from './explain.js';
import type { ItemResult, Status } from '../model.js';

// Evidence as each kind keeps it (src/checks/*/index.ts, src/checks/_shared/probe.ts).
const evidenceScenarios: { name: string; evidence: unknown; lines: (string | RegExp)[] }[] = [
  {
    name: 'probe: findings worst first, each with the request that proved it or what was observed',
    evidence: {
      findings: [
        { id: 'referrer.missing', severity: 'low', message: 'no Referrer-Policy', observed: { path: '/', value: null } },
        { id: 'csrf.form', severity: 'high', message: 'a cross-site form POST was accepted', observed: { method: 'POST', path: '/api/recipes', status: 201 } },
        { id: 'csp.unsafe-inline', severity: 'medium', message: "script-src allows 'unsafe-inline'", observed: { path: '/', value: "script-src 'self' 'unsafe-inline'" } },
      ],
      exchanges: [{ method: 'GET', url: 'http://127.0.0.1:1/', status: 200 }],
    },
    lines: [
      'high csrf.form: a cross-site form POST was accepted — POST /api/recipes → 201',
      "medium csp.unsafe-inline: script-src allows 'unsafe-inline' — at /: script-src 'self' 'unsafe-inline'",
      'low referrer.missing: no Referrer-Policy — at /',
    ],
  },
  {
    name: 'probe: an error-handling leak names its request',
    evidence: { findings: [{ id: 'leak.stack', severity: 'high', message: 'malformed JSON: a stack trace', observed: { request: 'malformed-json', method: 'POST', path: '/api/login', status: 500 } }] },
    lines: ['high leak.stack: malformed JSON: a stack trace — POST /api/login → 500'],
  },
  {
    name: 'command: argv as it can be pasted, how it ended, the last lines of output',
    evidence: { command: ['npm', 'audit', '--audit-level', 'high', "it's"], cwd: '/app', exitCode: 1, signal: null, durationMs: 12, outputTail: 'line 1\nline 2\n\nline 3\nline 4\nline 5\nfound 3 high severity vulnerabilities\n', truncated: false },
    lines: ["$ npm audit --audit-level high 'it'\\''s' (exit code 1)", 'last 5 lines of output:', '> line 2', '> line 3', '> line 4', '> line 5', '> found 3 high severity vulnerabilities'],
  },
  {
    name: 'command: a shell script killed by a signal, no output',
    evidence: { command: { sh: 'sleep 100' }, exitCode: null, signal: 'SIGTERM', outputTail: '' },
    lines: ["$ sh -c 'sleep 100' (killed by SIGTERM)", '(no output)'],
  },
  {
    name: 'http: the request, the answer, its type and body',
    evidence: { request: { method: 'GET', url: 'http://127.0.0.1:3000/health' }, status: 503, headers: { 'content-type': 'application/json' }, bodyExcerpt: '{"status":\n"down"}', latencyMs: 12.5, redirects: [] },
    lines: ['GET http://127.0.0.1:3000/health → 503 in 12.5 ms', 'content-type: application/json', 'body: {"status": "down"}'],
  },
  {
    name: 'env: missing and placeholder names, never values',
    evidence: { checked: ['DATABASE_URL', 'SESSION_SECRET', 'SMTP_HOST'], missing: ['SMTP_HOST'], placeholders: { SESSION_SECRET: 'changeme' }, sources: {}, example: '.env.example' },
    lines: ['not set: SMTP_HOST', 'placeholders: SESSION_SECRET (matches changeme)', 'checked 3 variable(s) from .env.example'],
  },
  {
    name: 'file: a backup that is not there',
    evidence: { pattern: 'backups/*.sql.gz', path: 'backups/*.sql.gz', exists: false, matches: 0 },
    lines: ['backups/*.sql.gz: not found'],
  },
  {
    name: 'file: a backup that is too old',
    evidence: { path: 'backups/db.sql.gz', exists: true, matches: 1, modified: '2026-11-20T00:00:00.000Z', ageSeconds: 518400, size: 2048, type: 'file' },
    lines: ['backups/db.sql.gz: file, modified 2026-11-20T00:00:00.000Z, 518400 s old, 2048 bytes'],
  },
  {
    name: 'git: unmerged branches and a dirty tree',
    evidence: { repo: '/src/app', target: 'main', head: 'abc1234', branch: 'release', merged: { 'fix/a': 'ancestor', 'feat/b': 'not merged' }, dirtyFiles: ['src/a.ts'], dirtyCount: 1 },
    lines: ['/src/app at release abc1234', 'not merged into main: feat/b', '1 uncommitted change(s): src/a.ts'],
  },
  {
    name: 'an errored probe: the exchanges it made before it gave up',
    evidence: { exchanges: [...[1, 2, 3, 4].map((i) => ({ method: 'GET', url: `http://t/${i}`, status: 200 })), { method: 'POST', url: 'http://t/login', error: 'connection reset by t' }], failedUrl: 'http://t/login' },
    lines: ['5 requests sent; the last 3:', 'GET http://t/3 → 200', 'GET http://t/4 → 200', 'POST http://t/login → connection reset by t'],
  },
  {
    name: 'a kind this file does not know: its plain fields',
    evidence: { query: 'rate(http_errors[5m])', value: 0.07, series: [], labels: { job: 'app' } },
    lines: ['query: rate(http_errors[5m])', 'value: 0.07'],
  },
  { name: 'no evidence', evidence: undefined, lines: [] },
];

for (const s of evidenceScenarios) {
  test(`explain evidence: ${s.name}`, () => {
    const lines = explainEvidence(s.evidence);
    assert.equal(lines.length, s.lines.length, lines.join('\n'));
    s.lines.forEach((want, i) => (typeof want === 'string' ? assert.equal(lines[i], want) : assert.match(lines[i], want)));
  });
}

test('explain evidence: one finding per line, capped with "and N more"', () => {
  const findings = Array.from({ length: 20 }, (_, i) => ({ id: `f${i}`, severity: 'high', message: `finding ${i}` }));
  const lines = explainEvidence({ findings }, 8);
  assert.equal(lines.length, 8);
  assert.equal(lines[6], 'high f6: finding 6');
  assert.equal(lines[7], 'and 13 more');
  assert.deepEqual(capLines(['a', 'b'], 2), ['a', 'b']);
});

test('explain evidence: hostile evidence is cut to one short line', () => {
  const [line] = explainEvidence({ findings: [{ id: 'x', severity: 'high', message: `a\r\nb${'c'.repeat(10_000)}` }] });
  assert.ok(!/[\r\n]/.test(line));
  assert.equal(explainEvidence({ findings: [{ id: 'x', severity: 'high', message: 'red \u001b[31mtext\u0007' }] })[0], 'high x: red \\x1b[31mtext\\x07');
  assert.ok(line.length < 300, String(line.length));
});

const causeScenarios: { name: string; message: string; cause: string }[] = [
  { name: 'an unset variable, inside a login failure', message: 'cannot log in as "alice": environment variable ALICE_PASSWORD is not set', cause: 'environment variable ALICE_PASSWORD is not set' },
  { name: 'an unset variable in a URL', message: 'environment variable STAGING_URL is not set', cause: 'environment variable STAGING_URL is not set' },
  { name: 'an undefined environment field', message: '{{env.api}} is not defined in this environment (defined: url)', cause: '{{env.api}} is not defined in this environment' },
  { name: 'a refused connection, whatever the step', message: 'connection refused by 127.0.0.1:3000 while connecting (ECONNREFUSED) (attempt 3 of 3)', cause: 'connection refused by 127.0.0.1:3000' },
  { name: 'anything else: the message without its attempt count', message: 'timed out after 2000 ms (attempt 2 of 2)', cause: 'timed out after 2000 ms' },
];

for (const s of causeScenarios) {
  test(`root cause: ${s.name}`, () => assert.equal(rootCause(s.message), s.cause));
}

const result = (id: string, status: Status, message: string, evidence?: unknown): ItemResult => ({ id, tier: 'critical', status, message, evidence, durationMs: 1, attempts: [] });

test('explain results: 23 items errored for one unset variable read as one line naming them, at the first one\'s place', () => {
  const results = [
    result('HTTP-01', 'fail', 'status == 200: status was 503', { request: { method: 'GET', url: 'http://x/' }, status: 503 }),
    ...Array.from({ length: 23 }, (_, i) => result(`SEC-${String(i).padStart(2, '0')}`, 'error', i % 2 ? 'environment variable STAGING_URL is not set' : 'cannot log in as "bob": environment variable STAGING_URL is not set')),
    result('ONE-01', 'error', 'timed out after 2000 ms'),
    result('PASS-01', 'pass', 'ok'),
  ];
  const out = explainResults(results);
  assert.deepEqual(out.map((e) => (e.type === 'cause' ? `cause:${e.cause}:${e.results.length}` : `item:${e.result.id}`)), [
    'item:HTTP-01',
    'cause:environment variable STAGING_URL is not set:23',
    'item:ONE-01',
    'item:PASS-01',
  ]);
  const first = out[0];
  assert.ok(first.type === 'item' && first.details[0] === 'GET http://x/ → 503');
  const pass = out[3];
  assert.ok(pass.type === 'item' && pass.details.length === 0, 'a passed item is not explained');
  assert.deepEqual(rootCauses(results), [{ cause: 'environment variable STAGING_URL is not set', items: results.slice(1, 24).map((r) => r.id) }]);
});

test('explain results: failures that share a message keep their own evidence (only unverifiable items fold)', () => {
  const out = explainResults([result('A', 'fail', 'status == 200: status was 503', { request: { method: 'GET', url: 'http://a/' }, status: 503 }), result('B', 'fail', 'status == 200: status was 503', { request: { method: 'GET', url: 'http://b/' }, status: 503 })]);
  assert.deepEqual(out.map((e) => e.type), ['item', 'item']);
});
