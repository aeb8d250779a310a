// A throwaway PostgreSQL cluster for tests, from Debian's `postgresql` package: initdb into a temp
// folder, the server on a free loopback port with its unix socket in that folder, everything removed
// at the end. One cluster per test file (initdb costs about 2 s); each test makes its own database.
// initdb refuses to run as root, so as root the cluster runs as `nobody` (setpriv), in a folder
// nobody owns.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/** A running throwaway cluster. */
export interface PgCluster {
  /** The server's version line, e.g. "postgres (PostgreSQL) 15.18". */
  version: string;
  /**
   * A new, empty store location: a schema of its own in the cluster's `gonogo` database (much
   * cheaper than a database each), as a URL whose search_path names it (TCP on 127.0.0.1, user
   * `gonogo`, no password).
   */
  createStore(): Promise<string>;
  /** A new, empty database; returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** The URL of a database by name (it need not exist). */
  url(database: string): string;
  stop(): void;
}

/** Where initdb, pg_ctl and postgres are: on PATH, or Debian's versioned folder (highest version). */
export function postgresBinDir(): string | undefined {
  const onPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  if (onPath.status === 0) {
    const initdb = onPath.stdout.trim();
    const dir = initdb.slice(0, initdb.lastIndexOf('/'));
    if (existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(root, versions[0], 'bin') : undefined;
}

/**
 * Whether PostgreSQL can be started here; skips the test with what to install otherwise, and under
 * GONOGO_REQUIRE_ALL=1 (CI) fails it instead.
 */
export function requirePostgres(t: TestContext): boolean {
  if (postgresBinDir() !== undefined) return true;
  const message = 'PostgreSQL is not installed (apt-get install postgresql: initdb and pg_ctl in /usr/lib/postgresql/<version>/bin)';
  if (process.env.GONOGO_REQUIRE_ALL === '1') throw new Error(`${message}; GONOGO_REQUIRE_ALL=1 makes this a failure`);
  t.skip(message);
  return false;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.listen(0, '127.0.0.1', resolve).on('error', reject));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const NOBODY = 65534;

/** Starts a cluster (the caller stops it in `after`). Throws when PostgreSQL is missing: call requirePostgres first. */
export async function startCluster(): Promise<PgCluster> {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(dir, NOBODY, NOBODY);
  const as = (program: string, args: string[]): string =>
    execFileSync(asRoot ? 'setpriv' : join(bin, program), asRoot ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', join(bin, program), ...args] : args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', HOME: dir },
    });
  const data = join(dir, 'data');
  let started = false;
  const stop = (): void => {
    if (started) {
      try {
        as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // already gone
      }
      started = false;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    as('initdb', ['-D', data, '-U', 'gonogo', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    const port = await freePort();
    // Durability off: a test cluster is thrown away, and fsync is most of a write's cost.
    const settings = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=120`;
    as('pg_ctl', ['-D', data, '-o', settings, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
    started = true;
    const version = execFileSync(join(bin, 'postgres'), ['--version'], { encoding: 'utf8' }).trim();
    const url = (database: string): string => `postgres://gonogo@127.0.0.1:${port}/${database}`;
    let n = 0;
    const { default: pg } = await import('pg');
    const run = async (database: string, sql: string): Promise<void> => {
      const client = new pg.Client({ connectionString: url(database) });
      await client.connect();
      try {
        await client.query(sql);
      } finally {
        await client.end();
      }
    };
    await run('postgres', 'CREATE DATABASE gonogo');
    return {
      version,
      url,
      async createStore() {
        const schema = `store_${++n}`;
        await run('gonogo', `CREATE SCHEMA ${schema}`);
        return `${url('gonogo')}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      },
      async createDatabase(name = `db_${++n}`) {
        await run('postgres', `CREATE DATABASE ${pg.escapeIdentifier(name)}`);
        return url(name);
      },
      stop,
    };
  } catch (error) {
    stop();
    throw error;
  }
}
