import { Redactor } from '../util/redact.js';
import type { LoadedConfig } from './load.js';
import type { WatchConfig } from './watch-schema.js';

/**
 * The redactor for everything a gate writes, prints or stores: the values of every `${VAR}` the
 * config references (set or not in this process), whether or not a check of this run expanded them,
 * and the webhook URLs of `watch.notify`.
 */
export function configRedactor(loaded: LoadedConfig, processEnv: Readonly<Record<string, string | undefined>> = process.env): Redactor {
  const values = loaded.secretRefs.map((r) => processEnv[r.name]).filter((v): v is string => v !== undefined && v !== '');
  // Webhook URLs written out in the config are secrets too (a Slack URL carries its token).
  return Redactor.of([...values, ...notifySecrets(loaded.config.watch)]);
}

/**
 * The webhook URLs `watch.notify` writes out literally (a `${VAR}` one is already a secret
 * reference): each is a secret, as written and as a URL normalises it. Here rather than beside the
 * schema, so that redacting never loads zod.
 */
export function notifySecrets(watch: Pick<WatchConfig, 'notify'>): string[] {
  return watch.notify.flatMap((t) => {
    const written = 'slack' in t ? t.slack : t.webhook;
    if (/\$\{[A-Za-z_][A-Za-z0-9_]*\}/.test(written)) return [];
    return URL.canParse(written) ? [...new Set([written, new URL(written).href])] : [written];
  });
}
