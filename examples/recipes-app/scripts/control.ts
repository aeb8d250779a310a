// The control endpoint that stands in for a deploy system in `npm run demo` and in watch.test.ts:
// `POST /deploy {"release":"v1"}` makes the running app serve that release, i.e. gives it the
// release's faults (v1: none, v2: what the faulty version brings). The rollback script
// (scripts/rollback.mjs) calls it; the demo "deploys" v2 through the same `deploy`. Loopback only,
// one small JSON body, nothing else answered.
import { createServer } from 'node:http';
import type { Faults } from '../src/app.js';

/** The largest request body read: `{"release":"..."}` is a few dozen bytes. */
const MAX_BODY = 1024;

/** A listening control endpoint. */
export interface Control {
  /** `http://127.0.0.1:PORT`, for $RECIPES_CONTROL_URL. */
  url: string;
  /** The release served now (`undefined` before the first deploy). */
  readonly deployed: string | undefined;
  /** Every deploy asked for over HTTP (the rollbacks), in order, with when (performance.now()). */
  readonly calls: readonly { release: string; at: number }[];
  /** Serves `release` now (the demo's own deploy; the endpoint calls it too). */
  deploy(release: string): void;
  close(): Promise<void>;
}

/** Starts the endpoint on 127.0.0.1 (a free port); `setFaults` is the running app's. */
export async function startControl(releases: Readonly<Record<string, Faults>>, setFaults: (faults: Faults) => void): Promise<Control> {
  let deployed: string | undefined;
  const calls: { release: string; at: number }[] = [];
  const deploy = (release: string): void => {
    if (!Object.hasOwn(releases, release)) throw new Error(`no release ${release} (known: ${Object.keys(releases).join(', ')})`);
    setFaults(releases[release]);
    deployed = release;
  };
  const server = createServer((req, res) => {
    const answer = (status: number, body: object): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method !== 'POST' || req.url !== '/deploy') return answer(404, { error: 'POST /deploy only' });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY) req.destroy();
    });
    req.on('end', () => {
      let release: unknown;
      try {
        const parsed: unknown = JSON.parse(body);
        release = parsed !== null && typeof parsed === 'object' && 'release' in parsed ? parsed.release : undefined;
      } catch {
        return answer(400, { error: 'expected {"release":"v1"}' });
      }
      if (typeof release !== 'string' || !Object.hasOwn(releases, release)) return answer(404, { error: `no release ${JSON.stringify(release)} (known: ${Object.keys(releases).join(', ')})` });
      calls.push({ release, at: performance.now() });
      deploy(release);
      answer(200, { deployed: release });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the control endpoint is not listening on TCP');
  return {
    url: `http://127.0.0.1:${address.port}`,
    get deployed() {
      return deployed;
    },
    calls,
    deploy,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
