/**
 * Why `value` is not a target URL (an absolute http or https URL, as `--url` and an environment's
 * `url` must be), or undefined when it is one. `localhost:3000` parses as a URL with the scheme
 * `localhost:`, and `/health` as nothing: both would send checks somewhere other than meant.
 */
export function checkUrl(value: string): string | undefined {
  if (!URL.canParse(value)) return `not an absolute URL: ${JSON.stringify(value)} (expected http://host[:port][/path] or https://...)`;
  const u = new URL(value);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `${JSON.stringify(value)} is not an http or https URL (scheme ${u.protocol.slice(0, -1)}): expected http://host[:port][/path] or https://...`;
  if (u.hostname === '') return `${JSON.stringify(value)} has no host`;
  return undefined;
}

/** A `${VAR}` in a string: its value is read from the process environment at run time. */
export const PROCESS_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
