// A gonogo-like process for reaper.test.ts, which needs a real process to kill:
//   node --import tsx reaper.test-child.ts DIR
// Runs a command check whose script leaves a grandchild in a session of its own (setsid), and ends
// what it started the way the CLI does: every tracked tree on `exit`, and exit on SIGTERM. The
// script writes DIR/leader.pid and the grandchild DIR/grandchild.pid; the test sends SIGTERM once
// both exist.
import command from '../checks/command/index.js';
import { systemClock } from './clock.js';
import { createReaper } from './reaper.js';

const dir = process.argv[2];
const reaper = createReaper();
process.on('exit', () => reaper.killAll());
process.once('SIGTERM', () => process.exit(143));

await command.run(
  { run: { sh: `echo $$ > leader.pid; setsid sh -c 'echo $$ > grandchild.pid; exec sleep 300' & wait` } },
  {
    signal: new AbortController().signal,
    env: { name: 'test', vars: {} },
    configDir: dir,
    clock: systemClock,
    allowedOrigins: new Set(),
    secrets: [],
    reaper,
  },
);
