// CLI entry: `node --import tsx examples/recipes-app/src/main.ts`, configured by environment.
//   PORT (3000), HOST (127.0.0.1), RECIPES_DEFECTS=ssrf,csrf, RECIPES_SPA=1,
//   RECIPES_FAULTS=error-rate=0.2,latency-ms=300,down,auth-broken,integrity
import { parseDefects, parseFaults, startApp } from './app.js';

function config(env: NodeJS.ProcessEnv): Parameters<typeof startApp>[0] {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got "${env.PORT}"`);
  return {
    port,
    host: env.HOST ?? '127.0.0.1',
    defects: parseDefects(env.RECIPES_DEFECTS ?? ''),
    faults: parseFaults(env.RECIPES_FAULTS ?? ''),
    spa: env.RECIPES_SPA === '1',
  };
}

async function main(): Promise<void> {
  let options: Parameters<typeof startApp>[0];
  try {
    options = config(process.env);
  } catch (err) {
    console.error(`recipes-app: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
  const app = await startApp(options);
  const defects = options?.defects ?? [];
  console.log(`recipes-app listening on ${app.url} (defects: ${defects.length > 0 ? defects.join(',') : 'none'})`);
  const stop = (): void => {
    void app.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(`recipes-app: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
