// `gonogo watch` in a node of its own, started with the settings of src/watch/process.ts (node
// takes them only at its start). This process only waits: the watch shares its terminal (stdin,
// stdout, stderr), a SIGINT, SIGTERM or SIGHUP sent to this process alone is passed on (Ctrl-C
// reaches both: the watch stops once either way), and the watch's exit code is this process's.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { watchProcess } from '../watch/process.js';

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs this same command again in a node started for the watch and resolves with its exit code
 * (128 + the signal's number when a signal ended it); undefined when that node could not be started
 * (the caller then runs the watch here).
 */
export function relaunchForWatch(): Promise<number | undefined> {
  const script = process.argv[1];
  if (script === undefined) return Promise.resolve(undefined);
  const { execArgv, env } = watchProcess(process.execArgv, process.env);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...execArgv, script, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, ...env } });
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    const stopForwarding = (): void => {
      for (const s of FORWARDED) process.off(s, forward);
    };
    for (const s of FORWARDED) process.on(s, forward);
    child.once('error', () => {
      // Only a node that never started means "run it here"; a failed kill of a running one does not.
      if (child.pid !== undefined) return;
      stopForwarding();
      resolve(undefined);
    });
    child.once('exit', (code, signal) => {
      stopForwarding();
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}
