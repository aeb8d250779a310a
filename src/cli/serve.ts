// `gonogo serve`: parses the options, loads the config once, opens the store once and keeps it open,
// starts the dashboard (src/serve/) and waits for SIGINT or SIGTERM, then stops it and closes the
// store. Everything the dashboard decides is the library's.
import { checkSecretValues, ConfigError } from '../config/loaded.js';
import { systemClock } from '../util/clock.js';
import type { Cli, Globals } from './commands.js';
import { load, releaseOf, withStore } from './commands.js';
import { EXIT, UsageError } from './exit.js';

/** Options of `gonogo serve` as commander hands them over. */
export interface ServeCliOptions {
  port: string;
  host: string;
  secureCookies?: boolean;
  publicBadge?: boolean;
  publicMetrics?: boolean;
  quiet?: boolean;
}

const LOOPBACK = /^(?:127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/i;

/** Resolves on the first SIGINT or SIGTERM (a test passes its own `stop`). */
function stopSignal(): { stopped: Promise<string>; dispose(): void } {
  let dispose = (): void => undefined;
  const stopped = new Promise<string>((resolve) => {
    const onInt = (): void => resolve('SIGINT');
    const onTerm = (): void => resolve('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
    dispose = () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    };
  });
  return { stopped, dispose: () => dispose() };
}

export async function cmdServe(cli: Cli, g: Globals, o: ServeCliOptions, started?: (url: string) => void): Promise<number> {
  const port = Number(o.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: expected a port number from 0 to 65535, got ${JSON.stringify(o.port)}`);
  if (o.host.trim() === '') throw new UsageError('--host: give an address to listen on, e.g. 127.0.0.1');
  const { startDashboard } = await import('../serve/server.js');
  const loaded = await load(g, cli);
  // A secret too short to redact could not be kept out of the pages: refused before anything is served.
  const short = checkSecretValues(loaded, cli.io.env);
  if (short.length > 0) throw new ConfigError(short);
  const release = await releaseOf(g, loaded);
  const signal = stopSignal();
  try {
    return await withStore(g, loaded, cli, async (store) => {
      const server = await startDashboard({
        loaded,
        store,
        release,
        releasePinned: g.release !== undefined,
        clock: cli.io.clock ?? systemClock,
        processEnv: cli.io.env,
        host: o.host,
        port,
        secureCookies: Boolean(o.secureCookies),
        publicBadge: Boolean(o.publicBadge),
        publicMetrics: Boolean(o.publicMetrics),
        ...(o.quiet ? {} : { log: (line: string) => void cli.err.write(`${line}\n`) }),
      });
      try {
        await cli.err.write(
          `gonogo serve: the dashboard of gate ${loaded.gate} at ${server.url} (release ${release.id}${g.release !== undefined ? ', pinned by --release' : ' unless a run or the request names another'})\n` +
            `  sessions are signed with a key made at start: a restart signs everyone out. Sign-in: gonogo user add NAME --role ROLE; CI: gonogo token create NAME --role ROLE\n` +
            (LOOPBACK.test(o.host) ? '' : `  listening on ${o.host} over plain HTTP: put a TLS proxy in front (it sends X-Forwarded-Proto: https, or pass --secure-cookies)\n`) +
            (o.publicBadge ? '  /badge.svg is public (the verdict only)\n' : '') +
            (o.publicMetrics ? '  /metrics is public\n' : ''),
        );
        started?.(server.url);
        const why = await signal.stopped;
        await cli.err.write(`gonogo serve: ${why}: stopping\n`);
        return EXIT.GO;
      } finally {
        await server.close();
      }
    });
  } finally {
    signal.dispose();
  }
}
