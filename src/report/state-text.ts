// `gonogo status` on a terminal: the gate's state for one release, with every attestation and its
// standing, so that a stale, expired, revoked or refused sign-off is visible, not silently ignored.
import type { ItemConfig } from '../config/schema.js';
import type { AttestationView, GateState } from '../engine/state.js';
import type { Attestation } from '../model.js';
import { isPartial } from '../model.js';
import { formatDuration } from '../util/duration.js';
import { blockerAndPendingLines, tierLine, VERDICT_LABEL } from './text.js';

const MAX_LISTED = 30;

/** What an attestation attests, in a few words. */
export function attestationSubject(a: Attestation): string {
  if (a.kind === 'waiver') return `waiver ${a.itemId} until ${a.expires}: ${a.mitigation} (owner ${a.owner})`;
  if (a.kind === 'revocation') return `revocation of ${a.attestationId}: ${a.reason}`;
  const target = a.target.type === 'decision' ? 'decision' : `${a.target.type} ${a.target.id}`;
  return `sign-off ${target}${a.note ? `: ${a.note}` : ''}`;
}

/** One attestation on one line: id, what, who, when, and whether it counts. */
export function attestationLine(v: AttestationView): string {
  const a = v.attestation;
  const mark = v.standing === 'counts' ? '✔' : '✖';
  return `  ${mark} ${a.id}  ${attestationSubject(a)} — ${a.by || '?'} (${a.role || 'no role'}) at ${a.at} · ${v.standing === 'counts' ? 'counts' : v.standing}: ${v.why}`;
}

/** The one-page quick reference for the terminal (`gonogo status`). */
export function renderStateText(state: GateState, items: readonly ItemConfig[], now: number): string {
  const d = state.decision;
  const titles = new Map(items.map((i) => [i.id, i.title]));
  const out: string[] = [];
  const title = `gonogo · ${state.gate} · release ${state.release} · ${state.env}`;
  out.push(title, '='.repeat(Math.min(80, title.length)));
  out.push(`Decision:   ${VERDICT_LABEL[d.verdict]}`);
  out.push(`Readiness:  ${d.tiers.critical.passed}/${d.tiers.critical.total} critical (${d.readiness}%)`);
  out.push(`Tiers:      ${tierLine(d)}`);
  const run = state.lastRun;
  if (run) {
    const ago = formatDuration(Math.max(0, now - Date.parse(run.startedAt)));
    out.push(`Last run:   ${run.command}${isPartial(run.selection) ? ' (partial)' : ''} on ${run.env}, ${run.startedAt} (${ago} ago), run ${run.id}`);
  } else {
    out.push(`Last run:   none for release ${state.release} (run \`gonogo check\`)`);
  }
  if (!state.chain.intact) out.push(`Audit log:  BROKEN: ${state.chain.problem?.message ?? 'unknown problem'} (gonogo audit verify)`);
  if (state.configChanged) out.push(`Config:     changed since the last run${state.staleItems.length > 0 ? `: ${state.staleItems.length} item(s) must run again (${state.staleItems.slice(0, MAX_LISTED).join(', ')}${state.staleItems.length > MAX_LISTED ? ', …' : ''})` : ''}`);
  out.push(...blockerAndPendingLines(d, state.results, titles));
  out.push('');
  out.push(`Attestations (${state.attestations.length}):`);
  // Newest first: the ones that matter now are on top; other releases' sign-offs are counted, not listed.
  const shown = [...state.attestations].reverse().filter((v) => v.standing !== 'other-release' || v.attestation.kind === 'waiver');
  for (const v of shown.slice(0, MAX_LISTED)) out.push(attestationLine(v));
  if (shown.length > MAX_LISTED) out.push(`  … and ${shown.length - MAX_LISTED} more`);
  const elsewhere = state.attestations.length - shown.length;
  if (elsewhere > 0) out.push(`  (${elsewhere} given for other releases: they do not count for ${state.release})`);
  out.push('');
  out.push('Reasons:');
  for (const r of d.reasons) out.push(`  - ${r}`);
  return `${out.join('\n')}\n`;
}
