// The watch's config: stage windows and criteria, the watch: section, and the seed's default
// triggers; every refusal at the value that is wrong, with its position.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from './load.js';
import '../checks/index.js';
import { configProblems } from '../test-support/config.js';
import { defaultTriggers, stageWatch, triggersFor } from './watch-schema.js';
import { configRedactor } from './redactor.js';

const ITEMS = `items:
  - { id: HEALTH-01, title: Health, tier: critical, check: { kind: http, url: "{{env.url}}/health" } }
  - { id: AUTH-01, title: Login, tier: critical, check: { kind: http, url: "{{env.url}}/login" } }
  - { id: FLOW-01, title: Recipes, tier: high, check: { kind: http, url: "{{env.url}}/recipes" } }
  - { id: BACKUP-01, title: Backup checked, tier: critical, manual: true }
`;

const STAGES = `stages:
  production:
    - { id: immediate, title: Immediate, budget: 15m, items: [HEALTH-01, FLOW-01] }
    - { id: day, title: 24 hours, budget: 24h, window: 2h, every: 1m, items: [AUTH-01, BACKUP-01], criteria: { errorRate: 0.02, items: ignore } }
`;

function config(extra = '', stages = STAGES): string {
  return `version: 1\nenvironments:\n  production: { url: "https://example.com" }\n${stages}${ITEMS}${extra}`;
}

test('a stage without window/every/criteria watches for its budget, every window/15 (at least 10s), with the seed\'s criteria', () => {
  const { config: c } = parseConfig(config(), 'gonogo.yaml');
  const [immediate, day] = c.stages.production;
  assert.deepEqual(stageWatch(immediate), { windowMs: 900_000, everyMs: 60_000, criteria: { errorRate: 0.01, p95: '2s', items: 'passing', triggers: 'none' } });
  assert.deepEqual(stageWatch(day), { windowMs: 7_200_000, everyMs: 60_000, criteria: { errorRate: 0.02, p95: '2s', items: 'ignore', triggers: 'none' } });
  // A short window: the interval is never under 10s, nor longer than the window.
  assert.equal(stageWatch({ budget: '1m' }).everyMs, 10_000);
  assert.equal(stageWatch({ budget: '5s' }).everyMs, 5_000);
});

test('without a watch: section, the defaults: consecutive 2, minSamples 10, a 5m metric window, no notification', () => {
  const { config: c } = parseConfig(config(), 'gonogo.yaml');
  assert.deepEqual(c.watch, { consecutive: 2, minSamples: 10, metrics: { window: '5m' }, notify: [] });
});

test('the seed\'s default triggers: critical items with a check of the stage set, error rates, latency against the baseline, reports', () => {
  const { config: c } = parseConfig(config(), 'gonogo.yaml');
  const triggers = defaultTriggers(c, 'production');
  assert.deepEqual(
    triggers.map((t) => [t.id, t.severity, t.metric ?? t.items ?? 'reports', t.above ?? t.aboveBaseline ?? '', t.noData]),
    [
      ['error-rate-critical', 'immediate', 'error_rate', 0.05, 'unknown'],
      // BACKUP-01 is manual (a watch does not re-run it); FLOW-01 is high.
      ['critical-item-failing', 'immediate', ['HEALTH-01', 'AUTH-01'], '', 'unknown'],
      ['error-rate-elevated', 'conditional', 'error_rate', 0.02, 'unknown'],
      ['latency-degraded', 'conditional', 'p95_ms', 1.5, 'unknown'],
      ['reported-issue', 'conditional', 'reports', '', 'unknown'],
    ],
  );
  assert.ok(triggers.every((t) => t.consecutive === 2 && t.minSamples === 10));
  assert.deepEqual(triggersFor(c, 'production'), triggers);
});

test('configured triggers replace the defaults and take the section\'s consecutive and minSamples unless they set their own', () => {
  const { config: c } = parseConfig(
    config(`watch:
  consecutive: 3
  minSamples: 20
  triggers:
    - { id: health-down, severity: immediate, items: [HEALTH-01] }
    - { id: slow, severity: conditional, metric: p99_ms, above: 1500, consecutive: 5, noData: ok }
`),
    'gonogo.yaml',
  );
  assert.deepEqual(triggersFor(c, 'production'), [
    { id: 'health-down', severity: 'immediate', items: ['HEALTH-01'], consecutive: 3, minSamples: 20, noData: 'breach' },
    { id: 'slow', severity: 'conditional', metric: 'p99_ms', above: 1500, consecutive: 5, minSamples: 20, noData: 'ok' },
  ]);
});

test('a full watch: section loads: Prometheus, rollback, notifications with their defaults', () => {
  const { config: c } = parseConfig(
    config(`watch:
  metrics:
    window: 2m
    prometheus:
      server: "\${PROMETHEUS_URL}"
      errorRate: sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))
      p95: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))
  rollback:
    run: { sh: 'bash scripts/rollback-production.sh "$GONOGO_PREVIOUS"' }
    validate: [HEALTH-01]
    restore: [npx, tsx, scripts/restore-backup.ts]
  notify:
    - slack: "\${SLACK_WEBHOOK_URL}"
    - { webhook: "https://hooks.example.com/gonogo", headers: { authorization: "Bearer \${HOOK_TOKEN}" }, retries: 1 }
`),
    'gonogo.yaml',
  );
  assert.equal(c.watch.metrics.prometheus?.timeout, '10s');
  assert.deepEqual(c.watch.rollback, { run: { sh: 'bash scripts/rollback-production.sh "$GONOGO_PREVIOUS"' }, timeout: '10m', validate: ['HEALTH-01'], restore: ['npx', 'tsx', 'scripts/restore-backup.ts'] });
  assert.deepEqual(c.watch.notify, [
    { slack: '${SLACK_WEBHOOK_URL}', timeout: '5s', retries: 3 },
    { webhook: 'https://hooks.example.com/gonogo', headers: { authorization: 'Bearer ${HOOK_TOKEN}' }, timeout: '5s', retries: 1 },
  ]);
});

test('webhook URLs are secrets: redacted from output like every ${VAR} value, in each form they travel in', () => {
  const slack = 'https://hooks.slack.com/services/T0123/B0456/abcdefSECRETtoken';
  const hook = 'https://Hooks.Example.com/gonogo?key=hook-SECRET-key';
  const loaded = parseConfig(config(`watch:\n  notify:\n    - slack: "${slack}"\n    - webhook: "${hook}"\n    - webhook: "\${HOOK_URL}"\n`), 'gonogo.yaml');
  const redact = configRedactor(loaded, { HOOK_URL: 'https://hooks.example.net/from-variable-SECRET' });
  const out = redact.text(
    `POST ${slack} failed; body ${JSON.stringify({ url: slack })}; to ${new URL(hook).href} and ${encodeURIComponent(hook)}; ${'https://hooks.example.net/from-variable-SECRET'}`,
  );
  assert.doesNotMatch(out, /SECRET/i, out);
  // Without a notify: section nothing more is redacted than before.
  assert.ok(configRedactor(parseConfig(config(), 'gonogo.yaml'), {}).empty);
});

for (const template of ['seed.yaml', 'gonogo.yaml']) {
  test(`template ${template}: no items trigger breaches for want of its items in a window where they do not run`, () => {
    const { config: c } = parseConfig(readFileSync(new URL(`../../templates/${template}`, import.meta.url)), template);
    const triggers = triggersFor(c, 'production');
    assert.ok(triggers.length >= 9, 'the seed\'s immediate and conditional triggers are named');
    for (const t of triggers.filter((x) => x.items && x.noData === 'breach')) {
      for (const stage of c.stages.production) {
        assert.ok(t.items?.some((id) => stage.items.includes(id)), `${t.id} would breach (no data) all through window ${stage.id}: give it noData: unknown, or one of its items in that stage`);
      }
    }
    assert.ok(c.stages.production.every((s) => s.window !== undefined && s.every !== undefined));
  });
}

// Each row: what is written, and the problem reported (position and message).
const REFUSED: { name: string; text: string; problem: RegExp }[] = [
  {
    name: 'every longer than the window',
    text: config('', 'stages:\n  production:\n    - { id: a, title: A, budget: 15m, window: 10m, every: 11m, items: [HEALTH-01] }\n'),
    problem: /^gonogo\.yaml:6:59: stages\.production\.0\.every: every: 11m is longer than the window \(10m\)/,
  },
  {
    name: 'every longer than the budget (no window)',
    text: config('', 'stages:\n  production:\n    - { id: a, title: A, budget: 15m, every: 1h, items: [HEALTH-01] }\n'),
    problem: /stages\.production\.0\.every: every: 1h is longer than the window \(15m, the budget\)/,
  },
  {
    name: 'every under a second',
    text: config('', 'stages:\n  production:\n    - { id: a, title: A, budget: 15m, every: 100ms, items: [HEALTH-01] }\n'),
    problem: /stages\.production\.0\.every: every: 100ms is shorter than 1s/,
  },
  { name: 'a criterion of the wrong kind', text: config('', 'stages:\n  production:\n    - { id: a, title: A, budget: 15m, items: [HEALTH-01], criteria: { items: all } }\n'), problem: /stages\.production\.0\.criteria\.items: / },
  { name: 'a trigger naming an unknown item', text: config('watch:\n  triggers:\n    - { id: t, severity: immediate, items: [HEALTH-01, HELTH-01] }\n'), problem: /^gonogo\.yaml:15:56: watch\.triggers\.0\.items\.1: unknown item id "HELTH-01"$/ },
  { name: 'post-rollback validation naming an unknown item', text: config('watch:\n  rollback: { run: [./rollback.sh], validate: [NOPE] }\n'), problem: /^gonogo\.yaml:14:48: watch\.rollback\.validate\.0: unknown item id "NOPE"$/ },
  { name: 'a trigger watching two things', text: config('watch:\n  triggers:\n    - { id: t, severity: immediate, items: [HEALTH-01], reports: true }\n'), problem: /watch\.triggers\.0: a trigger watches one thing: items and reports given, keep one/ },
  { name: 'a trigger watching nothing', text: config('watch:\n  triggers:\n    - { id: t, severity: immediate }\n'), problem: /watch\.triggers\.0: a trigger watches one thing: give items:/ },
  { name: 'a metric trigger without a threshold', text: config('watch:\n  triggers:\n    - { id: t, severity: conditional, metric: p95_ms }\n'), problem: /watch\.triggers\.0\.metric: a metric trigger needs a threshold: above: .*aboveBaseline:/ },
  { name: 'an unknown metric', text: config('watch:\n  triggers:\n    - { id: t, severity: conditional, metric: p90_ms, above: 1 }\n'), problem: /watch\.triggers\.0\.metric: / },
  { name: 'a threshold on an items trigger', text: config('watch:\n  triggers:\n    - { id: t, severity: immediate, items: [HEALTH-01], above: 1 }\n'), problem: /watch\.triggers\.0\.above: above: applies to a metric: trigger only/ },
  { name: 'duplicate trigger ids', text: config('watch:\n  triggers:\n    - { id: t, severity: immediate, reports: true }\n    - { id: t, severity: conditional, reports: true }\n'), problem: /^gonogo\.yaml:16:13: watch\.triggers\.1\.id: duplicate trigger id "t" \(first at triggers\.0\)$/ },
  { name: 'a placeholder in a rollback script', text: config('watch:\n  rollback: { run: { sh: "rollback.sh {{env.url}}" } }\n'), problem: /watch\.rollback\.run\.sh: \{\{env\.url\}\} is not expanded in a rollback command: values reach it only as environment variables/ },
  { name: '${VAR} in a rollback argv (no shell to expand it)', text: config('watch:\n  rollback: { run: [./rollback.sh, "${PREVIOUS}"] }\n'), problem: /watch\.rollback\.run\.1: an argv list is passed as written, with no shell to expand \$\{VAR\}/ },
  { name: 'a webhook that is not a URL', text: config('watch:\n  notify: [{ webhook: "hooks.example.com/x" }]\n'), problem: /watch\.notify\.0\.webhook: not an absolute URL/ },
  { name: 'a notification target of neither shape', text: config('watch:\n  notify: [{ email: ops@example.com }]\n'), problem: /watch\.notify\.0: expected \{ slack: URL \} or \{ webhook: URL, headers\?: \{\.\.\.\} \}/ },
  { name: 'an unknown key in watch:', text: config('watch:\n  consecutiv: 3\n'), problem: /watch\.consecutiv: unknown key "consecutiv"/ },
  { name: 'a Prometheus source without an error-rate query', text: config('watch:\n  metrics: { prometheus: { server: "http://127.0.0.1:9090" } }\n'), problem: /watch\.metrics\.prometheus: missing required field "errorRate"/ },
];

for (const row of REFUSED) {
  test(`refused at load: ${row.name}`, () => {
    const found = configProblems(row.text);
    assert.ok(
      found.some((p) => row.problem.test(p)),
      `expected a problem matching ${row.problem}, got:\n${found.join('\n')}`,
    );
  });
}
