// Writes schema/gonogo.schema.json from the zod schema (the one source); a test keeps the two equal.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonSchemaText } from '../src/config/json-schema.js';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'schema', 'gonogo.schema.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, jsonSchemaText());
console.log(`wrote ${out}`);
