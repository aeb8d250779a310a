import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/load.js';
import { jsonSchemaText } from '../config/json-schema.js';
import { registry } from '../checks/index.js';
import { currentState, runGate } from '../engine/gate.js';
import { roleMaySign } from '../engine/decide.js';
import { rulesOf } from '../engine/gate.js';
import { TIERS } from '../model.js';
import type { Attestation, SignoffTarget, Tier } from '../model.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { systemClock } from '../util/clock.js';
import { renderJson } from '../report/json.js';
import { renderOutcomeText, renderStatusText, VERDICT_LABEL } from '../report/text.js';
import { renderJunit } from '../report/junit.js';
import { renderReportMarkdown, renderRunMarkdown } from '../report/markdown.js';
import { EXIT, exitCodeFor, UsageError } from './exit.js';
import { liveView } from './live.js';
import type { RunCliOptions } from './main.js';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface Globals {
  config: string;
  store?: string;
}

/** `--store`, then GONOGO_STORE, then `.gonogo/gonogo.db` beside the config. */
function storeLocation(g: Globals, loaded: LoadedConfig): string {
  return g.store ?? process.env.GONOGO_STORE ?? join(loaded.dir, '.gonogo', 'gonogo.db');
}

async function withStore<T>(g: Globals, loaded: LoadedConfig, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(storeLocation(g, loaded));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function emit(text: string, out?: string): Promise<void> {
  if (out) {
    await mkdir(dirname(resolve(out)), { recursive: true });
    await writeFile(out, text);
  } else {
    process.stdout.write(text);
  }
}

function list(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean);
}

export async function cmdInit(file: string, force: boolean): Promise<number> {
  if (existsSync(file) && !force) throw new UsageError(`${file} already exists (use --force to overwrite)`);
  const template = await readFile(join(packageRoot, 'templates', 'gonogo.yaml'), 'utf8');
  const schemaPath = relative(dirname(resolve(file)), join(packageRoot, 'schema', 'gonogo.schema.json')) || 'gonogo.schema.json';
  await writeFile(file, template.replace('__SCHEMA__', schemaPath));
  process.stdout.write(`wrote ${file}: edit environments and items, then run \`gonogo check\`\n`);
  return EXIT.GO;
}

export async function cmdRun(o: RunCliOptions): Promise<number> {
  const loaded = await loadConfig(o.config);
  const tiers = list(o.tier);
  for (const t of tiers ?? []) if (!TIERS.includes(t as Tier)) throw new UsageError(`--tier: unknown tier "${t}" (expected ${TIERS.join(', ')})`);
  if (o.url !== undefined && !URL.canParse(o.url)) throw new UsageError(`--url: not a URL: ${o.url}`);
  const only = list(o.only);
  const known = new Set(loaded.config.items.map((i) => i.id));
  const unknown = (only ?? []).filter((id) => !known.has(id));
  if (unknown.length > 0) throw new UsageError(`--only: unknown item ids: ${unknown.join(', ')}`);
  const selection = { only, tiers: tiers?.filter((t): t is Tier => TIERS.some((x) => x === t)) };

  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts += 1;
    if (interrupts > 1) process.exit(EXIT.INTERRUPTED);
    process.stderr.write('\ninterrupted: aborting checks (Ctrl-C again to quit at once)\n');
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const view = liveView(loaded.config.items.filter((i) => !only || only.includes(i.id)), { quiet: o.quiet });
  try {
    const outcome = await withStore(o, loaded, (store) =>
      runGate({ loaded, store, clock: systemClock, envName: o.env, urlOverride: o.url, selection, signal: controller.signal, onEvent: (e) => view.onEvent(e), stageSet: o.stageSet, keepGoing: o.keepGoing }),
    );
    await view.close();
    const items = loaded.config.items;
    const rendered =
      o.format === 'json' ? renderJson(outcome, items) : o.format === 'junit' ? renderJunit(outcome, items) : o.format === 'markdown' ? renderRunMarkdown(outcome, items) : renderOutcomeText(outcome, items);
    await emit(rendered, o.out);
    if (o.out && o.format !== 'text') process.stderr.write(renderOutcomeText(outcome, items));
    if (process.env.GITHUB_STEP_SUMMARY) await appendFile(process.env.GITHUB_STEP_SUMMARY, renderRunMarkdown(outcome, items)).catch(() => undefined);
    if (outcome.status === 'aborted' || !outcome.decision) return EXIT.INTERRUPTED;
    return exitCodeFor(outcome.decision.verdict, Boolean(o.acceptConditions));
  } finally {
    await view.close();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

export async function cmdSignoff(g: Globals, o: { item?: string; stage?: string; decision?: boolean; as: string; role: string; note?: string }): Promise<number> {
  const loaded = await loadConfig(g.config);
  const chosen = [o.item !== undefined, o.stage !== undefined, Boolean(o.decision)].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError('signoff: give exactly one of --item ID, --stage ID or --decision');
  let target: SignoffTarget;
  if (o.item !== undefined) {
    const item = loaded.config.items.find((i) => i.id === o.item);
    if (!item) throw new UsageError(`signoff: unknown item "${o.item}"`);
    if (item.signers && !item.signers.includes(o.role)) throw new UsageError(`signoff: item ${item.id} is attested by ${item.signers.join(' or ')}, not ${o.role}`);
    target = { type: 'item', id: item.id };
  } else if (o.stage !== undefined) {
    const stages = Object.values(loaded.config.stages).flat();
    if (!stages.some((s) => s.id === o.stage)) throw new UsageError(`signoff: unknown stage "${o.stage}" (stages: ${[...new Set(stages.map((s) => s.id))].join(', ')})`);
    target = { type: 'stage', id: o.stage };
  } else {
    target = { type: 'decision' };
  }
  const key = target.type === 'decision' ? 'decision' : `${target.type}:${target.id}`;
  if (!roleMaySign(rulesOf(loaded), o.role, key)) {
    const roles = Object.keys(loaded.config.roles);
    throw new UsageError(`signoff: role "${o.role}" may not sign ${key} (roles in ${loaded.file}: ${roles.join(', ') || 'none: add a roles: section'})`);
  }
  const people = loaded.config.people;
  if (people && !(people[o.as] ?? []).includes(o.role)) throw new UsageError(`signoff: ${o.as} does not hold the role ${o.role} (see people: in ${loaded.file})`);
  const a: Attestation = { kind: 'signoff', gate: loaded.gate, target, by: o.as, role: o.role, note: o.note, at: new Date(systemClock.now()).toISOString() };
  await withStore(g, loaded, (store) => store.addAttestation(a));
  process.stdout.write(`signed ${key} as ${o.as} (${o.role})\n`);
  return EXIT.GO;
}

export async function cmdWaive(g: Globals, id: string, o: { mitigation: string; owner: string; expires: string; as?: string }): Promise<number> {
  const loaded = await loadConfig(g.config);
  const item = loaded.config.items.find((i) => i.id === id);
  if (!item) throw new UsageError(`waive: unknown item "${id}"`);
  const expires = Date.parse(o.expires);
  if (Number.isNaN(expires)) throw new UsageError(`waive: --expires "${o.expires}" is not a date (expected ISO, e.g. 2026-12-31 or 2026-12-31T18:00:00Z)`);
  if (expires <= systemClock.now()) throw new UsageError(`waive: --expires ${o.expires} is already past`);
  if (item.tier === 'critical') process.stderr.write(`note: ${id} is critical: a waiver is recorded but critical items must pass for any GO\n`);
  const a: Attestation = { kind: 'waiver', gate: loaded.gate, itemId: id, mitigation: o.mitigation, owner: o.owner, expires: new Date(expires).toISOString(), by: o.as, at: new Date(systemClock.now()).toISOString() };
  await withStore(g, loaded, (store) => store.addAttestation(a));
  process.stdout.write(`waived ${id} until ${a.expires} (owner ${o.owner})\n`);
  return EXIT.GO;
}

export async function cmdStatus(g: Globals, format: string): Promise<number> {
  const loaded = await loadConfig(g.config);
  const state = await withStore(g, loaded, (store) => currentState(loaded, store, systemClock));
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify({ gate: loaded.gate, decision: state.decision.verdict, ...state.decision, lastRun: state.lastRun ?? null, items: state.results }, null, 2)}\n`);
  } else {
    process.stdout.write(renderStatusText({ gate: loaded.gate, decision: state.decision, results: state.results, items: loaded.config.items, lastRun: state.lastRun, now: systemClock.now() }));
  }
  return EXIT.GO;
}

export async function cmdHistory(g: Globals, limit: number, format: string): Promise<number> {
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError('history: --limit takes a whole number of 1 or more');
  const loaded = await loadConfig(g.config);
  const runs = await withStore(g, loaded, (store) => store.listRuns({ gate: loaded.gate, limit }));
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
    return EXIT.GO;
  }
  if (runs.length === 0) process.stdout.write('no runs yet\n');
  for (const r of runs) {
    const verdict = r.verdict ? VERDICT_LABEL[r.verdict] : r.status === 'aborted' ? 'ABORTED' : r.status.toUpperCase();
    const readiness = r.readiness !== undefined ? ` ${r.readiness}%` : '';
    process.stdout.write(`${r.startedAt}  ${r.id}  ${r.command.padEnd(18)} ${r.env.padEnd(12)} ${verdict}${readiness}  config ${r.configHash.slice(0, 12)}\n`);
  }
  return EXIT.GO;
}

export async function cmdReport(g: Globals, format: string, out?: string): Promise<number> {
  const loaded = await loadConfig(g.config);
  const state = await withStore(g, loaded, (store) => currentState(loaded, store, systemClock));
  const now = new Date(systemClock.now()).toISOString();
  const text =
    format === 'json'
      ? `${JSON.stringify({ gate: loaded.gate, generatedAt: now, decision: state.decision, lastRun: state.lastRun ?? null, items: state.results }, null, 2)}\n`
      : renderReportMarkdown({ gate: loaded.gate, generatedAt: now, items: loaded.config.items, results: state.results, decision: state.decision, lastRun: state.lastRun });
  await emit(text, out);
  return EXIT.GO;
}

export function cmdSchema(): number {
  process.stdout.write(jsonSchemaText());
  return EXIT.GO;
}

export function cmdKinds(): number {
  for (const kind of Object.values(registry)) {
    process.stdout.write(`${kind.name}: ${kind.description}\n`);
    const shape = kind.options.shape;
    for (const [name, schema] of Object.entries(shape)) process.stdout.write(`  ${name}: ${schema.description ?? ''}\n`);
    process.stdout.write(`  expect fields: ${kind.fields.join(', ')}\n`);
  }
  return EXIT.GO;
}
