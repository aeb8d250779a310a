// better-sqlite3's Database, given its compiled addon by path. Left to itself it finds the addon with
// the `bindings` package, which tries a dozen paths from the caller's own file: the bundle carries
// better-sqlite3's JavaScript in one chunk (not its fifteen files, each a module to resolve and load
// at every start), so the caller is the bundle and only a path named here finds the addon.
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';

const requireAddon = createRequire(import.meta.url);
let addon: string | null | undefined;

/** Where the addon is: beside better-sqlite3's package wherever it was installed (null: let `bindings` look). */
function addonPath(): string | null {
  if (addon === undefined) {
    try {
      addon = requireAddon.resolve('better-sqlite3/build/Release/better_sqlite3.node');
    } catch {
      // Built some other way (a Debug build): `bindings` knows those places; unbundled, it finds them.
      addon = null;
    }
  }
  return addon;
}

/** `new Database(file, options)`, with the addon found as above. */
export function openDatabase(file: string | Buffer, options: Database.Options = {}): Database.Database {
  const path = addonPath();
  return new Database(file, path === null ? options : { ...options, nativeBinding: path });
}
