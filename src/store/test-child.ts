// A gonogo-like process for sqlite.test.ts, which needs real processes writing one store file:
//   write FILE GATE COUNT  print "ready", wait for a line on stdin, then open the store, run COUNT
//                          items and complete the run; print {"runId", "firstWriteAt", "lastWriteAt"}.
//   hang FILE GATE COUNT   open the store, save COUNT results, print {"runId"}, then wait to be killed.
import { once } from 'node:events';
import { openSqliteStore } from './sqlite.js';
import { decision, itemResult, newRun } from './contract.js';

const [mode, file, gate, countArg] = process.argv.slice(2);
const count = Number(countArg);

function itemId(i: number): string {
  return `${gate}-${String(i).padStart(4, '0')}`;
}

if (mode === 'write') {
  process.stdout.write('ready\n');
  await once(process.stdin, 'data');
  process.stdin.pause();
  const store = await openSqliteStore(file);
  const runId = await store.beginRun(newRun({ gate, pid: process.pid }));
  const firstWriteAt = Date.now();
  for (let i = 0; i < count; i++) await store.saveResult(runId, itemResult(itemId(i)));
  await store.endRun(runId, { status: 'completed', finishedAt: new Date().toISOString(), decision: decision('GO', 100) });
  const lastWriteAt = Date.now();
  await store.close();
  process.stdout.write(`${JSON.stringify({ runId, firstWriteAt, lastWriteAt })}\n`);
} else if (mode === 'hang') {
  const store = await openSqliteStore(file);
  const runId = await store.beginRun(newRun({ gate }));
  for (let i = 0; i < count; i++) await store.saveResult(runId, itemResult(itemId(i)));
  process.stdout.write(`${JSON.stringify({ runId })}\n`);
  setInterval(() => {}, 60_000);
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exitCode = 2;
}
