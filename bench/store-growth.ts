// Store growth: bytes per run of the 58-item template (each result with its evidence), written
// through the store itself, SQLite file and PostgreSQL tables side by side.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decision, itemResult, newRun } from '../src/store/contract.js';
import { openPostgresStore } from '../src/store/postgres.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import type { Store } from '../src/store/types.js';
import { postgresBinDir, startCluster } from '../src/test-support/postgres.js';
import { fixed, log } from './lib.js';
import type { BenchResult } from './lib.js';

const RUNS = 40;
const ITEMS = 58;

async function fill(store: Store): Promise<void> {
  for (let r = 0; r < RUNS; r++) {
    const id = await store.beginRun(newRun({ startedAt: new Date().toISOString() }));
    for (let i = 0; i < ITEMS; i++) await store.saveResult(id, itemResult(`ITEM-${String(i).padStart(2, '0')}`));
    await store.endRun(id, { status: 'completed', finishedAt: new Date().toISOString(), decision: decision('GO', 100) });
  }
}

export default async function storeGrowth(): Promise<BenchResult> {
  log(`store growth: ${RUNS} runs of ${ITEMS} results each, bytes per run`);
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-bench-growth-'));
  try {
    const file = join(dir, 'gonogo.db');
    const empty = await openSqliteStore(file);
    await empty.close();
    const before = statSync(file).size;
    const s = await openSqliteStore(file);
    await fill(s);
    await s.close(); // checkpoints the log into the file
    const sqlitePerRun = (statSync(file).size - before) / RUNS;
    let pgText = 'PostgreSQL not installed';
    if (postgresBinDir() !== undefined) {
      const cluster = await startCluster();
      try {
        const url = await cluster.createStore();
        const pgStore = await openPostgresStore(url);
        await fill(pgStore);
        await pgStore.close();
        const { default: pg } = await import('pg');
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        const { rows } = await client.query<{ bytes: string }>(
          "SELECT sum(pg_total_relation_size(c.oid))::bigint AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'",
        );
        await client.end();
        pgText = `PostgreSQL ${fixed(Number(rows[0].bytes) / RUNS / 1024, 1)} KiB/run (tables with indexes and TOAST)`;
      } finally {
        cluster.stop();
      }
    }
    log(`  SQLite ${fixed(sqlitePerRun / 1024, 1)} KiB/run; ${pgText}`);
    return { name: 'store growth (58-item run)', figure: `SQLite ${fixed(sqlitePerRun / 1024, 1)} KiB/run`, reference: pgText, ratio: 1, floor: 'n/a', ok: true };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await storeGrowth());
}
