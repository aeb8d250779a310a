// Debug endpoints and leaked files: a built-in list of well-known exposures, each judged by what
// its body looks like, against a random-path baseline so an SPA's catch-all 200 is no finding.
//
// Severity is per entry (see catalog.ts): high for secrets, source control, debuggers, heap and
// database dumps, environment/config dumps; medium for server status pages, config files without
// obvious secrets, debug toolbars; low for API descriptions, source maps, .DS_Store, the actuator
// index, nginx stub status. Info: the target answers 200 for unknown paths (a catch-all), and which
// matches were set aside because they equal that catch-all page.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { defineKind } from '../types.js';
import type { CheckContext } from '../types.js';
import { PROBE_FIELDS, ProbeClient, SEVERITIES, probeBudget, probeDefaultExpect, probeOutcome } from '../_shared/probe.js';
import type { Finding } from '../_shared/probe.js';
import { isAllowedOrigin } from '../../util/http.js';
import type { HttpResponse } from '../../util/http.js';
import { CATALOG, PAGE_MARKERS, sourceMap } from './catalog.js';
import type { Exposure, Matcher } from './catalog.js';
import { similar } from './baseline.js';
import { linear, mustCompile } from '../../util/pattern.js';
import { patternString } from '../../util/pattern-schema.js';

const regex = (what: string, ignoreCase = false) => patternString({ ignoreCase }).min(1).describe(what);

const extraEntry = z.strictObject({
  path: z.string().min(1).describe('Path on the target.'),
  match: regex('Regular expression the body must match for the path to count as exposed (a 200 alone never does).'),
  contentType: regex('Regular expression the Content-Type must also match.', true).optional(),
  severity: z.enum(SEVERITIES).default('high').describe('Severity of the finding.'),
  what: z.string().optional().describe('What it is, for the finding message.'),
});

const options = z.strictObject({
  extra: z.array(extraEntry).max(100).default([]).describe('More exposures to look for, each with its body matcher.'),
  skip: z.array(z.string()).default([]).describe('Built-in paths to leave out (exact paths as listed in the catalog).'),
  page: z.string().default('/').describe('Page scanned for debug toolbars and for its <script> bundles, whose `.map` files are then requested.'),
  sourceMaps: z.boolean().default(true).describe('Request the source maps of the page\'s same-origin scripts.'),
  maxSourceMaps: z.number().int().min(0).max(20).default(5).describe('At most this many discovered source maps.'),
  concurrency: z.number().int().min(1).max(16).default(4).describe('Requests in flight at once.'),
  ...probeBudget,
  // The catalog alone is a few hundred paths: the shared default of 100 would refuse the plan.
  maxRequests: z.number().int().min(1).max(1000).default(400).describe('Most requests this probe may send (the catalog, two baselines, the page and its source maps).'),
});

type Options = z.output<typeof options>;

/** Bytes asked for per path: enough for every matcher, small enough never to hit the client's body cap. */
const RANGE = 'bytes=0-131071';

function extraExposure(e: z.output<typeof extraEntry>): Exposure {
  const body = mustCompile(e.match);
  const type = e.contentType === undefined ? undefined : mustCompile(e.contentType, { ignoreCase: true });
  const match: Matcher = (seen) => {
    if (type && !type.test(seen.contentType)) return undefined;
    return body.exec(seen.body)?.[0].slice(0, 80);
  };
  return { path: e.path, what: e.what ?? `configured exposure /${e.match}/`, severity: e.severity, match };
}

// On V8's engine `[^>]*` made this quadratic on a page of unclosed `<script` tags.
const SCRIPT_SRC = linear(/<script\b[^>]*\bsrc\s*=\s*["']([^"']+)["']/i);

/** Same-origin script bundles of a page, as `.map` paths. */
function sourceMapPaths(res: HttpResponse, ctx: CheckContext, max: number): string[] {
  const out: string[] = [];
  for (const m of SCRIPT_SRC.matchAll(res.body)) {
    let url: URL;
    try {
      url = new URL(m[1] ?? '', res.url);
    } catch {
      continue;
    }
    if (!isAllowedOrigin(url, ctx.allowedOrigins) || !/\.m?js$/i.test(url.pathname)) continue;
    const path = `${url.pathname}.map`;
    if (!out.includes(path)) out.push(path);
    if (out.length >= max) break;
  }
  return out;
}

/** Runs `fn` over `items`, `n` at a time; stops taking new items once one has failed. */
async function inPool<T>(items: readonly T[], n: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

/**
 * The page, following redirects only while they stay on the target (a login page on an SSO host
 * is common and is no reason to fail the whole probe). `offTarget`: where it left the target.
 */
async function fetchPage(client: ProbeClient, ctx: CheckContext, path: string): Promise<(HttpResponse & { offTarget?: string }) | undefined> {
  let res = await client.sendOrSkip({ path });
  for (let hop = 0; res && hop < 3 && res.status >= 300 && res.status < 400 && res.headers['location']; hop++) {
    const next = new URL(res.headers['location'], res.url);
    if (!isAllowedOrigin(next, ctx.allowedOrigins)) return { ...res, offTarget: next.href };
    res = await client.sendOrSkip({ path: next.href });
  }
  return res;
}

interface Baseline {
  path: string;
  status: number;
  body: string;
  truncated: boolean;
}

const served = (status: number): boolean => status === 200 || status === 206;

export default defineKind({
  name: 'debug-endpoints',
  description: `Well-known debug endpoints and leaked files (${CATALOG.length} built in, extensible), judged by body matchers against a random-path baseline.`,
  options,
  fields: [...PROBE_FIELDS, 'exposed', 'catch_all', 'checked'],
  defaultExpect: probeDefaultExpect,
  async run(o: Options, ctx) {
    const client = new ProbeClient(ctx, o);
    return client.guard(async () => {
      const extras = o.extra.map(extraExposure);
      client.assertOnTarget([o.page, ...extras.map((e) => e.path)]);
      const skip = new Set(o.skip);
      const planned = [...CATALOG.filter((e) => !skip.has(e.path)), ...extras];
      const budget = 2 + 4 + planned.length + (o.sourceMaps ? o.maxSourceMaps : 0);
      if (budget > o.maxRequests) {
        throw new Error(`debug-endpoints needs up to ${budget} requests (2 baselines, the page and its redirects, ${planned.length} paths, source maps) but maxRequests is ${o.maxRequests}: raise it or skip entries`);
      }

      // Two baselines: catch-alls often treat paths with a dot (files) differently from pages.
      const token = randomBytes(6).toString('hex');
      const baselines: Baseline[] = [];
      for (const path of [`/gonogo-baseline-${token}`, `/.gonogo-baseline-${token}.txt`]) {
        const res = await client.send({ path, headers: { range: RANGE } });
        baselines.push({ path, status: res.status, body: res.body, truncated: res.truncated === true });
      }
      const catchAll = baselines.filter((b) => served(b.status));

      const findings: Finding[] = [];
      // Rate limited (after waiting as told): the page is not scanned; the client counts it.
      const page = await fetchPage(client, ctx, o.page);
      if (page?.offTarget) {
        findings.push({ id: 'page.off-target', severity: 'info', message: `${o.page} redirects to ${page.offTarget}, off the target: page not scanned for toolbars or scripts`, observed: { location: page.offTarget } });
      }
      for (const marker of PAGE_MARKERS) {
        const m = page ? marker.pattern.exec(page.body) : null;
        if (page && m && served(page.status)) {
          findings.push({ id: `exposed:${o.page}#toolbar`, severity: marker.severity, message: `${o.page} renders the ${marker.what}`, observed: { path: o.page, status: page.status, evidence: m[0] } });
        }
      }
      const entries = [...planned];
      if (o.sourceMaps && page && served(page.status)) {
        for (const path of sourceMapPaths(page, ctx, o.maxSourceMaps)) {
          entries.push({ path, what: 'source map', severity: 'low', match: sourceMap });
        }
      }
      const unique = entries.filter((e, i) => entries.findIndex((x) => x.path === e.path && (x.method ?? 'GET') === (e.method ?? 'GET')) === i);

      const results: (Finding | undefined)[] = new Array<Finding | undefined>(unique.length);
      const setAside: { path: string; evidence: string }[] = [];
      await inPool(unique, o.concurrency, async (e, i) => {
        // Rate limited after waiting as told: not judged, counted; too many and the item is error.
        const res = await client.sendOrSkip({
          path: e.path,
          method: e.method ?? 'GET',
          headers: { range: RANGE, accept: '*/*', ...(e.body ? { 'content-type': 'application/json' } : {}) },
          body: e.body,
        });
        if (!res) return;
        // A heap or database dump that ignores Range is longer than the body cap; the baseline was
        // not, so the size alone tells it apart from the catch-all page.
        if (e.largeIsEvidence && res.truncated && served(res.status) && !catchAll.some((b) => b.truncated)) {
          results[i] = { id: `exposed:${e.path}`, severity: e.severity, message: `${e.path}: ${e.what} is served (a body longer than ${o.bodyCap} bytes)`, observed: { path: e.path, status: res.status, evidence: 'body longer than the cap' } };
          return;
        }
        if (!served(res.status)) return;
        const evidence = e.match({ body: res.body, contentType: res.headers['content-type'] ?? '' });
        if (evidence === undefined) return;
        if (catchAll.some((b) => similar({ body: res.body, path: e.path }, b))) {
          setAside.push({ path: e.path, evidence });
          return;
        }
        results[i] = {
          id: `exposed:${e.path}`,
          severity: e.severity,
          message: `${e.path}: ${e.what} is publicly readable (${evidence})`,
          observed: { path: e.path, status: res.status, contentType: res.headers['content-type'] ?? null, evidence },
        };
      });
      const exposures = results.filter((f) => f !== undefined);
      findings.push(...exposures);
      const exposed = unique.filter((_e, i) => results[i] !== undefined).map((e) => e.path);

      if (catchAll.length > 0) {
        findings.push({
          id: 'catch-all',
          severity: 'info',
          message: `unknown paths answer ${catchAll.map((b) => b.status).join('/')} (a catch-all page): ${setAside.length > 0 ? `${setAside.length} match(es) equal to it were set aside` : 'every match was compared against it'}`,
          observed: { baselines: catchAll.map((b) => b.path), setAside },
        });
      }
      return probeOutcome(findings, client, {
        exposed,
        catch_all: catchAll.length > 0,
        checked: unique.length,
      });
    });
  },
});
