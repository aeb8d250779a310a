// The run's values a config may reference, as constants of their own: the engine fills them in
// without loading the config's schema (references.ts, which checks them at load, does).

/** `{{env.NAME}}` and `{{release}}`: the placeholders gonogo itself fills in from the run's values. */
export const VALUE_PLACEHOLDER = /\{\{\s*(env\.([A-Za-z0-9_-]+)|release)\s*\}\}/g;

/** The field of the run's values `{{release}}` reads: the release being decided (set by the run, not by an environment). */
export const RELEASE_FIELD = 'release';
