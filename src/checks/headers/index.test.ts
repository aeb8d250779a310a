import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import headers, { metaCsp } from './index.js';
import { analyzeCsp, analyzeFraming, parseCsp } from './csp.js';
import { DEFAULT_HSTS_MIN_AGE, analyzeCookies, analyzeHsts, analyzeLeaks, analyzeReferrer, observeCookies } from './rules.js';
import type { Finding } from '../_shared/probe.js';
import { testContext } from '../../test-support/context.js';
import { recipesAuth, serve } from '../../test-support/server.js';
import type { AuthConfig } from '../_shared/auth.js';
import { startApp } from '../../../examples/recipes-app/src/app.js';

const GOOD: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'strict-origin-when-cross-origin',
  'permissions-policy': 'camera=(), geolocation=()',
};

function page(extra: Record<string, string | undefined>, drop: string[] = []) {
  return (_req: IncomingMessage, res: ServerResponse) => {
    const h: Record<string, string> = { ...GOOD };
    for (const d of drop) delete h[d];
    for (const [k, v] of Object.entries(extra)) if (v !== undefined) h[k] = v;
    res.writeHead(200, h).end('<!doctype html><title>t</title>');
  };
}

const ids = (findings: Finding[], ...severities: Finding['severity'][]) =>
  findings.filter((f) => severities.length === 0 || severities.includes(f.severity)).map((f) => f.id).sort();

async function probe(url: string, opts: Record<string, unknown> = {}, auth?: AuthConfig) {
  const out = await headers.run(opts, testContext({ url, auth }));
  const findings = out.observations.findings as Finding[];
  return { out, findings };
}

describe('headers probe against a live server', () => {
  test('a well-configured page raises nothing above info', async (t) => {
    const s = await serve(page({}));
    t.after(s.close);
    const { out, findings } = await probe(s.url);
    assert.deepEqual(ids(findings, 'high', 'medium', 'low'), []);
    assert.deepEqual(ids(findings, 'info'), ['hsts.not-applicable']);
    assert.equal(out.observations.high, 0);
    assert.equal(out.observations.requests, 1);
    const observed = out.observations.headers as Record<string, string | null>;
    assert.equal(observed['x-frame-options'], 'DENY');
    assert.equal(observed['strict-transport-security'], null);
  });

  test('the "headers" defect: nothing set, versions leaked; every missing header named with its observed value', async (t) => {
    const s = await serve((_req, res) => res.writeHead(200, { 'content-type': 'text/html', 'x-powered-by': 'Express', server: 'nginx/1.18.0' }).end('<p>hi</p>'));
    t.after(s.close);
    const { out, findings } = await probe(s.url);
    assert.deepEqual(ids(findings, 'high'), ['csp.missing']);
    assert.deepEqual(ids(findings, 'medium'), ['frame.missing', 'leak.server.version', 'nosniff.missing']);
    assert.deepEqual(ids(findings, 'low'), ['leak.x-powered-by.product', 'permissions.missing', 'referrer.missing']);
    const leak = findings.find((f) => f.id === 'leak.server.version');
    assert.deepEqual(leak?.observed, { path: '/', value: 'nginx/1.18.0' });
    const observed = out.observations.headers as Record<string, string | null>;
    assert.equal(observed['x-powered-by'], 'Express');
    assert.equal(observed['content-security-policy'], null);
  });

  test('the "weak-csp" defect: unsafe-inline, unsafe-eval and data: in script-src are high', async (t) => {
    const s = await serve(page({ 'content-security-policy': "default-src *; script-src 'self' 'unsafe-inline' 'unsafe-eval' data:" }));
    t.after(s.close);
    const { findings } = await probe(s.url);
    assert.deepEqual(ids(findings, 'high'), ['csp.script.data', 'csp.script.unsafe-eval', 'csp.script.unsafe-inline']);
    assert.equal(findings.find((f) => f.id === 'csp.script.unsafe-inline')?.message.startsWith('script-src'), true);
  });

  test('Report-Only alone is high; Report-Only beside an enforced policy is fine', async (t) => {
    const ro = await serve(page({ 'content-security-policy-report-only': "default-src 'self'" }, ['content-security-policy']));
    t.after(ro.close);
    assert.deepEqual(ids((await probe(ro.url)).findings, 'high'), ['csp.report-only']);
    const both = await serve(page({ 'content-security-policy-report-only': "default-src 'none'" }));
    t.after(both.close);
    assert.deepEqual(ids((await probe(both.url)).findings, 'high', 'medium'), []);
  });

  test('a JSON API path is judged on nosniff and leaks, not on document headers', async (t) => {
    const s = await serve((req, res) => {
      if (req.url === '/api/recipes') return res.writeHead(200, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' }).end('[]');
      page({})(req, res);
    });
    t.after(s.close);
    const { out, findings } = await probe(s.url, { paths: ['/api/recipes'] });
    assert.deepEqual(ids(findings, 'high', 'medium', 'low'), []);
    assert.ok(ids(findings, 'info').includes('document-rules.skipped'));
    assert.equal(out.observations.requests, 2);
  });

  test('a redirect on the target is followed and the final page judged', async (t) => {
    const s = await serve((req, res) => {
      if (req.url === '/') return res.writeHead(302, { location: '/login' }).end();
      page({}, ['x-content-type-options'])(req, res);
    });
    t.after(s.close);
    const { findings } = await probe(s.url);
    assert.deepEqual(ids(findings, 'medium'), ['nosniff.missing']);
  });

  test('a 5xx page cannot be judged: the probe throws (error, fail closed)', async (t) => {
    const s = await serve((_req, res) => res.writeHead(503).end('down'));
    t.after(s.close);
    await assert.rejects(probe(s.url), /answered 503/);
  });

  test('refuses a path on another host before sending anything', async (t) => {
    const target = await serve(page({}));
    const other = await serve(page({}));
    t.after(target.close);
    t.after(other.close);
    await assert.rejects(probe(target.url, { paths: [`${other.url}/`] }), /refused/);
    assert.equal(other.hits(), 0);
    assert.equal(target.hits(), 0);
  });

  test('never sends more than maxRequests', async (t) => {
    const s = await serve(page({}));
    t.after(s.close);
    await assert.rejects(probe(s.url, { paths: ['/a', '/b', '/c', '/d'], maxRequests: 2 }), /budget of 2/);
    assert.equal(s.hits(), 2);
  });

  test('require toggles leave a rule out', async (t) => {
    const s = await serve((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(''));
    t.after(s.close);
    const all = false;
    const { findings } = await probe(s.url, {
      require: { csp: all, framing: all, nosniff: all, referrerPolicy: all, permissionsPolicy: all, versionLeaks: all, hsts: all, cookies: all },
    });
    assert.deepEqual(findings, []);
  });
});

describe('headers probe: cookie flags of the login', () => {
  function loginApp(cookie: string) {
    return (req: IncomingMessage, res: ServerResponse) => {
      if (req.method === 'POST' && req.url === '/api/login') {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          const { username, password } = JSON.parse(body) as { username: string; password: string };
          if (username !== 'alice' || password !== 'alice-password') return res.writeHead(401).end();
          res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': [cookie, 'XSRF-TOKEN=tok123; Path=/; SameSite=Lax'] }).end('{"csrfToken":"tok123"}');
        });
        return;
      }
      page({})(req, res);
    };
  }
  const auth = recipesAuth('alice');

  test('the "insecure-cookie" defect: session cookie without HttpOnly and SameSite', async (t) => {
    const s = await serve(loginApp('sid=abc; Path=/'));
    t.after(s.close);
    const { out, findings } = await probe(s.url, { loginAs: 'alice' }, auth);
    assert.deepEqual(ids(findings, 'high'), ['cookie.sid.httponly']);
    assert.deepEqual(ids(findings, 'medium'), ['cookie.sid.samesite']);
    // The CSRF cookie is readable by design: no HttpOnly finding for it.
    assert.equal(findings.some((f) => f.id.startsWith('cookie.XSRF-TOKEN.httponly')), false);
    const cookies = out.observations.cookies as { name: string; role: string }[];
    assert.deepEqual(cookies.map((c) => [c.name, c.role]), [['sid', 'session'], ['XSRF-TOKEN', 'csrf']]);
  });

  test('HttpOnly + SameSite=Lax session cookie is quiet', async (t) => {
    const s = await serve(loginApp('sid=abc; Path=/; HttpOnly; SameSite=Lax'));
    t.after(s.close);
    const { findings } = await probe(s.url, { loginAs: 'alice' }, auth);
    assert.deepEqual(ids(findings, 'high', 'medium', 'low'), []);
  });

  test('loginAs an unknown user is an error, not a quiet pass', async (t) => {
    const s = await serve(loginApp('sid=abc; HttpOnly; SameSite=Lax'));
    t.after(s.close);
    await assert.rejects(probe(s.url, { loginAs: 'mallory' }, auth), /unknown user "mallory"/);
  });
});

describe('CSP rules', () => {
  const cases: { name: string; header?: string; reportOnly?: string; meta?: string; high: string[]; medium?: string[]; info?: string[] }[] = [
    { name: 'strict nonce policy', header: "script-src 'nonce-r4nd' 'strict-dynamic'; object-src 'none'; base-uri 'none'", high: [] },
    {
      name: "unsafe-inline with a nonce is neutralized (info), like Google's strict CSP fallback",
      header: "script-src 'nonce-r4nd' 'unsafe-inline' 'strict-dynamic' https:; object-src 'none'; base-uri 'none'",
      high: [],
      info: ['csp.script.unsafe-inline', 'csp.script.wildcard'],
    },
    { name: 'unsafe-inline with a hash is neutralized', header: "default-src 'self'; script-src 'sha256-abc=' 'unsafe-inline'; object-src 'none'; base-uri 'self'", high: [], info: ['csp.script.unsafe-inline'] },
    { name: 'default-src fallback carries the weakness', header: "default-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'", high: ['csp.script.unsafe-inline'] },
    { name: 'bare wildcard', header: "default-src *; object-src 'none'; base-uri 'self'", high: ['csp.script.wildcard'] },
    { name: 'https: scheme source without strict-dynamic', header: "script-src https:; object-src 'none'; base-uri 'self'", high: ['csp.script.wildcard'] },
    { name: 'a CSP that never restricts scripts', header: "img-src 'self'; object-src 'none'; base-uri 'self'", high: ['csp.script.unrestricted'] },
    { name: 'plain http host source is medium', header: "script-src 'self' http://cdn.example; object-src 'none'; base-uri 'self'", high: [], medium: ['csp.script.insecure-host'] },
    { name: 'nonce policy without base-uri is medium', header: "script-src 'nonce-x'; object-src 'none'", high: [], medium: ['csp.base-uri'] },
    {
      name: 'two policies: the strict one closes the weak one',
      header: "default-src * 'unsafe-inline', script-src 'self'; object-src 'none'; base-uri 'self'",
      high: [],
    },
    { name: 'meta CSP counts (and says so)', meta: "default-src 'self'; object-src 'none'; base-uri 'self'", high: [], info: ['csp.meta'] },
    { name: 'missing', high: ['csp.missing'] },
    { name: 'report-only only', reportOnly: "default-src 'self'", high: ['csp.report-only'] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const findings = analyzeCsp(c);
      assert.deepEqual(ids(findings, 'high'), [...c.high].sort());
      if (c.medium) assert.deepEqual(ids(findings, 'medium'), [...c.medium].sort());
      if (c.info) assert.deepEqual(ids(findings, 'info'), [...c.info].sort());
    });
  }

  test('object-src: missing is low, default-src none covers it', () => {
    assert.deepEqual(ids(analyzeCsp({ header: "script-src 'self'; base-uri 'self'" }), 'low'), ['csp.object-src']);
    assert.deepEqual(ids(analyzeCsp({ header: "default-src 'none'; script-src 'self'; base-uri 'self'" }), 'low'), []);
  });

  test('parseCsp: first directive wins, names are case-insensitive, commas split policies', () => {
    const [a, b] = parseCsp("Script-Src 'self'; script-src *, default-src 'none'");
    assert.deepEqual(a.get('script-src'), ["'self'"]);
    assert.deepEqual(b.get('default-src'), ["'none'"]);
  });

  test('metaCsp finds the policy whatever the attribute order', () => {
    assert.equal(metaCsp(`<head><meta content="default-src 'self'" http-equiv='Content-Security-Policy'></head>`), "default-src 'self'");
    assert.equal(metaCsp('<meta charset="utf-8">'), undefined);
  });
});

describe('framing, HSTS, referrer, leaks, cookies', () => {
  test('framing: either X-Frame-Options or frame-ancestors is enough', () => {
    assert.deepEqual(ids(analyzeFraming({ xFrameOptions: 'SAMEORIGIN' }), 'medium'), []);
    assert.deepEqual(ids(analyzeFraming({ cspHeader: "frame-ancestors 'self'" })), []);
    assert.deepEqual(ids(analyzeFraming({})), ['frame.missing']);
    assert.deepEqual(ids(analyzeFraming({ xFrameOptions: 'ALLOW-FROM https://a.example' })), ['frame.invalid']);
    assert.deepEqual(ids(analyzeFraming({ xFrameOptions: 'DENY', cspHeader: 'frame-ancestors *' })), ['frame.permissive']);
  });

  test('HSTS only judged over HTTPS', () => {
    assert.deepEqual(ids(analyzeHsts(undefined, false, 100)), ['hsts.not-applicable']);
    assert.equal(analyzeHsts('max-age=31536000', false, 100)[0].severity, 'info');
    assert.deepEqual(ids(analyzeHsts(undefined, true, 100), 'high'), ['hsts.missing']);
    assert.deepEqual(ids(analyzeHsts('max-age=0', true, 100), 'high'), ['hsts.disabled']);
    assert.deepEqual(ids(analyzeHsts('includeSubDomains', true, 100), 'high'), ['hsts.invalid']);
    assert.deepEqual(ids(analyzeHsts('max-age=50; includeSubDomains', true, 100)), ['hsts.short-max-age']);
    assert.deepEqual(ids(analyzeHsts('max-age=31536000; includeSubDomains; preload', true, 100)), []);
  });

  test('Referrer-Policy: the last recognised token wins', () => {
    assert.deepEqual(ids(analyzeReferrer('unsafe-url')), ['referrer.unsafe']);
    assert.deepEqual(ids(analyzeReferrer('no-referrer, strict-origin-when-cross-origin')), []);
    assert.deepEqual(ids(analyzeReferrer('no-referrer, no-referrer-when-downgrade')), ['referrer.unsafe']);
    assert.deepEqual(ids(analyzeReferrer('bogus')), ['referrer.invalid']);
    // Weaker than the browsers' default (the Observatory fails `origin` too): low.
    assert.deepEqual(ids(analyzeReferrer('origin'), 'low'), ['referrer.weak']);
    assert.deepEqual(ids(analyzeReferrer('origin-when-cross-origin'), 'low'), ['referrer.weak']);
    assert.deepEqual(ids(analyzeReferrer('strict-origin')), []);
  });

  test('HSTS: the default floor is the Observatory\'s 180 days (15552000), so helmet\'s old default passes', () => {
    assert.deepEqual(ids(analyzeHsts('max-age=15552000', true, DEFAULT_HSTS_MIN_AGE)).filter((i) => i !== 'hsts.no-subdomains'), []);
    assert.ok(ids(analyzeHsts('max-age=15551999', true, DEFAULT_HSTS_MIN_AGE)).includes('hsts.short-max-age'));
  });

  test('leaks: a version is medium, a name alone is low (framework) or info (server)', () => {
    // A placeholder names no software (issue 9, point 12).
    for (const v of ['hidden', 'None', 'n/a', '-', '***']) assert.deepEqual(analyzeLeaks({ 'x-powered-by': v, server: v }), [], v);
    assert.deepEqual(ids(analyzeLeaks({ 'x-powered-by': 'Hiddenware' }), 'low'), ['leak.x-powered-by.product']);
    const f = analyzeLeaks({ server: 'Apache/2.4.1 (Unix)', 'x-powered-by': 'PHP/8.1.2' });
    assert.deepEqual(ids(f, 'medium'), ['leak.server.version', 'leak.x-powered-by.version']);
    assert.deepEqual(ids(analyzeLeaks({ server: 'nginx' }), 'info'), ['leak.server.product']);
  });

  test('cookies: Secure only judged over HTTPS; deletions ignored; role by name outside the login', () => {
    const session = observeCookies(['sid=1; HttpOnly; SameSite=Strict'], 'login', { fromLogin: true });
    assert.deepEqual(ids(analyzeCookies(session, true), 'high'), ['cookie.sid.secure']);
    assert.deepEqual(ids(analyzeCookies(session, false), 'high', 'medium', 'low'), []);
    assert.deepEqual(observeCookies(['sid=; Max-Age=0', 'old=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT'], '/', { fromLogin: false }), []);
    const anon = observeCookies(['theme=dark', 'connect.sid=x; SameSite=None; Secure'], '/', { fromLogin: false });
    const f = analyzeCookies(anon, true);
    assert.deepEqual(ids(f, 'high'), ['cookie.connect.sid.httponly']);
    assert.deepEqual(ids(f, 'medium'), ['cookie.connect.sid.samesite']);
    assert.deepEqual(ids(f, 'low'), ['cookie.theme.secure']);
  });
});

describe('headers probe against the recipes app', () => {
  const auth = recipesAuth('alice');

  test('clean app (plain and SPA), logged in: nothing above info', async (t) => {
    for (const spa of [false, true]) {
      const app = await startApp({ spa });
      t.after(app.close);
      const { out, findings } = await probe(app.url, { loginAs: 'alice' }, auth);
      assert.deepEqual(ids(findings, 'high', 'medium', 'low'), []);
      assert.ok(ids(findings, 'info').includes('hsts.not-applicable'));
      assert.deepEqual((out.observations.cookies as { name: string }[]).map((c) => c.name), ['sid']);
    }
  });

  test('"headers" defect: CSP missing (high), framing, nosniff and nginx version (medium)', async (t) => {
    const app = await startApp({ defects: ['headers'] });
    t.after(app.close);
    const { findings } = await probe(app.url);
    assert.deepEqual(ids(findings, 'high'), ['csp.missing']);
    assert.deepEqual(ids(findings, 'medium'), ['frame.missing', 'leak.server.version', 'nosniff.missing']);
  });

  test('"weak-csp" defect: the script-src weaknesses, nothing about the other headers', async (t) => {
    const app = await startApp({ defects: ['weak-csp'] });
    t.after(app.close);
    const { findings } = await probe(app.url);
    assert.deepEqual(ids(findings, 'high'), ['csp.script.data', 'csp.script.unsafe-eval', 'csp.script.unsafe-inline']);
    assert.deepEqual(ids(findings, 'medium'), []);
  });

  test('"insecure-cookie" defect: caught only with loginAs', async (t) => {
    const app = await startApp({ defects: ['insecure-cookie'] });
    t.after(app.close);
    assert.deepEqual(ids((await probe(app.url)).findings, 'high', 'medium'), []);
    const { findings } = await probe(app.url, { loginAs: 'alice' }, auth);
    assert.deepEqual(ids(findings, 'high'), ['cookie.sid.httponly']);
    assert.deepEqual(ids(findings, 'medium'), ['cookie.sid.samesite']);
  });
});
