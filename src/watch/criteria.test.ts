// A window's success criteria as a table: each row a window's record, the verdict and its reasons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { criteriaSchema } from '../config/watch-schema.js';
import type { CriteriaConfig } from '../config/watch-schema.js';
import { judgeWindow } from './criteria.js';
import type { WindowRecord } from './criteria.js';

const SEED: CriteriaConfig = criteriaSchema.parse({});

const HEALTHY: WindowRecord = {
  metrics: { error_rate: 0.002, p50_ms: 80, p95_ms: 420, p99_ms: 900, samples: 5000 },
  stageItems: ['HEALTH-01', 'LOGIN-01', 'FLAG-01'],
  items: { 'HEALTH-01': 'pass', 'LOGIN-01': 'pass', 'FLAG-01': 'skipped' },
  fired: [],
  minSamples: 10,
};

const SCENARIOS: { name: string; criteria?: Partial<CriteriaConfig>; record: Partial<WindowRecord>; reasons: RegExp[] }[] = [
  { name: 'a healthy window passes the seed\'s criteria', record: {}, reasons: [] },
  { name: 'error rate at 1% fails (the seed: below 1%)', record: { metrics: { ...HEALTHY.metrics, error_rate: 0.01 } }, reasons: [/^error rate 1% >= 1% over 5000 samples$/] },
  { name: 'a looser error rate allows it', criteria: { errorRate: 0.02 }, record: { metrics: { ...HEALTHY.metrics, error_rate: 0.015 } }, reasons: [] },
  { name: 'p95 at 2 s fails', record: { metrics: { ...HEALTHY.metrics, p95_ms: 2000 } }, reasons: [/^p95 2000 ms >= 2000 ms over 5000 samples$/] },
  { name: 'a p95 criterion of 500ms', criteria: { p95: '500ms' }, record: { metrics: { ...HEALTHY.metrics, p95_ms: 501 } }, reasons: [/^p95 501 ms >= 500 ms/] },
  {
    name: 'no metrics at all: both fail closed, saying why',
    record: { metrics: { samples: 0 } },
    reasons: [/^error rate: no value measured over the window/, /^p95: no latency measured over the window/],
  },
  {
    name: 'too few samples fail closed',
    record: { metrics: { error_rate: 0, p95_ms: 10, samples: 3 } },
    reasons: [/^error rate: 3 samples over the window, fewer than 10: too few/, /^p95: 3 samples over the window, fewer than 10/],
  },
  {
    name: 'an item failing, one erroring and one never checked',
    record: { stageItems: ['HEALTH-01', 'LOGIN-01', 'FLOW-01', 'NEVER-01'], items: { 'HEALTH-01': 'pass', 'LOGIN-01': 'fail', 'FLOW-01': 'error' } },
    reasons: [/^3 of 4 items not passing at their last evaluation: LOGIN-01 fail, FLOW-01 error, NEVER-01 never checked in the window$/],
  },
  { name: 'a pending (manual, not attested) item is not passing', record: { items: { ...HEALTHY.items, 'LOGIN-01': 'pending' } }, reasons: [/LOGIN-01 pending/] },
  { name: 'items: ignore leaves items to the triggers', criteria: { items: 'ignore' }, record: { items: { 'HEALTH-01': 'fail' } }, reasons: [] },
  { name: 'a conditional trigger fired fails the seed\'s criteria (triggers: none)', record: { fired: [{ id: 'error-rate-elevated', severity: 'conditional' }] }, reasons: [/^1 trigger fired during the window: error-rate-elevated \(conditional\)$/] },
  { name: 'triggers: immediate lets a conditional one pass', criteria: { triggers: 'immediate' }, record: { fired: [{ id: 'error-rate-elevated', severity: 'conditional' }] }, reasons: [] },
  { name: 'triggers: immediate still fails on an immediate one', criteria: { triggers: 'immediate' }, record: { fired: [{ id: 'latency', severity: 'conditional' }, { id: 'security-regression', severity: 'immediate' }] }, reasons: [/^1 immediate trigger fired during the window: security-regression \(immediate\)$/] },
  {
    name: 'every failed criterion is explained, not only the first',
    record: { metrics: { error_rate: 0.3, p95_ms: 9000, samples: 400 }, items: { 'HEALTH-01': 'fail' }, fired: [{ id: 'app-down', severity: 'immediate' }] },
    reasons: [/^error rate 30% >= 1%/, /^p95 9000 ms >= 2000 ms/, /^3 of 3 items not passing at their last evaluation: HEALTH-01 fail, LOGIN-01 never checked/, /app-down \(immediate\)/],
  },
];

for (const s of SCENARIOS) {
  test(`window criteria: ${s.name}`, () => {
    const v = judgeWindow({ ...SEED, ...s.criteria }, { ...HEALTHY, ...s.record });
    assert.equal(v.passed, s.reasons.length === 0, v.reasons.join('\n'));
    assert.equal(v.reasons.length, s.reasons.length, v.reasons.join('\n'));
    s.reasons.forEach((re, i) => assert.match(v.reasons[i], re));
    // Every criterion judged says what it saw, passed or not.
    assert.ok(v.criteria.every((c) => c.message.length > 0));
  });
}

test('the passing verdict names what each criterion saw', () => {
  const v = judgeWindow(SEED, HEALTHY);
  assert.deepEqual(
    v.criteria.map((c) => c.message),
    ['error rate 0.2% < 1% over 5000 samples', 'p95 420 ms < 2000 ms over 5000 samples', 'all 3 items passing at their last evaluation', 'no trigger fired'],
  );
});
