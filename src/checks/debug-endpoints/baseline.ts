// Telling a catch-all page from a real answer: the same page with a different path in it, a fresh
// nonce or CSRF token, or a timestamp, is still the same page.

/** The body with what varies per request (the path, tokens, numbers, spacing) made uniform. */
export function normalize(body: string, path: string): string {
  let text = body;
  for (const variant of new Set([path, encodeURI(path), path.replace(/^\//, '')])) {
    if (variant.length > 1) text = text.split(variant).join('{path}');
  }
  return text
    .replace(/[A-Za-z0-9+/_=-]{16,}/g, '~')
    .replace(/\d+/g, '0')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Same page? Equal after normalizing, or (for pages that embed a little per-request text) at least
 * 90% of lines shared and lengths within 10%.
 */
export function similar(a: { body: string; path: string }, b: { body: string; path: string }): boolean {
  const x = normalize(a.body, a.path);
  const y = normalize(b.body, b.path);
  if (x === y) return true;
  if (Math.min(x.length, y.length) < Math.max(x.length, y.length) * 0.9) return false;
  const pieces = (p: { body: string; path: string }) => p.body.split(/\n|(?<=>)/).map((l) => normalize(l, p.path)).filter(Boolean);
  const left = pieces(a);
  const right = pieces(b);
  const pool = new Map<string, number>();
  for (const l of right) pool.set(l, (pool.get(l) ?? 0) + 1);
  let shared = 0;
  for (const l of left) {
    const n = pool.get(l) ?? 0;
    if (n > 0) {
      shared += 1;
      pool.set(l, n - 1);
    }
  }
  return shared >= Math.max(left.length, right.length) * 0.9;
}
