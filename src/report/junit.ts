// JUnit XML for CI test reporters: one <testsuite> per tier (per stage for `validate`), one
// <testcase> per item. xmlbuilder2 escapes text and attributes and drops characters XML 1.0
// does not allow (control characters, lone surrogates, U+FFFE/U+FFFF), which check messages and
// evidence taken from a hostile target may well contain.
import { create } from 'xmlbuilder2';
import type { ItemConfig } from '../config/schema.js';
import { countStatuses } from '../engine/decide.js';
import type { GateOutcome } from '../engine/gate.js';
import type { ItemResult } from '../model.js';
import { TIERS } from '../model.js';
import { explainEvidence, listNames, rootCauses } from './explain.js';

/** A node of the document being built (the package's root exports no name for it). */
type XmlNode = ReturnType<typeof create>;

interface Suite {
  name: string;
  results: ItemResult[];
  /** A stage's measured time; a tier suite's is the sum of its cases. */
  durationMs?: number;
}

const seconds = (ms: number): string => (Math.max(0, ms) / 1000).toFixed(3);

// Parsers fold a line break in an attribute into a space anyway; say so plainly.
// Split and trimmed rather than one regex: `\s*[\r\n]+\s*` is quadratic on a long run of spaces.
const oneLine = (s: string): string =>
  s
    .split(/[\r\n]/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .join(' ');

function evidenceText(evidence: unknown): string {
  if (evidence === undefined) return '';
  try {
    return JSON.stringify(evidence, null, 2) ?? String(evidence);
  } catch {
    // Evidence is normally JSON-able (it is stored); a cycle or a BigInt must not lose the report.
    return String(evidence);
  }
}

/** Ids of the other items that errored for the same root cause, by item id. */
type SharedCauses = ReadonlyMap<string, { cause: string; others: string[] }>;

function sharedCauses(results: readonly ItemResult[]): SharedCauses {
  const out = new Map<string, { cause: string; others: string[] }>();
  for (const { cause, items } of rootCauses(results)) for (const id of items) out.set(id, { cause, others: items.filter((x) => x !== id) });
  return out;
}

// What a reader of the CI report sees first: the message, what the evidence says line by line,
// the root cause other items share; the raw attempts and evidence follow for the record.
function detail(r: ItemResult, shared: SharedCauses): string {
  const parts = [r.message];
  const lines = explainEvidence(r.evidence);
  if (lines.length > 0) parts.push(lines.join('\n'));
  const same = shared.get(r.id);
  if (same) parts.push(`the same cause (${same.cause}) affects ${same.others.length} other item(s): ${listNames(same.others)}`);
  if (r.attempts.length > 1) parts.push(`attempts:\n${r.attempts.map((a) => `  ${a.attempt}: ${a.status} after ${a.durationMs} ms: ${a.message}`).join('\n')}`);
  const evidence = evidenceText(r.evidence);
  if (evidence) parts.push(`evidence:\n${evidence}`);
  return parts.join('\n\n');
}

function suitesOf(outcome: GateOutcome): Suite[] {
  if (!outcome.stages || outcome.stages.length === 0) {
    return TIERS.map((t) => ({ name: t, results: outcome.results.filter((r) => r.tier === t) })).filter((s) => s.results.length > 0);
  }
  // An item listed in two stages is reported once, in the first.
  const placed = new Set<string>();
  const byId = new Map(outcome.results.map((r) => [r.id, r]));
  const suites: Suite[] = outcome.stages.map((stage) => {
    const results: ItemResult[] = [];
    for (const id of stage.items) {
      const r = byId.get(id);
      if (r && !placed.has(id)) {
        placed.add(id);
        results.push(r);
      }
    }
    return { name: stage.id, results, durationMs: stage.durationMs };
  });
  const rest = outcome.results.filter((r) => !placed.has(r.id));
  if (rest.length > 0) suites.push({ name: 'other', results: rest });
  return suites;
}

function counts(results: readonly ItemResult[]): { tests: string; failures: string; errors: string; skipped: string } {
  const c = countStatuses(results.map((r) => r.status));
  return { tests: String(results.length), failures: String(c.failed), errors: String(c.error), skipped: String(c.pending + c.skipped) };
}

function addCase(suite: XmlNode, r: ItemResult, item: ItemConfig | undefined, shared: SharedCauses): void {
  const name = item ? `${r.id} ${item.title}` : r.id;
  const tc = suite.ele('testcase', { classname: item?.category ?? r.tier, name, time: seconds(r.durationMs) });
  const message = oneLine(r.message);
  switch (r.status) {
    case 'pass':
      break;
    case 'fail':
      tc.ele('failure', { message, type: 'fail' }).txt(detail(r, shared));
      break;
    case 'error':
      tc.ele('error', { message, type: 'error' }).txt(detail(r, shared));
      break;
    case 'pending':
      tc.ele('skipped', { message: `pending: ${message}` });
      break;
    case 'skipped':
      tc.ele('skipped', { message });
      break;
    case 'waived':
      tc.ele('system-out').txt(`waived: ${r.message}`);
      break;
  }
}

/**
 * The outcome as JUnit XML. Properties on each suite carry the gate, environment, run and
 * decision, so a CI report shows which verdict the cases add up to.
 */
export function renderJunit(outcome: GateOutcome, items: readonly ItemConfig[]): string {
  const itemOf = new Map(items.map((i) => [i.id, i]));
  const suites = suitesOf(outcome);
  const shared = sharedCauses(outcome.results);
  const elapsed = Date.parse(outcome.finishedAt) - Date.parse(outcome.startedAt);
  const totalMs = Number.isFinite(elapsed) ? elapsed : outcome.results.reduce((n, r) => n + r.durationMs, 0);
  const doc = create({ version: '1.0', encoding: 'UTF-8', invalidCharReplacement: '' });
  const root = doc.ele('testsuites', { name: `gonogo ${outcome.gate} (${outcome.env})`, ...counts(outcome.results), time: seconds(totalMs), timestamp: outcome.startedAt });

  const d = outcome.decision;
  const properties: [string, string][] = [
    ['gate', outcome.gate],
    ['env', outcome.env],
    ['run', outcome.runId],
    ['command', outcome.command],
    ['status', outcome.status],
    ['verdict', d ? d.verdict : 'none'],
  ];
  if (d) properties.push(['readiness', String(d.readiness)]);
  if (outcome.partial) properties.push(['partial', 'true']);

  for (const s of suites) {
    const durationMs = s.durationMs ?? s.results.reduce((n, r) => n + r.durationMs, 0);
    const suite = root.ele('testsuite', { name: s.name, ...counts(s.results), time: seconds(durationMs), timestamp: outcome.startedAt });
    const props = suite.ele('properties');
    for (const [name, value] of properties) props.ele('property', { name, value });
    for (const r of s.results) addCase(suite, r, itemOf.get(r.id), shared);
  }
  return `${doc.end({ prettyPrint: true })}\n`;
}
