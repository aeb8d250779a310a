import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { jsonSchemaText } from './json-schema.js';
import { registry } from '../checks/index.js';

test('schema/gonogo.schema.json is what the zod schema generates (run `npm run schema` after changing options)', () => {
  const committed = readFileSync(new URL('../../schema/gonogo.schema.json', import.meta.url), 'utf8');
  assert.equal(committed, jsonSchemaText());
});

test('the JSON Schema documents every check kind', () => {
  const text = jsonSchemaText();
  for (const name of Object.keys(registry)) assert.ok(text.includes(`"const": "${name}"`), `kind ${name} missing from the JSON Schema`);
});
