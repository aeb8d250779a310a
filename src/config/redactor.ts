import { Redactor } from '../util/redact.js';
import type { LoadedConfig } from './load.js';

/**
 * The redactor for everything a gate writes, prints or stores: the values of every `${VAR}` the
 * config references (set or not in this process), whether or not a check of this run expanded them.
 */
export function configRedactor(loaded: LoadedConfig, processEnv: Readonly<Record<string, string | undefined>> = process.env): Redactor {
  const values = loaded.secretRefs.map((r) => processEnv[r.name]).filter((v): v is string => v !== undefined && v !== '');
  return Redactor.of(values);
}
