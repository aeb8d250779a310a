import type { CheckContext } from '../checks/types.js';
import type { AuthConfig } from '../checks/_shared/auth.js';
import { systemClock } from '../util/clock.js';

/** A CheckContext for tests: the target URL's host is the only allowed host; 10 s timeout unless given. */
export function testContext(opts: { url?: string; timeoutMs?: number; auth?: AuthConfig; configDir?: string; vars?: Record<string, string> } = {}): CheckContext {
  const allowed = new Set<string>();
  if (opts.url) {
    const u = new URL(opts.url);
    allowed.add(u.host.toLowerCase());
    allowed.add(`${u.hostname.toLowerCase()}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`);
  }
  return {
    signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    env: { name: 'test', url: opts.url, vars: { ...(opts.url ? { url: opts.url } : {}), ...opts.vars } },
    configDir: opts.configDir ?? process.cwd(),
    clock: systemClock,
    allowedHosts: allowed,
    secrets: [],
    auth: opts.auth,
  };
}
