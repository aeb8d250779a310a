import type { Verdict } from '../model.js';

/** Exit codes, documented in README and `--help`; CI gates on them. */
export const EXIT = {
  GO: 0,
  NO_GO: 1,
  USAGE: 2,
  GO_WITH_CONDITIONS: 3,
  /** A bug in gonogo (sysexits' EX_SOFTWARE): never "your config is wrong" (2) nor a decision. */
  INTERNAL: 70,
  INTERRUPTED: 130,
} as const;

export function exitCodeFor(verdict: Verdict, acceptConditions: boolean): number {
  if (verdict === 'GO_WITH_CONDITIONS') return acceptConditions ? EXIT.GO : EXIT.GO_WITH_CONDITIONS;
  return EXIT[verdict];
}

/** A usage mistake: printed as one line, exit 2, no stack trace. */
export class UsageError extends Error {}
