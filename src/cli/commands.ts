import { readFileSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { loadConfigCached } from '../config/cache.js';
import { checkSecretValues, ConfigError } from '../config/loaded.js';
import type { LoadedConfig } from '../config/loaded.js';
import { checkUrl } from '../config/url.js';
import type { GateOutcome } from '../engine/gate.js';
import { giveRevocation, giveSignoff, giveWaiver } from '../engine/attest.js';
import type { AttestContext } from '../engine/attest.js';
import { resolveRelease } from '../engine/release.js';
import type { Release } from '../engine/release.js';
import { gateState } from '../engine/state.js';
import { isPartial, TIERS } from '../model.js';
import type { SignoffTarget, Tier } from '../model.js';
import { openStore, StoreError } from '../store/index.js';
import type { Store } from '../store/types.js';
import { systemClock } from '../util/clock.js';
import { parseStrictDate } from '../util/date.js';
import { configRedactor } from '../config/redactor.js';
import { VERDICT_LABEL } from '../report/text.js';
import { EXIT, exitCodeFor, UsageError } from './exit.js';
import type { RunCliOptions } from './main.js';
import type { CliIo, Output } from './io.js';

// Start-up is part of every command's cost: what only `check` and `validate` use (the engine, the
// HTTP client, the live view, JUnit) is imported inside cmdRun, so `status`, `history`, `signoff`,
// `waive` and `report` never load it; loading the config loads only the kinds it uses, and a config
// read from the cache (config/cache.ts) loads neither the YAML parser nor the schema nor any kind.

export interface Globals {
  config: string;
  store?: string;
  maxConfigBytes?: string;
  release?: string;
  /** false with --no-cache. */
  cache?: boolean;
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
export async function withStore<T>(g: Globals, loaded: LoadedConfig, cli: Cli, fn: (store: Store) => Promise<T>, mode: { readonly?: boolean; pageCacheKiB?: number; oneShot?: boolean } = {}): Promise<T> {
  // A command that reads (or records one thing) and exits holds one PostgreSQL connection: each
  // is a server process started for it, and its reads are few and short.
  const oneShot = mode.oneShot ?? mode.readonly ?? false;
  const store = await openStore(storeLocation(g, loaded, cli), { readonly: mode.readonly ?? false, ...(mode.pageCacheKiB !== undefined ? { pageCacheKiB: mode.pageCacheKiB } : {}), ...(oneShot ? { maxConnections: 1 } : {}) });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

// The bundle's id, written in by scripts/bundle.mjs (a digest of the bundle): a cached config is
// only ever read by the build that wrote it. Unbundled (tsx, tsc's dist/) there is none, and no cache.
declare const GONOGO_BUILD: string | undefined;
const BUILD = typeof GONOGO_BUILD === 'string' ? GONOGO_BUILD : undefined;

function gonogoVersion(): string {
  const pkg: { version: string } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  return pkg.version;
}

/**
 * Where validated configs are cached: GONOGO_CACHE_DIR, else $XDG_CACHE_HOME/gonogo, else
 * ~/.cache/gonogo; none with --no-cache or GONOGO_NO_CACHE=1, or outside the bundle.
 */
export function configCacheDir(g: Globals, env: CliIo['env'], build: string | undefined = BUILD): string | undefined {
  const off = env.GONOGO_NO_CACHE !== undefined && env.GONOGO_NO_CACHE !== '' && env.GONOGO_NO_CACHE !== '0';
  if (build === undefined || g.cache === false || off) return undefined;
  if (env.GONOGO_CACHE_DIR) return resolve(env.GONOGO_CACHE_DIR);
  // The XDG base directory spec: a relative path is to be ignored.
  if (env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME)) return join(env.XDG_CACHE_HOME, 'gonogo');
  const home = env.HOME || homedir();
  return home ? join(home, '.cache', 'gonogo') : undefined;
}

/**
 * Loads the config (from the cache when it holds it unchanged) and points both outputs' redaction
 * at the values of every `${VAR}` it references: from here on nothing a command prints can carry
 * them, in any encoding.
 */
export async function load(g: Globals, cli: Cli): Promise<LoadedConfig> {
  let maxBytes: number | undefined;
  if (g.maxConfigBytes !== undefined) {
    maxBytes = Number(g.maxConfigBytes);
    if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new UsageError(`--max-config-bytes: expected a whole number of bytes, got ${JSON.stringify(g.maxConfigBytes)}`);
  }
  const dir = configCacheDir(g, cli.io.env);
  const { loaded } = await loadConfigCached(g.config, { maxBytes, dir, version: dir === undefined ? '' : gonogoVersion(), build: BUILD ?? '' });
  const redactor = configRedactor(loaded, cli.io.env);
  cli.out.redactor = redactor;
  cli.err.redactor = redactor;
  return loaded;
}

/** `--release`, or the git commit of the config's tree, or the config hash. */
export async function releaseOf(g: Globals, loaded: LoadedConfig): Promise<Release> {
  try {
    return await resolveRelease({ dir: loaded.dir, explicit: g.release, configHash: loaded.hash });
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(err.message);
    throw err;
  }
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

export async function cmdRun(cli: Cli, o: RunCliOptions): Promise<number> {
  const env = cli.io.env;
  const [{ runGate, selectItems }, { createReaper }, { liveView }, { renderOutcomeText }, json, markdown, annotations] = await Promise.all([
    import('../engine/gate.js'),
    import('../util/reaper.js'),
    import('./live.js'),
    import('../report/text.js'),
    // Each other renderer loads only when this run writes its document.
    o.format === 'json' ? import('../report/json.js') : undefined,
    o.format === 'markdown' || env.GITHUB_STEP_SUMMARY ? import('../report/markdown.js') : undefined,
    env.GITHUB_ACTIONS === 'true' ? import('../report/annotations.js') : undefined,
  ]);
  // The document formats that need a library of their own load only when asked for.
  const renderDocument = o.format === 'junit' ? (await import('../report/junit.js')).renderJunit : o.format === 'sarif' ? (await import('../report/sarif.js')).renderSarif : undefined;
  const loaded = await load(o, cli);
  // A secret too short to redact is refused before anything is sent anywhere.
  const short = checkSecretValues(loaded, cli.io.env);
  if (short.length > 0) throw new ConfigError(short);
  const tiers = list(o.tier);
  for (const t of tiers ?? []) if (!TIERS.includes(t as Tier)) throw new UsageError(`--tier: unknown tier "${t}" (expected ${TIERS.join(', ')})`);
  const badUrl = o.url === undefined ? undefined : checkUrl(o.url);
  if (badUrl !== undefined) throw new UsageError(`--url: ${badUrl}`);
  const only = list(o.only);
  const known = new Set(loaded.config.items.map((i) => i.id));
  const unknown = (only ?? []).filter((id) => !known.has(id));
  if (unknown.length > 0) throw new UsageError(`--only: unknown item ids: ${unknown.join(', ')}`);
  const selection = { only, tiers: tiers?.filter((t): t is Tier => TIERS.some((x) => x === t)) };
  const release = await releaseOf(o, loaded);

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
  // The live view shows what this run selected: its tiers, its ids, its stage set's items.
  const inStages = o.stageSet !== undefined ? new Set((loaded.config.stages[o.stageSet] ?? []).flatMap((s) => s.items)) : undefined;
  const selected = selectItems(loaded.config.items, selection).filter((i) => !inStages || inStages.has(i.id));
  const view = await liveView(selected, { quiet: o.quiet, out: cli.err, env: cli.io.env, stages: o.stageSet !== undefined ? loaded.config.stages[o.stageSet] : undefined });
  try {
    let outcome: GateOutcome;
    try {
      outcome = await withStore(o, loaded, cli, (store) =>
        runGate({ loaded, store, clock: systemClock, release, envName: o.env, urlOverride: o.url, selection, signal: controller.signal, onEvent: (e) => view.onEvent(e), stageSet: o.stageSet, keepGoing: o.keepGoing, processEnv: cli.io.env, reaper }),
      );
    } catch (err) {
      if (err instanceof StoreError) throw new StoreError(`${err.message}; no decision was made`);
      throw err;
    }
    await view.close();
    const items = loaded.config.items;
    // On GitHub Actions failed items are also annotations; they go to stderr when stdout carries a document.
    if (annotations) {
      const text = annotations.renderAnnotations(outcome, items);
      if (text) await (o.format === 'text' || o.out ? cli.out : cli.err).write(text);
    }
    const rendered = json ? json.renderJson(outcome, items) : renderDocument ? renderDocument(outcome, items) : o.format === 'markdown' && markdown ? markdown.renderRunMarkdown(outcome, items) : renderOutcomeText(outcome, items);
    await emit(cli, rendered, o.out);
    if (o.out && o.format !== 'text') await cli.err.write(renderOutcomeText(outcome, items));
    const summary = env.GITHUB_STEP_SUMMARY;
    if (summary && markdown) await appendFile(summary, cli.out.redactor.text(markdown.renderRunMarkdown(outcome, items))).catch(() => undefined);
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

/** Runs `fn` where attestations are given and states read: the config, the store (open), the release, the environment. */
async function withAttestContext<T>(cli: Cli, g: Globals, loaded: LoadedConfig, envName: string | undefined, fn: (ctx: AttestContext) => Promise<T>, mode: { readonly?: boolean } = {}): Promise<T> {
  // git (in a process of its own) names the release while the store opens, not after it.
  const release = releaseOf(g, loaded);
  // Awaited below; a store that fails to open first must not leave its failure unhandled.
  release.catch(() => undefined);
  return withStore(g, loaded, cli, async (store) => fn({ loaded, store, clock: systemClock, release: await release, envName, processEnv: cli.io.env }), { oneShot: true, ...mode });
}

export async function cmdSignoff(cli: Cli, g: Globals, o: { item?: string; stage?: string; decision?: boolean; as: string; role: string; note?: string; run?: string; env?: string }): Promise<number> {
  const loaded = await load(g, cli);
  const chosen = [o.item !== undefined, o.stage !== undefined, Boolean(o.decision)].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError('signoff: give exactly one of --item ID, --stage ID or --decision');
  if (o.run !== undefined && !o.decision && o.stage === undefined) throw new UsageError('signoff: --run names the run a decision or stage sign-off signs');
  const target: SignoffTarget = o.item !== undefined ? { type: 'item', id: o.item } : o.stage !== undefined ? { type: 'stage', id: o.stage } : { type: 'decision' };
  const { attestation, state } = await withAttestContext(cli, g, loaded, o.env, (ctx) => giveSignoff(ctx, { target, by: o.as, role: o.role, note: o.note, runId: o.run }));
  const signed = attestation.kind === 'signoff' && attestation.run ? ` run ${attestation.run.id} (${VERDICT_LABEL[attestation.run.verdict]})` : '';
  const key = target.type === 'decision' ? 'decision' : `${target.type} ${target.id}`;
  await cli.out.write(`signed ${key}${signed} of release ${attestation.release} as ${o.as} (${o.role}): attestation ${attestation.id}\n`);
  await cli.out.write(`state of release ${state.release} on ${state.env}: ${VERDICT_LABEL[state.decision.verdict]}\n`);
  return EXIT.GO;
}

export async function cmdWaive(cli: Cli, g: Globals, id: string, o: { mitigation: string; owner: string; expires: string; as: string; role: string }): Promise<number> {
  const loaded = await load(g, cli);
  const item = loaded.config.items.find((i) => i.id === id);
  if (!item) throw new UsageError(`waive: unknown item "${id}"`);
  const parsed = parseStrictDate(o.expires);
  if ('error' in parsed) throw new UsageError(`waive: --expires: ${parsed.error}`);
  if (parsed.ms <= systemClock.now()) throw new UsageError(`waive: --expires ${o.expires} is already past`);
  const a = await withAttestContext(cli, g, loaded, undefined, (ctx) => giveWaiver(ctx, { itemId: id, by: o.as, role: o.role, mitigation: o.mitigation, owner: o.owner, expires: parsed.ms }));
  if (parsed.note) await cli.err.write(`note: --expires ${parsed.note}\n`);
  if (item.tier === 'critical') await cli.err.write(`note: ${id} is critical: a waiver is recorded but critical items must pass for any GO\n`);
  await cli.out.write(`waived ${id} until ${a.kind === 'waiver' ? a.expires : ''} (owner ${o.owner}) as ${o.as} (${o.role}): attestation ${a.id}\n`);
  return EXIT.GO;
}

export async function cmdRevoke(cli: Cli, g: Globals, id: string, o: { as: string; role: string; reason: string }): Promise<number> {
  const loaded = await load(g, cli);
  const a = await withAttestContext(cli, g, loaded, undefined, (ctx) => giveRevocation(ctx, { attestationId: id, by: o.as, role: o.role, reason: o.reason }));
  await cli.out.write(`revoked ${id} as ${o.as} (${o.role}): attestation ${a.id}\n`);
  return EXIT.GO;
}

export async function cmdStatus(cli: Cli, g: Globals, o: { format: string; env?: string; acceptConditions?: boolean }): Promise<number> {
  const loaded = await load(g, cli);
  const state = await withAttestContext(cli, g, loaded, o.env, gateState, { readonly: true });
  // Each format's renderer loads only when asked for.
  if (o.format === 'json') {
    const { stateDocument } = await import('../report/json.js');
    await cli.out.write(`${JSON.stringify(stateDocument(state, loaded.config.items, new Date(systemClock.now()).toISOString()), null, 2)}\n`);
  } else {
    const { renderStateText } = await import('../report/state-text.js');
    await cli.out.write(renderStateText(state, loaded.config.items, systemClock.now()));
  }
  // A deploy job asks for the signed state of its release: the exit code is the state's decision.
  return exitCodeFor(state.decision.verdict, Boolean(o.acceptConditions));
}

export async function cmdHistory(cli: Cli, g: Globals, limit: number, format: string): Promise<number> {
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError('history: --limit takes a whole number of 1 or more');
  const loaded = await load(g, cli);
  const runs = await withStore(g, loaded, cli, (store) => store.listRuns({ gate: loaded.gate, release: g.release, limit }), { readonly: true });
  if (format === 'json') {
    await cli.out.write(`${JSON.stringify(runs.map((r) => ({ ...r, partial: isPartial(r.selection) })), null, 2)}\n`);
    return EXIT.GO;
  }
  if (runs.length === 0) await cli.out.write('no runs yet\n');
  for (const r of runs) {
    const verdict = r.verdict ? VERDICT_LABEL[r.verdict] : r.status === 'aborted' ? 'ABORTED' : r.status.toUpperCase();
    const readiness = r.readiness !== undefined ? ` ${r.readiness}%` : '';
    const partial = isPartial(r.selection) ? `  partial (${[r.selection.tiers && `--tier ${r.selection.tiers.join(',')}`, r.selection.only && `--only ${r.selection.only.join(',')}`].filter(Boolean).join(' ')})` : '';
    await cli.out.write(`${r.startedAt}  ${r.id}  ${r.command.padEnd(18)} ${r.env.padEnd(12)} release ${(r.release || '-').padEnd(14)} ${verdict}${readiness}  config ${r.configHash.slice(0, 12)}${partial}\n`);
  }
  return EXIT.GO;
}

export async function cmdReport(cli: Cli, g: Globals, o: { format: string; out?: string; env?: string }): Promise<number> {
  if (o.format === 'html') return cmdReportHtml(cli, g, o);
  const loaded = await load(g, cli);
  const state = await withAttestContext(cli, g, loaded, o.env, gateState, { readonly: true });
  const now = new Date(systemClock.now()).toISOString();
  const text =
    o.format === 'json'
      ? `${JSON.stringify((await import('../report/json.js')).stateDocument(state, loaded.config.items, now), null, 2)}\n`
      : (await import('../report/markdown.js')).renderReportMarkdown({ gate: loaded.gate, generatedAt: now, items: loaded.config.items, results: state.results, decision: state.decision, lastRun: state.lastRun, release: state.release });
  await emit(cli, text, o.out);
  // On GitHub Actions the Markdown report is also the job's step summary, as check and validate append theirs.
  const summary = cli.io.env.GITHUB_STEP_SUMMARY;
  if (o.format === 'markdown' && summary) await appendFile(summary, cli.out.redactor.text(text)).catch(() => undefined);
  return EXIT.GO;
}

/** `report --format html -o DIR`: index.html and the seed's five documents, written as one folder (a set needs one). */
async function cmdReportHtml(cli: Cli, g: Globals, o: { out?: string; env?: string }): Promise<number> {
  if (!o.out) throw new UsageError('report --format html writes a folder of pages (index.html and the five documents): name it with -o DIR');
  const [{ gatherReportSet }, { renderHtmlSet }, { pathKind, writePageSet }] = await Promise.all([import('../report/html-data.js'), import('../report/html.js'), import('../report/html-write.js')]);
  if ((await pathKind(o.out)) === 'other') throw new UsageError(`-o ${o.out}: exists and is not a folder (--format html writes a folder of pages)`);
  const loaded = await load(g, cli);
  const set = await withAttestContext(cli, g, loaded, o.env, (ctx) => gatherReportSet({ ...ctx, clock: cli.io.clock ?? systemClock }), { readonly: true });
  const pages = renderHtmlSet(set, { redact: (t) => cli.out.redactor.text(t), version: gonogoVersion() });
  const written = await writePageSet(o.out, pages);
  await cli.out.write(`wrote ${written.length} pages to ${resolve(o.out)}: ${pages.map((p) => p.file).join(', ')}\n`);
  return EXIT.GO;
}

export async function cmdSchema(cli: Cli): Promise<number> {
  const { jsonSchemaText } = await import('../config/json-schema.js');
  await cli.out.write(jsonSchemaText());
  return EXIT.GO;
}

export async function cmdKinds(cli: Cli): Promise<number> {
  await cli.out.write((await prebuiltKinds()) ?? (await kindsText()));
  return EXIT.GO;
}

/** The listing of every kind with its options and fields. */
export async function kindsText(): Promise<string> {
  const { loadKinds } = await import('../checks/kinds.js');
  const lines: string[] = [];
  for (const kind of Object.values(await loadKinds())) {
    lines.push(`${kind.name}: ${kind.description}`);
    const shape = kind.options.shape;
    for (const [name, schema] of Object.entries(shape)) lines.push(`  ${name}: ${schema.description ?? ''}`);
    lines.push(`  expect fields: ${kind.fields.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The listing the bundle carries: written at build time by this very build's kindsText
 * (scripts/bundle.mjs), since loading every kind to print it was most of the command's time.
 */
async function prebuiltKinds(): Promise<string | undefined> {
  if (BUILD === undefined) return undefined;
  return readFile(new URL(`./kinds-${BUILD}.txt`, import.meta.url), 'utf8').catch(() => undefined);
}
