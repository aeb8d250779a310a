import { z } from 'zod';
import { registry } from '../checks/index.js';
import { configSchemaFor } from './schema.js';

/** The config schema with every kind's options: the one the JSON Schema and the library publish. */
export const configSchema = configSchemaFor(registry);

/** The JSON Schema published for editors (`$schema`), generated from the zod schema. */
export function jsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
}

/** The published JSON Schema as text, exactly as committed in schema/gonogo.schema.json. */
export function jsonSchemaText(): string {
  return `${JSON.stringify({ $id: 'https://gonogo.dev/schema/gonogo.schema.json', title: 'gonogo.yaml', ...jsonSchema() }, null, 2)}\n`;
}
