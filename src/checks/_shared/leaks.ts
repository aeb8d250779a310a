// What an error response must not contain, as named patterns. Each pattern is written to match the
// leak itself, not words near it, so ordinary pages (an SPA shell, a JSON error) stay quiet.
//
// The patterns run on the linear-time engine and read the first MAX_SCAN (64 KiB) characters of a
// response: on V8's backtracking engine a 240 KB body of near-misses ("at aaaa...") held a worker
// for 12 s, past any timeout.
import type { Severity } from './probe.js';
import { MAX_SCAN, linear } from '../../util/pattern.js';
import type { Pattern } from '../../util/pattern.js';

export type LeakKind = 'stack-trace' | 'sql-error' | 'file-path' | 'secret';

/** Severity per kind: a secret is directly usable; a stack trace or SQL error maps the internals. */
export const LEAK_SEVERITY: Record<LeakKind, Severity> = {
  secret: 'high',
  'stack-trace': 'medium',
  'sql-error': 'medium',
  'file-path': 'low',
};

interface Detector {
  kind: LeakKind;
  /** What it recognises, for the finding's message. */
  name: string;
  pattern: Pattern;
}

const DETECTORS: Detector[] = [
  // Stack traces. A Node frame is `at fn (/path/file.js:12:3)` or `at /path/file.js:12:3`, also
  // inside JSON strings (`\n    at ...`) and HTML (`&nbsp;at ...`).
  { kind: 'stack-trace', name: 'Node.js stack frame', pattern: linear(/\bat (?:async )?[^\s()<>"][^()\n<>"]{0,200}? \((?:file:\/\/|node:)?[^()\n"<>]{0,500}:\d+:\d+\)/) },
  { kind: 'stack-trace', name: 'Node.js stack frame', pattern: linear(/\bat (?:file:\/\/)?(?:\/|[A-Za-z]:\\)[^\s()"'<>]{1,500}:\d+:\d+/) },
  { kind: 'stack-trace', name: 'Python traceback', pattern: linear(/Traceback \(most recent call last\)|File "[^"\n]+", line \d+, in /) },
  { kind: 'stack-trace', name: 'Java stack trace', pattern: linear(/Exception in thread "|\bat [\w$]+(?:\.[\w$<>]+)+\([\w$]+\.(?:java|kt|scala|groovy):\d+\)/) },
  { kind: 'stack-trace', name: '.NET stack trace', pattern: linear(/ at [\w.`<>[\]]+\([^)\n]*\) in [^\n]{1,300}?:line \d+|--- End of (?:inner exception )?stack trace/) },
  { kind: 'stack-trace', name: 'PHP error', pattern: linear(/(?:Fatal error|Parse error|Warning|Uncaught \w+)(?:<\/b>)?:.{0,300}? in (?:<b>)?(?:\/|[A-Za-z]:\\)[^<\n]{1,300}?(?:<\/b>)? on line (?:<b>)?\d+|Stack trace:\s*(?:\\n|<br \/>|\n)\s*#0 /) },
  { kind: 'stack-trace', name: 'Ruby backtrace', pattern: linear(/\.rb:\d+:in [`'][^'\n]+'/) },
  { kind: 'stack-trace', name: 'Go panic', pattern: linear(/goroutine \d+ \[running\]:/) },

  // SQL errors: the driver's own words, and raw SQL echoed back.
  { kind: 'sql-error', name: 'SQLite error', pattern: linear(/\bSQLITE_[A-Z]+\b|near "[^"\n]{0,100}": syntax error/) },
  { kind: 'sql-error', name: 'PostgreSQL error', pattern: linear(/syntax error at or near|unterminated quoted string at or near|\bPG::[A-Z]\w+|\bpsycopg2?\.(?:errors\.)?\w+Error/) },
  { kind: 'sql-error', name: 'MySQL error', pattern: linear(/You have an error in your SQL syntax|\bER_[A-Z_]+\b: |\bmysqli?_\w+\(\)/) },
  { kind: 'sql-error', name: 'Oracle error', pattern: linear(/\bORA-\d{5}\b/) },
  { kind: 'sql-error', name: 'SQLSTATE', pattern: linear(/\bSQLSTATE\b/) },
  { kind: 'sql-error', name: 'SQL Server error', pattern: linear(/Microsoft OLE DB Provider for|\bODBC (?:SQL Server )?Driver\b|Unclosed quotation mark after the character string/) },
  { kind: 'sql-error', name: 'ORM error', pattern: linear(/\b(?:SequelizeDatabaseError|QueryFailedError|PrismaClient\w*Error|MongoServerError|SqlException)\b/) },
  { kind: 'sql-error', name: 'raw SQL', pattern: linear(/\b(?:SELECT\b[^"\n]{1,200}?\bFROM|INSERT INTO\b|UPDATE\b[^"\n]{1,100}?\bSET|DELETE FROM)\s+["`[]?\w+/) },

  // Paths on the server's disk (a Node stack frame is already reported as a stack trace).
  { kind: 'file-path', name: 'server file path', pattern: linear(/(?:^|[\s"'(=:[,>])\/(?:home|Users|root|usr|var\/www|var\/lib|srv|opt|etc|tmp)\/[\w.@~+-]+(?:\/[\w.@~+-]+)*/) },
  { kind: 'file-path', name: 'Windows file path', pattern: linear(/\b[A-Za-z]:\\{1,2}(?:[\w .-]+\\{1,2})+[\w.-]*/) },

  // Secrets.
  { kind: 'secret', name: 'URL with credentials', pattern: linear(/\b[a-z][a-z0-9+.-]{1,20}:\/\/[^\s:@/"'<>]+:[^\s@/"'<>]+@[\w.-]+/i) },
  { kind: 'secret', name: 'AWS access key id', pattern: linear(/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/) },
  { kind: 'secret', name: 'private key', pattern: linear(/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/) },
  { kind: 'secret', name: 'API token', pattern: linear(/\b(?:gh[pousr]_[A-Za-z0-9]{36}|xox[abposr]-[A-Za-z0-9-]{10,}|sk_live_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{35})\b/) },
  { kind: 'secret', name: 'password assignment', pattern: linear(/\b(?:password|passwd|pwd)=[^\s&"'<>]{3,}/i) },
  { kind: 'secret', name: 'secret-named value', pattern: linear(/\b[A-Z0-9_]*(?:SECRET|PASSWORD|API_KEY|ACCESS_KEY|PRIVATE_KEY|TOKEN)[A-Z0-9_]*"?\s*[=:]\s*"?[^\s"'&<>,]{6,}/) },
];

const URL_CREDENTIALS = linear(/^([a-z][a-z0-9+.-]*:\/\/[^:]+:)[^@]+(@.*)$/i);
const ASSIGNMENT = linear(/^([^=:]+[=:]\s*"?)(.*)$/);
/** What a file-path match may start with (the character before the path), dropped from the evidence. */
const DELIMITERS = `"'(=:[,>`;

/** Keeps enough of a secret to recognise it in the evidence, not enough to use it. */
function mask(kind: LeakKind, text: string): string {
  if (kind !== 'secret') return text.length > 160 ? `${text.slice(0, 157)}...` : text;
  const url = URL_CREDENTIALS.exec(text);
  if (url) return `${url[1]}***${url[2]}`;
  const assignment = ASSIGNMENT.exec(text);
  if (assignment) return `${assignment[1]}${(assignment[2] ?? '').slice(0, 2)}***`;
  return `${text.slice(0, Math.min(8, Math.floor(text.length / 2)))}***`;
}

/** One leak found in a response. */
export interface Leak {
  kind: LeakKind;
  name: string;
  /** The matched text; a secret's value is masked. */
  match: string;
}

/** Every kind of leak in the first MAX_SCAN characters of `text`, at most one per detector name. */
export function findLeaks(text: string): Leak[] {
  const leaks: Leak[] = [];
  const seen = new Set<string>();
  for (const d of DETECTORS) {
    if (seen.has(d.name)) continue;
    const m = d.pattern.exec(text);
    if (!m) continue;
    seen.add(d.name);
    const found = m[0].trim();
    leaks.push({ kind: d.kind, name: d.name, match: mask(d.kind, found !== '' && DELIMITERS.includes(found.charAt(0)) ? found.slice(1) : found) });
  }
  return leaks;
}

/**
 * Masks every secret-looking value in a text (a leaked `.env`, a database URL with its password),
 * so evidence kept in the record shows that a secret leaked without keeping the secret. Only the
 * first MAX_SCAN characters are returned: text that was not searched is not kept.
 */
export function maskSecrets(text: string): string {
  let out = text.slice(0, MAX_SCAN);
  for (const d of DETECTORS) {
    if (d.kind === 'secret') out = d.pattern.replaceAll(out, (m) => mask('secret', m));
  }
  return out;
}
