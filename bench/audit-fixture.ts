// A large store made fast for the audit and status benchmarks: rows and chain entries written in
// bulk, exactly as the store would have written them (same digests, same bodies, same links), so
// that verifyChain finds the chain intact. Also writes, when asked, every byte verify hashes to a
// file, for sha256sum to hash the same bytes.
import { closeSync, openSync, writeSync } from 'node:fs';
import { entryHash, nextEntry, rowDigest } from '../src/store/audit.js';
import type { ChainHead } from '../src/store/audit.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import Database from 'better-sqlite3';

export interface FixtureOptions {
  gate: string;
  release: string;
  runs: number;
  /** Runs per release (default: all in `release`); then run k is in release `${release}-${floor(k / runsPerRelease)}`. */
  runsPerRelease?: number;
  items: number;
  /** A file to receive every byte verify hashes (entries and rows). */
  bytesFile?: string;
}

const evidence = (i: number): string => JSON.stringify({ request: { method: 'GET', url: `https://staging.example/item/${i}` }, response: { status: 200, latencyMs: 41.5, headers: { 'content-type': 'application/json' } } });

/** Builds the store at `file` (created); returns the number of entries. */
export async function buildFixture(file: string, o: FixtureOptions): Promise<number> {
  await (await openSqliteStore(file)).close();
  const db = new Database(file);
  db.pragma('synchronous = OFF');
  const out = o.bytesFile ? openSync(o.bytesFile, 'w') : undefined;
  const insRun = db.prepare('INSERT INTO runs (id, gate, env, command, config_hash, release_id, selection, status, started_at, finished_at, verdict, readiness, decision, stages, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const insRes = db.prepare('INSERT INTO results (run_id, item_id, seq, tier, status, message, evidence, duration_ms, attempts, definition) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const insEntry = db.prepare('INSERT INTO audit_entries (gate, seq, ref, body, prev, hash) VALUES (?, ?, ?, ?, ?, ?)');
  let head: ChainHead | undefined;
  let entries = 0;
  const emit = (text: string): void => {
    if (out !== undefined) writeSync(out, text);
  };
  const append = (kind: 'run-begin' | 'result' | 'run-end', ref: string, row: unknown[], data: Record<string, unknown>): void => {
    const e = nextEntry(head, { gate: o.gate, kind, ref, at: '2026-03-01T10:00:00.000Z', data, row });
    insEntry.run(e.gate, e.seq, e.ref, e.body, e.prev, e.hash);
    emit(`${e.prev}\n${e.body}`);
    head = { seq: e.seq, hash: entryHash(e.prev, e.body) };
    entries++;
  };
  const batch = db.transaction((from: number, to: number) => {
    for (let k = from; k < to; k++) {
      const id = `RUN${String(k).padStart(10, '0')}`;
      const started = new Date(Date.parse('2026-01-01T00:00:00Z') + k * 60_000).toISOString();
      const release = o.runsPerRelease === undefined ? o.release : `${o.release}-${Math.floor(k / o.runsPerRelease)}`;
      const begin = [id, o.gate, 'staging', 'check', 'sha256:c0ffee', release, '{}', 'running', started, null, null, null, null, null];
      append('run-begin', `run:${id}`, begin, { run: id, status: 'running' });
      const end = [id, o.gate, 'staging', 'check', 'sha256:c0ffee', release, '{}', 'completed', started, started, 'GO', 100, '{"verdict":"GO"}', null];
      insRun.run(...end, started);
      for (let i = 0; i < o.items; i++) {
        const item = `ITEM-${String(i).padStart(2, '0')}`;
        const row = [id, item, i + 1, 'critical', 'pass', `${item}: status 200`, evidence(i), 12.5, '[{"attempt":1,"status":"pass","message":"ok","durationMs":12.5,"startedAt":"2026-03-01T10:00:00.000Z","evidenceOfResult":true}]', 'def'];
        insRes.run(...row);
        append('result', `result:${id}:${item}`, row, { run: id, item, status: 'pass' });
        emit(JSON.stringify(row));
      }
      append('run-end', `run:${id}`, end, { run: id, status: 'completed', verdict: 'GO' });
      emit(JSON.stringify(end));
    }
  });
  for (let k = 0; k < o.runs; k += 500) batch(k, Math.min(o.runs, k + 500));
  db.prepare('INSERT INTO audit_heads (gate, seq, hash) VALUES (?, ?, ?)').run(o.gate, head?.seq ?? 0, head?.hash ?? '');
  db.close();
  if (out !== undefined) closeSync(out);
  void rowDigest;
  return entries;
}
