import { jsonSchema } from './schema.js';

/** The published JSON Schema as text, exactly as committed in schema/gonogo.schema.json. */
export function jsonSchemaText(): string {
  return `${JSON.stringify({ $id: 'https://gonogo.dev/schema/gonogo.schema.json', title: 'gonogo.yaml', ...jsonSchema() }, null, 2)}\n`;
}
