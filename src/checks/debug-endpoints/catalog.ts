// Well-known exposures, each with a matcher for what the real thing looks like. A 200 alone proves
// nothing (SPAs and soft-404 pages answer 200 everywhere), so every entry says which bytes make
// it an exposure. Matchers look for structure (`[core]` with `repositoryformatversion`, KEY=value
// lines, a JSON key) rather than a word that a help page could contain.
//
// Every matcher runs on the linear-time engine over the first MAX_SCAN (64 KiB) characters of the
// body, so a hostile page cannot hold the probe past its timeout. Patterns are written as RegExp
// literals for their syntax; V8 never runs them.
import type { Severity } from '../_shared/probe.js';
import { MAX_SCAN, linear } from '../../util/pattern.js';
import type { Pattern } from '../../util/pattern.js';
import { grownCatalog } from './grown.js';

/** A response as a matcher sees it. */
export interface Seen {
  body: string;
  contentType: string;
}

/** Returns a short piece of evidence (never a secret's value) when the response is the exposure. */
export type Matcher = (seen: Seen) => string | undefined;

/** One well-known exposure. */
export interface Exposure {
  path: string;
  what: string;
  severity: Severity;
  match: Matcher;
  method?: 'GET' | 'POST';
  body?: string;
  /**
   * A body too large to read (over the probe client's cap) is itself evidence here: heap dumps and
   * database dumps are huge, and the catch-all baseline was not.
   */
  largeIsEvidence?: boolean;
}

const HTML_START = linear(/^\s*(?:<!doctype html|<html|<head|<body|<div|<script)/i);
const looksLikeHtml = (body: string): boolean => HTML_START.test(body);

/** Matches when every pattern matches; the evidence is the first pattern's match. */
export function all(...regexes: RegExp[]): Matcher {
  const patterns = regexes.map((r) => linear(r));
  return ({ body }) => {
    const first = patterns[0].exec(body);
    if (!first || !patterns.slice(1).every((p) => p.test(body))) return undefined;
    return first[0].trim().slice(0, 80);
  };
}

/** Like `all`, but never on an HTML page (a file served raw is not wrapped in markup). */
export function raw(...patterns: RegExp[]): Matcher {
  const m = all(...patterns);
  return (seen) => (looksLikeHtml(seen.body) ? undefined : m(seen));
}

function parseObject(body: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(body);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v)) : undefined;
  } catch {
    return undefined;
  }
}

/** A JSON object with one of these top-level keys. */
export function jsonKeys(...keys: string[]): Matcher {
  return ({ body }) => {
    const obj = parseObject(body);
    const hit = obj ? keys.find((k) => Object.hasOwn(obj, k)) : undefined;
    return hit === undefined ? undefined : `JSON with "${hit}"`;
  };
}

const NEWLINE = linear(/\r?\n/);
const ASSIGNMENT = linear(/^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=/);

/** `KEY=value` lines: most non-comment lines of the file are assignments. Evidence: the key names. */
export const dotenv: Matcher = ({ body }) => {
  if (looksLikeHtml(body)) return undefined;
  const lines = NEWLINE.split(body.slice(0, MAX_SCAN)).filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  const keys = lines.map((l) => ASSIGNMENT.exec(l)?.[1]).filter((k) => k !== undefined);
  if (keys.length === 0 || keys.length < lines.length * 0.8) return undefined;
  return `keys: ${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', ...' : ''}`;
};

const INTERNALS = ['pid', 'argv', 'cwd', 'memoryUsage', 'memory', 'versions', 'node', 'uptime', 'uptimeSeconds', 'hostname', 'platform', 'execPath', 'heap'];
const CONFIG_KEYS = ['env', 'environment', 'config', 'configuration', 'settings', 'secrets', 'vars'];

/**
 * A debug JSON endpoint: an object holding the environment or configuration as an object, or
 * several process internals (pid, argv, memory...). A health check has one or none of those.
 */
export const debugJson: Matcher = ({ body }) => {
  const obj = parseObject(body);
  if (!obj) return undefined;
  const config = CONFIG_KEYS.find((k) => {
    const v = obj[k];
    return v !== null && typeof v === 'object' && Object.keys(v).length > 0;
  });
  if (config) return `JSON with "${config}": { ${Object.keys(obj[config] ?? {}).slice(0, 5).join(', ')} }`;
  const internals = INTERNALS.filter((k) => Object.hasOwn(obj, k));
  return internals.length >= 2 ? `JSON with ${internals.join(', ')}` : undefined;
};

/** A source map: JSON with `mappings` and `sources`. */
export const sourceMap: Matcher = ({ body }) => {
  const obj = parseObject(body);
  if (!obj || typeof obj.mappings !== 'string' || !Array.isArray(obj.sources)) return undefined;
  return `source map of ${obj.sources.length} file(s)${Array.isArray(obj.sourcesContent) ? ' with their sources' : ''}`;
};

const PRIVATE_KEY = /-----BEGIN (?:RSA |OPENSSH |EC |DSA |ENCRYPTED )?PRIVATE KEY-----/;
const HPROF = /^JAVA PROFILE \d\.\d/;
const SQL_DUMP = raw(/^-- (?:MySQL|MariaDB) dump|^-- PostgreSQL database dump|^CREATE TABLE|^INSERT INTO \S+ (?:\([^)]*\) )?VALUES/im);
const PHPINFO = all(/phpinfo\(\)|PHP Version \d+\.\d+/, /PHP (?:License|Credits)|Zend Engine|Configuration File \(php\.ini\)|<title>phpinfo\(\)<\/title>/);
const WP_CONFIG = raw(/define\(\s*['"]DB_(?:PASSWORD|USER|NAME)['"]/);
const secretKeyJson = all(/"[\w-]*(?:password|passwd|secret|api[_-]?key|private[_-]?key|access[_-]?key|client[_-]?secret|connection[_-]?string|database[_-]?url)[\w-]*"\s*:\s*"[^"]{4,}"/i);

const env = (path: string): Exposure => ({ path, what: 'environment file', severity: 'high', match: dotenv });

/** The first entries: the exposures every scanner knows. */
const CORE: readonly Exposure[] = [
  // Secrets and configuration files.
  env('/.env'),
  env('/.env.local'),
  env('/.env.production'),
  env('/.env.development'),
  env('/.env.backup'),
  env('/.env.bak'),
  { path: '/.aws/credentials', what: 'AWS credentials file', severity: 'high', match: raw(/aws_access_key_id\s*=/i) },
  { path: '/.npmrc', what: 'npm config with a token', severity: 'high', match: raw(/_auth(?:Token)?\s*=/) },
  { path: '/.docker/config.json', what: 'Docker registry credentials', severity: 'high', match: jsonKeys('auths') },
  { path: '/.ssh/id_rsa', what: 'SSH private key', severity: 'high', match: all(PRIVATE_KEY) },
  { path: '/id_rsa', what: 'SSH private key', severity: 'high', match: all(PRIVATE_KEY) },
  { path: '/.htpasswd', what: 'password hashes', severity: 'high', match: raw(/^[^:\s]+:(?:\$apr1\$|\$2[aby]\$|\{SHA\}|\$[156]\$)/m) },
  { path: '/wp-config.php.bak', what: 'WordPress config backup', severity: 'high', match: WP_CONFIG },
  { path: '/wp-config.php~', what: 'WordPress config backup', severity: 'high', match: WP_CONFIG },
  { path: '/wp-config.php.old', what: 'WordPress config backup', severity: 'high', match: WP_CONFIG },
  { path: '/config.json', what: 'config file with secrets', severity: 'medium', match: secretKeyJson },
  { path: '/appsettings.json', what: '.NET settings with connection strings', severity: 'high', match: all(/"ConnectionStrings"\s*:/) },
  { path: '/application.properties', what: 'Spring config', severity: 'high', match: raw(/^spring\.\S+\s*=/m, /password\s*=/i) },
  { path: '/application.yml', what: 'Spring config', severity: 'high', match: raw(/^spring:\s*$/m, /password:/i) },
  { path: '/docker-compose.yml', what: 'docker-compose file', severity: 'medium', match: raw(/^services:\s*$/m, /^\s+image:/m) },
  { path: '/web.config', what: 'IIS/ASP.NET config', severity: 'medium', match: raw(/<configuration>/, /<system\.web(?:Server)?>/) },
  { path: '/.vscode/sftp.json', what: 'editor SFTP credentials', severity: 'high', match: all(/"host"\s*:/, /"(?:password|privateKeyPath)"\s*:/) },

  // Source control.
  { path: '/.git/config', what: 'Git repository config', severity: 'high', match: raw(/\[core\]/, /repositoryformatversion/) },
  { path: '/.git/HEAD', what: 'Git repository', severity: 'high', match: raw(/^(?:ref: refs\/\S+|[0-9a-f]{40})\s*$/) },
  { path: '/.svn/entries', what: 'Subversion working copy', severity: 'high', match: raw(/^(?:\d{1,2}\s*\n\s*\ndir\b|<\?xml[^>]*>\s*<wc-entries)/) },
  { path: '/.svn/wc.db', what: 'Subversion working copy', severity: 'high', match: all(/^SQLite format 3/) },
  { path: '/.hg/requires', what: 'Mercurial repository', severity: 'high', match: raw(/^revlogv1\s*$/m, /^store\s*$/m) },
  { path: '/.DS_Store', what: 'macOS folder listing', severity: 'low', match: all(/^\0\0\0\x01Bud1/) },

  // Runtime introspection and debuggers.
  { path: '/debug/vars', what: 'Go expvar', severity: 'high', match: jsonKeys('memstats', 'cmdline') },
  { path: '/debug/pprof/', what: 'Go pprof profiles', severity: 'high', match: all(/Types of profiles available|<title>\/debug\/pprof\/<\/title>/i) },
  { path: '/debug/requests', what: 'Go x/net/trace', severity: 'medium', match: all(/<title>\/debug\/requests<\/title>/i) },
  { path: '/api/debug', what: 'debug endpoint', severity: 'high', match: debugJson },
  { path: '/debug', what: 'debug endpoint', severity: 'high', match: debugJson },
  { path: '/_debug', what: 'debug endpoint', severity: 'high', match: debugJson },
  { path: '/console', what: 'Werkzeug interactive console', severity: 'high', match: all(/Werkzeug Debugger|CONSOLE_MODE\s*=\s*true|__debugger__/) },
  { path: '/__debug__/', what: 'Django Debug Toolbar', severity: 'medium', match: all(/djDebug|django-debug-toolbar|debug_toolbar/i) },
  { path: '/_profiler/', what: 'Symfony profiler', severity: 'high', match: all(/Symfony Profiler|sf-toolbar|sfwdt/i) },
  { path: '/_profiler/phpinfo', what: 'phpinfo() through the Symfony profiler', severity: 'high', match: PHPINFO },
  { path: '/phpinfo.php', what: 'phpinfo()', severity: 'high', match: PHPINFO },
  { path: '/info.php', what: 'phpinfo()', severity: 'high', match: PHPINFO },
  { path: '/_debugbar/open', what: 'Laravel Debugbar', severity: 'medium', match: all(/"__meta"|phpdebugbar/) },
  { path: '/telescope', what: 'Laravel Telescope', severity: 'high', match: all(/<title>[^<]*Telescope[^<]*<\/title>|Laravel Telescope/i) },
  { path: '/_ignition/health-check', what: 'Laravel Ignition', severity: 'high', match: jsonKeys('can_execute_commands') },
  { path: '/debug/default/view', what: 'Yii debugger', severity: 'high', match: all(/Yii Debugger/i) },
  { path: '/rails/info/properties', what: 'Rails info', severity: 'high', match: all(/Rails version/, /Ruby version/) },
  { path: '/rails/info/routes', what: 'Rails routes', severity: 'medium', match: all(/HTTP Verb/, /Controller#Action/) },
  { path: '/elmah.axd', what: 'ELMAH error log', severity: 'high', match: all(/Error Log for|ELMAH/) },
  { path: '/trace.axd', what: 'ASP.NET trace', severity: 'high', match: all(/Application Trace/) },

  // Spring Boot actuator (2.x and 1.x paths).
  { path: '/actuator', what: 'Spring actuator index', severity: 'low', match: all(/"_links"\s*:/, /\/actuator/) },
  { path: '/actuator/env', what: 'Spring environment', severity: 'high', match: jsonKeys('propertySources') },
  { path: '/actuator/configprops', what: 'Spring configuration properties', severity: 'medium', match: all(/"contexts"\s*:/, /"prefix"\s*:/) },
  { path: '/actuator/httpexchanges', what: 'Spring HTTP exchanges (with headers)', severity: 'high', match: jsonKeys('exchanges') },
  { path: '/actuator/httptrace', what: 'Spring HTTP trace (with headers)', severity: 'high', match: jsonKeys('traces') },
  { path: '/actuator/threaddump', what: 'Spring thread dump', severity: 'medium', match: all(/"threads"\s*:\s*\[/, /"threadName"/) },
  { path: '/actuator/heapdump', what: 'Java heap dump', severity: 'high', match: all(HPROF), largeIsEvidence: true },
  { path: '/heapdump', what: 'heap dump', severity: 'high', match: all(/^JAVA PROFILE \d\.\d|^\{"snapshot":\{"meta"/), largeIsEvidence: true },
  { path: '/env', what: 'Spring Boot 1 environment', severity: 'high', match: jsonKeys('systemProperties', 'systemEnvironment', 'propertySources') },
  { path: '/jolokia', what: 'Jolokia JMX bridge', severity: 'high', match: all(/"agent"\s*:/, /"protocol"\s*:/) },

  // Server status and admin consoles.
  { path: '/server-status', what: 'Apache server status', severity: 'medium', match: all(/Apache Server Status for/i) },
  { path: '/server-info', what: 'Apache server info', severity: 'medium', match: all(/Apache Server Information/i) },
  { path: '/nginx_status', what: 'nginx stub status', severity: 'low', match: raw(/Active connections:\s*\d+/, /server accepts handled requests/) },
  { path: '/manager/html', what: 'Tomcat manager', severity: 'high', match: all(/Tomcat Web Application Manager/) },
  { path: '/jmx-console/', what: 'JBoss JMX console', severity: 'high', match: all(/JBoss JMX Management Console|jmx-console/i, /MBean/i) },
  { path: '/adminer.php', what: 'Adminer database console', severity: 'medium', match: all(/<title>[^<]*Adminer/i) },
  { path: '/druid/index.html', what: 'Druid monitor', severity: 'medium', match: all(/Druid Stat Index|druid monitor/i) },

  // Dumps.
  { path: '/backup.sql', what: 'database dump', severity: 'high', match: SQL_DUMP, largeIsEvidence: true },
  { path: '/dump.sql', what: 'database dump', severity: 'high', match: SQL_DUMP, largeIsEvidence: true },
  { path: '/database.sql', what: 'database dump', severity: 'high', match: SQL_DUMP, largeIsEvidence: true },
  { path: '/db.sql', what: 'database dump', severity: 'high', match: SQL_DUMP, largeIsEvidence: true },

  // API descriptions: often published on purpose, so low: worth knowing, not a blocker.
  { path: '/swagger.json', what: 'Swagger API description', severity: 'low', match: all(/"swagger"\s*:\s*"2/) },
  { path: '/openapi.json', what: 'OpenAPI description', severity: 'low', match: all(/"openapi"\s*:\s*"3/) },
  { path: '/v3/api-docs', what: 'OpenAPI description (springdoc)', severity: 'low', match: all(/"openapi"\s*:\s*"3/) },
  { path: '/swagger-ui.html', what: 'Swagger UI', severity: 'low', match: all(/<title>Swagger UI<\/title>|swagger-ui-bundle/i) },
  {
    path: '/graphql',
    what: 'GraphQL introspection',
    severity: 'low',
    method: 'POST',
    body: JSON.stringify({ query: '{__schema{queryType{name}}}' }),
    match: all(/"__schema"\s*:\s*\{/),
  },

  // Guessed bundle source maps (discovered ones are added from the page's <script> tags).
  { path: '/main.js.map', what: 'source map', severity: 'low', match: sourceMap },
  { path: '/bundle.js.map', what: 'source map', severity: 'low', match: sourceMap },
  { path: '/app.js.map', what: 'source map', severity: 'low', match: sourceMap },
];

/** The built-in list (the core and the grown catalog); `extra` in the config adds to it, `skip` removes from it. */
export const CATALOG: readonly Exposure[] = [...CORE, ...grownCatalog()];

/** Markers of a debug toolbar or debugger rendered into an ordinary page. */
export const PAGE_MARKERS: readonly { what: string; severity: Severity; pattern: Pattern }[] = [
  { what: 'Django Debug Toolbar', severity: 'medium', pattern: linear(/id="djDebug"/) },
  { what: 'Symfony web debug toolbar', severity: 'medium', pattern: linear(/class="sf-toolbar|sfToolbarMainContent|id="sfwdt/) },
  { what: 'Laravel Debugbar', severity: 'medium', pattern: linear(/phpdebugbar/) },
  { what: 'Werkzeug debugger', severity: 'high', pattern: linear(/Werkzeug Debugger/) },
];
