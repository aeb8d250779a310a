import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, UsageError } from './exit.js';
import type { Cli } from './commands.js';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The checklists `gonogo init --template` writes: a generic web service's (the default), or the seed's own. */
export const INIT_TEMPLATES = { 'web-service': 'gonogo.yaml', seed: 'seed.yaml' } as const;
export type InitTemplate = keyof typeof INIT_TEMPLATES;

function isTemplate(name: string): name is InitTemplate {
  return Object.hasOwn(INIT_TEMPLATES, name);
}

/** `gonogo init [--template web-service|seed] [--force]`: writes the template with its `$schema` line pointing at the shipped JSON Schema. */
export async function cmdInit(cli: Cli, file: string, o: { force?: boolean; template?: string }): Promise<number> {
  const name = o.template ?? 'web-service';
  if (!isTemplate(name)) throw new UsageError(`init: --template: unknown template "${name}" (expected ${Object.keys(INIT_TEMPLATES).join(' or ')})`);
  if (existsSync(file) && !o.force) throw new UsageError(`${file} already exists (use --force to overwrite)`);
  const template = await readFile(join(packageRoot, 'templates', INIT_TEMPLATES[name]), 'utf8');
  const schemaPath = relative(dirname(resolve(file)), join(packageRoot, 'schema', 'gonogo.schema.json')) || 'gonogo.schema.json';
  await writeFile(file, template.replace('__SCHEMA__', schemaPath));
  await cli.out.write(`wrote ${file} (${name} template): set STAGING_URL (or pass --url), edit environments and items, then run \`gonogo list\` and \`gonogo check\`\n`);
  return EXIT.GO;
}
