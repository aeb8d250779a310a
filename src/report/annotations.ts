// GitHub Actions workflow annotations (`::error title=...::message`) for a run's failures, so the
// decision and each failed item show on the workflow's summary page beside the step that ran it.
// GitHub shows at most 10 errors and 10 warnings per step, so the decision comes first, then the
// root causes shared by many items (one annotation each, not 23), then the items, worst tier first.
import type { ItemConfig } from '../config/schema.js';
import type { GateOutcome } from '../engine/gate.js';
import type { ItemResult } from '../model.js';
import { TIERS } from '../model.js';
import { explainResults, listNames } from './explain.js';
import { VERDICT_LABEL } from './text.js';

/** Evidence lines carried in an item's annotation (the step summary and the log hold the rest). */
const ANNOTATION_DETAIL_LINES = 5;

type Level = 'error' | 'warning';

/** Message data per GitHub's workflow-command rules (actions/toolkit `escapeData`). */
export function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** A property value (`title=`): the data rules, and `:` and `,`, which end a property. */
export function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

function command(level: Level, title: string, message: string): string {
  return `::${level} title=${escapeProperty(title)}::${escapeData(message)}`;
}

/** Blocking failures are errors; a recommended item that does not block is a warning (it never blocks). */
function levelOf(r: ItemResult, blockers: ReadonlySet<string>): Level {
  return r.tier === 'recommended' && !blockers.has(r.id) ? 'warning' : 'error';
}

/**
 * The workflow-command lines for a run: the decision when it is not GO, then one per root cause
 * and one per failed or errored item with its evidence. Empty for a clean GO.
 */
export function renderAnnotations(outcome: GateOutcome, items: readonly ItemConfig[]): string {
  const titles = new Map(items.map((i) => [i.id, i.title]));
  const d = outcome.decision;
  const blockers = new Set(d?.blockers ?? []);
  const lines: string[] = [];
  const where = `${outcome.gate}, ${outcome.env}`;
  if (!d || outcome.status === 'aborted') lines.push(command('error', `gonogo: run aborted (${where})`, 'no decision was recorded: an interrupted run is never GO'));
  else if (d.verdict !== 'GO') lines.push(command(d.verdict === 'NO_GO' ? 'error' : 'warning', `gonogo: ${VERDICT_LABEL[d.verdict]} (${where})`, [...d.reasons, ...d.conditions].join('\n')));

  const rank = (r: ItemResult): number => TIERS.indexOf(r.tier);
  const failed = outcome.results.filter((r) => r.status === 'fail' || r.status === 'error').sort((x, y) => rank(x) - rank(y));
  for (const e of explainResults(failed, { maxLines: ANNOTATION_DETAIL_LINES })) {
    if (e.type === 'cause') {
      const level: Level = e.results.some((r) => levelOf(r, blockers) === 'error') ? 'error' : 'warning';
      lines.push(command(level, `${e.results.length} items ${e.status}: ${e.cause}`, `${e.cause}\nitems: ${listNames(e.results.map((r) => r.id))}`));
      continue;
    }
    const r = e.result;
    const title = `${r.id} ${titles.get(r.id) ?? ''}`.trim();
    lines.push(command(levelOf(r, blockers), `${title} (${r.tier}, ${r.status})`, [r.message, ...e.details].join('\n')));
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
