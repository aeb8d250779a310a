import type { RegisteredKind } from './types.js';
import http from './http/index.js';

/**
 * Every check kind, by name. A new kind is a folder under src/checks and one line here;
 * the config schema, the JSON Schema and the docs are built from this object.
 */
export const registry = {
  http,
} satisfies Record<string, RegisteredKind>;

export type KindName = keyof typeof registry;
