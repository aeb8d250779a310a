// The `gonogo init` templates: the generic web-service checklist (templates/gonogo.yaml) and the
// seed's own (templates/seed.yaml, `--template seed`). Each must load as is, and have the seed
// framework's structure (25 critical, 18 high, 15 recommended items in ten categories and five
// phases), its stages and its decision rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigError, formatProblem, parseConfig } from './load.js';
// parseConfig checks options against the kinds loaded: the registry loads them all.
import '../checks/index.js';
import type { LoadedConfig } from './load.js';
import { parseDuration } from '../util/duration.js';
import { expand } from '../util/template.js';

const TEMPLATES = {
  generic: { file: 'gonogo.yaml', merged: 'release/*' },
  seed: { file: 'seed.yaml', merged: 'security/*' },
};

const CATEGORIES = [
  'security',
  'code-integration',
  'build-and-tests',
  'migrations',
  'configuration',
  'monitoring',
  'backups-and-rollback',
  'functional',
  'performance',
  'documentation',
];
const PHASES = ['code-integration', 'scripts', 'infrastructure', 'staging-validation', 'production-deployment'];

for (const [name, { file, merged }] of Object.entries(TEMPLATES)) {
  const TEMPLATE = readFileSync(new URL(`../../templates/${file}`, import.meta.url), 'utf8');

  function load(): LoadedConfig {
    try {
      return parseConfig(TEMPLATE.replace('__SCHEMA__', '../node_modules/gonogo/schema/gonogo.schema.json'), 'gonogo.yaml');
    } catch (err) {
      if (err instanceof ConfigError) assert.fail(`the template does not load:\n${err.problems.map(formatProblem).join('\n')}`);
      throw err;
    }
  }

  test(`template ${name}: starts with the $schema line that init fills in`, () => {
    assert.equal(TEMPLATE.split('\n')[0], '# yaml-language-server: $schema=__SCHEMA__');
    assert.equal(TEMPLATE.split('__SCHEMA__').length, 2, '__SCHEMA__ appears once: init replaces the first occurrence only');
  });

  test(`template ${name}: loads with no problem, every expectation parsed`, () => {
    const loaded = load();
    assert.equal(loaded.config.version, 1);
    assert.deepEqual(Object.keys(loaded.config.environments), ['staging', 'production']);
    // A placeholder read at run time, never a live address that probes whatever listens there.
    assert.deepEqual(Object.values(loaded.config.environments).map((e) => e.url), ['${STAGING_URL}', '${PRODUCTION_URL}']);
    // npx never downloads a package that is not installed.
    for (const item of loaded.config.items) {
      const run = item.check?.kind === 'command' ? item.check.run : undefined;
      if (Array.isArray(run) && run[0] === 'npx') assert.equal(run[1], '--no-install', `${item.id}: npx --no-install`);
    }
    for (const item of loaded.config.items.filter((i) => i.check)) {
      assert.ok((loaded.conditions.get(item.id)?.length ?? 0) > 0, `${item.id} has conditions to judge`);
    }
  });

  test(`template ${name}: 25 critical, 18 high and 15 recommended items`, () => {
    const { items } = load().config;
    const count = (tier: string) => items.filter((i) => i.tier === tier).length;
    assert.deepEqual({ critical: count('critical'), high: count('high'), recommended: count('recommended'), total: items.length }, {
      critical: 25,
      high: 18,
      recommended: 15,
      total: 58,
    });
  });

  test(`template ${name}: the seed's ten categories and five phases, and nothing else`, () => {
    const { items } = load().config;
    assert.deepEqual(new Set(items.map((i) => i.category)), new Set(CATEGORIES));
    assert.deepEqual(new Set(items.map((i) => i.phase)), new Set(PHASES));
  });

  test(`template ${name}: every item has owner, risk, estimate, category, phase, and a check or signers`, () => {
    const { items, roles } = load().config;
    for (const item of items) {
      assert.ok(item.category, `${item.id}: category`);
      assert.ok(item.phase, `${item.id}: phase`);
      assert.ok(item.owner && Object.hasOwn(roles, item.owner), `${item.id}: owner ${String(item.owner)} is a defined role`);
      assert.ok(item.risk, `${item.id}: risk`);
      const e = item.estimate;
      assert.ok(e, `${item.id}: estimate`);
      assert.ok(e.optimistic <= e.likely && e.likely <= e.pessimistic, `${item.id}: optimistic <= likely <= pessimistic`);
      assert.ok(item.check || item.manual, `${item.id}: a check or manual: true`);
      if (item.manual) {
        assert.ok(item.signers && item.signers.length > 0, `${item.id}: a manual item names its signers`);
        for (const role of item.signers) {
          const grants = roles[role];
          assert.ok(grants, `${item.id}: signer ${role} is a defined role`);
          assert.ok(grants.some((g) => g === 'item' || g === `item:${item.id}` || g === '*'), `${item.id}: ${role} may sign items`);
        }
      }
    }
  });

  test(`template ${name}: the open items' estimates add up to the seed's 20-60 hours`, () => {
    const { items } = load().config;
    const sum = (k: 'optimistic' | 'likely' | 'pessimistic') => items.reduce((s, i) => s + (i.estimate?.[k] ?? 0), 0);
    // Seed: optimistic 20-24 h, realistic 30-40 h, pessimistic 50-60 h.
    assert.ok(sum('optimistic') >= 20 && sum('optimistic') <= 24, `optimistic ${sum('optimistic')}`);
    assert.ok(sum('likely') >= 30 && sum('likely') <= 40, `likely ${sum('likely')}`);
    assert.ok(sum('pessimistic') >= 50 && sum('pessimistic') <= 60, `pessimistic ${sum('pessimistic')}`);
  });

  test(`template ${name}: the security items are probes, not manual attestations`, () => {
    const { items } = load().config;
    const sec = items.filter((i) => i.category === 'security');
    assert.deepEqual(
      sec.map((i) => i.id),
      ['SEC-000', 'SEC-001', 'SEC-002', 'SEC-003', 'SEC-004', 'SEC-005', 'SEC-006', 'SEC-007', 'SEC-008', 'SEC-009', 'SEC-010'],
    );
    for (const i of sec) {
      assert.equal(i.tier, 'critical', `${i.id} is critical`);
      assert.ok(i.check, `${i.id} has a check`);
    }
    const kinds = new Set(sec.map((i) => i.check?.kind));
    for (const k of ['headers', 'csrf', 'rate-limit', 'ssrf', 'debug-endpoints', 'auth-required', 'access-control', 'cors', 'error-handling']) {
      assert.ok(kinds.has(k as never), `a security item uses the ${k} probe`);
    }
  });

  test(`template ${name}: checks wired where a machine can verify the item`, () => {
    const { items } = load().config;
    const kindOf = (id: string) => items.find((i) => i.id === id)?.check?.kind;
    assert.equal(kindOf('GIT-01'), 'git');
    assert.deepEqual(items.find((i) => i.id === 'GIT-01')?.check?.merged, [merged]);
    assert.equal(kindOf('BUILD-02'), 'command');
    assert.equal(kindOf('BUILD-03'), 'command');
    assert.equal(kindOf('MIG-01'), 'command');
    assert.equal(kindOf('MIG-02'), 'command');
    assert.equal(kindOf('CFG-02'), 'env');
    assert.equal(kindOf('BAK-01'), 'file');
    assert.equal(kindOf('FUNC-01'), 'http');
    const automated = items.filter((i) => i.check).length;
    assert.ok(automated >= 30, `${automated} automated items`);
  });

  test(`template ${name}: the seed's decision rules and roles`, () => {
    const { rules, roles } = load().config;
    assert.equal(rules.goHighRatio, 0.9);
    assert.equal(rules.conditionsHighRatio, 0.7);
    assert.deepEqual(rules.requiredSignoffs, []);
    assert.ok(roles['release-manager']?.includes('decision'), 'the release manager signs the decision');
    assert.ok(roles['security-lead']?.includes('stage:security'), 'the security lead signs the security stage');
  });

  test(`template ${name}: test users log in with passwords from the environment, never from the file`, () => {
    const { auth } = load().config;
    assert.ok(auth, 'an auth: section for the probes that log in');
    assert.deepEqual(Object.keys(auth.users).sort(), ['admin', 'alice', 'bob']);
    for (const [name, user] of Object.entries(auth.users)) assert.match(user.password ?? '', /^\$\{GONOGO_[A-Z_]+_PASSWORD\}$/, `${name}'s password`);
    assert.equal(auth.login?.csrfHeader, 'X-CSRF-Token');
    assert.deepEqual(auth.login?.csrfToken, { from: 'body', path: 'csrfToken' });
  });

  test(`template ${name}: the seed's stages and budgets, each naming existing items and roles`, () => {
    const { stages, items, roles } = load().config;
    const budgets = (set: string) => stages[set]?.map((s) => [s.id, parseDuration(s.budget)]);
    assert.deepEqual(budgets('staging'), [
      ['deploy', 15 * 60_000],
      ['migrations', 30 * 60_000],
      ['security', 60 * 60_000],
      ['functional', 60 * 60_000],
      ['performance', 30 * 60_000],
      ['error-handling', 30 * 60_000],
    ]);
    assert.deepEqual(budgets('production'), [
      ['immediate', 15 * 60_000],
      ['short-term', 2 * 3_600_000],
      ['24-hour', 24 * 3_600_000],
    ]);
    const ids = new Set(items.map((i) => i.id));
    for (const [set, list] of Object.entries(stages)) {
      for (const stage of list) {
        assert.ok(stage.items.length > 0, `${set}/${stage.id} has items`);
        for (const id of stage.items) assert.ok(ids.has(id), `${set}/${stage.id}: ${id} exists`);
        assert.equal(new Set(stage.items).size, stage.items.length, `${set}/${stage.id} lists each item once`);
        for (const role of stage.signoff ?? []) {
          const grants = roles[role] ?? [];
          assert.ok(grants.some((g) => g === 'stage' || g === `stage:${stage.id}` || g === '*'), `${set}/${stage.id}: ${role} may sign it`);
        }
      }
    }
    // Every item of the staging set runs at most once, and every SEC item is validated in staging.
    const staged = stages.staging.flatMap((s) => s.items);
    assert.equal(new Set(staged).size, staged.length, 'no item runs twice in one staging validation');
    for (const i of items.filter((x) => x.category === 'security')) assert.ok(staged.includes(i.id), `${i.id} is validated in staging`);
  });

  test(`template ${name}: every \${VAR} it references is a test user password or an environment URL, listed for redaction where it is written`, () => {
    const { secretRefs } = load();
    assert.ok(secretRefs.length >= 3);
    for (const ref of secretRefs) {
      if (ref.path.startsWith('environments.')) assert.match(`${ref.path} ${ref.name}`, /^environments\.(staging|production)\.url (STAGING|PRODUCTION)_URL$/);
      else assert.match(ref.name, /^GONOGO_[A-Z_]+_PASSWORD$/, `${ref.path} references ${ref.name}`);
      assert.ok(TEMPLATE.split('\n')[ref.line - 1].slice(ref.column - 1).startsWith(`\${${ref.name}}`), `${ref.name} at ${ref.line}:${ref.column}`);
    }
  });
}

test('expand keeps a `__proto__` key a key, and leaves strings without placeholders as they are', () => {
  const value = JSON.parse('{"__proto__": {"x": "{{env.url}}"}, "plain": "no placeholder"}') as Record<string, unknown>;
  const { value: out } = expand(value, { vars: { url: 'http://app' } }, {});
  assert.deepEqual(Object.keys(out), ['__proto__', 'plain']);
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.deepEqual(Reflect.get(out, '__proto__'), { x: 'http://app' });
  assert.equal(out.plain, 'no placeholder');
});

test('expand returns what holds no placeholder as given, and copies only the objects on the way to a change', () => {
  const value = { url: '{{env.url}}/health', method: 'GET', headers: { accept: 'json' }, list: ['a', '{{env.url}}'], plain: ['x'] };
  const { value: out } = expand(value, { vars: { url: 'http://app' } }, {});
  assert.deepEqual(out, { url: 'http://app/health', method: 'GET', headers: { accept: 'json' }, list: ['a', 'http://app'], plain: ['x'] });
  assert.notEqual(out, value);
  assert.notEqual(out.list, value.list);
  assert.equal(out.headers, value.headers);
  assert.equal(out.plain, value.plain);
  assert.deepEqual(value.list, ['a', '{{env.url}}'], 'the input is never changed');
  const none = { a: 'b', n: 1, nested: { c: ['d'] } };
  assert.equal(expand(none, { vars: {} }, {}).value, none);
});
