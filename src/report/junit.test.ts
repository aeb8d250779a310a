import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderJunit } from './junit.js';
import type { ItemConfig } from '../config/schema.js';
import { decide, NO_AUTHORITY, SEED_RULES } from '../engine/decide.js';
import type { Binding } from '../engine/standing.js';
import type { GateOutcome, StageReport } from '../engine/gate.js';
import type { Attestation, ItemResult, Status } from '../model.js';

// --- A strict, small XML 1.0 well-formedness parser: enough to prove the output parses and to read it back.

interface El {
  name: string;
  attrs: Record<string, string>;
  children: El[];
  text: string;
}

const NAME = /^[A-Za-z_:][A-Za-z0-9_:.-]*/;
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function validChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

function parseXml(xml: string): El {
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`not well-formed: ${why} at ${i}: ${JSON.stringify(xml.slice(i, i + 40))}`);
  };
  for (const ch of xml) if (!validChar(ch.codePointAt(0) ?? -1)) fail(`character U+${(ch.codePointAt(0) ?? 0).toString(16)}`);

  const decode = (raw: string): string => {
    let out = '';
    for (let k = 0; k < raw.length; k++) {
      if (raw[k] !== '&') {
        out += raw[k];
        continue;
      }
      const end = raw.indexOf(';', k);
      if (end < 0) fail('a bare &');
      const ref = raw.slice(k + 1, end);
      if (ref in PREDEFINED) out += PREDEFINED[ref];
      else if (/^#[0-9]+$/.test(ref) || /^#x[0-9a-fA-F]+$/.test(ref)) {
        const cp = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
        if (!validChar(cp)) fail(`reference to an invalid character ${ref}`);
        out += String.fromCodePoint(cp);
      } else fail(`unknown entity &${ref};`);
      k = end;
    }
    return out;
  };
  const skipWs = (): void => {
    while (i < xml.length && ' \t\r\n'.includes(xml[i])) i++;
  };
  const expect = (s: string): void => {
    if (!xml.startsWith(s, i)) fail(`expected ${s}`);
    i += s.length;
  };
  const skipTo = (end: string): void => {
    const at = xml.indexOf(end, i);
    if (at < 0) fail(`unterminated, no ${end}`);
    i = at + end.length;
  };
  const name = (): string => {
    const m = NAME.exec(xml.slice(i));
    if (!m) return fail('expected a name');
    i += m[0].length;
    return m[0];
  };
  const misc = (): void => {
    for (;;) {
      skipWs();
      if (xml.startsWith('<!--', i)) skipTo('-->');
      else if (xml.startsWith('<?', i)) skipTo('?>');
      else return;
    }
  };

  const element = (): El => {
    expect('<');
    const el: El = { name: name(), attrs: {}, children: [], text: '' };
    for (;;) {
      const before = i;
      skipWs();
      if (xml.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (xml[i] === '>') {
        i++;
        break;
      }
      if (i === before) fail('expected white space before an attribute');
      const attr = name();
      skipWs();
      expect('=');
      skipWs();
      const quote = xml[i];
      if (quote !== '"' && quote !== "'") fail('an unquoted attribute value');
      const end = xml.indexOf(quote, i + 1);
      if (end < 0) fail('an unterminated attribute value');
      const raw = xml.slice(i + 1, end);
      if (raw.includes('<')) fail('< in an attribute value');
      if (attr in el.attrs) fail(`duplicate attribute ${attr}`);
      el.attrs[attr] = decode(raw.replace(/[\t\n\r]/g, ' '));
      i = end + 1;
    }
    for (;;) {
      const lt = xml.indexOf('<', i);
      if (lt < 0) fail(`unclosed <${el.name}>`);
      const raw = xml.slice(i, lt);
      if (raw.includes(']]>')) fail(']]> in text');
      el.text += decode(raw);
      i = lt;
      if (xml.startsWith('</', i)) {
        i += 2;
        if (name() !== el.name) fail(`mismatched end tag for <${el.name}>`);
        skipWs();
        expect('>');
        return el;
      }
      if (xml.startsWith('<!--', i)) skipTo('-->');
      else if (xml.startsWith('<![CDATA[', i)) {
        const end = xml.indexOf(']]>', i);
        if (end < 0) fail('unterminated CDATA');
        el.text += xml.slice(i + 9, end);
        i = end + 3;
      } else if (xml.startsWith('<?', i)) skipTo('?>');
      else el.children.push(element());
    }
  };

  if (xml.startsWith('<?xml')) skipTo('?>');
  misc();
  const root = element();
  misc();
  if (i !== xml.length) fail('content after the root element');
  return root;
}

const kids = (el: El, name: string): El[] => el.children.filter((c) => c.name === name);
function only(el: El, name: string): El {
  const found = kids(el, name);
  assert.equal(found.length, 1, `<${el.name}> has ${found.length} <${name}>`);
  return found[0];
}

test('junit test parser: rejects what is not well-formed', () => {
  const bad = ['<a><b></a>', '<a>&foo;</a>', '<a x=1/>', '<a x="1" x="2"/>', '<a>x & y</a>', '<a/><b/>', '<a>\u0001</a>', '<a>]]></a>', '<a x="<"/>', '<a>'];
  for (const xml of bad) assert.throws(() => parseXml(xml), /not well-formed/, xml);
  assert.deepEqual(parseXml('<?xml version="1.0"?>\n<a x="&lt;&#x41;&#66;">t&amp;<b/></a>\n'), { name: 'a', attrs: { x: '<AB' }, children: [{ name: 'b', attrs: {}, children: [], text: '' }], text: 't&' });
});

// --- Fixtures

const NOW = Date.parse('2026-11-26T12:00:00Z');
const BINDING: Binding = { release: 'r1', env: 'staging', configHash: 'h', stageRuns: {}, signoffTtlMs: 7 * 86_400_000 };
const ITEMS: ItemConfig[] = [
  { id: 'SEC-001', title: 'SSRF protection', tier: 'critical', category: 'security' },
  { id: 'SEC-009', title: 'Security headers', tier: 'critical', category: 'security' },
  { id: 'OPS-001', title: 'Rollback runbook reviewed', tier: 'critical', manual: true },
  ...Array.from({ length: 10 }, (_, i): ItemConfig => ({ id: `MON-${String(i + 1).padStart(2, '0')}`, title: `Monitoring ${i + 1}`, tier: 'high', category: 'monitoring' })),
  { id: 'DOC-001', title: 'Release notes', tier: 'recommended' },
];

function outcome(statuses: Record<string, Status>, attestations: Attestation[], extra: Partial<GateOutcome> = {}, tweak: (r: ItemResult) => ItemResult = (r) => r): GateOutcome {
  const automated = ITEMS.filter((i) => !i.manual).map((i): ItemResult => tweak({ id: i.id, tier: i.tier, status: statuses[i.id] ?? 'pass', message: statuses[i.id] ? `${statuses[i.id]}: status 500 != 200` : 'status 200', durationMs: 1500, attempts: [] }));
  const { decision, results } = decide({ items: ITEMS, results: automated, attestations, rules: { ...SEED_RULES, authority: { ...NO_AUTHORITY, roles: { sre: ['item', 'waive'] }, items: Object.fromEntries(ITEMS.map((i) => [i.id, { manual: Boolean(i.manual) }])) } }, binding: BINDING, now: NOW });
  return { runId: 'run-9', gate: 'recipes', env: 'staging', command: 'check', release: 'r1', selection: {}, status: 'completed', startedAt: '2026-11-26T11:58:00.000Z', finishedAt: '2026-11-26T11:59:30.250Z', decision, results, partial: false, ...extra };
}

const signRunbook: Attestation = { id: 'att-1', release: 'r1', kind: 'signoff', gate: 'recipes', target: { type: 'item', id: 'OPS-001' }, by: 'erin', role: 'sre', at: '2026-11-26T10:00:00Z' };
const waive = (itemId: string): Attestation => ({ id: `att-waive-${itemId}`, release: 'r1', kind: 'waiver', gate: 'recipes', itemId, mitigation: 'alert routed to on-call', owner: 'sre', expires: '2026-12-31T00:00:00Z', by: 'erin', role: 'sre', at: '2026-11-25T00:00:00Z' });

type Counts = { tests: string; failures: string; errors: string; skipped: string };
const countsOf = (el: El): Counts => ({ tests: el.attrs.tests, failures: el.attrs.failures, errors: el.attrs.errors, skipped: el.attrs.skipped });

const scenarios: { name: string; outcome: () => GateOutcome; verdict: string; total: Counts; suites: [string, Counts][] }[] = [
  {
    name: 'GO',
    outcome: () => outcome({}, [signRunbook]),
    verdict: 'GO',
    total: { tests: '14', failures: '0', errors: '0', skipped: '0' },
    suites: [
      ['critical', { tests: '3', failures: '0', errors: '0', skipped: '0' }],
      ['high', { tests: '10', failures: '0', errors: '0', skipped: '0' }],
      ['recommended', { tests: '1', failures: '0', errors: '0', skipped: '0' }],
    ],
  },
  {
    name: 'GO WITH CONDITIONS with waivers',
    outcome: () => outcome({ 'MON-02': 'fail', 'MON-05': 'error' }, [signRunbook, waive('MON-02'), waive('MON-05')]),
    verdict: 'GO_WITH_CONDITIONS',
    total: { tests: '14', failures: '0', errors: '0', skipped: '0' },
    suites: [
      ['critical', { tests: '3', failures: '0', errors: '0', skipped: '0' }],
      ['high', { tests: '10', failures: '0', errors: '0', skipped: '0' }],
      ['recommended', { tests: '1', failures: '0', errors: '0', skipped: '0' }],
    ],
  },
  {
    name: 'NO-GO with errors, a failure, a pending sign-off and a skipped item',
    outcome: () => outcome({ 'SEC-001': 'error', 'MON-01': 'fail', 'DOC-001': 'skipped' }, []),
    verdict: 'NO_GO',
    total: { tests: '14', failures: '1', errors: '1', skipped: '2' },
    suites: [
      ['critical', { tests: '3', failures: '0', errors: '1', skipped: '1' }],
      ['high', { tests: '10', failures: '1', errors: '0', skipped: '0' }],
      ['recommended', { tests: '1', failures: '0', errors: '0', skipped: '1' }],
    ],
  },
];

for (const s of scenarios) {
  test(`junit: ${s.name}`, () => {
    const o = s.outcome();
    assert.equal(o.decision?.verdict, s.verdict);
    const root = parseXml(renderJunit(o, ITEMS));
    assert.equal(root.name, 'testsuites');
    assert.equal(root.attrs.name, 'gonogo recipes (staging)');
    assert.equal(root.attrs.time, '90.250');
    assert.deepEqual(countsOf(root), s.total);
    const suites = kids(root, 'testsuite');
    assert.deepEqual(suites.map((x) => [x.attrs.name, countsOf(x)]), s.suites);
    for (const suite of suites) {
      const props = Object.fromEntries(kids(only(suite, 'properties'), 'property').map((p) => [p.attrs.name, p.attrs.value]));
      assert.equal(props.verdict, s.verdict);
      assert.equal(props.run, 'run-9');
      assert.equal(kids(suite, 'testcase').length, Number(suite.attrs.tests));
    }
  });
}

function testcase(root: El, id: string): El {
  const found = kids(root, 'testsuite').flatMap((s) => kids(s, 'testcase')).filter((c) => c.attrs.name.startsWith(`${id} `) || c.attrs.name === id);
  assert.equal(found.length, 1, `testcase ${id}`);
  return found[0];
}

const HTTP_500 = { request: { method: 'GET', url: 'http://127.0.0.1:3000/metrics' }, status: 500, headers: { 'content-type': 'text/html' }, bodyExcerpt: '<h1>oops</h1>', latencyMs: 4, redirects: [] };

test('junit: each status becomes its JUnit element', () => {
  const o = outcome({ 'SEC-001': 'error', 'MON-01': 'fail', 'MON-03': 'fail', 'DOC-001': 'skipped' }, [waive('MON-03')], {}, (r) => (r.id === 'MON-01' ? { ...r, evidence: HTTP_500 } : r));
  const root = parseXml(renderJunit(o, ITEMS));

  const pass = testcase(root, 'SEC-009');
  assert.deepEqual(pass.attrs, { classname: 'security', name: 'SEC-009 Security headers', time: '1.500' });
  assert.deepEqual(pass.children, []);

  const fail = only(testcase(root, 'MON-01'), 'failure');
  assert.equal(fail.attrs.message, 'fail: status 500 != 200');
  // What the evidence says comes first, line by line; the raw evidence follows for the record.
  assert.ok(fail.text.startsWith('fail: status 500 != 200\n\nGET http://127.0.0.1:3000/metrics → 500 in 4 ms\ncontent-type: text/html\nbody: <h1>oops</h1>\n\nevidence:\n'), fail.text);
  assert.deepEqual(JSON.parse(fail.text.slice(fail.text.indexOf('\n{') + 1)), HTTP_500);

  const error = only(testcase(root, 'SEC-001'), 'error');
  assert.equal(error.attrs.message, 'error: status 500 != 200');

  const pending = testcase(root, 'OPS-001');
  assert.equal(pending.attrs.classname, 'critical');
  assert.equal(only(pending, 'skipped').attrs.message, 'pending: awaiting sign-off');
  assert.equal(only(testcase(root, 'DOC-001'), 'skipped').attrs.message, 'skipped: status 500 != 200');

  const waived = testcase(root, 'MON-03');
  assert.deepEqual(waived.children.map((c) => c.name), ['system-out']);
  assert.match(waived.children[0].text, /^waived: fail: status 500 != 200 — waived until 2026-12-31T00:00:00Z: alert routed to on-call \(owner sre\)$/);
});

test('junit: retries list every attempt in the failure', () => {
  const o = outcome({ 'MON-01': 'fail' }, [], {}, (r) =>
    r.id === 'MON-01'
      ? {
          ...r,
          attempts: [
            { attempt: 1, status: 'error', message: 'timeout after 10s', durationMs: 10000, startedAt: '2026-11-26T11:58:00Z' },
            { attempt: 2, status: 'fail', message: 'status 500 != 200', durationMs: 40, startedAt: '2026-11-26T11:58:11Z' },
          ],
        }
      : r,
  );
  const text = only(testcase(parseXml(renderJunit(o, ITEMS)), 'MON-01'), 'failure').text;
  assert.match(text, /attempts:\n {2}1: error after 10000 ms: timeout after 10s\n {2}2: fail after 40 ms: status 500 != 200/);
});

const hostile = ['<script>alert("x")</script> & \'quotes\'', 'nul\u0000 bel\u0007 esc\u001b[31m', 'lone \ud800 surrogate and \uffff \ufffe', ']]> end of CDATA', 'emoji 😀 and ünïcödé'];

test('junit: hostile text is escaped, invalid characters stripped, and the document parses', () => {
  const evidence = { body: hostile.join('\n') };
  const o = outcome({ 'MON-01': 'fail', 'SEC-001': 'error' }, [], {}, (r) => (r.status === 'pass' ? r : { ...r, message: hostile.join('\n'), evidence }));
  const items = ITEMS.map((i) => (i.id === 'MON-01' ? { ...i, title: 'Title with <tags> & "quotes"\u0001', category: 'a"b\'c<d>' } : i));
  const xml = renderJunit({ ...o, gate: 'rec<ipes>&"', env: 'stag\u0002ing' }, items);
  assert.doesNotMatch(xml, /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/);
  assert.doesNotMatch(xml, /[\ud800-\udbff](?![\udc00-\udfff])/);
  const root = parseXml(xml);
  assert.equal(root.attrs.name, 'gonogo rec<ipes>&" (staging)');

  const tc = testcase(root, 'MON-01');
  assert.equal(tc.attrs.name, 'MON-01 Title with <tags> & "quotes"');
  assert.equal(tc.attrs.classname, 'a"b\'c<d>');
  const expected = ['<script>alert("x")</script> & \'quotes\'', 'nul bel esc[31m', 'lone  surrogate and  ', ']]> end of CDATA', 'emoji 😀 and ünïcödé'];
  const failure = only(tc, 'failure');
  assert.equal(failure.attrs.message, expected.join(' '));
  assert.ok(failure.text.startsWith(`${expected.join('\n')}\n\nbody: `), failure.text);
  assert.ok(failure.text.includes('\n\nevidence:\n'), failure.text);
  // JSON escapes control characters and lone surrogates itself, so they survive as escapes; U+FFFE/U+FFFF do not.
  assert.deepEqual(JSON.parse(failure.text.slice(failure.text.indexOf('{'))), { body: hostile.join('\n').replace(/[\uffff\ufffe]/g, '') });
  assert.equal(only(testcase(root, 'SEC-001'), 'error').attrs.message, expected.join(' '));
});

test('junit: evidence that JSON cannot hold does not lose the report', () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const o = outcome({ 'MON-01': 'fail' }, [], {}, (r) => (r.id === 'MON-01' ? { ...r, evidence: cyclic } : r));
  assert.match(only(testcase(parseXml(renderJunit(o, ITEMS)), 'MON-01'), 'failure').text, /evidence:\n\[object Object\]/);
});

const STAGES: StageReport[] = [
  { id: 'deploy', title: 'Deploy to staging', budgetMs: 900_000, durationMs: 62_500, overBudget: false, status: 'passed', items: ['SEC-009', 'MON-01'], failedCritical: [], signoffRoles: [], signedOff: false },
  { id: 'security', title: 'Security testing', budgetMs: 3_600_000, durationMs: 4_000, overBudget: false, status: 'failed', items: ['SEC-001', 'MON-01', 'OPS-001'], failedCritical: ['SEC-001'], signoffRoles: ['security-lead'], signedOff: false },
  { id: 'functional', title: 'Functional testing', budgetMs: 3_600_000, durationMs: 0, overBudget: false, status: 'not-run', items: ['MON-02'], failedCritical: [], signoffRoles: [], signedOff: false },
];

test('junit: a validate run has one suite per stage, an item counted once', () => {
  const items = ITEMS.filter((i) => ['SEC-009', 'MON-01', 'SEC-001', 'OPS-001', 'MON-02'].includes(i.id));
  const all = outcome({ 'SEC-001': 'fail', 'MON-02': 'error' }, [], { command: 'validate:staging', stages: STAGES });
  const results = all.results.filter((r) => items.some((i) => i.id === r.id));
  const root = parseXml(renderJunit({ ...all, results }, items));
  const suites = kids(root, 'testsuite');
  assert.deepEqual(
    suites.map((s) => [s.attrs.name, s.attrs.time, kids(s, 'testcase').map((c) => c.attrs.name.split(' ')[0])]),
    [
      ['deploy', '62.500', ['SEC-009', 'MON-01']],
      ['security', '4.000', ['SEC-001', 'OPS-001']],
      ['functional', '0.000', ['MON-02']],
    ],
  );
  assert.deepEqual(countsOf(root), { tests: '5', failures: '1', errors: '1', skipped: '1' });
});

test('junit: an aborted run still reports what ran, with no verdict', () => {
  const o = outcome({ 'MON-01': 'fail' }, [], { status: 'aborted', decision: undefined });
  const root = parseXml(renderJunit(o, ITEMS));
  const props = Object.fromEntries(kids(only(kids(root, 'testsuite')[0], 'properties'), 'property').map((p) => [p.attrs.name, p.attrs.value]));
  assert.equal(props.verdict, 'none');
  assert.equal(props.status, 'aborted');
  assert.equal(props.readiness, undefined);
});
