// Moving a team's history from a SQLite file to PostgreSQL: every row as it is (ids, times, the
// chain's entries and heads verbatim), in one transaction on the destination, then every gate's
// chain verified there. The destination must be empty: a copy never merges two histories. Leases
// are not copied: they say who acts now on the store they were taken on.
import { openDatabase } from './sqlite-database.js';
import { verifyChain } from './audit.js';
import type { ChainReport } from './audit.js';
import { StoreError } from './errors.js';
import { numbered, openPostgresStore, safeLocation } from './postgres.js';
import { openSqliteStore } from './sqlite.js';

/** What was copied, and each gate's chain as verified on the destination. */
export interface CopyResult {
  runs: number;
  results: number;
  attestations: number;
  events: number;
  entries: number;
  reports: ChainReport[];
}

/** In the order foreign keys need. */
const TABLES = ['runs', 'results', 'attestations', 'events', 'audit_entries', 'audit_heads'] as const;
/** PostgreSQL takes at most 65,535 parameters in one statement. */
const MAX_PARAMS = 60_000;

export async function copyStore(from: string, to: string): Promise<CopyResult> {
  if (!/^postgres(ql)?:\/\//i.test(to)) throw new StoreError(`store copy: --to must be a postgres:// URL, got ${JSON.stringify(to)}`, { kind: 'other' });
  const file = from.startsWith('sqlite:') ? from.slice('sqlite:'.length) : from;
  const where = safeLocation(to);
  // Opening read-write brings the file to the current schema (an older store's rows join its chain).
  await (await openSqliteStore(file)).close();
  await (await openPostgresStore(to)).close();

  const source = openDatabase(file, { readonly: true, fileMustExist: true });
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: to });
  const counts: Record<string, number> = {};
  try {
    await client.connect();
    await client.query('BEGIN');
    for (const table of TABLES) {
      const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
      if (rows[0].n > 0 && table !== 'audit_heads') throw new StoreError(`could not copy to ${where}: it already holds ${table}; copy into an empty database`, { kind: 'other', location: where });
    }
    await client.query('DELETE FROM audit_heads');
    for (const table of TABLES) {
      const columns = source.prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${table}')`).all().map((c) => c.name);
      const perBatch = Math.max(1, Math.floor(MAX_PARAMS / columns.length));
      let batch: unknown[][] = [];
      const flush = async (): Promise<void> => {
        if (batch.length === 0) return;
        const values = batch.map((row) => `(${row.map(() => '?').join(', ')})`).join(', ');
        await client.query(numbered(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${values}`), batch.flat());
        batch = [];
      };
      counts[table] = 0;
      for (const row of source.prepare(`SELECT ${columns.join(', ')} FROM ${table}`).raw().iterate()) {
        batch.push(row as unknown[]);
        counts[table]++;
        if (batch.length >= perBatch) await flush();
      }
      await flush();
    }
    await client.query('COMMIT');
    // A bulk load leaves the planner no statistics until autovacuum comes by: the first reads
    // (status's anti-joins) would be planned blind.
    await client.query(`ANALYZE ${TABLES.join(', ')}`);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (error instanceof StoreError) throw error;
    throw new StoreError(`could not copy to ${where}: ${error instanceof Error ? error.message : String(error)}`, { kind: 'other', location: where, cause: error });
  } finally {
    source.close();
    await client.end().catch(() => undefined);
  }

  const copied = await openPostgresStore(to, { readonly: true });
  try {
    const reports: ChainReport[] = [];
    for (const gate of await copied.auditGates()) reports.push(await verifyChain(copied, gate));
    return { runs: counts.runs, results: counts.results, attestations: counts.attestations, events: counts.events, entries: counts.audit_entries, reports };
  } finally {
    await copied.close();
  }
}
