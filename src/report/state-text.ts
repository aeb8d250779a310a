// `gonogo status` on a terminal: the gate's state for one release, with every attestation and its
// standing, so that a stale, expired, revoked or refused sign-off is visible, not silently ignored.
import type { ItemConfig } from '../config/schema.js';
import type { AttestationView, GateState } from '../engine/state.js';
import type { Attestation } from '../model.js';
import { isPartial, TIERS } from '../model.js';
import { formatDuration } from '../util/duration.js';
import { explainedLines, VERDICT_LABEL } from './text.js';

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
  out.push(`Tiers:      ${TIERS.map((t) => `${t} ${d.tiers[t].passed}/${d.tiers[t].total}`).join(' · ')}`);
  const run = state.lastRun;
  if (run) {
    const ago = formatDuration(Math.max(0, now - Date.parse(run.startedAt)));
    out.push(`Last run:   ${run.command}${isPartial(run.selection) ? ' (partial)' : ''} on ${run.env}, ${run.startedAt} (${ago} ago), run ${run.id}`);
  } else {
    out.push(`Last run:   none for release ${state.release} (run \`gonogo check\`)`);
  }
  if (!state.chain.intact) out.push(`Audit log:  BROKEN: ${state.chain.problem?.message ?? 'unknown problem'} (gonogo audit verify)`);
  if (state.configChanged) out.push(`Config:     changed since the last run${state.staleItems.length > 0 ? `: ${state.staleItems.length} item(s) must run again (${state.staleItems.slice(0, MAX_LISTED).join(', ')}${state.staleItems.length > MAX_LISTED ? ', …' : ''})` : ''}`);
  out.push('');
  out.push(`Blockers (${d.blockers.length}):`);
  const blocking = new Set(d.blockers.slice(0, MAX_LISTED));
  out.push(...explainedLines(state.results.filter((r) => blocking.has(r.id)), titles, 4));
  if (d.blockers.length > MAX_LISTED) out.push(`  … and ${d.blockers.length - MAX_LISTED} more`);
  const pending = state.results.filter((r) => r.status === 'pending');
  out.push('');
  out.push(`Pending sign-offs (${pending.length + d.missingSignoffs.length}):`);
  for (const k of d.missingSignoffs) out.push(`  … ${k}`);
  for (const r of pending.slice(0, MAX_LISTED)) out.push(`  … item:${r.id} ${titles.get(r.id) ?? ''}`);
  if (pending.length > MAX_LISTED) out.push(`  … and ${pending.length - MAX_LISTED} more`);
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
