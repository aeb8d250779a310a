// Redaction of secrets on the way out. A secret reaches a target in more forms than the one it was
// configured in: percent-encoded in a query string, escaped inside a JSON body, base64-encoded in
// a Basic `Authorization` header (`user:secret`). A target that echoes any of them back must not get
// it into gonogo's output, reports or store, so every form is replaced, not only the raw value.

/** Secrets shorter than this are refused: replacing "ab" everywhere would destroy the output and hide nothing. */
export const MIN_SECRET_LENGTH = 4;

export const MASK = '***';

/**
 * The base64 characters that depend only on the secret's bytes, for each of the three byte
 * alignments the secret can have inside a longer base64 stream (`user:secret` puts it at any offset).
 * Whatever precedes or follows the secret, its encoding contains one of these runs.
 */
function base64Cores(secret: Buffer): string[] {
  const cores: string[] = [];
  for (let k = 0; k < 3; k++) {
    const encoded = Buffer.concat([Buffer.alloc(k), secret]).toString('base64');
    const start = Math.ceil((8 * k) / 6);
    const end = Math.floor((8 * (k + secret.length)) / 6);
    const core = encoded.slice(start, end);
    if (core.length >= MIN_SECRET_LENGTH) {
      cores.push(core);
      // base64url (JWTs, some tokens) differs only in two letters.
      cores.push(core.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
  return cores;
}

function htmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Every form in which `secret` may appear in text gonogo writes or stores. */
export function secretForms(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const uri = encodeURIComponent(secret);
  const forms = [
    secret,
    uri,
    uri.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    uri.replace(/%20/g, '+'), // application/x-www-form-urlencoded
    encodeURI(secret),
    json,
    JSON.stringify(json).slice(1, -1), // JSON inside a JSON string (an echoed body kept as evidence)
    // JSON with every non-ASCII character escaped (\u00e9), as some servers write it
    json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    htmlEscape(secret),
    xmlEscape(secret),
    ...base64Cores(Buffer.from(secret, 'utf8')),
  ];
  return [...new Set(forms)].filter((f) => f.length >= MIN_SECRET_LENGTH);
}

/** Replaces every form of every secret with `***` in text and in every string of a value. */
export class Redactor {
  // Longest first: a form that contains another is replaced whole.
  private constructor(private readonly forms: readonly string[]) {}

  /** A redactor for these secrets; values shorter than MIN_SECRET_LENGTH are ignored (refuse them before). */
  static of(secrets: Iterable<string>): Redactor {
    return new Redactor([]).with(secrets);
  }

  /** A redactor for these secrets and the ones this one already knows. */
  with(secrets: Iterable<string>): Redactor {
    const all = new Set(this.forms);
    for (const s of secrets) if (s.length >= MIN_SECRET_LENGTH) for (const f of secretForms(s)) all.add(f);
    return new Redactor([...all].sort((a, b) => b.length - a.length));
  }

  get empty(): boolean {
    return this.forms.length === 0;
  }

  text(s: string): string {
    let out = s;
    for (const f of this.forms) if (out.includes(f)) out = out.split(f).join(MASK);
    return out;
  }

  /** A copy of a JSON-like value with every string (keys included) redacted. */
  value<T>(v: T): T {
    if (this.forms.length === 0) return v;
    const walk = (x: unknown): unknown => {
      if (typeof x === 'string') return this.text(x);
      if (Array.isArray(x)) return x.map(walk);
      if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, y]) => [this.text(k), walk(y)]));
      return x;
    };
    // walk() rebuilds the same shape it was given, strings redacted.
    return walk(v) as T;
  }
}
