// The process a watch runs in. A watch lives for hours and allocates with every evaluation; with
// node's defaults its memory kept growing long after its live heap had stopped (measured on the
// watch benches: 112 -> 156 MB from hour 1 to hour 24 with a flat 22 MB live heap):
// - V8 grows its young generation up to 2 x 16 MB as objects survive, and never gives it back;
// - V8 lets the old generation fill with garbage up to four times what is live before it collects
//   it, when its limit (the default: a quarter of the machine's memory) is large;
// - glibc keeps the memory the JIT's background threads allocated and freed (compiler zones) in
//   their own arenas, and only trims an arena above a threshold that rises with the largest block
//   ever freed.
// Node takes these settings only at its start, so `gonogo watch` starts the watch in a node of its
// own with them (src/cli/relaunch.ts), and the watch benchmarks start theirs the same way.

/** What `gonogo watch` gives the node it runs in. */
export interface WatchProcess {
  /** Node flags, before the script. */
  execArgv: string[];
  /** Environment added to the process's own. */
  env: Record<string, string>;
}

/**
 * Set in the watch's own process (and by anyone who wants the watch in the process they started):
 * the watch runs where it is, with whatever that process was given.
 */
export const WATCH_PROCESS_ENV = 'GONOGO_WATCH_PROCESS';

/** The settings, each with why; a user's own value of any of them wins (see watchProcess). */
export const WATCH_PROCESS: Readonly<WatchProcess> = {
  execArgv: [
    // A 2 x 2 MB young generation: scavenges are more frequent but each is cheap, and the young
    // generation stays at 4 MB instead of growing to 32 MB.
    '--max-semi-space-size=2',
    // A small old-generation limit makes V8 collect at 1.3-1.4 x what is live rather than 4 x. A
    // watch's live heap is tens of MB; reaching 512 MB would be a leak, better ended (the same
    // command resumes the watch) than left to take the machine's memory.
    '--max-old-space-size=512',
  ],
  env: {
    // Fixed thresholds (setting them turns off glibc's rising ones): memory freed at the top of an
    // arena beyond 1 MB goes back to the system, and blocks of 1 MB and more are mapped on their own.
    MALLOC_TRIM_THRESHOLD_: '1048576',
    MALLOC_MMAP_THRESHOLD_: '1048576',
  },
};

/** The flag's name: `--max-old-space-size=512` -> `--max-old-space-size` (also `--max_old_space_size`). */
const flagName = (flag: string): string => flag.split('=')[0].replaceAll('_', '-');

/**
 * What a node started for the watch is given: the current process's own flags (a loader such as
 * tsx must stay), then each of ours that neither those flags nor NODE_OPTIONS already set; the
 * environment with each of our variables the user has not set, and the marker.
 */
export function watchProcess(execArgv: readonly string[], env: Readonly<Record<string, string | undefined>>, tuning: Readonly<WatchProcess> = WATCH_PROCESS): WatchProcess {
  const given = new Set([...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].filter((f) => f.startsWith('--')).map(flagName));
  const ours = tuning.execArgv.filter((f) => !given.has(flagName(f)));
  const added: Record<string, string> = { [WATCH_PROCESS_ENV]: '1' };
  for (const [name, value] of Object.entries(tuning.env)) if (env[name] === undefined) added[name] = value;
  return { execArgv: [...execArgv, ...ours], env: added };
}
