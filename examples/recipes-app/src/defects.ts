// The switchable security defects and the injectable faults. Adding a defect is one line here
// plus the code that asks `has('name')`.

/** Every security defect the app can be started with, each with what it breaks. */
export const DEFECTS = {
  headers: 'no security headers at all; X-Powered-By: Express and Server: nginx/1.18.0 instead',
  'weak-csp': "Content-Security-Policy allows any source plus 'unsafe-inline' and 'unsafe-eval' scripts",
  'insecure-cookie': 'the session cookie lacks HttpOnly and SameSite',
  csrf: 'no CSRF token or Origin check, and the JSON API also accepts form and text/plain bodies',
  'rate-limit': 'login attempts are unlimited',
  ssrf: 'recipe import fetches any URL and follows redirects (the fixture still only reaches loopback); /internal/config answers loopback',
  debug: 'debug endpoints exposed: /.env, /debug/vars, /.git/config, /api/debug',
  'recipes-public': 'recipes are readable without logging in',
  idor: "any logged-in user reads other users' documents, files and recipes by id",
  cors: 'any Origin (even null) is reflected with credentials, and any preflight is allowed',
  'stack-traces': 'errors answer 500 with the stack trace, a database URL and raw SQL errors',
} as const;

export type Defect = keyof typeof DEFECTS;

export function isDefect(name: string): name is Defect {
  return Object.hasOwn(DEFECTS, name);
}

/** `'ssrf, csrf'` -> `['ssrf', 'csrf']`; throws naming the unknown ones and listing the known ones. */
export function parseDefects(list: string): Defect[] {
  const names = list
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = names.filter((name) => !isDefect(name));
  if (unknown.length > 0) {
    throw new Error(`unknown defect${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}; known defects: ${Object.keys(DEFECTS).join(', ')}`);
  }
  return [...new Set(names.filter(isDefect))];
}

/** Faults injected into a running app; `setFaults` replaces them as a whole. */
export interface Faults {
  /** Share of requests (0..1, /health and /metrics excepted) answered 500; every k-th, deterministically. */
  errorRate?: number;
  /** Delay added before every response. */
  latencyMs?: number;
  /** Answer 503 everywhere, /health included. */
  down?: boolean;
  /** Login always fails with 500. */
  authBroken?: boolean;
  /** The data integrity check (`/health/integrity`) finds the recipes table and its ledger disagree: a row lost in storage. */
  integrity?: boolean;
}

const MAX_LATENCY_MS = 60_000;

/** Checks a Faults value; throws a RangeError on a rate outside 0..1 or a negative or huge latency. */
export function validateFaults(faults: Faults): Faults {
  const { errorRate, latencyMs } = faults;
  if (errorRate !== undefined && !(errorRate >= 0 && errorRate <= 1)) throw new RangeError(`errorRate must be between 0 and 1, got ${errorRate}`);
  if (latencyMs !== undefined && !(latencyMs >= 0 && latencyMs <= MAX_LATENCY_MS)) {
    throw new RangeError(`latencyMs must be between 0 and ${MAX_LATENCY_MS}, got ${latencyMs}`);
  }
  return { ...faults };
}

const FAULT_SYNTAX = 'error-rate=<0..1>, latency-ms=<ms>, down, auth-broken, integrity';

/** `'error-rate=0.2,latency-ms=300,down,auth-broken,integrity'` -> Faults; throws on anything else. */
export function parseFaults(list: string): Faults {
  const faults: Faults = {};
  for (const item of list.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const [key, value] = item.split('=', 2).map((s) => s.trim());
    const number = (): number => {
      const n = value === undefined || value === '' ? NaN : Number(value);
      if (!Number.isFinite(n)) throw new Error(`fault "${key}" needs a number, got "${item}"; known faults: ${FAULT_SYNTAX}`);
      return n;
    };
    const flag = (): true => {
      if (value !== undefined) throw new Error(`fault "${key}" takes no value, got "${item}"; known faults: ${FAULT_SYNTAX}`);
      return true;
    };
    if (key === 'error-rate') faults.errorRate = number();
    else if (key === 'latency-ms') faults.latencyMs = number();
    else if (key === 'down') faults.down = flag();
    else if (key === 'auth-broken') faults.authBroken = flag();
    else if (key === 'integrity') faults.integrity = flag();
    else throw new Error(`unknown fault "${key}"; known faults: ${FAULT_SYNTAX}`);
  }
  return validateFaults(faults);
}
