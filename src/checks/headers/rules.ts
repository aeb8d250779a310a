// The non-CSP header rules and the cookie rules: pure functions over observed values. Those come
// from the target, so patterns over them run on the linear-time engine (on V8's, VERSION alone was
// quadratic on a header of digits).
import { parseSetCookie } from 'set-cookie-parser';
import type { Finding } from '../_shared/probe.js';
import { linear } from '../../util/pattern.js';

/**
 * 180 days: the HTTP Observatory's floor for HSTS max-age (15552000, not the 15768000 of a strict
 * six months, which would fail helmet's long-standing default).
 */
export const DEFAULT_HSTS_MIN_AGE = 15_552_000;

const MAX_AGE = linear(/(?:^|;)\s*max-age\s*=\s*"?(\d+)"?\s*(?:;|$)/i);
const INCLUDE_SUBDOMAINS = linear(/(?:^|;)\s*includesubdomains\s*(?:;|$)/i);

export function analyzeHsts(value: string | undefined, https: boolean, minAge: number): Finding[] {
  if (!https) {
    return [{ id: 'hsts.not-applicable', severity: 'info', message: 'HSTS not applicable over plain HTTP: browsers ignore it unless it arrives over HTTPS', observed: value ?? null }];
  }
  if (value === undefined) {
    return [{ id: 'hsts.missing', severity: 'high', message: 'no Strict-Transport-Security: the first visit can be downgraded to HTTP (SSL stripping)', observed: null }];
  }
  const maxAge = MAX_AGE.exec(value);
  if (!maxAge) {
    return [{ id: 'hsts.invalid', severity: 'high', message: 'Strict-Transport-Security has no valid max-age: browsers ignore it', observed: value }];
  }
  const age = Number(maxAge[1]);
  if (age === 0) {
    return [{ id: 'hsts.disabled', severity: 'high', message: 'Strict-Transport-Security max-age=0 tells browsers to forget HSTS', observed: value }];
  }
  const findings: Finding[] = [];
  if (age < minAge) {
    findings.push({ id: 'hsts.short-max-age', severity: 'medium', message: `HSTS max-age ${age} s is below ${minAge} s`, observed: value });
  }
  if (!INCLUDE_SUBDOMAINS.test(value)) {
    findings.push({ id: 'hsts.no-subdomains', severity: 'info', message: 'HSTS without includeSubDomains: subdomains can still be reached over HTTP', observed: value });
  }
  return findings;
}

export function analyzeNosniff(value: string | undefined): Finding[] {
  if (value === undefined) {
    return [{ id: 'nosniff.missing', severity: 'medium', message: 'no X-Content-Type-Options: nosniff: browsers may sniff a response into script or HTML', observed: null }];
  }
  if (value.trim().toLowerCase() !== 'nosniff') {
    return [{ id: 'nosniff.invalid', severity: 'medium', message: `X-Content-Type-Options is "${value}", not nosniff`, observed: value }];
  }
  return [];
}

const REFERRER_TOKENS = new Set([
  'no-referrer',
  'no-referrer-when-downgrade',
  'same-origin',
  'origin',
  'strict-origin',
  'origin-when-cross-origin',
  'strict-origin-when-cross-origin',
  'unsafe-url',
]);

// Missing is only low: since 2021 browsers default to strict-origin-when-cross-origin. An explicit
// unsafe-url or no-referrer-when-downgrade opts out of that default and sends full URLs (paths,
// query strings, tokens) to other sites, which is worse than saying nothing.
export function analyzeReferrer(value: string | undefined): Finding[] {
  if (value === undefined) {
    return [{ id: 'referrer.missing', severity: 'low', message: 'no Referrer-Policy (browsers default to strict-origin-when-cross-origin)', observed: null }];
  }
  // Browsers use the last token they recognise (a fallback list is allowed).
  const effective = value
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => REFERRER_TOKENS.has(t))
    .pop();
  if (effective === undefined) {
    return [{ id: 'referrer.invalid', severity: 'low', message: `Referrer-Policy "${value}" has no valid policy: browsers use their default`, observed: value }];
  }
  if (effective === 'unsafe-url' || effective === 'no-referrer-when-downgrade') {
    return [{ id: 'referrer.unsafe', severity: 'medium', message: `Referrer-Policy ${effective} sends full URLs to other sites`, observed: value }];
  }
  if (effective === 'origin' || effective === 'origin-when-cross-origin') {
    // Weaker than the browsers' default: the origin also goes to plain-HTTP sites on a downgrade.
    return [{ id: 'referrer.weak', severity: 'low', message: `Referrer-Policy ${effective} is weaker than the default strict-origin-when-cross-origin (the origin leaks on HTTPS to HTTP)`, observed: value }];
  }
  return [];
}

export function analyzePermissions(value: string | undefined, featurePolicy: string | undefined): Finding[] {
  if (value !== undefined) return [];
  return [
    {
      id: 'permissions.missing',
      severity: 'low',
      message: featurePolicy
        ? 'no Permissions-Policy (only the obsolete Feature-Policy): powerful features are not turned off'
        : 'no Permissions-Policy: powerful features (camera, geolocation...) are not turned off for the page and its frames',
      observed: featurePolicy ?? null,
    },
  ];
}

/** Headers that name the software; a version number tells an attacker which CVEs to try. */
const LEAK_HEADERS: { header: string; productSeverity: Finding['severity'] }[] = [
  // Nearly every server names itself and a product name alone helps little: info.
  { header: 'server', productSeverity: 'info' },
  // A framework name is a free fingerprint and trivially removed: low.
  { header: 'x-powered-by', productSeverity: 'low' },
  { header: 'x-aspnet-version', productSeverity: 'low' },
  { header: 'x-aspnetmvc-version', productSeverity: 'low' },
  { header: 'x-generator', productSeverity: 'info' },
];

const VERSION = linear(/\d+\.\d+|\/\s*v?\d/);

/** Values that say the software is hidden, not which it is (`X-Powered-By: hidden`). */
const PLACEHOLDER = linear(/^(hidden|none|unknown|redacted|secret|private|confidential|n\/?a|null|undefined|nothing|nope|-+|\*+|x+|\?+|0)$/i);

export function analyzeLeaks(headers: Record<string, string>): Finding[] {
  const findings: Finding[] = [];
  for (const { header, productSeverity } of LEAK_HEADERS) {
    const value = headers[header];
    if (value === undefined || value.trim() === '' || PLACEHOLDER.test(value.trim())) continue;
    if (VERSION.test(value)) {
      findings.push({ id: `leak.${header}.version`, severity: 'medium', message: `${header} reveals a version: "${value}"`, observed: value });
    } else {
      findings.push({ id: `leak.${header}.product`, severity: productSeverity, message: `${header} names the software: "${value}"`, observed: value });
    }
  }
  return findings;
}

/** What a cookie is for decides how much its flags matter. */
export type CookieRole = 'session' | 'csrf' | 'other';

/** Flags of one cookie as observed, kept in the observations. */
export interface CookieFlags {
  name: string;
  /** Where it was set: `login` or the path whose response set it. */
  source: string;
  role: CookieRole;
  secure: boolean;
  httpOnly: boolean;
  sameSite: string | null;
}

const SESSION_NAME = linear(/sess|sid|auth|token|jwt|login|remember|identity/i);
const CSRF_NAME = linear(/csrf|xsrf/i);

/**
 * Parses Set-Cookie headers. Cookies set by the login are session cookies unless they carry the
 * CSRF token (which is meant to be readable by scripts); elsewhere the name decides. Deletions
 * (empty value or already expired) are left out.
 */
export function observeCookies(setCookies: readonly string[], source: string, opts: { fromLogin: boolean; csrfToken?: string }): CookieFlags[] {
  const out: CookieFlags[] = [];
  for (const c of parseSetCookie([...setCookies], { decodeValues: false })) {
    if (c.value === '' || (c.maxAge !== undefined && c.maxAge <= 0) || (c.expires !== undefined && c.expires.getTime() < Date.UTC(2000, 0, 1))) continue;
    const csrf = CSRF_NAME.test(c.name) || (opts.csrfToken !== undefined && c.value === opts.csrfToken);
    const role: CookieRole = csrf ? 'csrf' : opts.fromLogin || SESSION_NAME.test(c.name) ? 'session' : 'other';
    out.push({ name: c.name, source, role, secure: c.secure === true, httpOnly: c.httpOnly === true, sameSite: c.sameSite ?? null });
  }
  return out;
}

/**
 * Cookie flag findings. Session cookies: no HttpOnly = high (script can steal the session), no
 * Secure on HTTPS = high (sent in clear on any http:// request), SameSite missing or None =
 * medium (sent on cross-site requests: CSRF). The CSRF cookie is read by scripts on purpose, so
 * only its transport flags count, lower. Other cookies: reported as low/info.
 */
export function analyzeCookies(cookies: readonly CookieFlags[], https: boolean): Finding[] {
  const findings: Finding[] = [];
  for (const c of cookies) {
    const id = `cookie.${c.name}`;
    const observed = { name: c.name, source: c.source, secure: c.secure, httpOnly: c.httpOnly, sameSite: c.sameSite };
    const sameSite = c.sameSite?.toLowerCase();
    if (!c.httpOnly && c.role !== 'csrf') {
      findings.push({
        id: `${id}.httponly`,
        severity: c.role === 'session' ? 'high' : 'info',
        message: `${c.role} cookie ${c.name} (set by ${c.source}) lacks HttpOnly: page scripts can read it`,
        observed,
      });
    }
    if (https && !c.secure) {
      findings.push({
        id: `${id}.secure`,
        severity: c.role === 'session' ? 'high' : 'low',
        message: `${c.role} cookie ${c.name} (set by ${c.source}) lacks Secure on an HTTPS site: it is also sent over plain HTTP`,
        observed,
      });
    }
    if (sameSite !== 'lax' && sameSite !== 'strict') {
      findings.push({
        id: `${id}.samesite`,
        severity: c.role === 'session' ? 'medium' : c.role === 'csrf' ? 'low' : 'info',
        message:
          sameSite === 'none'
            ? `${c.role} cookie ${c.name} (set by ${c.source}) is SameSite=None: sent on cross-site requests`
            : `${c.role} cookie ${c.name} (set by ${c.source}) has no SameSite: some browsers send it on cross-site requests`,
        observed,
      });
    }
  }
  if (!https && cookies.length > 0) {
    findings.push({ id: 'cookie.secure.not-applicable', severity: 'info', message: 'Secure flag not judged over plain HTTP', observed: null });
  }
  return findings;
}
