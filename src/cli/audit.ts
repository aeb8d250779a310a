// `gonogo audit verify|head|export` and `gonogo store copy`: the record's own commands. The
// library (store/audit.ts, store/copy.ts) returns data; this file prints it and picks the exit code.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { GENESIS } from '../store/audit.js';
import { copyStore, exportEntries, openStore, verifyChain } from '../store/index.js';
import type { ChainReport, Store } from '../store/index.js';
import type { Cli, Globals } from './commands.js';
import { EXIT, UsageError } from './exit.js';

/** Which store and which gates: `--store`, GONOGO_STORE or beside the config; `--gate`, the config's gate, or every gate in the store. */
async function target(cli: Cli, g: Globals, gate: string | undefined): Promise<{ location: string; gates?: string[] }> {
  const configured = g.store ?? cli.io.env.GONOGO_STORE;
  if (gate !== undefined) return { location: configured ?? join(dirname(resolve(g.config)), '.gonogo', 'gonogo.db'), gates: [gate] };
  if (!existsSync(g.config)) {
    if (configured === undefined) throw new UsageError(`gonogo: no store: ${g.config} not found; pass --store or set GONOGO_STORE`);
    return { location: configured };
  }
  const { loadConfig } = await import('../config/load.js');
  const loaded = await loadConfig(g.config);
  return { location: configured ?? join(loaded.dir, '.gonogo', 'gonogo.db'), gates: [loaded.gate] };
}

async function withReader<T>(location: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(location, { readonly: true });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** One line per gate: what `verify` prints. */
export function reportLine(r: ChainReport, named: boolean): string {
  const prefix = named ? `${r.gate}: ` : '';
  if (r.intact) return `${prefix}${r.entries} entries, chain intact, head ${r.head}`;
  return `${prefix}chain broken: ${r.problem?.message ?? 'unknown problem'} (${r.entries} entries verified before it)`;
}

/** `gonogo audit verify`: 0 when every chain is intact, 1 naming the first problem. */
export async function cmdAuditVerify(cli: Cli, g: Globals, o: { gate?: string; expectHead?: string }): Promise<number> {
  const { location, gates } = await target(cli, g, o.gate);
  const reports = await withReader(location, async (store) => {
    const names = gates ?? (await store.auditGates());
    if (o.expectHead !== undefined && names.length !== 1) throw new UsageError(`gonogo: --expect-head needs one gate (the store has ${names.length}); pass --gate`);
    const out: ChainReport[] = [];
    for (const gate of names) out.push(await verifyChain(store, gate, { expectHead: o.expectHead }));
    return out;
  });
  if (reports.length === 0) {
    await cli.out.write('0 entries, chain intact (the store has no audit log yet)\n');
    return EXIT.GO;
  }
  for (const r of reports) await cli.out.write(`${reportLine(r, reports.length > 1 || gates === undefined)}\n`);
  return reports.every((r) => r.intact) ? EXIT.GO : EXIT.NO_GO;
}

/** `gonogo audit head`: the last hash of the gate's chain, to pin where the store's owner cannot rewrite it. */
export async function cmdAuditHead(cli: Cli, g: Globals, o: { gate?: string }): Promise<number> {
  const { location, gates } = await target(cli, g, o.gate);
  const heads = await withReader(location, async (store) => {
    const names = gates ?? (await store.auditGates());
    return Promise.all(names.map(async (gate) => ({ gate, head: await store.auditHead(gate) })));
  });
  // One gate: the bare hash, so that `HEAD=$(gonogo audit head)` pins it.
  for (const { gate, head } of heads) {
    const hash = head?.hash ?? GENESIS;
    await cli.out.write(heads.length > 1 || gates === undefined ? `${gate}: ${hash} (entry ${head?.seq ?? 0})\n` : `${hash}\n`);
  }
  return EXIT.GO;
}

/** `gonogo audit export`: the entries as JSON lines (the stored fields and the parsed body). */
export async function cmdAuditExport(cli: Cli, g: Globals, o: { gate?: string; since?: string }): Promise<number> {
  let since: { seq?: number; at?: string } = {};
  if (o.since !== undefined) {
    if (/^\d+$/.test(o.since)) since = { seq: Number(o.since) };
    else if (Number.isFinite(Date.parse(o.since))) since = { at: new Date(Date.parse(o.since)).toISOString() };
    else throw new UsageError(`gonogo: --since must be an entry number or an ISO date, got ${JSON.stringify(o.since)}`);
  }
  const { location, gates } = await target(cli, g, o.gate);
  await withReader(location, async (store) => {
    for (const gate of gates ?? (await store.auditGates())) {
      for await (const line of exportEntries(store, gate, since)) await cli.out.write(`${line}\n`);
    }
  });
  return EXIT.GO;
}

/** `gonogo store copy --from FILE --to URL`: the whole history, chains included, verified after the copy. */
export async function cmdStoreCopy(cli: Cli, o: { from: string; to: string }): Promise<number> {
  const result = await copyStore(o.from, o.to);
  for (const r of result.reports) await cli.out.write(`${r.gate}: ${reportLine(r, false)}\n`);
  await cli.out.write(`copied ${result.runs} runs, ${result.results} results, ${result.attestations} attestations, ${result.entries} audit entries\n`);
  return result.reports.every((r) => r.intact) ? EXIT.GO : EXIT.NO_GO;
}
