// Writes schema/gonogo.schema.json (the config) and schema/gonogo-output.schema.json (`--format json`)
// from their zod schemas (the one source); a test keeps each file equal to what it generates.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonSchemaText } from '../src/config/json-schema.js';
import { outputJsonSchemaText } from '../src/report/output-schema.js';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'schema', 'gonogo.schema.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, jsonSchemaText());
console.log(`wrote ${out}`);

const output = join(dirname(out), 'gonogo-output.schema.json');
writeFileSync(output, outputJsonSchemaText());
console.log(`wrote ${output}`);
