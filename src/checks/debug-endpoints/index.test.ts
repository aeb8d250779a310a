import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import debugEndpoints from './index.js';
import { CATALOG } from './catalog.js';
import { similar } from './baseline.js';
import type { Finding } from '../_shared/probe.js';
import { testContext } from '../../test-support/context.js';
import { serve as serveHttp } from '../../test-support/server.js';
import { startApp } from '../../../examples/recipes-app/src/app.js';
import { skipAllBut } from '../../test-support/fixtures/catalog.js';

/** A real server on 127.0.0.1 that records the paths it is asked for. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const paths: string[] = [];
  const server = await serveHttp((req, res) => {
    paths.push(req.url ?? '');
    handler(req, res);
  });
  return { url: server.url, paths, close: server.close };
}

const SPA_SHELL = '<!doctype html><html><head><title>Recipes</title><script type="module" src="/assets/index-4f2a9c.js"></script></head><body><div id="root"></div></body></html>';

/** What each exposure really looks like, for the matcher table. */
const SAMPLES: Record<string, string> = {
  '/.env': 'NODE_ENV=production\nDATABASE_URL=postgres://u:p@db/app\n# comment\nexport SECRET_KEY="abc"\n',
  '/.git/config': '[core]\n\trepositoryformatversion = 0\n\tbare = false\n',
  '/.git/HEAD': 'ref: refs/heads/main\n',
  '/.svn/entries': '12\n\ndir\n1234\n',
  '/.hg/requires': 'dotencode\nfncache\nrevlogv1\nstore\n',
  '/.DS_Store': '\0\0\0\x01Bud1\0\0\x10\0',
  '/.aws/credentials': '[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n',
  '/.npmrc': '//registry.npmjs.org/:_authToken=npm_abc\n',
  '/id_rsa': '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n',
  '/.htpasswd': 'admin:$apr1$xyz$abcdefgh\n',
  '/wp-config.php.bak': "<?php\ndefine( 'DB_NAME', 'wp' );\ndefine( 'DB_PASSWORD', 'pw' );\n",
  '/config.json': '{"apiUrl":"/api","stripeSecretKey":"sk_test_123456"}',
  '/appsettings.json': '{"ConnectionStrings":{"Default":"Server=db;Password=x"}}',
  '/application.properties': 'spring.datasource.url=jdbc:x\nspring.datasource.password=secret\n',
  '/docker-compose.yml': 'services:\n  web:\n    image: app:latest\n',
  '/debug/vars': '{"cmdline":["/app"],"memstats":{"Alloc":1}}',
  '/debug/pprof/': '<html><head><title>/debug/pprof/</title></head><body>Types of profiles available:',
  '/api/debug': '{"env":{"DATABASE_URL":"x"},"pid":12}',
  '/debug': '{"pid":12,"argv":["node","server.js"],"memoryUsage":{}}',
  '/console': '<title>Console // Werkzeug Debugger</title><script>var CONSOLE_MODE = true</script>',
  '/_profiler/': '<title>Symfony Profiler</title>',
  '/phpinfo.php': '<title>phpinfo()</title><h1 class="p">PHP Version 8.2.1</h1>...This program makes use of the Zend Engine',
  '/actuator': '{"_links":{"self":{"href":"http://h/actuator"}}}',
  '/actuator/env': '{"activeProfiles":[],"propertySources":[{"name":"server.ports"}]}',
  '/actuator/heapdump': 'JAVA PROFILE 1.0.2\0\0\0\x04',
  '/heapdump': '{"snapshot":{"meta":{"node_fields":[]}}}',
  '/jolokia': '{"request":{"type":"version"},"value":{"agent":"1.7.1","protocol":"7.2"}}',
  '/server-status': '<title>Apache Status</title><h1>Apache Server Status for example.com</h1>',
  '/nginx_status': 'Active connections: 2 \nserver accepts handled requests\n 10 10 20 \n',
  '/elmah.axd': '<title>Error log for / on WEB01</title><h1>Error Log for <span>/</span></h1>',
  '/rails/info/properties': '<table><tr><td>Rails version</td><td>7.1</td></tr><tr><td>Ruby version</td></tr></table>',
  '/dump.sql': '-- MySQL dump 10.13\nCREATE TABLE `users` (id int);\n',
  '/swagger.json': '{"swagger":"2.0","info":{}}',
  '/openapi.json': '{"openapi":"3.0.1","info":{}}',
  '/graphql': '{"data":{"__schema":{"queryType":{"name":"Query"}}}}',
  '/main.js.map': '{"version":3,"sources":["src/a.ts"],"mappings":"AAAA"}',
};

/** Pages that answer 200 for anything: none may match any entry. */
const DECOYS: Record<string, string> = {
  'SPA shell': SPA_SHELL,
  'soft 404': '<!doctype html><html><head><title>Not found</title></head><body><h1>Page not found</h1><p>Try the <a href="/">home page</a>.</p></body></html>',
  'JSON 404': '{"error":"not found","status":404}',
  'health check': '{"status":"ok","version":"1.4.2","uptimeSeconds":12,"checks":{"db":"ok"}}',
  'login page': '<!doctype html><form method="post" action="/login"><input name="username"><input name="password" type="password"></form>',
  'empty': '',
  'help page about .env': '<!doctype html><html><body><p>Put DATABASE_URL=... into your .env file, see [core] docs and PHP Version notes.</p></body></html>',
};

const ids = (findings: Finding[], ...severities: Finding['severity'][]) =>
  findings.filter((f) => severities.length === 0 || severities.includes(f.severity)).map((f) => f.id).sort();

async function probe(url: string, opts: Record<string, unknown> = {}) {
  const out = await debugEndpoints.run(opts, testContext({ url }));
  return { out, findings: out.observations.findings as Finding[] };
}

describe('catalog', () => {
  test('has at least 200 entries with unique paths', () => {
    assert.ok(CATALOG.length >= 200, String(CATALOG.length));
    const keys = CATALOG.map((e) => `${e.method ?? 'GET'} ${e.path}`);
    assert.equal(new Set(keys).size, keys.length);
  });

  for (const [path, body] of Object.entries(SAMPLES)) {
    test(`matches the real ${path}`, () => {
      const entry = CATALOG.find((e) => e.path === path);
      assert.ok(entry, `no catalog entry ${path}`);
      assert.ok(entry.match({ body, contentType: '' }), `${path} did not match its sample`);
    });
  }

  test('no entry matches a catch-all or soft-404 page', () => {
    for (const [name, body] of Object.entries(DECOYS)) {
      for (const e of CATALOG) {
        assert.equal(e.match({ body, contentType: 'text/html' }), undefined, `${e.path} matched the ${name}`);
      }
    }
  });

  test('similar(): same page with another path, token or number is the same; a different page is not', () => {
    const page = (path: string, nonce: string) => `<html><script nonce="${nonce}"></script><p>No page at ${path}</p><p>req 1234${nonce.length}</p></html>`;
    assert.ok(similar({ body: page('/.env', 'a8Fj29dkLq0wPz7xY1'), path: '/.env' }, { body: page('/gonogo-baseline-1', 'Zk2P0qLm7Xw8Yt4cV9'), path: '/gonogo-baseline-1' }));
    assert.equal(similar({ body: SAMPLES['/.env'], path: '/.env' }, { body: SPA_SHELL, path: '/x' }), false);
  });
});

describe('debug-endpoints probe against live servers', () => {
  function exposing(files: Record<string, string>, fallback: (res: ServerResponse, path: string) => void) {
    return (req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? '/').split('?')[0];
      if (Object.hasOwn(files, path)) return res.writeHead(200, { 'content-type': 'text/plain' }).end(files[path]);
      fallback(res, path);
    };
  }
  const notFound = (res: ServerResponse) => res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>Not found</h1>');
  const spa = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/html' }).end(SPA_SHELL);

  test('exposed files are found, with the evidence and not the secret', async (t) => {
    const s = await serve(exposing({ '/.env': SAMPLES['/.env'], '/.git/config': SAMPLES['/.git/config'], '/server-status': SAMPLES['/server-status'] }, notFound));
    t.after(s.close);
    const { out, findings } = await probe(s.url, { skip: skipAllBut('/.env', '/.git/config', '/server-status') });
    assert.deepEqual(ids(findings, 'high'), ['exposed:/.env', 'exposed:/.git/config']);
    assert.deepEqual(ids(findings, 'medium'), ['exposed:/server-status']);
    const env = findings.find((f) => f.id === 'exposed:/.env');
    assert.deepEqual(env?.observed, { path: '/.env', status: 200, contentType: 'text/plain', evidence: 'keys: NODE_ENV, DATABASE_URL, SECRET_KEY' });
    assert.equal(out.observations.catch_all, false);
    assert.deepEqual(out.observations.exposed, ['/.env', '/.git/config', '/server-status']);
  });

  test('an SPA that answers 200 everywhere raises nothing', async (t) => {
    const s = await serve(exposing({}, spa));
    t.after(s.close);
    const { out, findings } = await probe(s.url);
    assert.deepEqual(ids(findings, 'high', 'medium', 'low'), []);
    assert.equal(out.observations.catch_all, true);
  });

  test('the baseline sets aside a catch-all page that happens to match an entry', async (t) => {
    // An app called "Telescope": its shell matches the Laravel Telescope entry on every path.
    const shell = (path: string) => `<!doctype html><html><head><title>Telescope</title></head><body><div id="app" data-path="${path}"></div></body></html>`;
    const s = await serve((req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(shell(req.url ?? '')));
    t.after(s.close);
    const { findings } = await probe(s.url);
    assert.deepEqual(ids(findings, 'high', 'medium', 'low'), []);
    const info = findings.find((f) => f.id === 'catch-all');
    assert.deepEqual((info?.observed as { setAside: { path: string }[] }).setAside.map((x) => x.path), ['/telescope']);
  });

  test('a real exposure behind an SPA catch-all is still found', async (t) => {
    const s = await serve(exposing({ '/.env': SAMPLES['/.env'], '/debug/vars': SAMPLES['/debug/vars'] }, spa));
    t.after(s.close);
    const { findings } = await probe(s.url, { skip: skipAllBut('/.env', '/debug/vars') });
    assert.deepEqual(ids(findings, 'high'), ['exposed:/.env', 'exposed:/debug/vars']);
  });

  test('source maps of the page\'s same-origin scripts are requested; other hosts never', async (t) => {
    const cdn = await serve((_req, res) => res.writeHead(200).end('{"version":3,"sources":[],"mappings":""}'));
    t.after(cdn.close);
    const page = `<!doctype html><script src="/assets/index-4f2a9c.js"></script><script src="${cdn.url}/lib.js"></script>`;
    const s = await serve(
      exposing({ '/': page, '/assets/index-4f2a9c.js.map': '{"version":3,"sources":["src/main.ts"],"sourcesContent":["x"],"mappings":"AAAA"}' }, notFound),
    );
    t.after(s.close);
    const { findings } = await probe(s.url, { skip: skipAllBut() });
    assert.deepEqual(ids(findings, 'low'), ['exposed:/assets/index-4f2a9c.js.map']);
    assert.deepEqual(cdn.paths, []);
  });

  test('a heap dump too big to read is evidence on its own', async (t) => {
    const s = await serve((req, res) => {
      if (req.url === '/actuator/heapdump') return res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(300 * 1024, 1));
      notFound(res);
    });
    t.after(s.close);
    const { findings } = await probe(s.url, { skip: skipAllBut('/actuator/heapdump') });
    assert.deepEqual(ids(findings, 'high'), ['exposed:/actuator/heapdump']);
  });

  test('a debug toolbar on the page is found', async (t) => {
    const s = await serve(exposing({ '/': '<html><body>hi<div id="djDebug" class="djdt-hidden"></div></body></html>' }, notFound));
    t.after(s.close);
    const { findings } = await probe(s.url, { skip: skipAllBut() });
    assert.deepEqual(ids(findings, 'medium'), ['exposed:/#toolbar']);
  });

  test('a page that redirects off the target (an SSO login) is not followed and not an error', async (t) => {
    const sso = await serve((_req, res) => res.writeHead(200).end('<script src="/sso.js"></script>'));
    t.after(sso.close);
    const s = await serve((req, res) => {
      if (req.url === '/') return res.writeHead(302, { location: '/home' }).end();
      if (req.url === '/home') return res.writeHead(302, { location: `${sso.url}/login` }).end();
      notFound(res);
    });
    t.after(s.close);
    const { findings } = await probe(s.url, { skip: skipAllBut() });
    assert.deepEqual(ids(findings), ['page.off-target']);
    assert.deepEqual(sso.paths, []);
    assert.ok(s.paths.includes('/home'));
  });

  test('extra entries and skip', async (t) => {
    const s = await serve(exposing({ '/.env': SAMPLES['/.env'], '/internal/status': 'build=1234 commit=abc' }, notFound));
    t.after(s.close);
    const { findings } = await probe(s.url, { extra: [{ path: '/internal/status', match: 'commit=\\w+', severity: 'medium' }], skip: ['/.env'] });
    assert.deepEqual(ids(findings), ['exposed:/internal/status']);
    assert.ok(!s.paths.includes('/.env'));
  });

  test('an invalid extra regex, or one the linear engine cannot run, is a config error', () => {
    assert.throws(() => debugEndpoints.options.parse({ extra: [{ path: '/x', match: '(' }] }), /invalid regular expression: missing closing \).*, at character 1/);
    assert.throws(() => debugEndpoints.options.parse({ extra: [{ path: '/x', match: 'key=(?!x)' }] }), /invalid regular expression: lookahead .*\(\?!.* is not supported.*, at character 5/);
    assert.throws(() => debugEndpoints.options.parse({ extra: [{ path: '/x', match: 'x', contentType: '(a)\\1' }] }), /invalid regular expression: backreference .*1.* is not supported/);
  });

  test('refuses an extra path on another host before sending anything', async (t) => {
    const target = await serve(exposing({}, notFound));
    const other = await serve(exposing({}, notFound));
    t.after(target.close);
    t.after(other.close);
    await assert.rejects(probe(target.url, { extra: [{ path: `${other.url}/.env`, match: '=' }] }), /refused/);
    assert.deepEqual(other.paths, []);
    assert.deepEqual(target.paths, []);
  });

  test('a budget too small for the list is refused up front; the default run fits maxRequests', async (t) => {
    const s = await serve(exposing({}, spa));
    t.after(s.close);
    await assert.rejects(probe(s.url, { maxRequests: 50 }), /needs up to \d+ requests/);
    assert.deepEqual(s.paths, []);
    const { out } = await probe(s.url, { concurrency: 8 });
    assert.equal(s.paths.length, out.observations.requests);
    assert.ok(s.paths.length <= 400);
  });
});

describe('debug-endpoints probe against the recipes app', () => {
  for (const spaMode of [false, true]) {
    test(`"debug" on (spa: ${spaMode}): exactly the four exposures`, async (t) => {
      const app = await startApp({ defects: ['debug'], spa: spaMode });
      t.after(app.close);
      const { out, findings } = await probe(app.url);
      assert.deepEqual(out.observations.exposed, ['/.env', '/.git/config', '/debug/vars', '/api/debug']);
      assert.deepEqual(ids(findings, 'medium', 'low'), []);
    });

    test(`"debug" off (spa: ${spaMode}): quiet`, async (t) => {
      const app = await startApp({ spa: spaMode });
      t.after(app.close);
      const { out, findings } = await probe(app.url);
      assert.deepEqual(ids(findings, 'high', 'medium', 'low'), []);
      assert.equal(out.observations.catch_all, spaMode);
    });
  }
});
