// Bundles the CLI into dist/bundle/ (what `gonogo` runs): a few files instead of some 600 modules
// of our code and our dependencies, which is where most of a command's start-up went (resolving,
// reading and compiling files). Code split at every dynamic import, so a command still loads only
// what it uses (`status` never loads the HTTP client or the check kinds). better-sqlite3 stays
// outside: it loads a native addon beside its own files. The library (dist/index.js) is tsc's.
// The bundle carries its own id (GONOGO_BUILD, a digest of every file bundled): the validated-config
// cache is only ever read by the build that wrote it.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Stands for the id while the bundle is built; the id is the digest of the output with it in place.
const PLACEHOLDER = 'gonogo-build-id-placeholder-000000000000';

// zod's namespace re-exports every one of its 60-odd locales (`z.locales`, `core.locales`), half of
// the zod every command loads (366 KB of its 755): parsed at each start, never used. The bundle
// keeps English only (zod sets it up itself, from its own import of en.js).
let localesTrimmed = 0;
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => {
      if (!/[\\/]zod[\\/]v4[\\/](classic[\\/]external|core[\\/]index)\.js$/.test(args.importer)) return undefined;
      localesTrimmed += 1;
      return { path: join(args.resolveDir, '..', 'locales', 'en.js'), namespace: 'zod-english-only' };
    });
    b.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (args) => ({ contents: `export { default as en } from ${JSON.stringify(args.path)};`, resolveDir: dirname(args.path) }));
  },
};

// pg picks its socket at load: to tell Node from a Cloudflare Worker it builds a `Response`, and
// the first touch of that global loads Node's own fetch (undici, ~30 ms) on every PostgreSQL
// command. The bundle runs on Node only: pg's stream module is taken with the probe answered.
let pgProbeRemoved = 0;
const pgNodeStreams = {
  name: 'pg-node-streams',
  setup(b) {
    b.onLoad({ filter: /[\\/]pg[\\/]lib[\\/]stream\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const probe = 'const { getStream, getSecureStream } = getStreamFuncs()';
      if (!text.includes(probe)) return undefined;
      pgProbeRemoved += 1;
      return { contents: text.replace(probe, 'const { getStream, getSecureStream } = getNodejsStreamFuncs()'), loader: 'js' };
    });
  },
};

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Another folder (two levels under the package, as dist/bundle is) for a test's own build.
const outdir = process.argv[2] ?? join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  // Named, so each lands at the top of the folder: bin.js, the thread `audit verify` hashes a
  // large store's rows on (sqlite-audit-thread.ts finds it beside the chunk that starts it), and the
  // thread a load check generates its load on (likewise, checks/load/thread.ts).
  entryPoints: {
    bin: join(root, 'src', 'cli', 'bin.ts'),
    'sqlite-audit-worker': join(root, 'src', 'store', 'sqlite-audit-worker.ts'),
    'load-worker': join(root, 'src', 'checks', 'load', 'load-worker.ts'),
  },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Every dependency is bundled, better-sqlite3's JavaScript included: its addon is found by path
  // (store/sqlite-database.ts), the one file read from node_modules at start.
  // CommonJS dependencies call require() for Node's modules; an ES module has none of its own.
  banner: { js: "import { createRequire as __gonogoRequire } from 'node:module'; const require = __gonogoRequire(import.meta.url);" },
  legalComments: 'eof',
  logLevel: 'warning',
  define: { GONOGO_BUILD: JSON.stringify(PLACEHOLDER) },
  plugins: [zodEnglishOnly, pgNodeStreams],
});
// A zod that moved its locales only costs start-up time, not correctness: say so, build anyway.
if (localesTrimmed === 0) console.warn('bundle: zod\'s locales were not found where expected: bundled whole');
if (pgProbeRemoved === 0) console.warn('bundle: pg\'s runtime probe was not found where expected: bundled as is');

const files = readdirSync(outdir).sort();
const digest = createHash('sha256');
for (const name of files) digest.update(`${name}\0`).update(readFileSync(join(outdir, name))).update('\0');
const id = digest.digest('hex').slice(0, PLACEHOLDER.length);
const marked = files.filter((name) => readFileSync(join(outdir, name), 'utf8').includes(PLACEHOLDER));
// Without its id the bundle would never use the cache: a build that lost it is a broken build.
if (marked.length !== 1) throw new Error(`bundle: expected the build id placeholder in one file, found it in ${marked.length}`);
for (const name of marked) writeFileSync(join(outdir, name), readFileSync(join(outdir, name), 'utf8').replaceAll(PLACEHOLDER, id));

// `gonogo kinds` prints what this build's kinds say of themselves: listed once here, by the bundle
// itself (it finds no listing yet, so it loads every kind), instead of on every run.
const kinds = spawnSync(process.execPath, [join(outdir, 'bin.js'), 'kinds'], { encoding: 'utf8', env: { ...process.env, GONOGO_NO_CACHE: '1' }, timeout: 60_000 });
if (kinds.status !== 0 || !kinds.stdout) throw new Error(`bundle: the built CLI could not list the kinds (exit ${kinds.status ?? kinds.signal}): ${kinds.stderr}`);
writeFileSync(join(outdir, `kinds-${id}.txt`), kinds.stdout);
