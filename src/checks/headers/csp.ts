// Content-Security-Policy analysis: pure functions over header values, so every rule has a table test.
// Header values come from the target: patterns over them run on the linear-time engine.
import type { Finding } from '../_shared/probe.js';
import { linear } from '../../util/pattern.js';

/** One policy: directive name (lower case) -> its source expressions (as written). */
export type Policy = Map<string, string[]>;

const WHITESPACE = linear(/\s+/);
const NONCE_OR_HASH = linear(/^'(nonce|sha256|sha384|sha512)-/i);
const PLAIN_HTTP_HOST = linear(/^http:\/\/./i);

/**
 * Parses a CSP header value. Several policies (several headers, folded with `, `) are all enforced,
 * so the result is a list. Within a policy the first occurrence of a directive wins (CSP3 §2.2.1).
 */
export function parseCsp(value: string): Policy[] {
  const policies: Policy[] = [];
  for (const serialized of value.split(',')) {
    const policy: Policy = new Map();
    for (const part of serialized.split(';')) {
      const tokens = WHITESPACE.split(part);
      const name = tokens.shift()?.toLowerCase();
      if (name && !policy.has(name)) policy.set(name, tokens);
    }
    if (policy.size > 0) policies.push(policy);
  }
  return policies;
}

const lower = (xs: readonly string[]): string[] => xs.map((x) => x.toLowerCase());

/** `'nonce-...'` or `'sha256-...'`: with one present, CSP2+ browsers ignore `'unsafe-inline'`. */
const hasNonceOrHash = (sources: readonly string[]): boolean => sources.some((s) => NONCE_OR_HASH.test(s));

/** Sources that let any host (or inline data) supply a script. */
const WILDCARD_SOURCES = new Set(['*', 'http:', 'https:', 'http://*', 'https://*', '*:*']);

/** The sources that govern scripts: `script-src`, else `default-src`; undefined when neither is set. */
function scriptSources(policy: Policy): { directive: string; sources: string[] } | undefined {
  for (const directive of ['script-src', 'default-src']) {
    const sources = policy.get(directive);
    if (sources) return { directive, sources };
  }
  return undefined;
}

type Verdict = 'weak' | 'neutralized' | 'ok';

/**
 * With several policies a script must satisfy all of them, so a weakness only counts when every
 * script-restricting policy has it; a single strict policy closes it.
 */
function combine(verdicts: Verdict[]): Verdict {
  if (verdicts.length === 0 || verdicts.includes('ok')) return 'ok';
  return verdicts.includes('neutralized') ? 'neutralized' : 'weak';
}

/** A script-source weakness: how to detect it in one policy, and how to report it. */
interface ScriptRule {
  id: string;
  /** Per policy: weak (a finding), neutralized (an info note), ok. */
  judge(sources: string[]): { verdict: Verdict; offending: string[] };
  severity: Finding['severity'];
  weak: string;
  neutralized?: string;
}

// 'strict-dynamic' with a nonce or hash makes CSP3 browsers ignore host and scheme sources
// and 'unsafe-inline'; CSP2 browsers ignore 'unsafe-inline' as soon as a nonce or hash is present.
const SCRIPT_RULES: ScriptRule[] = [
  {
    id: 'csp.script.unsafe-inline',
    severity: 'high',
    weak: "'unsafe-inline' lets any injected inline script run",
    neutralized: "'unsafe-inline' is present but ignored by CSP2+ browsers because a nonce or hash is also present (kept only as a fallback for old browsers)",
    judge(sources) {
      const offending = sources.filter((s) => s.toLowerCase() === "'unsafe-inline'");
      if (offending.length === 0) return { verdict: 'ok', offending };
      return { verdict: hasNonceOrHash(sources) ? 'neutralized' : 'weak', offending };
    },
  },
  {
    id: 'csp.script.unsafe-eval',
    severity: 'high',
    weak: "'unsafe-eval' lets injected strings run as code (eval, new Function, string timers)",
    judge(sources) {
      const offending = sources.filter((s) => s.toLowerCase() === "'unsafe-eval'");
      return { verdict: offending.length > 0 ? 'weak' : 'ok', offending };
    },
  },
  {
    id: 'csp.script.wildcard',
    severity: 'high',
    weak: 'a wildcard or scheme-only source lets scripts load from any host',
    neutralized: "wildcard or scheme-only sources are ignored by CSP3 browsers because of 'strict-dynamic' with a nonce or hash",
    judge(sources) {
      const offending = sources.filter((s) => WILDCARD_SOURCES.has(s.toLowerCase()));
      if (offending.length === 0) return { verdict: 'ok', offending };
      return { verdict: strictDynamic(sources) ? 'neutralized' : 'weak', offending };
    },
  },
  {
    id: 'csp.script.data',
    severity: 'high',
    weak: '`data:` lets an attacker supply a script inline as a data: URL',
    neutralized: "`data:` is ignored by CSP3 browsers because of 'strict-dynamic' with a nonce or hash",
    judge(sources) {
      const offending = sources.filter((s) => s.toLowerCase() === 'data:');
      if (offending.length === 0) return { verdict: 'ok', offending };
      return { verdict: strictDynamic(sources) ? 'neutralized' : 'weak', offending };
    },
  },
  {
    id: 'csp.script.insecure-host',
    severity: 'medium',
    weak: 'a script source on plain http:// can be swapped by anyone on the network path',
    judge(sources) {
      const offending = sources.filter((s) => PLAIN_HTTP_HOST.test(s) && s.toLowerCase() !== 'http://*');
      if (offending.length === 0) return { verdict: 'ok', offending };
      return { verdict: strictDynamic(sources) ? 'neutralized' : 'weak', offending };
    },
  },
];

function strictDynamic(sources: readonly string[]): boolean {
  return lower(sources).includes("'strict-dynamic'") && hasNonceOrHash(sources);
}

/** Is this source list exactly `'none'`? */
const isNone = (sources: readonly string[] | undefined): boolean => sources !== undefined && sources.length === 1 && sources[0].toLowerCase() === "'none'";

/** The `frame-ancestors` of the enforced header policies (a <meta> CSP cannot set it). */
export function frameAncestors(policies: readonly Policy[]): string[][] {
  return policies.flatMap((p) => {
    const v = p.get('frame-ancestors');
    return v ? [v] : [];
  });
}

/**
 * Findings for the CSP of one response. `header` and `reportOnly` are the raw header values;
 * `meta` is a policy from `<meta http-equiv>` (enforced, but without frame-ancestors). Framing is
 * judged elsewhere together with X-Frame-Options.
 */
export function analyzeCsp(input: { header?: string; reportOnly?: string; meta?: string }): Finding[] {
  const findings: Finding[] = [];
  const enforcedText = [input.header, input.meta].filter((v): v is string => v !== undefined && v.trim() !== '');
  if (enforcedText.length === 0) {
    if (input.reportOnly) {
      findings.push({
        id: 'csp.report-only',
        severity: 'high',
        message: 'Content-Security-Policy is only sent as Report-Only: browsers report violations but block nothing',
        observed: input.reportOnly,
      });
    } else {
      findings.push({ id: 'csp.missing', severity: 'high', message: 'no Content-Security-Policy header', observed: null });
    }
    return findings;
  }
  if (!input.header && input.meta) {
    findings.push({
      id: 'csp.meta',
      severity: 'info',
      message: 'CSP comes from a <meta> tag: frame-ancestors, sandbox and reporting are ignored there; a header is stronger',
      observed: input.meta,
    });
  }
  const observed = enforcedText.join(', ');
  const policies = enforcedText.flatMap(parseCsp);

  const restricting = policies.map(scriptSources).filter((s) => s !== undefined);
  if (restricting.length === 0) {
    findings.push({
      id: 'csp.script.unrestricted',
      severity: 'high',
      message: 'the CSP has neither script-src nor default-src: scripts are not restricted at all',
      observed,
    });
  } else {
    for (const rule of SCRIPT_RULES) {
      const judged = restricting.map((r) => ({ ...rule.judge(r.sources), directive: r.directive }));
      const verdict = combine(judged.map((j) => j.verdict));
      if (verdict === 'ok') continue;
      const offending = [...new Set(judged.flatMap((j) => j.offending))];
      const where = [...new Set(judged.map((j) => j.directive))].join('/');
      if (verdict === 'weak') {
        findings.push({ id: rule.id, severity: rule.severity, message: `${where}: ${rule.weak}`, observed: offending.join(' ') });
      } else if (rule.neutralized) {
        findings.push({ id: rule.id, severity: 'info', message: `${where}: ${rule.neutralized}`, observed: offending.join(' ') });
      }
    }
  }

  // object-src: plugins are gone from current browsers, hence low; 'none' is still the advice.
  if (!policies.some((p) => isNone(p.get('object-src') ?? p.get('default-src')))) {
    const effective = policies.map((p) => p.get('object-src') ?? p.get('default-src')).find((s) => s !== undefined);
    findings.push({
      id: 'csp.object-src',
      severity: 'low',
      message: effective
        ? "object-src (or its default-src fallback) is not 'none': plugin content may load"
        : "no object-src and no default-src: plugin content is unrestricted; set object-src 'none'",
      observed: effective ? effective.join(' ') : null,
    });
  }

  // base-uri has no default-src fallback. An injected <base> re-points relative script URLs, which
  // defeats nonce- and hash-based policies in particular.
  if (!policies.some((p) => p.has('base-uri'))) {
    const nonceBased = restricting.some((r) => hasNonceOrHash(r.sources));
    findings.push({
      id: 'csp.base-uri',
      severity: nonceBased ? 'medium' : 'low',
      message: nonceBased
        ? "no base-uri: an injected <base> tag can re-point the nonced relative scripts; set base-uri 'none' or 'self'"
        : "no base-uri: an injected <base> tag can re-point relative URLs; set base-uri 'none' or 'self'",
      observed: null,
    });
  }
  return findings;
}

/**
 * Clickjacking: CSP frame-ancestors (which wins in current browsers) or X-Frame-Options
 * DENY/SAMEORIGIN; either is enough. `ALLOW-FROM` is obsolete and ignored.
 */
export function analyzeFraming(input: { xFrameOptions?: string; cspHeader?: string }): Finding[] {
  const ancestors = input.cspHeader ? frameAncestors(parseCsp(input.cspHeader)) : [];
  const xfo = input.xFrameOptions?.trim();
  const xfoValues = xfo ? xfo.split(',').map((v) => v.trim().toLowerCase()) : [];
  const xfoValid = xfoValues.length > 0 && xfoValues.every((v) => v === 'deny' || v === 'sameorigin');
  const observed = { 'x-frame-options': xfo ?? null, 'frame-ancestors': ancestors.length > 0 ? ancestors.map((a) => a.join(' ')).join(', ') : null };
  if (ancestors.length > 0) {
    // Several policies: framing must satisfy each, so one restrictive frame-ancestors is enough.
    const permissive = ancestors.every((a) => a.some((s) => WILDCARD_SOURCES.has(s.toLowerCase())));
    if (permissive) {
      return [{ id: 'frame.permissive', severity: 'medium', message: 'CSP frame-ancestors allows any site to frame the page (it overrides X-Frame-Options)', observed }];
    }
    return [];
  }
  if (xfoValid) {
    return [{ id: 'csp.frame-ancestors', severity: 'info', message: 'framing is restricted by X-Frame-Options only; CSP frame-ancestors is the modern equivalent', observed }];
  }
  if (xfo) {
    return [{ id: 'frame.invalid', severity: 'medium', message: `X-Frame-Options "${xfo}" is not DENY or SAMEORIGIN (ALLOW-FROM is ignored by current browsers) and there is no frame-ancestors`, observed }];
  }
  return [{ id: 'frame.missing', severity: 'medium', message: 'neither X-Frame-Options nor CSP frame-ancestors: any site can frame the page (clickjacking)', observed }];
}
