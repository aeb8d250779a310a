// PLACEHOLDER: the probes work replaces this file with the real login recipe (schema + login()).
import { z } from 'zod';

export const authSchema = z.strictObject({});
export type AuthConfig = z.output<typeof authSchema>;
