// A store a test can forge rows in: an opener for it, and SQL run on its database directly, on a
// connection of its own, as a forger with access to the database would.
import Database from 'better-sqlite3';
import { openPostgresStore } from '../store/postgres.js';
import { openSqliteStore } from '../store/sqlite.js';
import type { OpenStoreOptions, Store } from '../store/types.js';

export interface Tamperable {
  location: string;
  open(options?: OpenStoreOptions): Promise<Store>;
  exec(sql: string): Promise<void>;
}

/** The SQLite store at `file`. */
export function tamperableSqlite(file: string): Tamperable {
  return {
    location: file,
    open: (options) => openSqliteStore(file, options),
    async exec(sql) {
      const db = new Database(file);
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    },
  };
}

/** The PostgreSQL store at `url`. */
export function tamperablePostgres(url: string): Tamperable {
  return {
    location: url,
    open: (options) => openPostgresStore(url, options),
    async exec(sql) {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(sql);
      } finally {
        await client.end();
      }
    },
  };
}
