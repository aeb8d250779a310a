// A gonogo-like process for sqlite.test.ts, which needs real processes using one store file:
//   write FILE GATE COUNT  print "ready", wait for a line on stdin, then open the store and save the
//                          first half of COUNT items; print "half", wait for another line, save the
//                          rest and complete the run; print {"runId"}. The parent lets both writers
//                          reach "half" before either goes on, so their writes interleave by
//                          construction, not by timing.
//   hang FILE GATE COUNT   open the store, save COUNT results, print {"runId"}, then wait to be killed
//                          (the store stays open: its -wal and -shm files stay beside it).
//   read FILE              open the store read-only, print {"runs": [[id, status, results]...], "write": "<kind of
//                          the StoreError a write gets>"}; a failure prints {"error", "kind"}.
//   claim LOCATION GATE COUNT KEY
//                          open the store (a file or a postgres:// URL), print "ready", wait for a line on
//                          stdin, then append COUNT events holding KEY at once; print {"won": [ids of the
//                          appends that got the key]}. Two of these racing must win once in all.
import { once } from 'node:events';
import { StoreError } from './errors.js';
import { openSqliteStore } from './sqlite.js';
import { decision, itemResult, newRun } from './contract.js';
import { newEvent } from './event-contract.js';
import { openStore } from './index.js';

const [mode, file, gate, countArg] = process.argv.slice(2);
const count = Number(countArg);

function itemId(i: number): string {
  return `${gate}-${String(i).padStart(4, '0')}`;
}

// Runs start now, on the system clock, so that their lease is fresh for the other processes.
const startedNow = () => newRun({ gate, pid: process.pid, startedAt: new Date().toISOString() });

if (mode === 'write') {
  const lines = process.stdin.setEncoding('utf8');
  const nextLine = async (): Promise<void> => {
    await once(lines, 'data');
  };
  process.stdout.write('ready\n');
  await nextLine();
  const store = await openSqliteStore(file);
  const runId = await store.beginRun(startedNow());
  const half = Math.floor(count / 2);
  for (let i = 0; i < half; i++) await store.saveResult(runId, itemResult(itemId(i)));
  process.stdout.write('half\n');
  await nextLine();
  for (let i = half; i < count; i++) await store.saveResult(runId, itemResult(itemId(i)));
  await store.endRun(runId, { status: 'completed', finishedAt: new Date().toISOString(), decision: decision('GO', 100) });
  await store.close();
  process.stdout.write(`${JSON.stringify({ runId })}\n`);
} else if (mode === 'hang') {
  const store = await openSqliteStore(file);
  const runId = await store.beginRun(startedNow());
  for (let i = 0; i < count; i++) await store.saveResult(runId, itemResult(itemId(i)));
  process.stdout.write(`${JSON.stringify({ runId })}\n`);
  setInterval(() => {}, 60_000);
} else if (mode === 'read') {
  try {
    const store = await openSqliteStore(file, { readonly: true });
    const runs = [];
    for (const summary of await store.listRuns({})) runs.push([summary.id, summary.status, (await store.getRun(summary.id))?.results.length]);
    const write = await store.addAttestation({ kind: 'signoff', gate: 'web', release: 'r1', target: { type: 'decision' }, by: 'ana', role: 'qa', at: new Date().toISOString() }).then(
      () => 'written',
      (error: unknown) => (error instanceof StoreError ? error.kind : String(error)),
    );
    await store.close();
    process.stdout.write(`${JSON.stringify({ runs, write })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: String(error), kind: error instanceof StoreError ? error.kind : undefined })}\n`);
  }
} else if (mode === 'claim') {
  const key = process.argv[6];
  const store = await openStore(file);
  process.stdout.write('ready\n');
  await once(process.stdin.setEncoding('utf8'), 'data');
  const claims = await Promise.all(
    Array.from({ length: count }, () => store.addEvent(newEvent({ gate, kind: 'rollback-claim', key, at: new Date().toISOString(), data: { pid: process.pid } }))),
  );
  await store.close();
  process.stdout.write(`${JSON.stringify({ won: claims.flatMap((c) => (c ? [c.id] : [])) })}\n`);
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exitCode = 2;
}
