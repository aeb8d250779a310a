#!/usr/bin/env node
// The entry point stays tiny: `--version` answers without loading the engine, so start-up stays
// close to bare node's. Everything else is loaded on demand.
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  const pkg: { version: string } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${pkg.version}\n`);
} else {
  const { main } = await import('./main.js');
  const code = await main(argv);
  // Once the decision is printed, gonogo ends: nothing a check left behind (a background process
  // holding a pipe, a read stuck on a FIFO) may keep it alive. Exit after stdout has taken the
  // last write; a closed or failing stdout answers the callback at once with its error.
  process.stdout.on('error', () => process.exit(code));
  process.stdout.write('', () => process.exit(code));
}
