import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkSecretValues, ConfigError, loadConfig } from '../config/load.js';
import type { LoadedConfig } from '../config/load.js';
import { jsonSchemaText } from '../config/json-schema.js';
import { registry } from '../checks/index.js';
import { configRedactor, currentState, runGate } from '../engine/gate.js';
import type { GateOutcome } from '../engine/gate.js';
import { roleMaySign } from '../engine/decide.js';
import { rulesOf } from '../engine/gate.js';
import { TIERS } from '../model.js';
import type { Attestation, SignoffTarget, Tier } from '../model.js';
import { openStore, StoreError } from '../store/index.js';
import type { Store } from '../store/types.js';
import { systemClock } from '../util/clock.js';
import { parseStrictDate } from '../util/date.js';
import { createReaper } from '../util/reaper.js';
import { renderJson } from '../report/json.js';
import { renderOutcomeText, renderStatusText, VERDICT_LABEL } from '../report/text.js';
import { renderJunit } from '../report/junit.js';
import { renderReportMarkdown, renderRunMarkdown } from '../report/markdown.js';
import { EXIT, exitCodeFor, UsageError } from './exit.js';
import { liveView } from './live.js';
import type { RunCliOptions } from './main.js';
import type { CliIo, Output } from './io.js';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface Globals {
  config: string;
  store?: string;
  maxConfigBytes?: string;
}

/** What a command writes to and reads from: the process's streams in use, memory sinks in tests. */
export interface Cli {
  io: CliIo;
  out: Output;
  err: Output;
}

/** `--store`, then GONOGO_STORE, then `.gonogo/gonogo.db` beside the config. */
function storeLocation(g: Globals, loaded: LoadedConfig, cli: Cli): string {
  return g.store ?? cli.io.env.GONOGO_STORE ?? join(loaded.dir, '.gonogo', 'gonogo.db');
}

/** Opens the store for `fn`; commands that only read open it read-only (a read-only file still works). */
async function withStore<T>(g: Globals, loaded: LoadedConfig, cli: Cli, fn: (store: Store) => Promise<T>, mode: { readonly?: boolean } = {}): Promise<T> {
  const store = await openStore(storeLocation(g, loaded, cli), { readonly: mode.readonly ?? false });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/**
 * Loads the config and points both outputs' redaction at the values of every `${VAR}` it
 * references: from here on nothing a command prints can carry them, in any encoding.
 */
async function load(g: Globals, cli: Cli): Promise<LoadedConfig> {
  let maxBytes: number | undefined;
  if (g.maxConfigBytes !== undefined) {
    maxBytes = Number(g.maxConfigBytes);
    if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new UsageError(`--max-config-bytes: expected a whole number of bytes, got ${JSON.stringify(g.maxConfigBytes)}`);
  }
  const loaded = await loadConfig(g.config, { maxBytes });
  const redactor = configRedactor(loaded, cli.io.env);
  cli.out.redactor = redactor;
  cli.err.redactor = redactor;
  return loaded;
}

/** Writes a document to `--out` (redacted like everything else) or to stdout. */
async function emit(cli: Cli, text: string, out?: string): Promise<void> {
  if (out) {
    await mkdir(dirname(resolve(out)), { recursive: true });
    await writeFile(out, cli.out.redactor.text(text));
  } else {
    await cli.out.write(text);
  }
}

function list(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean);
}

export async function cmdInit(cli: Cli, file: string, force: boolean): Promise<number> {
  if (existsSync(file) && !force) throw new UsageError(`${file} already exists (use --force to overwrite)`);
  const template = await readFile(join(packageRoot, 'templates', 'gonogo.yaml'), 'utf8');
  const schemaPath = relative(dirname(resolve(file)), join(packageRoot, 'schema', 'gonogo.schema.json')) || 'gonogo.schema.json';
  await writeFile(file, template.replace('__SCHEMA__', schemaPath));
  await cli.out.write(`wrote ${file}: edit environments and items, then run \`gonogo check\`\n`);
  return EXIT.GO;
}

export async function cmdRun(cli: Cli, o: RunCliOptions): Promise<number> {
  const loaded = await load(o, cli);
  // A secret too short to redact is refused before anything is sent anywhere.
  const short = checkSecretValues(loaded, cli.io.env);
  if (short.length > 0) throw new ConfigError(short);
  const tiers = list(o.tier);
  for (const t of tiers ?? []) if (!TIERS.includes(t as Tier)) throw new UsageError(`--tier: unknown tier "${t}" (expected ${TIERS.join(', ')})`);
  if (o.url !== undefined && !URL.canParse(o.url)) throw new UsageError(`--url: not a URL: ${o.url}`);
  const only = list(o.only);
  const known = new Set(loaded.config.items.map((i) => i.id));
  const unknown = (only ?? []).filter((id) => !known.has(id));
  if (unknown.length > 0) throw new UsageError(`--only: unknown item ids: ${unknown.join(', ')}`);
  const selection = { only, tiers: tiers?.filter((t): t is Tier => TIERS.some((x) => x === t)) };

  const controller = new AbortController();
  // Every process a check starts ends with gonogo: on a second Ctrl-C, on SIGTERM, on exit.
  const reaper = createReaper();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts += 1;
    if (interrupts > 1) {
      reaper.killAll('SIGKILL');
      process.exit(EXIT.INTERRUPTED);
    }
    void cli.err.write('\ninterrupted: aborting checks (Ctrl-C again to quit at once)\n');
    controller.abort(new Error('interrupted'));
  };
  const onExit = (): void => reaper.killAll('SIGKILL');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', onExit);
  const view = liveView(loaded.config.items.filter((i) => !only || only.includes(i.id)), { quiet: o.quiet, out: cli.err, env: cli.io.env });
  try {
    let outcome: GateOutcome;
    try {
      outcome = await withStore(o, loaded, cli, (store) =>
        runGate({ loaded, store, clock: systemClock, envName: o.env, urlOverride: o.url, selection, signal: controller.signal, onEvent: (e) => view.onEvent(e), stageSet: o.stageSet, keepGoing: o.keepGoing, processEnv: cli.io.env, reaper }),
      );
    } catch (err) {
      if (err instanceof StoreError) throw new StoreError(`${err.message}; no decision was made`);
      throw err;
    }
    await view.close();
    const items = loaded.config.items;
    const rendered =
      o.format === 'json' ? renderJson(outcome, items) : o.format === 'junit' ? renderJunit(outcome, items) : o.format === 'markdown' ? renderRunMarkdown(outcome, items) : renderOutcomeText(outcome, items);
    await emit(cli, rendered, o.out);
    if (o.out && o.format !== 'text') await cli.err.write(renderOutcomeText(outcome, items));
    const summary = cli.io.env.GITHUB_STEP_SUMMARY;
    if (summary) await appendFile(summary, cli.out.redactor.text(renderRunMarkdown(outcome, items))).catch(() => undefined);
    if (outcome.status === 'aborted' || !outcome.decision) return EXIT.INTERRUPTED;
    return exitCodeFor(outcome.decision.verdict, Boolean(o.acceptConditions));
  } finally {
    await view.close();
    reaper.killAll('SIGKILL');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  }
}

export async function cmdSignoff(cli: Cli, g: Globals, o: { item?: string; stage?: string; decision?: boolean; as: string; role: string; note?: string }): Promise<number> {
  const loaded = await load(g, cli);
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
  await withStore(g, loaded, cli, (store) => store.addAttestation(a));
  await cli.out.write(`signed ${key} as ${o.as} (${o.role})\n`);
  return EXIT.GO;
}

export async function cmdWaive(cli: Cli, g: Globals, id: string, o: { mitigation: string; owner: string; expires: string; as?: string }): Promise<number> {
  const loaded = await load(g, cli);
  const item = loaded.config.items.find((i) => i.id === id);
  if (!item) throw new UsageError(`waive: unknown item "${id}"`);
  const parsed = parseStrictDate(o.expires);
  if ('error' in parsed) throw new UsageError(`waive: --expires: ${parsed.error}`);
  const expires = parsed.ms;
  if (expires <= systemClock.now()) throw new UsageError(`waive: --expires ${o.expires} is already past`);
  if (parsed.note) await cli.err.write(`note: --expires ${parsed.note}\n`);
  if (item.tier === 'critical') await cli.err.write(`note: ${id} is critical: a waiver is recorded but critical items must pass for any GO\n`);
  const a: Attestation = { kind: 'waiver', gate: loaded.gate, itemId: id, mitigation: o.mitigation, owner: o.owner, expires: new Date(expires).toISOString(), by: o.as, at: new Date(systemClock.now()).toISOString() };
  await withStore(g, loaded, cli, (store) => store.addAttestation(a));
  await cli.out.write(`waived ${id} until ${a.expires} (owner ${o.owner})\n`);
  return EXIT.GO;
}

export async function cmdStatus(cli: Cli, g: Globals, format: string): Promise<number> {
  const loaded = await load(g, cli);
  const state = await withStore(g, loaded, cli, (store) => currentState(loaded, store, systemClock), { readonly: true });
  if (format === 'json') {
    await cli.out.write(`${JSON.stringify({ gate: loaded.gate, decision: state.decision.verdict, ...state.decision, lastRun: state.lastRun ?? null, items: state.results }, null, 2)}\n`);
  } else {
    await cli.out.write(renderStatusText({ gate: loaded.gate, decision: state.decision, results: state.results, items: loaded.config.items, lastRun: state.lastRun, now: systemClock.now() }));
  }
  return EXIT.GO;
}

export async function cmdHistory(cli: Cli, g: Globals, limit: number, format: string): Promise<number> {
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError('history: --limit takes a whole number of 1 or more');
  const loaded = await load(g, cli);
  const runs = await withStore(g, loaded, cli, (store) => store.listRuns({ gate: loaded.gate, limit }), { readonly: true });
  if (format === 'json') {
    await cli.out.write(`${JSON.stringify(runs, null, 2)}\n`);
    return EXIT.GO;
  }
  if (runs.length === 0) await cli.out.write('no runs yet\n');
  for (const r of runs) {
    const verdict = r.verdict ? VERDICT_LABEL[r.verdict] : r.status === 'aborted' ? 'ABORTED' : r.status.toUpperCase();
    const readiness = r.readiness !== undefined ? ` ${r.readiness}%` : '';
    await cli.out.write(`${r.startedAt}  ${r.id}  ${r.command.padEnd(18)} ${r.env.padEnd(12)} ${verdict}${readiness}  config ${r.configHash.slice(0, 12)}\n`);
  }
  return EXIT.GO;
}

export async function cmdReport(cli: Cli, g: Globals, format: string, out?: string): Promise<number> {
  const loaded = await load(g, cli);
  const state = await withStore(g, loaded, cli, (store) => currentState(loaded, store, systemClock), { readonly: true });
  const now = new Date(systemClock.now()).toISOString();
  const text =
    format === 'json'
      ? `${JSON.stringify({ gate: loaded.gate, generatedAt: now, decision: state.decision, lastRun: state.lastRun ?? null, items: state.results }, null, 2)}\n`
      : renderReportMarkdown({ gate: loaded.gate, generatedAt: now, items: loaded.config.items, results: state.results, decision: state.decision, lastRun: state.lastRun });
  await emit(cli, text, out);
  return EXIT.GO;
}

export async function cmdSchema(cli: Cli): Promise<number> {
  await cli.out.write(jsonSchemaText());
  return EXIT.GO;
}

export async function cmdKinds(cli: Cli): Promise<number> {
  const lines: string[] = [];
  for (const kind of Object.values(registry)) {
    lines.push(`${kind.name}: ${kind.description}`);
    const shape = kind.options.shape;
    for (const [name, schema] of Object.entries(shape)) lines.push(`  ${name}: ${schema.description ?? ''}`);
    lines.push(`  expect fields: ${kind.fields.join(', ')}`);
  }
  await cli.out.write(`${lines.join('\n')}\n`);
  return EXIT.GO;
}
