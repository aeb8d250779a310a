// Watching real processes from tests: whether one runs, waiting for one to write its pid or to die.
// Every wait is a bounded number of polls, so a process that never comes (or never goes) fails the
// test instead of hanging it, and no assertion depends on how fast the machine is.
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

/** Alive and not a zombie (an orphan's zombie may linger where PID 1 does not reap). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return true;
  let text: string;
  try {
    text = readFileSync(stat, 'utf8');
  } catch {
    return false; // gone between the two looks
  }
  const state = text.slice(text.lastIndexOf(')') + 2)[0];
  return state !== 'Z' && state !== 'X';
}

/** The process group of `pid` (Linux), to show that a process really left its parent's group. */
export function processGroup(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

/** The pid a process wrote to `path`, once it is there. */
export async function waitForPidFile(path: string): Promise<number> {
  for (let i = 0; i < 2000; i++) {
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8').trim();
      if (text !== '') return Number(text);
    }
    await delay(5);
  }
  throw new Error(`${path} never appeared`);
}

/** True once `pid` is dead; false if it still runs after the polls (a signal sent is delivered in far less). */
export async function dies(pid: number): Promise<boolean> {
  for (let i = 0; i < 2000; i++) {
    if (!isRunning(pid)) return true;
    await delay(5);
  }
  return false;
}
