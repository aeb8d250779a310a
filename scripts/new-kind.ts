// `npm run new-kind -- NAME [--remote]` (npm keeps a flag after the name for itself without the `--`): scaffolds a check kind the way every kind is made: its folder
// with a default export, its line in the registry (src/checks/kinds.ts), its README row, and the
// JSON Schema regenerated. A local kind (the default) works on this machine; --remote talks to the
// target and is throttled by perHost. `--root DIR` writes into another checkout (the tests use it).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const rootAt = args.indexOf('--root');
const root = rootAt >= 0 ? args[rootAt + 1] : join(dirname(fileURLToPath(import.meta.url)), '..');
const name = args.find((a, i) => !a.startsWith('--') && (rootAt < 0 || i !== rootAt + 1));
if (!name || !/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name)) {
  console.error('usage: npm run new-kind -- NAME [--remote]  (NAME: lowercase letters, digits and dashes, e.g. disk-space)');
  process.exit(2);
}
const reach = flag('--remote') ? 'remote' : 'local';
const folder = join(root, 'src', 'checks', name);
const registryFile = join(root, 'src', 'checks', 'kinds.ts');
const registry = readFileSync(registryFile, 'utf8');
const key = /^[a-z][a-z0-9]*$/.test(name) ? name : `'${name}'`;
if (existsSync(folder) || registry.includes(`./${name}/index.js'`)) {
  console.error(`kind ${name} already exists`);
  process.exit(2);
}

mkdirSync(folder, { recursive: true });
writeFileSync(
  join(folder, 'index.ts'),
  `import { z } from 'zod';
import { defineKind } from '../types.js';

// ${name}: what it verifies, and why a machine can. Observe here; \`expect:\` judges.
export default defineKind({
  name: '${name}',
  description: 'TODO: one line on what ${name} verifies',
  options: z.strictObject({
    // Every option with .describe(): it becomes the JSON Schema's and \`gonogo kinds\`' text.
    target: z.string().describe('TODO: what to look at'),
  }),
  fields: ['ok'],
  defaultExpect: () => ['ok == true'],
  reach: '${reach}',
  async run(o, ctx) {
    // Honour ctx.signal in every I/O: the engine ends the attempt when it fires.
    ctx.signal.throwIfAborted();
    return { observations: { ok: o.target.length > 0 }, evidence: { target: o.target } };
  },
});
`,
);

const closing = '} satisfies Record<string, KindEntry>;';
if (!registry.includes(closing)) throw new Error(`${registryFile}: cannot find the end of KINDS`);
writeFileSync(registryFile, registry.replace(closing, `  ${key}: ${reach}(() => import('./${name}/index.js')),\n${closing}`));

const readmeFile = join(root, 'README.md');
const readme = readFileSync(readmeFile, 'utf8').split('\n');
const header = readme.findIndex((l) => l.startsWith('| kind | verifies |'));
if (header < 0) throw new Error('README.md: cannot find the kinds table (| kind | verifies | ...)');
let end = header + 2;
while (end < readme.length && readme[end].startsWith('| `')) end++;
readme.splice(end, 0, `| \`${name}\` | TODO: what it verifies (${reach}) | \`ok\` (\`ok == true\`) |`);
writeFileSync(readmeFile, readme.join('\n'));

const schema = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'write-schema.ts')], { cwd: root, encoding: 'utf8' });
if (schema.status !== 0) throw new Error(`regenerating the JSON Schema failed:\n${schema.stderr}`);
console.log(`kind ${name} (${reach}): src/checks/${name}/index.ts, a line in src/checks/kinds.ts, a README row, schema regenerated. Fill in the TODOs and add src/checks/${name}/index.test.ts.`);
