import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

/**
 * Skips a test when a system program it needs is missing, with a message saying what to install;
 * under GONOGO_REQUIRE_ALL=1 (set by .ci/run) a missing program fails the test instead, so CI
 * always runs everything.
 */
export function requireProgram(t: TestContext, program: string, debianPackage = program): boolean {
  const found = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' }).status === 0;
  if (found) return true;
  const message = `${program} is not installed (apt-get install ${debianPackage})`;
  if (process.env.GONOGO_REQUIRE_ALL === '1') throw new Error(`${message}; GONOGO_REQUIRE_ALL=1 makes this a failure`);
  t.skip(message);
  return false;
}
