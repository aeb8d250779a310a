import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from './config/load.js';
import { registry } from './checks/index.js';
import { runCli } from './test-support/cli.js';

// README, `gonogo --help` and the JSON Schema must stay true to the code.
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

test('README: the gonogo.yaml example is a valid config', () => {
  const block = /```yaml\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README has a yaml example');
  const loaded = parseConfig(block[1], 'README.md');
  assert.ok(loaded.config.items.length >= 2);
});

test('README: every check kind is documented', () => {
  for (const name of Object.keys(registry)) assert.match(readme, new RegExp(`\\| \`${name}\` \\|`), `kind ${name} missing from the README's table`);
});

test('README starts with the two commands of a newcomer', () => {
  const head = readme.split('\n').slice(0, 8).join('\n');
  assert.match(head, /npm install && npm run demo/);
  assert.match(head, /npm install && npm test/);
});

test('README documents every command of gonogo --help', async () => {
  const out = [(await runCli(['--help'])).stdout];
  const commands = [...out.join('').matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]).filter((c) => c !== 'help');
  assert.ok(commands.length >= 9, out.join(''));
  for (const c of commands) assert.match(readme, new RegExp(`\`gonogo ${c}\\b`), `command ${c} missing from the README`);
});
