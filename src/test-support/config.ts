// Config problems as a user reads them, for tests of what the loader refuses.
import assert from 'node:assert/strict';
import { ConfigError, formatProblem, parseConfig } from '../config/load.js';

/** Every problem `parseConfig` reports for `text`, formatted as `file:line:column: path: message`; fails the test when it loads. */
export function configProblems(text: string | Uint8Array): string[] {
  try {
    parseConfig(text, 'gonogo.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map(formatProblem);
  }
  assert.fail('expected a ConfigError');
}
