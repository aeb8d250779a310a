// `--format sarif`: a run as SARIF 2.1.0, for GitHub code scanning and any SARIF viewer.
//
// One rule per finding id (prefixed with its check kind, `debug-endpoints/exposed:/.env`), the
// severity mapped to a level (high -> error, medium -> warning, low -> note, info -> none), the
// request URL as the location, and what was observed in the property bag. A finding accepted by
// `ignore:` is a suppressed result with its reason, never left out. An item that failed or could
// not be verified without probe findings (an http or command check, a probe that errored) is one
// result of its own, so a SARIF view never shows less than the decision does.
import { createHash } from 'node:crypto';
import type { Log, ReportingDescriptor, Result, Location } from 'sarif';
import type { ItemConfig } from '../config/schema.js';
import type { GateOutcome } from '../engine/gate.js';
import type { ItemResult } from '../model.js';

const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

type Severity = 'info' | 'low' | 'medium' | 'high';
const LEVEL: Record<Severity, Result.level> = { high: 'error', medium: 'warning', low: 'note', info: 'none' };
/** GitHub code scanning ranks alerts by this number (0-10), as its docs ask for `security-severity`. */
const SECURITY_SEVERITY: Record<Severity, string> = { high: '8.0', medium: '5.0', low: '3.0', info: '0.0' };

/** A finding as probes record it in their evidence (see checks/_shared/probe.ts). */
interface SeenFinding {
  id: string;
  severity: Severity;
  message: string;
  observed?: unknown;
  ignored?: { reason: string; until: string };
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function isFinding(v: unknown): v is SeenFinding {
  return isRecord(v) && typeof v.id === 'string' && typeof v.message === 'string' && typeof v.severity === 'string' && v.severity in LEVEL;
}

/** The findings (and ignored findings) a probe kept in its evidence; none for other kinds. */
function findingsOf(evidence: unknown): { findings: SeenFinding[]; ignored: SeenFinding[] } {
  if (!isRecord(evidence)) return { findings: [], ignored: [] };
  const list = (v: unknown): SeenFinding[] => (Array.isArray(v) ? v.filter(isFinding) : []);
  return { findings: list(evidence.findings), ignored: list(evidence.ignored) };
}

/** The first URL the check talked to: the base a finding's `path` resolves against. */
function firstUrl(evidence: unknown): string | undefined {
  if (!isRecord(evidence)) return undefined;
  if (Array.isArray(evidence.exchanges)) {
    const first: unknown = evidence.exchanges[0];
    if (isRecord(first) && typeof first.url === 'string') return first.url;
  }
  return typeof evidence.url === 'string' ? evidence.url : undefined;
}

/** Where a finding was seen: its own path or URL when it names one, else the check's first request. */
function locationOf(f: SeenFinding | undefined, base: string | undefined): Location[] {
  let uri = base;
  const observed = f?.observed;
  if (isRecord(observed)) {
    const named = typeof observed.url === 'string' ? observed.url : typeof observed.path === 'string' ? observed.path : undefined;
    if (named !== undefined) {
      try {
        uri = new URL(named, base).href;
      } catch {
        // A path without a base to resolve against: keep the base.
      }
    }
  }
  return uri === undefined ? [] : [{ physicalLocation: { artifactLocation: { uri } } }];
}

const fingerprint = (...parts: string[]): string => createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);

/**
 * Renders a run as a SARIF 2.1.0 log (JSON text). Items are the config's, for titles, kinds and
 * tiers; the results are already redacted by the engine.
 */
export function renderSarif(outcome: GateOutcome, items: readonly ItemConfig[]): string {
  const byId = new Map(items.map((i) => [i.id, i]));
  const rules = new Map<string, ReportingDescriptor>();
  const results: Result[] = [];

  const rule = (id: string, name: string, severity: Severity, help: string): number => {
    if (!rules.has(id)) {
      rules.set(id, {
        id,
        name,
        shortDescription: { text: name },
        help: { text: help },
        defaultConfiguration: { level: LEVEL[severity] },
        properties: { 'security-severity': SECURITY_SEVERITY[severity], tags: ['security'] },
      });
    }
    return [...rules.keys()].indexOf(id);
  };

  const itemProps = (r: ItemResult) => {
    const item = byId.get(r.id);
    return { item: r.id, title: item?.title ?? null, tier: r.tier, category: item?.category ?? null, status: r.status };
  };

  for (const r of outcome.results) {
    const item = byId.get(r.id);
    const kind = item?.check?.kind ?? 'manual';
    const base = firstUrl(r.evidence);
    const { findings, ignored } = findingsOf(r.evidence);
    const emit = (f: SeenFinding, suppressed: boolean): void => {
      const ruleId = `${kind}/${f.id}`;
      const ruleIndex = rule(ruleId, f.id, f.severity, `A ${kind} finding of gonogo (${f.id}); the message says what was seen.`);
      results.push({
        ruleId,
        ruleIndex,
        level: LEVEL[f.severity],
        kind: f.severity === 'info' ? 'informational' : 'fail',
        message: { text: `${r.id}: ${f.message}` },
        locations: locationOf(f, base),
        partialFingerprints: { 'gonogoFinding/v1': fingerprint(outcome.gate, r.id, f.id) },
        properties: { ...itemProps(r), severity: f.severity, evidence: f.observed ?? null },
        ...(suppressed && f.ignored
          ? { suppressions: [{ kind: 'external', status: 'accepted', justification: `${f.ignored.reason} (until ${f.ignored.until})` }] }
          : {}),
      });
    };
    for (const f of findings) emit(f, false);
    for (const f of ignored) emit(f, true);

    // A failed or unverified item with no finding of its own still shows, as itself.
    const judged = findings.some((f) => f.severity === 'high' || f.severity === 'medium');
    if ((r.status === 'fail' || r.status === 'error') && !judged) {
      const ruleId = `${kind}/${r.status === 'error' ? 'could-not-verify' : 'failed'}`;
      const severity: Severity = r.status === 'fail' ? 'high' : 'medium';
      const ruleIndex = rule(ruleId, ruleId, severity, r.status === 'error' ? 'The check could not verify its item (an error is never a pass).' : 'The check ran and its expectations failed.');
      results.push({
        ruleId,
        ruleIndex,
        level: LEVEL[severity],
        message: { text: `${r.id}: ${r.message}` },
        locations: locationOf(undefined, base),
        partialFingerprints: { 'gonogoFinding/v1': fingerprint(outcome.gate, r.id, ruleId) },
        properties: { ...itemProps(r), evidence: r.evidence ?? null },
      });
    }
  }

  const log: Log = {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'gonogo', rules: [...rules.values()] } },
        automationDetails: { id: `gonogo/${outcome.gate}/${outcome.env}/${outcome.runId}` },
        invocations: [
          {
            executionSuccessful: outcome.status === 'completed',
            startTimeUtc: outcome.startedAt,
            endTimeUtc: outcome.finishedAt,
            properties: { release: outcome.release, decision: outcome.decision?.verdict ?? null },
          },
        ],
        results,
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}
