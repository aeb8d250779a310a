// Runs every *.test.ts under src/, examples/ and scripts/ with node's test runner (TypeScript through tsx).
// Node 20's runner has no glob support, so the file list is built here.
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';

function find(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = ['src', 'examples', 'scripts'].flatMap((d) => find(d)).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Each test process costs about 0.5 s of CPU before its first test (node, tsx and its esbuild
// service, the modules every test loads): one process per file spent about half of the suite's CPU
// on that. So the files run in two processes (the machine has two cores; a third holds the files that
// mostly wait, see WAITING), each importing its share
// of the files one after another, every file a suite of its own (scripts/test-group.mjs) with its
// own timeout. GONOGO_TEST_ISOLATE=1 runs one process per file instead, to tell a test that
// depends on a fresh process from one that fails.
/**
 * Files that mostly wait on a real Prometheus (its first scrape comes about 5 s after it starts,
 * and nothing can shorten that): they run in a third process, so their waiting overlaps the other
 * two processes' work instead of adding to it.
 */
const WAITING = /prometheus|replay/;
const PER_FILE_TIMEOUT_MS = 180_000;
const isolate = process.env.GONOGO_TEST_ISOLATE === '1';
const args = isolate
  ? ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${PER_FILE_TIMEOUT_MS}`, ...files]
  : ['--import', 'tsx', '--test', '--test-concurrency=3', ...groupFiles(files, 2)];
const r = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, GONOGO_TEST_FILE_TIMEOUT_MS: String(PER_FILE_TIMEOUT_MS) } });
process.exit(r.status ?? 1);

/** Writes the group entry files (`n` groups dealt round-robin in sorted order, plus one of the waiting files); returns their paths. */
function groupFiles(all, n) {
  const dir = mkdtempSync(join(tmpdir(), 'gonogo-test-groups-'));
  const waiting = all.filter((f) => WAITING.test(f));
  const busy = all.filter((f) => !WAITING.test(f));
  const groups = Array.from({ length: Math.min(n, busy.length) }, () => []);
  busy.forEach((f, i) => groups[i % groups.length].push(resolve(f)));
  if (waiting.length > 0) groups.push(waiting.map((f) => resolve(f)));
  return groups.map((g, i) => {
    const entry = join(dir, `group-${i + 1}.test.mjs`);
    writeFileSync(entry, `import { runFiles } from ${JSON.stringify(pathToFileURL(resolve('scripts/test-group.mjs')).href)};\nawait runFiles(${JSON.stringify(g)});\n`);
    return entry;
  });
}
