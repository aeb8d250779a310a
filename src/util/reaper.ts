// A command a check starts can leave processes behind: a `cmd &`, a daemon that calls setsid(), a
// grandchild holding our stdout pipe. Killing the command's process group misses every process that
// moved to another group or session, and such a process keeps gonogo from exiting (it holds the
// pipe) or outlives it. So each command also gets a random marker in its environment, which every
// descendant inherits unless it scrubs its environment, and ending a command ends its group and
// every process whose /proc/<pid>/environ carries the marker: how Jenkins' ProcessTreeKiller finds
// the processes a build left. Off Linux (no /proc) only the group is reached.
import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { systemClock } from './clock.js';
import type { Clock } from './clock.js';

/**
 * Environment variable carrying the markers, comma-separated: a gonogo run inside a command keeps
 * the outer run's marker and adds its own, so the outer run can still end the inner one's processes.
 */
export const MARKER_VARIABLE = 'GONOGO_CHECK_TOKEN';

/** How often the tree is looked at while it has its grace to exit after SIGTERM. */
const POLL_MS = 20;
/**
 * SIGKILL rounds before giving up on a process that cannot die (uninterruptible sleep): each round
 * also catches a process forked while the previous one was being sent.
 */
const KILL_ROUNDS = 100;

/** A process started through a Reaper: its tree can be signalled and ended as one. */
export interface ReapedProcess {
  readonly child: ChildProcess;
  /** Sends `signal` to every live process of the tree now; how many were sent it (0: nothing is left). */
  signal(signal: NodeJS.Signals): number;
  /** Whether any process of the tree is alive (a zombie is not). */
  alive(): boolean;
  /**
   * SIGTERM to the tree, then SIGKILL once `graceMs` has passed on `clock` (at once when the tree is
   * already gone); resolves when nothing is left, or when a process could not be killed (it stays
   * tracked, for `killAll`). Never rejects.
   */
  end(graceMs: number, clock?: Pick<Clock, 'sleep'>): Promise<void>;
}

/** Ends the processes checks started, whatever group or session they moved to. One per run. */
export interface Reaper {
  /** Starts `file` in a new process group with a marker in its environment, and tracks its tree. */
  spawn(file: string, args: readonly string[], options?: Omit<SpawnOptions, 'detached'>): ReapedProcess;
  /**
   * Sends `signal` (default SIGKILL) to every tracked tree now. Synchronous (process.kill and
   * reading /proc), so it is safe in a process `exit` handler, where nothing asynchronous runs.
   */
  killAll(signal?: NodeJS.Signals): void;
}

interface Tree {
  token: string;
  /** The command's process group (its pid); undefined once the group was seen empty, as the id may then be reused. */
  pgid: number | undefined;
  /** When the command started, in clock ticks since boot (/proc stat field 22): its descendants started later. */
  startTime: number;
}

/**
 * Reads a /proc file whole with plain open/read/close into `scratch` (grown when too small); undefined
 * when the process is gone or is not ours. readFileSync costs several times more per file, and a
 * scan reads one per process.
 */
function readProc(path: string, scratch: { buf: Buffer }): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    let length = 0;
    for (;;) {
      if (length === scratch.buf.length) {
        const bigger = Buffer.allocUnsafe(scratch.buf.length * 2);
        scratch.buf.copy(bigger);
        scratch.buf = bigger;
      }
      const n = readSync(fd, scratch.buf, length, scratch.buf.length - length, null);
      if (n === 0) break;
      length += n;
    }
    return scratch.buf.toString('latin1', 0, length);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

interface ProcStat {
  state: string;
  pgrp: number;
  startTime: number;
}

function parseStat(text: string): ProcStat {
  // "pid (comm) state ppid pgrp session tty tpgid flags ... starttime(22nd)": comm may hold spaces
  // and parentheses, so the fields are counted after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], pgrp: Number(fields[2]), startTime: Number(fields[19]) };
}

function startTimeOf(pid: number): number {
  const text = readProc(`/proc/${pid}/stat`, { buf: Buffer.allocUnsafe(1024) });
  return text === undefined ? 0 : parseStat(text).startTime;
}

/** Live processes of `trees` (each pid once, gonogo itself never), from /proc. */
function findProcesses(trees: readonly Tree[]): number[] {
  const groups = new Set(trees.flatMap((t) => (t.pgid === undefined ? [] : [t.pgid])));
  const since = Math.min(...trees.map((t) => t.startTime));
  const seenGroups = new Set<number>();
  const found: number[] = [];
  const scratch = { buf: Buffer.allocUnsafe(16 * 1024) };
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of entries) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    const text = readProc(`/proc/${pid}/stat`, scratch);
    if (text === undefined) continue; // gone since readdir
    const stat = parseStat(text);
    if (stat.state === 'Z' || stat.state === 'X') continue;
    if (groups.has(stat.pgrp)) {
      seenGroups.add(stat.pgrp);
      found.push(pid);
      continue;
    }
    // Only a process started after the command can descend from it: the others' environments are not read.
    if (stat.startTime < since) continue;
    const environ = readProc(`/proc/${pid}/environ`, scratch);
    // A token is 128 random bits: found anywhere in the environment, it is ours.
    if (environ !== undefined && trees.some((t) => environ.includes(t.token))) found.push(pid);
  }
  // A group with no live member can never get one back except by reusing its id for someone else's.
  for (const t of trees) if (t.pgid !== undefined && !seenGroups.has(t.pgid)) t.pgid = undefined;
  return found;
}

function send(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Signals every live process of `trees`; how many were sent it. */
function signalTrees(trees: readonly Tree[], signal: NodeJS.Signals, procfs: boolean): number {
  if (procfs) {
    let sent = 0;
    for (const pid of findProcesses(trees)) if (send(pid, signal)) sent++;
    return sent;
  }
  let sent = 0;
  for (const t of trees) {
    if (t.pgid === undefined) continue;
    if (send(-t.pgid, signal)) sent++;
    else t.pgid = undefined;
  }
  return sent;
}

function treeAlive(tree: Tree, procfs: boolean): boolean {
  if (procfs) return findProcesses([tree]).length > 0;
  return tree.pgid !== undefined && send(-tree.pgid, 0);
}

/** A Reaper for one run: it tracks what it started and nothing else. */
export function createReaper(): Reaper {
  const procfs = existsSync('/proc/self/environ');
  const trees = new Set<Tree>();

  return {
    spawn(file, args, options = {}) {
      const token = randomBytes(16).toString('hex');
      const base = options.env ?? process.env;
      const inherited = base[MARKER_VARIABLE];
      const env = { ...base, [MARKER_VARIABLE]: inherited ? `${inherited},${token}` : token };
      // detached: the child leads a new process group, so its whole group can be signalled (and a
      // Ctrl-C meant for gonogo reaches the command only through the check's signal).
      const child = spawn(file, args, { ...options, env, detached: true });
      const tree: Tree = { token, pgid: child.pid, startTime: procfs && child.pid !== undefined ? startTimeOf(child.pid) : 0 };
      // No pid: the spawn failed (the child emits 'error'); there is nothing to end.
      if (child.pid !== undefined) trees.add(tree);

      const signalTree = (signal: NodeJS.Signals): number => (trees.has(tree) ? signalTrees([tree], signal, procfs) : 0);
      const alive = (): boolean => trees.has(tree) && treeAlive(tree, procfs);
      return {
        child,
        signal: signalTree,
        alive,
        async end(graceMs, clock = systemClock) {
          // The usual case, a command that left nothing: one look, no waiting.
          if (signalTree('SIGTERM') === 0) {
            trees.delete(tree);
            return;
          }
          const step = Math.max(1, Math.min(POLL_MS, graceMs));
          for (let waited = 0; waited < graceMs && alive(); waited += step) await clock.sleep(step);
          // Waiting on the kernel here, not on a duration anyone chose: real timers, a bounded count.
          for (let round = 0; round < KILL_ROUNDS; round++) {
            if (signalTree('SIGKILL') === 0) {
              trees.delete(tree);
              return;
            }
            await delay(10);
          }
        },
      };
    },

    killAll(signal = 'SIGKILL') {
      const all = [...trees];
      if (all.length === 0) return;
      // Another round catches a process forked while the previous one was sent; SIGTERM once is enough.
      const rounds = signal === 'SIGKILL' ? 3 : 1;
      for (let i = 0; i < rounds && signalTrees(all, signal, procfs) > 0; i++);
    },
  };
}
