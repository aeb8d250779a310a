import type { RegisteredKind } from './types.js';
import { loadKinds } from './kinds.js';
import type { KindName } from './kinds.js';

export { KINDS, KIND_NAMES, isKindName, loadKinds } from './kinds.js';
export type { KindName, KindTable, Reach } from './kinds.js';

/**
 * Every check kind, loaded: for the library and for what lists them all (`gonogo kinds`, the JSON
 * Schema, the docs). A command that runs checks loads only the kinds its config uses (loadKinds);
 * the list itself is src/checks/kinds.ts, one line per kind.
 */
export const registry: Readonly<Record<KindName, RegisteredKind>> = (await loadKinds()) as Record<KindName, RegisteredKind>;
