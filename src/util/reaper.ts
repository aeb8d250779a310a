// Placeholder contract; the implementation lands with the process-tree work (issue 6, item 7).
/** Ends the processes checks started, whatever group or session they moved to. */
export interface Reaper {
  /** Ends every tracked process tree now (synchronous: safe in an `exit` handler). */
  killAll(signal?: NodeJS.Signals): void;
}
