import { loadConfig } from '../config/load.js';
import { checkUrl } from '../config/url.js';
import { configRedactor } from '../config/redactor.js';
import { planRun } from '../engine/plan.js';
import type { RunPlan } from '../engine/plan.js';
import { TIERS } from '../model.js';
import type { Tier } from '../model.js';
import { EXIT, UsageError } from './exit.js';
import type { Cli, Globals } from './commands.js';

/** Options of `gonogo list`. */
export interface ListOptions {
  env?: string;
  tier?: string;
  only?: string;
  url?: string;
  release?: string;
  format?: string;
}

function commaList(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean);
}

function isTier(t: string): t is Tier {
  return TIERS.some((x) => x === t);
}

function renderText(plan: RunPlan): string {
  const lines = [`${plan.gate}: ${plan.items.length} item${plan.items.length === 1 ? '' : 's'} against ${plan.env.name}${plan.env.url ? ` (${plan.env.url})` : ''}${plan.left > 0 ? `, ${plan.left} left out by the selection` : ''}; nothing was sent`];
  for (const n of plan.notes) lines.push(`note: ${n}`);
  const idWidth = Math.max(0, ...plan.items.map((i) => i.id.length));
  for (const i of plan.items) {
    lines.push('');
    lines.push(`${i.id.padEnd(idWidth)}  ${i.tier.padEnd(11)}  ${i.kind.padEnd(15)}  ${i.title}`);
    lines.push(`${' '.repeat(idWidth)}  target: ${i.target}`);
    const how = [i.timeout !== undefined ? `timeout ${i.timeout}` : '', i.retries ? `${i.retries} retr${i.retries === 1 ? 'y' : 'ies'}` : '', i.exclusive ? 'runs alone, after the others' : ''].filter(Boolean);
    for (const c of i.checks) lines.push(`${' '.repeat(idWidth)}  checks: ${c}`);
    if (how.length > 0) lines.push(`${' '.repeat(idWidth)}  ${how.join(', ')}`);
    if (i.stages.length > 0) lines.push(`${' '.repeat(idWidth)}  stages: ${i.stages.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `gonogo list [--env --tier --only --url --format]`: what a run would do, item by item; sends nothing. */
export async function cmdList(cli: Cli, g: Globals, o: ListOptions): Promise<number> {
  let maxBytes: number | undefined;
  if (g.maxConfigBytes !== undefined) {
    maxBytes = Number(g.maxConfigBytes);
    if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new UsageError(`--max-config-bytes: expected a whole number of bytes, got ${JSON.stringify(g.maxConfigBytes)}`);
  }
  const loaded = await loadConfig(g.config, { maxBytes });
  const redactor = configRedactor(loaded, cli.io.env);
  cli.out.redactor = redactor;
  cli.err.redactor = redactor;
  const tiers = commaList(o.tier);
  const unknownTier = (tiers ?? []).find((t) => !isTier(t));
  if (unknownTier !== undefined) throw new UsageError(`--tier: unknown tier "${unknownTier}" (expected ${TIERS.join(', ')})`);
  const only = commaList(o.only);
  const known = new Set(loaded.config.items.map((i) => i.id));
  const unknown = (only ?? []).filter((id) => !known.has(id));
  if (unknown.length > 0) throw new UsageError(`--only: unknown item ids: ${unknown.join(', ')}`);
  if (o.url !== undefined) {
    const problem = checkUrl(o.url);
    if (problem) throw new UsageError(`--url: ${problem}`);
  }
  const plan = planRun(loaded, {
    env: o.env,
    selection: { only, tiers: tiers?.filter(isTier) },
    urlOverride: o.url,
    release: o.release ?? g.release,
    processEnv: cli.io.env,
  });
  await cli.out.write(o.format === 'json' ? `${JSON.stringify(plan, null, 2)}\n` : renderText(plan));
  return EXIT.GO;
}
