// The catalog grown from the public exposure catalogs (the shapes nuclei's `exposures` and
// `misconfiguration` templates and SecLists' lists look for): admin, settings and diagnostics
// endpoints of popular self-hosted tools and frameworks, profilers, framework debug pages, backup
// and editor files. As in catalog.ts, every entry says which bytes make it the real thing: a 200
// alone is never evidence. Paths the original catalog already has are not repeated here.
//
// Built by a function that catalog.ts calls once its own matchers exist (the two modules import
// each other), so nothing here runs before they do.
import type { Exposure, Matcher } from './catalog.js';
import { all, dotenv, jsonKeys, raw } from './catalog.js';

type Sev = Exposure['severity'];

/** The grown entries; catalog.ts appends them to its own. */
export function grownCatalog(): Exposure[] {
  const entry = (path: string, what: string, severity: Sev, match: Matcher, extra: Partial<Exposure> = {}): Exposure => ({ path, what, severity, match, ...extra });

  const PRIVATE_KEY = /-----BEGIN (?:RSA |OPENSSH |EC |DSA |ENCRYPTED )?PRIVATE KEY-----/;
  const PHPINFO = all(/phpinfo\(\)|PHP Version \d+\.\d+/, /PHP (?:License|Credits)|Zend Engine|Configuration File \(php\.ini\)|<title>phpinfo\(\)<\/title>/);
  const SQL_DUMP = raw(/^-- (?:MySQL|MariaDB) dump|^-- PostgreSQL database dump|^CREATE TABLE|^INSERT INTO \S+ (?:\([^)]*\) )?VALUES/im);
  const SQLITE = all(/^SQLite format 3/);
  const ZIP = all(/^PK\x03\x04/);
  // gzip's second byte (0x8b) is no valid UTF-8 on its own, so it reads as a replacement character.
  const GZIP = all(/^\x1f[\s\S]\x08/);
  const VIM_SWAP = all(/^b0VIM \d/);
  const DIR_LISTING = all(/<title>Index of \/|<h1>Index of \/|<title>Directory listing for \//i);
  const SPRING_YAML = raw(/^spring:\s*$/m, /password:/i);
  const WP_CONFIG = raw(/define\(\s*['"]DB_(?:PASSWORD|USER|NAME)['"]/);
  const JOOMLA = raw(/class JConfig/, /\$password\s*=/);
  const DRUPAL = raw(/\$databases\s*(?:\[|=)/, /'password'\s*=>/);
  const COMPOSE = raw(/^services:\s*$/m, /^\s+image:/m);
  const OPENAPI_JSON = all(/"openapi"\s*:\s*"3|"swagger"\s*:\s*"2/);
  const LOG_PHP = raw(/PHP (?:Warning|Notice|Fatal error|Parse error|Deprecated):/);
  const LARAVEL_LOG = raw(/^\[\d{4}-\d{2}-\d{2} [\d:]+\] \w+\.(?:ERROR|WARNING|INFO|DEBUG):/m);
  const ACCESS_LOG = raw(/^\S+ \S+ \S+ \[\d{2}\/\w{3}\/\d{4}:[\d:]+ [+-]\d{4}\] "(?:GET|POST|HEAD|PUT|DELETE) /m);
  const SHELL_HISTORY = raw(/^(?:sudo |cd |ls|ssh |git |mysql |psql |export |cat |vim? |scp |curl |wget )/m, /\n/);
  const KUBECONFIG = raw(/^apiVersion:\s*v1\s*$/m, /^clusters:\s*$/m);
  const TFSTATE = all(/"terraform_version"\s*:/, /"resources"\s*:|"modules"\s*:/);
  const GCP_SERVICE_ACCOUNT = all(/"type"\s*:\s*"service_account"/, /"private_key"\s*:/);
  const SECRET_JSON = all(/"[\w-]*(?:password|passwd|secret|api[_-]?key|private[_-]?key|access[_-]?key|client[_-]?secret|connection[_-]?string|database[_-]?url)[\w-]*"\s*:\s*"[^"]{4,}"/i);
  const SECRET_YAML = raw(/^\s*[\w.-]*(?:password|passwd|secret|api_?key|access_?key|token)[\w.-]*\s*:\s*\S{4,}/im, /^[\w.-]+:\s*$|^[\w.-]+:\s+\S/m);
  const PHPMYADMIN = all(/<title>[^<]*phpMyAdmin|pma_navigation|phpmyadmin\.css/i);
  const ADMINER = all(/<title>[^<]*Adminer/i);
  const APP_SETTINGS = all(/"ConnectionStrings"\s*:/);
  const NGINX_STUB = raw(/Active connections:\s*\d+/, /server accepts handled requests/);
  const FPM_STATUS = raw(/^pool:\s+\S+/m, /^process manager:\s+\S+/m);
  const TOMCAT_STATUS = all(/Server Status/, /Tomcat|JVM/);

  const env = (path: string): Exposure => entry(path, 'environment file', 'high', dotenv);
  const phpinfo = (path: string): Exposure => entry(path, 'phpinfo()', 'high', PHPINFO);
  const sqlDump = (path: string): Exposure => entry(path, 'database dump', 'high', SQL_DUMP, { largeIsEvidence: true });
  const archive = (path: string, kind: 'zip' | 'gzip'): Exposure => entry(path, `site backup archive (${kind})`, 'high', kind === 'zip' ? ZIP : GZIP, { largeIsEvidence: true });
  const sqlite = (path: string): Exposure => entry(path, 'SQLite database', 'high', SQLITE, { largeIsEvidence: true });
  const listing = (path: string): Exposure => entry(path, 'directory listing', 'medium', DIR_LISTING);
  const key = (path: string): Exposure => entry(path, 'private key', 'high', all(PRIVATE_KEY));

  return [
    // Environment files in other places and spellings.
    ...[
      '/.env.prod',
      '/.env.production.local',
      '/.env.development.local',
      '/.env.staging',
      '/.env.dev',
      '/.env.test',
      '/.env.old',
      '/.env.save',
      '/.env.orig',
      '/.env.dist',
      '/.env~',
      '/api/.env',
      '/app/.env',
      '/backend/.env',
      '/server/.env',
      '/config/.env',
      '/laravel/.env',
      '/admin/.env',
      '/src/.env',
      '/public/.env',
    ].map(env),
    entry('/.env.swp', 'vim swap file of .env', 'high', VIM_SWAP),
    entry('/.env.sample.local', 'environment file', 'high', dotenv),

    // Credentials and config files of tools.
    entry('/.git-credentials', 'Git credentials', 'high', raw(/^https?:\/\/[^:\s]+:[^@\s]+@/m)),
    entry('/.gitconfig', 'Git user config', 'low', raw(/^\[user\]\s*$/m, /^\s*(?:name|email)\s*=/m)),
    entry('/.netrc', 'netrc credentials', 'high', raw(/^\s*machine\s+\S+/m, /\b(?:login|password)\s+\S+/)),
    entry('/.pgpass', 'PostgreSQL password file', 'high', raw(/^[^:\s]+:(?:\d+|\*):[^:\s]+:[^:\s]+:\S+$/m)),
    entry('/.my.cnf', 'MySQL client config', 'high', raw(/^\[(?:client|mysql)\]\s*$/m, /^\s*password\s*=/m)),
    entry('/.s3cfg', 's3cmd credentials', 'high', raw(/^\[default\]\s*$/m, /^\s*access_key\s*=/m)),
    entry('/.boto', 'boto credentials', 'high', raw(/^\[Credentials\]\s*$/m, /aws_access_key_id\s*=/)),
    entry('/.aws/config', 'AWS CLI config', 'low', raw(/^\[(?:default|profile \S+)\]\s*$/m, /^\s*region\s*=/m)),
    entry('/.kube/config', 'Kubernetes credentials', 'high', KUBECONFIG),
    entry('/kubeconfig', 'Kubernetes credentials', 'high', KUBECONFIG),
    entry('/.docker/.dockercfg', 'Docker registry credentials', 'high', all(/"auth"\s*:\s*"/)),
    entry('/credentials.json', 'Google service account key', 'high', GCP_SERVICE_ACCOUNT),
    entry('/service-account.json', 'Google service account key', 'high', GCP_SERVICE_ACCOUNT),
    entry('/firebase-adminsdk.json', 'Firebase admin key', 'high', GCP_SERVICE_ACCOUNT),
    entry('/secrets.json', 'secrets file', 'high', SECRET_JSON),
    entry('/config/secrets.json', 'secrets file', 'high', SECRET_JSON),
    entry('/settings.json', 'settings with secrets', 'medium', SECRET_JSON),
    entry('/config/config.json', 'config file with secrets', 'medium', SECRET_JSON),
    entry('/secrets.yml', 'secrets file', 'high', SECRET_YAML),
    entry('/config/secrets.yml', 'Rails secrets', 'high', SECRET_YAML),
    entry('/config.yml', 'config file with secrets', 'medium', SECRET_YAML),
    entry('/config.yaml', 'config file with secrets', 'medium', SECRET_YAML),
    entry('/config/database.yml', 'Rails database config', 'high', raw(/^\s*adapter:\s*\S+/m, /^\s*(?:password|username):/m)),
    entry('/config/master.key', 'Rails master key', 'high', raw(/^[0-9a-f]{32}\s*$/)),
    entry('/parameters.yml', 'Symfony parameters', 'high', raw(/^parameters:\s*$/m, /database_password:/)),
    entry('/app/config/parameters.yml', 'Symfony parameters', 'high', raw(/^parameters:\s*$/m, /database_password:/)),
    entry('/settings.py', 'Django settings', 'high', raw(/^SECRET_KEY\s*=/m)),
    entry('/local_settings.py', 'Django settings', 'high', raw(/^(?:SECRET_KEY|DATABASES)\s*=/m)),
    entry('/application-prod.yml', 'Spring config', 'high', SPRING_YAML),
    entry('/config/application.yml', 'Spring config', 'high', SPRING_YAML),
    entry('/appsettings.Development.json', '.NET settings with connection strings', 'high', APP_SETTINGS),
    entry('/appsettings.Production.json', '.NET settings with connection strings', 'high', APP_SETTINGS),
    entry('/WEB-INF/web.xml', 'Java web app descriptor', 'high', raw(/<web-app\b/, /<servlet|<filter|<context-param/)),
    entry('/META-INF/MANIFEST.MF', 'Java manifest', 'low', raw(/^Manifest-Version:\s*\d/m)),
    entry('/app/etc/local.xml', 'Magento config', 'high', raw(/<config>/, /<connection>/)),
    entry('/sftp-config.json', 'Sublime SFTP credentials', 'high', all(/"type"\s*:\s*"s?ftp"/, /"password"\s*:/)),
    entry('/.ftpconfig', 'editor FTP credentials', 'high', all(/"protocol"\s*:\s*"s?ftp"/, /"pass(?:word)?"\s*:/)),
    entry('/.remote-sync.json', 'editor sync credentials', 'high', all(/"hostname"\s*:/, /"password"\s*:/)),
    entry('/filezilla.xml', 'FileZilla credentials', 'high', all(/<FileZilla3/, /<Pass\b/)),
    entry('/sitemanager.xml', 'FileZilla site manager', 'high', all(/<FileZilla3/, /<Server>/)),
    entry('/.htaccess', 'Apache .htaccess', 'low', raw(/^\s*(?:RewriteEngine|RewriteRule|Deny from|Require all|AuthType|Options [+-])/m)),
    entry('/crossdomain.xml', 'Flash cross-domain policy open to any site', 'medium', all(/<cross-domain-policy/, /allow-access-from domain="\*"/)),
    entry('/clientaccesspolicy.xml', 'Silverlight policy open to any site', 'medium', all(/<access-policy/, /<domain uri="\*"/)),

    // Keys.
    key('/server.key'),
    key('/privatekey.pem'),
    key('/private.pem'),
    key('/key.pem'),
    key('/id_dsa'),
    key('/id_ecdsa'),
    key('/id_ed25519'),
    key('/.ssh/id_ed25519'),
    key('/.ssh/id_ecdsa'),
    entry('/.ssh/authorized_keys', 'SSH authorized keys', 'medium', raw(/^(?:ssh-(?:rsa|ed25519|dss)|ecdsa-sha2-\S+) AAAA/m)),
    entry('/.ssh/known_hosts', 'SSH known hosts', 'low', raw(/^\S+ (?:ssh-(?:rsa|ed25519)|ecdsa-sha2-\S+) AAAA/m)),

    // Source control and CI.
    entry('/.git/index', 'Git index', 'high', all(/^DIRC/)),
    entry('/.git/logs/HEAD', 'Git reflog', 'high', raw(/^[0-9a-f]{40} [0-9a-f]{40} /m)),
    entry('/.git/ORIG_HEAD', 'Git repository', 'high', raw(/^[0-9a-f]{40}\s*$/)),
    entry('/.git/FETCH_HEAD', 'Git repository', 'high', raw(/^[0-9a-f]{40}\s+(?:not-for-merge\s+)?branch /m)),
    entry('/.git/description', 'Git repository', 'medium', raw(/^Unnamed repository; edit this file/)),
    entry('/.git/packed-refs', 'Git repository', 'high', raw(/^# pack-refs with:|^[0-9a-f]{40} refs\//m)),
    entry('/.gitlab-ci.yml', 'GitLab CI pipeline', 'low', raw(/^(?:stages|image|variables|include):/m, /^\s+script:/m)),
    entry('/.travis.yml', 'Travis CI config', 'low', raw(/^(?:language|script|install|os|dist):/m)),
    entry('/.circleci/config.yml', 'CircleCI config', 'low', raw(/^version:\s*[\d.]+/m, /^(?:jobs|workflows):/m)),
    entry('/bitbucket-pipelines.yml', 'Bitbucket pipeline', 'low', raw(/^pipelines:\s*$/m)),
    entry('/.drone.yml', 'Drone CI config', 'low', raw(/^kind:\s*pipeline/m)),
    entry('/Jenkinsfile', 'Jenkins pipeline', 'low', raw(/^\s*(?:pipeline|node)\s*\{/m)),
    entry('/.bzr/branch-format', 'Bazaar repository', 'high', raw(/^Bazaar-NG meta directory/)),
    entry('/CVS/Root', 'CVS working copy', 'medium', raw(/^:(?:pserver|ext|local):/)),
    entry('/CVS/Entries', 'CVS working copy', 'medium', raw(/^(?:D?\/[^/\s]+\/[\d.]*\/)/m)),
    entry('/.hg/hgrc', 'Mercurial repository config', 'high', raw(/^\[(?:paths|ui)\]\s*$/m)),

    // Build and dependency manifests: what runs, and at which versions.
    entry('/composer.json', 'Composer manifest', 'low', all(/"require"\s*:\s*\{/)),
    entry('/composer.lock', 'Composer lock file', 'low', all(/"content-hash"\s*:/, /"packages"\s*:/)),
    entry('/package.json', 'npm manifest', 'low', all(/"(?:dependencies|devDependencies)"\s*:\s*\{/, /"name"\s*:/)),
    entry('/package-lock.json', 'npm lock file', 'low', all(/"lockfileVersion"\s*:/)),
    entry('/yarn.lock', 'yarn lock file', 'low', raw(/^# (?:THIS IS AN AUTOGENERATED FILE|yarn lockfile v1)/m)),
    entry('/Gemfile.lock', 'Bundler lock file', 'low', raw(/^GEM\s*$/m, /^\s+remote:/m)),
    entry('/vendor/composer/installed.json', 'Composer installed packages', 'low', all(/"name"\s*:\s*"[\w-]+\/[\w-]+"/, /"version"\s*:/)),
    entry('/Dockerfile', 'Dockerfile', 'low', raw(/^FROM\s+\S+/m)),
    entry('/docker-compose.yaml', 'docker-compose file', 'medium', COMPOSE),
    entry('/docker-compose.prod.yml', 'docker-compose file', 'medium', COMPOSE),
    entry('/docker-compose.override.yml', 'docker-compose file', 'medium', COMPOSE),
    entry('/Vagrantfile', 'Vagrantfile', 'low', raw(/Vagrant\.configure\(/)),
    entry('/webpack.config.js', 'webpack config', 'low', raw(/module\.exports\s*=/, /\bentry\s*:/)),
    entry('/phpunit.xml', 'PHPUnit config', 'low', raw(/<phpunit\b/)),
    entry('/.idea/workspace.xml', 'JetBrains workspace', 'low', raw(/<project version=/, /<component name=/)),
    entry('/terraform.tfstate', 'Terraform state (holds secrets)', 'high', TFSTATE),
    entry('/terraform.tfstate.backup', 'Terraform state (holds secrets)', 'high', TFSTATE),
    entry('/.terraform/terraform.tfstate', 'Terraform backend state', 'high', TFSTATE),

    // Backups and editor leftovers of configuration.
    entry('/wp-config.php.save', 'WordPress config backup', 'high', WP_CONFIG),
    entry('/wp-config.php.orig', 'WordPress config backup', 'high', WP_CONFIG),
    entry('/wp-config.php.txt', 'WordPress config backup', 'high', WP_CONFIG),
    entry('/wp-config.bak', 'WordPress config backup', 'high', WP_CONFIG),
    entry('/.wp-config.php.swp', 'vim swap of the WordPress config', 'high', VIM_SWAP),
    entry('/configuration.php.bak', 'Joomla config backup', 'high', JOOMLA),
    entry('/configuration.php~', 'Joomla config backup', 'high', JOOMLA),
    entry('/sites/default/settings.php.bak', 'Drupal settings backup', 'high', DRUPAL),
    entry('/sites/default/settings.php~', 'Drupal settings backup', 'high', DRUPAL),
    entry('/config.php.bak', 'PHP config backup', 'high', raw(/<\?php/, /\$(?:db|database|config)\w*\s*(?:\[|=)|define\(\s*['"]DB_/i)),
    entry('/config.php~', 'PHP config backup', 'high', raw(/<\?php/, /\$(?:db|database|config)\w*\s*(?:\[|=)|define\(\s*['"]DB_/i)),
    entry('/config.inc.php.bak', 'PHP config backup', 'high', raw(/<\?php/, /\$cfg\[|\$(?:db|database)\w*\s*=/)),
    entry('/index.php.bak', 'PHP source backup', 'medium', raw(/<\?php/)),
    entry('/index.php~', 'PHP source backup', 'medium', raw(/<\?php/)),
    archive('/backup.zip', 'zip'),
    archive('/backup.tar.gz', 'gzip'),
    archive('/backup.tgz', 'gzip'),
    archive('/site.zip', 'zip'),
    archive('/site.tar.gz', 'gzip'),
    archive('/www.zip', 'zip'),
    archive('/html.zip', 'zip'),
    archive('/web.zip', 'zip'),
    archive('/public.zip', 'zip'),
    archive('/db.zip', 'zip'),
    archive('/database.zip', 'zip'),
    archive('/dump.sql.gz', 'gzip'),
    archive('/backup.sql.gz', 'gzip'),
    sqlDump('/data.sql'),
    sqlDump('/mysql.sql'),
    sqlDump('/users.sql'),
    sqlDump('/site.sql'),
    sqlDump('/wordpress.sql'),
    sqlDump('/localhost.sql'),
    sqlDump('/backup/db.sql'),
    sqlDump('/db/dump.sql'),
    sqlite('/db.sqlite'),
    sqlite('/db.sqlite3'),
    sqlite('/database.sqlite'),
    sqlite('/data.db'),
    sqlite('/app.db'),
    sqlite('/database/database.sqlite'),

    // Directory listings where backups and uploads live.
    listing('/backup/'),
    listing('/backups/'),
    listing('/uploads/'),
    listing('/logs/'),
    listing('/tmp/'),
    listing('/wp-content/uploads/'),

    // Logs and shell histories.
    entry('/debug.log', 'PHP debug log', 'medium', LOG_PHP),
    entry('/error.log', 'error log', 'medium', LOG_PHP),
    entry('/error_log', 'PHP error log', 'medium', LOG_PHP),
    entry('/php_errors.log', 'PHP error log', 'medium', LOG_PHP),
    entry('/wp-content/debug.log', 'WordPress debug log', 'medium', LOG_PHP),
    entry('/storage/logs/laravel.log', 'Laravel log', 'high', LARAVEL_LOG),
    entry('/logs/error.log', 'error log', 'medium', LOG_PHP),
    entry('/access.log', 'web access log', 'medium', ACCESS_LOG),
    entry('/access_log', 'web access log', 'medium', ACCESS_LOG),
    entry('/logs/access.log', 'web access log', 'medium', ACCESS_LOG),
    entry('/npm-debug.log', 'npm debug log', 'low', raw(/^\d+ (?:verbose|info|error) /m)),
    entry('/yarn-error.log', 'yarn error log', 'low', raw(/^Arguments:\s*$/m, /Yarn version:/)),
    entry('/.bash_history', 'shell history', 'medium', SHELL_HISTORY),
    entry('/.zsh_history', 'shell history', 'medium', raw(/^: \d{9,}:\d+;/m)),
    entry('/.mysql_history', 'MySQL client history', 'medium', raw(/\b(?:SELECT|INSERT|UPDATE|CREATE|GRANT|SHOW)\b/i)),
    entry('/.psql_history', 'psql history', 'medium', raw(/\b(?:SELECT|INSERT|UPDATE|CREATE|ALTER|\\d[t+]?)\b/i)),
    entry('/.viminfo', 'vim history', 'low', raw(/^# This viminfo file was generated by Vim/m)),

    // phpinfo() under the names people give it.
    ...['/phpinfo', '/php_info.php', '/test.php', '/i.php', '/pinfo.php', '/phpversion.php', '/infophp.php', '/php.php'].map(phpinfo),

    // Framework debug pages and profilers.
    entry('/@vite/client', 'Vite dev server (a development build in production)', 'medium', all(/import\.meta\.hot|\[vite\]/)),
    entry('/silk/', 'Django Silk profiler', 'medium', all(/<title>[^<]*Silk/i)),
    entry('/__clockwork/app', 'Clockwork profiler', 'medium', all(/<title>Clockwork<\/title>/, /<script/)),
    entry('/glimpse.axd', 'Glimpse diagnostics', 'medium', all(/Glimpse\.(?:Core|AspNet)|glimpse\.js|<title>Glimpse/)),
    entry('/sidekiq', 'Sidekiq web UI', 'medium', all(/<title>[^<]*Sidekiq/i)),
    entry('/resque', 'Resque web UI', 'medium', all(/<title>[^<]*Resque|resque-web/i)),
    entry('/rails/mailers', 'Rails mailer previews', 'low', all(/Mailer Previews|rails\/mailers\//)),
    entry('/status', 'express-status-monitor', 'low', all(/<title>[^<]*Express Status|express-status-monitor/i)),
    entry('/app_dev.php', 'Symfony dev front controller', 'high', all(/sf-toolbar|Symfony Profiler|sfwdt/)),
    entry('/index.php/_profiler/', 'Symfony profiler', 'high', all(/Symfony Profiler|sf-toolbar/i)),
    entry('/debug/pprof/goroutine?debug=1', 'Go goroutine dump', 'high', raw(/^goroutine profile: total \d+/m)),
    entry('/debug/events', 'Go x/net/trace events', 'medium', all(/<title>\/debug\/events<\/title>/i)),
    entry('/h2-console/', 'H2 database console', 'high', all(/<title>H2 Console<\/title>|H2 Console Login/)),
    entry('/jolokia/list', 'Jolokia JMX bridge', 'high', all(/"value"\s*:/, /"java\.lang"\s*:/)),
    entry('/api/kernels', 'Jupyter kernels (code execution)', 'high', all(/"execution_state"\s*:/, /"id"\s*:/)),
    entry('/tree', 'Jupyter notebook', 'high', all(/<title>[^<]*(?:Jupyter|Home Page - Select or create a notebook)/i)),
    entry('/lab', 'JupyterLab', 'high', all(/<title>JupyterLab<\/title>|jupyter-config-data/)),
    entry('/storybook/', 'Storybook', 'low', all(/<title>[^<]*Storybook/i)),
    entry('/graphiql', 'GraphiQL IDE', 'low', all(/<title>[^<]*GraphiQL|graphiql\.min\.(?:js|css)/i)),
    entry('/playground', 'GraphQL Playground', 'low', all(/GraphQL Playground|graphql-playground/i)),

    // Spring Boot actuator, more endpoints, and the 1.x ones.
    entry('/actuator/mappings', 'Spring request mappings', 'medium', all(/"dispatcherServlets"\s*:|"mappings"\s*:\s*\{/)),
    entry('/actuator/beans', 'Spring beans', 'low', all(/"beans"\s*:\s*\{/, /"contexts"\s*:/)),
    entry('/actuator/loggers', 'Spring loggers (writable)', 'medium', all(/"levels"\s*:\s*\[/, /"loggers"\s*:/)),
    entry('/actuator/metrics', 'Spring metrics names', 'low', all(/"names"\s*:\s*\[/)),
    entry('/actuator/scheduledtasks', 'Spring scheduled tasks', 'low', all(/"cron"\s*:\s*\[|"fixedRate"\s*:\s*\[/)),
    entry('/actuator/auditevents', 'Spring audit events', 'medium', all(/"events"\s*:\s*\[/)),
    entry('/actuator/flyway', 'Flyway migrations', 'low', all(/"flywayBeans"\s*:|"migrations"\s*:\s*\[/)),
    entry('/actuator/liquibase', 'Liquibase change sets', 'low', all(/"liquibaseBeans"\s*:|"changeSets"\s*:\s*\[/)),
    entry('/actuator/gateway/routes', 'Spring Cloud Gateway routes (writable: CVE-2022-22947)', 'high', all(/"route_id"\s*:/)),
    entry('/actuator/logfile', 'Spring log file', 'medium', raw(/^\d{4}-\d{2}-\d{2}[ T][\d:.]+\s+(?:INFO|WARN|ERROR|DEBUG)\s/m)),
    entry('/mappings', 'Spring Boot 1 mappings', 'medium', all(/"\{\[\/[^"]*\]/, /"bean"\s*:|"method"\s*:/)),
    entry('/beans', 'Spring Boot 1 beans', 'low', all(/"beans"\s*:\s*\[/, /"context"\s*:/)),
    entry('/configprops', 'Spring Boot 1 configuration properties', 'medium', all(/"prefix"\s*:/, /"properties"\s*:/)),
    entry('/dump', 'Spring Boot 1 thread dump', 'medium', all(/"threadName"\s*:/, /"threadState"\s*:/)),
    entry('/trace', 'Spring Boot 1 HTTP trace', 'high', all(/"timestamp"\s*:/, /"info"\s*:\s*\{/, /"headers"\s*:/)),
    entry('/autoconfig', 'Spring Boot 1 auto-configuration report', 'low', jsonKeys('positiveMatches', 'negativeMatches')),
    entry('/v2/api-docs', 'Swagger description (springfox)', 'low', OPENAPI_JSON),
    entry('/api-docs', 'API description', 'low', OPENAPI_JSON),
    entry('/api/swagger.json', 'Swagger API description', 'low', OPENAPI_JSON),
    entry('/api/openapi.json', 'OpenAPI description', 'low', OPENAPI_JSON),
    entry('/swagger/v1/swagger.json', 'Swagger description (.NET)', 'low', OPENAPI_JSON),
    entry('/openapi.yaml', 'OpenAPI description', 'low', raw(/^openapi:\s*['"]?3/m)),
    entry('/swagger.yaml', 'Swagger description', 'low', raw(/^swagger:\s*['"]?2/m)),
    entry('/swagger/index.html', 'Swagger UI', 'low', all(/<title>Swagger UI<\/title>|swagger-ui-bundle/i)),

    // Server status pages and proxies' admin interfaces.
    entry('/server-status?auto', 'Apache server status', 'medium', raw(/^(?:ServerVersion|Total Accesses):/m, /^(?:BusyWorkers|Scoreboard):/m)),
    entry('/balancer-manager', 'Apache balancer manager (writable)', 'high', all(/Load Balancer Manager for/i)),
    entry('/stub_status', 'nginx stub status', 'low', NGINX_STUB),
    entry('/basic_status', 'nginx stub status', 'low', NGINX_STUB),
    entry('/nginx-status', 'nginx stub status', 'low', NGINX_STUB),
    entry('/fpm-status', 'PHP-FPM status', 'medium', FPM_STATUS),
    entry('/php-fpm-status', 'PHP-FPM status', 'medium', FPM_STATUS),
    entry('/haproxy?stats', 'HAProxy statistics', 'medium', all(/Statistics Report for HAProxy/i)),
    entry('/server_info', 'Envoy admin server info', 'high', all(/"command_line_options"\s*:/)),
    entry('/config_dump', 'Envoy admin config dump', 'high', all(/"configs"\s*:\s*\[/, /"@type"\s*:\s*"type\.googleapis\.com\/envoy/)),
    entry('/api/rawdata', 'Traefik API', 'medium', all(/"routers"\s*:/, /"services"\s*:/)),
    entry('/manager/status', 'Tomcat server status', 'medium', TOMCAT_STATUS),
    entry('/host-manager/html', 'Tomcat host manager', 'high', all(/Tomcat Virtual Host Manager/)),
    entry('/web-console/', 'JBoss web console', 'high', all(/JBoss (?:Management|Web) Console/, /<html|<frameset/i)),
    entry('/console/login/LoginForm.jsp', 'WebLogic admin console', 'medium', all(/Oracle WebLogic Server Administration Console/i)),

    // Admin consoles of self-hosted tools.
    entry('/phpmyadmin/', 'phpMyAdmin', 'medium', PHPMYADMIN),
    entry('/phpMyAdmin/', 'phpMyAdmin', 'medium', PHPMYADMIN),
    entry('/pma/', 'phpMyAdmin', 'medium', PHPMYADMIN),
    entry('/adminer/', 'Adminer database console', 'medium', ADMINER),
    entry('/adminer', 'Adminer database console', 'medium', ADMINER),
    entry('/solr/admin/cores?wt=json', 'Solr core admin', 'high', all(/"responseHeader"\s*:/, /"status"\s*:\s*\{/)),
    entry('/_cat/indices', 'Elasticsearch indices', 'high', raw(/^(?:green|yellow|red)\s+(?:open|close)\s+\S+/m)),
    entry('/_cluster/health', 'Elasticsearch cluster health', 'medium', all(/"cluster_name"\s*:/, /"number_of_nodes"\s*:/)),
    entry('/_nodes', 'Elasticsearch nodes', 'high', all(/"cluster_name"\s*:/, /"nodes"\s*:\s*\{/)),
    entry('/api/v1/status/config', 'Prometheus server config', 'medium', all(/"yaml"\s*:/, /scrape_configs/)),
    entry('/api/v1/targets', 'Prometheus targets', 'low', all(/"activeTargets"\s*:/)),
    entry('/v1/agent/self', 'Consul agent', 'high', all(/"Config"\s*:/, /"Member"\s*:/)),
    entry('/v1/kv/?recurse', 'Consul key-value store', 'high', all(/"LockIndex"\s*:/, /"Key"\s*:/)),
    entry('/v2/keys/', 'etcd keys', 'high', all(/"action"\s*:\s*"get"/, /"node"\s*:/)),
    entry('/containers/json', 'Docker Engine API (host takeover)', 'high', all(/"Id"\s*:/, /"Image"\s*:/, /"Command"\s*:/)),
    entry('/info', 'Docker Engine API info', 'high', all(/"DockerRootDir"\s*:/, /"Containers"\s*:/)),
    entry('/api/v1/pods', 'Kubernetes API pods', 'high', all(/"kind"\s*:\s*"PodList"/)),
    entry('/pods', 'kubelet pods', 'high', all(/"kind"\s*:\s*"PodList"/)),
    entry('/v2/_catalog', 'Docker registry catalog', 'medium', jsonKeys('repositories')),
    entry('/script', 'Jenkins script console', 'high', all(/Script Console/, /Jenkins|hudson/i)),
    entry('/api/json', 'Jenkins API', 'medium', all(/"_class"\s*:\s*"hudson\.model\.(?:Hudson|AllView)"/)),
    entry('/computer/api/json', 'Jenkins nodes', 'low', all(/"_class"\s*:\s*"hudson\.model\.ComputerSet"/)),
    entry('/api/overview', 'RabbitMQ management API', 'medium', all(/"rabbitmq_version"\s*:/)),
    entry('/jmx', 'Hadoop JMX', 'medium', all(/"beans"\s*:\s*\[/, /"modelerType"\s*:/)),
    entry('/conf', 'Hadoop configuration', 'high', raw(/<configuration>/, /<property>/, /<name>[\w.-]+<\/name>/)),
    entry('/api/v1/applications', 'Spark applications', 'medium', all(/"sparkUser"\s*:|"attempts"\s*:\s*\[/)),
    entry('/api/status', 'Portainer status', 'low', all(/"InstanceID"\s*:/, /"Version"\s*:/)),
    entry('/status.php', 'Nextcloud/ownCloud status', 'low', all(/"installed"\s*:\s*(?:true|false)/, /"versionstring"\s*:/)),
    entry('/app/kibana', 'Kibana', 'medium', all(/<title>[^<]*Kibana/i)),
    entry('/nagios/', 'Nagios', 'medium', all(/<title>[^<]*Nagios/i)),
  ];
}
