import type { CheckContext } from '../checks/types.js';
import type { AuthConfig } from '../checks/_shared/auth.js';
import { systemClock } from '../util/clock.js';

/** A CheckContext for tests: the target URL's origin is the only allowed origin; 10 s timeout unless given. */
export function testContext(opts: { url?: string; timeoutMs?: number; auth?: AuthConfig; configDir?: string; vars?: Record<string, string> } = {}): CheckContext {
  return {
    signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    env: { name: 'test', url: opts.url, vars: { ...(opts.url ? { url: opts.url } : {}), ...opts.vars } },
    configDir: opts.configDir ?? process.cwd(),
    clock: systemClock,
    allowedOrigins: new Set(opts.url ? [new URL(opts.url).origin] : []),
    secrets: [],
    auth: opts.auth,
  };
}
