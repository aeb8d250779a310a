// `gonogo user add|list|disable` and `gonogo token create|list|revoke`: the dashboard's accounts.
// The library (auth/accounts.ts) keeps them and says what is allowed; this file reads the new
// password (never from argv), prints, and picks the exit code. Anyone who can write to the store can
// run these: the store's own access is what guards them.
import { userInfo } from 'node:os';
import { AccountError, addUser, createToken, disableUser, listTokens, listUsers, revokeToken } from '../auth/accounts.js';
import type { TokenInfo, UserInfo } from '../auth/accounts.js';
import { authorityOf } from '../engine/authority.js';
import { systemClock } from '../util/clock.js';
import type { Cli, Globals } from './commands.js';
import { load, withStore } from './commands.js';
import { EXIT, UsageError } from './exit.js';

/** The environment variable a script or CI job passes a new password in. */
export const NEW_PASSWORD_ENV = 'GONOGO_NEW_PASSWORD';

/** A refusal of the library as the CLI reports it: one line, exit 2. */
async function refusals<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AccountError) throw new UsageError(`gonogo ${what}: ${err.message}; nothing was recorded`);
    throw err;
  }
}

/** Who ran the command, for the record: the operating system's user (the CLI has no sign-in). */
function operator(): string | undefined {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return undefined;
  }
}

/** Everything on stdin, less one final line break (`echo "$PW" | gonogo user add`). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Asks twice on the terminal without echo; the prompts go to stderr so stdout stays the command's. */
async function prompt(): Promise<string> {
  const { read } = await import('read');
  const ask = (text: string): Promise<string> => read({ prompt: text, silent: true, replace: '', input: process.stdin, output: process.stderr });
  const first = await ask('New password: ');
  const again = await ask('Repeat it: ');
  if (first !== again) throw new UsageError('gonogo user add: the two passwords differ; nothing was recorded');
  return first;
}

/** The new password: $GONOGO_NEW_PASSWORD, else stdin when it is not a terminal, else a prompt without echo. Never argv. */
async function newPassword(cli: Cli): Promise<string> {
  const fromEnv = cli.io.env[NEW_PASSWORD_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (process.stdin.isTTY) return prompt();
  const piped = await readStdin();
  if (piped === '') throw new UsageError(`gonogo user add: no password: type it at the prompt, pipe it on stdin or set ${NEW_PASSWORD_ENV}; nothing was recorded`);
  return piped;
}

/** `gonogo user add NAME --role ROLE`: adds a person, or gives an existing one a new password and role. */
export async function cmdUserAdd(cli: Cli, g: Globals, name: string, o: { role: string }): Promise<number> {
  const loaded = await load(g, cli);
  const password = await newPassword(cli);
  // Never printed; should a message ever quote it, it is masked.
  cli.out.redactor = cli.out.redactor.with([password]);
  cli.err.redactor = cli.err.redactor.with([password]);
  const { roles, people } = authorityOf(loaded.config);
  return withStore(g, loaded, cli, async (store) => {
    const existed = (await listUsers(store, loaded.gate)).some((u) => u.name === name);
    const by = operator();
    await refusals('user add', () => addUser(store, cli.io.clock ?? systemClock, { gate: loaded.gate, name, role: o.role, password, roles, ...(people ? { people } : {}), ...(by ? { by } : {}) }));
    await cli.out.write(existed ? `${name}: new password, role ${o.role}, enabled (gate ${loaded.gate})\n` : `added ${name} as ${o.role} (gate ${loaded.gate})\n`);
    return EXIT.GO;
  });
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

/** `gonogo user list`: every person's account; never a hash. */
export async function cmdUserList(cli: Cli, g: Globals, o: { format: string }): Promise<number> {
  const loaded = await load(g, cli);
  const users: UserInfo[] = await withStore(g, loaded, cli, (store) => listUsers(store, loaded.gate), { readonly: true });
  if (o.format === 'json') await cli.out.write(`${JSON.stringify({ gate: loaded.gate, users }, null, 2)}\n`);
  else if (users.length === 0) await cli.out.write(`no accounts in gate ${loaded.gate} (gonogo user add NAME --role ROLE)\n`);
  else await cli.out.write(`${table([['NAME', 'ROLE', 'STATE', 'SINCE', 'BY'], ...users.map((u) => [u.name, u.role, u.disabled ? 'disabled' : 'enabled', u.updatedAt, u.by ?? ''])])}\n`);
  return EXIT.GO;
}

/** `gonogo user disable NAME`: that person can no longer sign in. */
export async function cmdUserDisable(cli: Cli, g: Globals, name: string): Promise<number> {
  const loaded = await load(g, cli);
  return withStore(g, loaded, cli, async (store) => {
    const by = operator();
    await refusals('user disable', () => disableUser(store, cli.io.clock ?? systemClock, { gate: loaded.gate, name, ...(by ? { by } : {}) }));
    await cli.out.write(`disabled ${name} (gate ${loaded.gate}): they can no longer sign in\n`);
    return EXIT.GO;
  });
}

/** `gonogo token create NAME --role ROLE`: the token on stdout, once (so `T=$(gonogo token create ...)` keeps it); what it is on stderr. */
export async function cmdTokenCreate(cli: Cli, g: Globals, name: string, o: { role: string }): Promise<number> {
  const loaded = await load(g, cli);
  const { roles } = authorityOf(loaded.config);
  return withStore(g, loaded, cli, async (store) => {
    const by = operator();
    const { id, token } = await refusals('token create', () => createToken(store, cli.io.clock ?? systemClock, { gate: loaded.gate, name, role: o.role, roles, ...(by ? { by } : {}) }));
    await cli.err.write(`token ${id} for ${name} as ${o.role} (gate ${loaded.gate}); shown once, only its SHA-256 is kept: store it now\n`);
    await cli.out.write(`${token}\n`);
    return EXIT.GO;
  });
}

/** `gonogo token list`: ids, names, roles, created and revoked; never a token or its hash. */
export async function cmdTokenList(cli: Cli, g: Globals, o: { format: string }): Promise<number> {
  const loaded = await load(g, cli);
  const tokens: TokenInfo[] = await withStore(g, loaded, cli, (store) => listTokens(store, loaded.gate), { readonly: true });
  if (o.format === 'json') await cli.out.write(`${JSON.stringify({ gate: loaded.gate, tokens }, null, 2)}\n`);
  else if (tokens.length === 0) await cli.out.write(`no tokens in gate ${loaded.gate} (gonogo token create NAME --role ROLE)\n`);
  else await cli.out.write(`${table([['ID', 'NAME', 'ROLE', 'CREATED', 'REVOKED'], ...tokens.map((t) => [t.id, t.name, t.role, t.createdAt, t.revokedAt ?? ''])])}\n`);
  return EXIT.GO;
}

/** `gonogo token revoke ID`: the token no longer verifies, from the server's next request on. */
export async function cmdTokenRevoke(cli: Cli, g: Globals, id: string): Promise<number> {
  const loaded = await load(g, cli);
  return withStore(g, loaded, cli, async (store) => {
    const by = operator();
    await refusals('token revoke', () => revokeToken(store, cli.io.clock ?? systemClock, { gate: loaded.gate, id, ...(by ? { by } : {}) }));
    await cli.out.write(`revoked token ${id} (gate ${loaded.gate})\n`);
    return EXIT.GO;
  });
}
