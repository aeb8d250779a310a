// The grown catalog (issue 9, point 9): every entry needs bytes of the real thing, never a 200 or
// its own path echoed back; a sample of each family is recognised.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CATALOG } from './catalog.js';
import { grownCatalog } from './grown.js';

test('the grown catalog brings the built-in list past 200 entries, none repeating a core path', () => {
  const grown = grownCatalog();
  assert.ok(CATALOG.length >= 200, String(CATALOG.length));
  const core = CATALOG.slice(0, CATALOG.length - grown.length).map((e) => e.path);
  assert.deepEqual(grown.filter((e) => core.includes(e.path)).map((e) => e.path), []);
});

test('no entry matches a page or JSON answer that only echoes its path, nor a bare OK', () => {
  for (const e of CATALOG) {
    const echoes = [
      `<!doctype html><html><head><title>App</title></head><body><div id="app" data-path="${e.path}">${e.path}</div></body></html>`,
      JSON.stringify({ error: 'not found', path: e.path, status: 404 }),
      `Cannot GET ${e.path}`,
      'OK',
    ];
    for (const body of echoes) assert.equal(e.match({ body, contentType: 'text/html' }), undefined, `${e.path} matched ${body.slice(0, 60)}`);
  }
});

/** What each family really looks like. */
const SAMPLES: Record<string, string> = {
  '/api/.env': 'APP_KEY=base64:abc\nDB_PASSWORD=secret\n',
  '/.git-credentials': 'https://deploy:ghp_abcdef123456@github.com\n',
  '/.netrc': 'machine api.example.com\n  login deploy\n  password s3cret\n',
  '/.my.cnf': '[client]\nuser=root\npassword=hunter2\n',
  '/.kube/config': 'apiVersion: v1\nclusters:\n- cluster:\n    server: https://k8s:6443\n',
  '/credentials.json': '{"type": "service_account", "project_id": "p", "private_key": "-----BEGIN PRIVATE KEY-----"}',
  '/config/database.yml': 'production:\n  adapter: postgresql\n  password: s3cret\n',
  '/settings.py': "DEBUG = False\nSECRET_KEY = 'django-insecure-abc'\n",
  '/WEB-INF/web.xml': '<?xml version="1.0"?><web-app><servlet><servlet-name>x</servlet-name></servlet></web-app>',
  '/server.key': '-----BEGIN RSA PRIVATE KEY-----\nMIIE\n',
  '/.git/index': 'DIRC\0\0\0\x02',
  '/.git/logs/HEAD': '0000000000000000000000000000000000000000 1111111111111111111111111111111111111111 Dev <d@x> 1700000000 +0000\tclone\n',
  '/terraform.tfstate': '{"version": 4, "terraform_version": "1.6.0", "resources": []}',
  '/backup.zip': 'PK\x03\x04\x14\0\0\0',
  '/backup.tar.gz': '\x1f\ufffd\x08\0\0\0',
  '/db.sqlite': 'SQLite format 3\0',
  '/backups/': '<html><head><title>Index of /backups/</title></head><body><h1>Index of /backups/</h1>',
  '/storage/logs/laravel.log': '[2026-01-01 10:00:00] production.ERROR: SQLSTATE[HY000] {"exception":"..."}\n',
  '/access.log': '127.0.0.1 - - [01/Jan/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "curl"\n',
  '/.bash_history': 'cd /srv/app\nexport DB_PASSWORD=x\nmysql -u root -p\n',
  '/test.php': '<title>phpinfo()</title>PHP Version 8.2.1 ... Zend Engine',
  '/@vite/client': 'import "/node_modules/vite/dist/client/env.mjs";\nconsole.debug("[vite] connecting...");',
  '/actuator/gateway/routes': '[{"route_id":"r1","uri":"http://internal"}]',
  '/actuator/loggers': '{"levels":["OFF","ERROR"],"loggers":{"ROOT":{"configuredLevel":"INFO"}}}',
  '/server-status?auto': 'ServerVersion: Apache/2.4.57\nTotal Accesses: 12\nBusyWorkers: 1\n',
  '/stub_status': 'Active connections: 1 \nserver accepts handled requests\n 1 1 1 \n',
  '/fpm-status': 'pool:                 www\nprocess manager:      dynamic\n',
  '/config_dump': '{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.BootstrapConfigDump"}]}',
  '/phpmyadmin/': '<title>phpMyAdmin</title>',
  '/_cat/indices': 'green open users 1 1 10 0 5kb 5kb\n',
  '/v1/kv/?recurse': '[{"LockIndex":0,"Key":"db/password","Flags":0,"Value":"czNjcmV0"}]',
  '/containers/json': '[{"Id":"abc","Image":"nginx","Command":"nginx -g"}]',
  '/api/kernels': '[{"id":"k1","name":"python3","execution_state":"idle"}]',
  '/crossdomain.xml': '<?xml version="1.0"?><cross-domain-policy><allow-access-from domain="*"/></cross-domain-policy>',
  '/v2/api-docs': '{"swagger":"2.0","info":{"title":"api"}}',
};

for (const [path, body] of Object.entries(SAMPLES)) {
  test(`grown catalog recognises the real ${path}`, () => {
    const e = CATALOG.find((x) => x.path === path);
    assert.ok(e, `no entry ${path}`);
    assert.ok(e.match({ body, contentType: '' }), `${path} did not match its sample`);
  });
}
