// Bundles the CLI into dist/bundle/ (what `gonogo` runs): a few files instead of some 600 modules
// of our code and our dependencies, which is where most of a command's start-up went (resolving,
// reading and compiling files). Code split at every dynamic import, so a command still loads only
// what it uses (`status` never loads the HTTP client or the check kinds). better-sqlite3 stays
// outside: it loads a native addon beside its own files. The library (dist/index.js) is tsc's.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Another folder (two levels under the package, as dist/bundle is) for a test's own build.
const outdir = process.argv[2] ?? join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'src', 'cli', 'bin.ts')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3'],
  // CommonJS dependencies call require() for Node's modules; an ES module has none of its own.
  banner: { js: "import { createRequire as __gonogoRequire } from 'node:module'; const require = __gonogoRequire(import.meta.url);" },
  legalComments: 'eof',
  logLevel: 'warning',
});
