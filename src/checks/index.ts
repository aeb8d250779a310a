import type { RegisteredKind } from './types.js';
import http from './http/index.js';
import command from './command/index.js';
import git from './git/index.js';
import env from './env/index.js';
import file from './file/index.js';
import headers from './headers/index.js';
import cors from './cors/index.js';
import csrf from './csrf/index.js';
import authRequired from './auth-required/index.js';
import accessControl from './access-control/index.js';
import ssrf from './ssrf/index.js';
import errorHandling from './error-handling/index.js';
import debugEndpoints from './debug-endpoints/index.js';
import rateLimit from './rate-limit/index.js';

/**
 * Every check kind, by name. A new kind is a folder under src/checks and one line here;
 * the config schema, the JSON Schema and the docs are built from this object.
 */
export const registry = {
  http,
  command,
  git,
  env,
  file,
  headers,
  cors,
  csrf,
  'auth-required': authRequired,
  'access-control': accessControl,
  ssrf,
  'error-handling': errorHandling,
  'debug-endpoints': debugEndpoints,
  'rate-limit': rateLimit,
} satisfies Record<string, RegisteredKind>;

export type KindName = keyof typeof registry;
