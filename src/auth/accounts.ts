// The dashboard's accounts: people who sign in with a password, and bearer tokens for CI jobs and
// rollout tools. They live in the store's event log (kinds `account` and `token`), so every change
// is audited like a sign-off and nothing is ever updated in place: the newest event of a name (a
// token's id) wins. The events belong to the gate, not to an environment or a release: their env and
// release are both '' (ACCOUNT_SCOPE), which no run, watch or baseline uses.
//
// What is stored is never the secret: a password as its scrypt hash, a token as its SHA-256. Nothing
// is cached here: every verification reads the log, so a disable or a revoke holds from the next
// request on (a server may keep a result for the length of one request, or while the store's change
// token is unchanged: a disable or a revoke is a commit, which changes it).
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { ScryptOptions } from 'node:crypto';
import type { Store, WatchEvent } from '../store/types.js';
import type { Clock } from '../util/clock.js';

/** Who is signed in, as the attestation functions take it: a person signs as themself (`by = name`, `role = role`). */
export interface Account {
  name: string;
  role: string;
  kind: 'person' | 'token';
}

/** A token that verified: the account it stands for, and which token it was. */
export interface TokenAccount extends Account {
  kind: 'token';
  id: string;
}

/** A person's account as listed: never its hash. */
export interface UserInfo {
  name: string;
  role: string;
  disabled: boolean;
  /** When the account was first added (ISO 8601). */
  createdAt: string;
  /** When its newest event was appended: the last add (password or role change) or the disable. */
  updatedAt: string;
  /** Who appended that newest event, when known. */
  by?: string;
}

/** A token as listed: never its hash. */
export interface TokenInfo {
  id: string;
  name: string;
  role: string;
  createdAt: string;
  createdBy?: string;
  revokedAt?: string;
  revokedBy?: string;
}

/** The roles a config defines (its `roles:`) and, when it has one, its `people:` (the shapes authorityOf gives). */
export interface AccountRules {
  roles: Readonly<Record<string, readonly string[]>>;
  people?: Readonly<Record<string, { roles: readonly string[] }>>;
}

/** A request refused (bad name, short password, unknown role, unknown account): nothing was recorded. */
export class AccountError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AccountError';
  }
}

/** env and release of every account and token event: accounts belong to the gate. */
export const ACCOUNT_SCOPE = { env: '', release: '' } as const;

export const PASSWORD_MIN_LENGTH = 12;
/** scrypt reads the whole password through HMAC: a cap keeps a megabyte "password" from costing anything. */
export const PASSWORD_MAX_LENGTH = 1024;
export const TOKEN_PREFIX = 'gng_';

/**
 * scrypt's cost. N = 2^15 with r = 8 takes about 75 ms of CPU on this project's CI machine (2^16
 * about 150 ms): the strongest that stays under 100 ms. It needs 128 x N x r = 32 MiB, exactly
 * node's default maxmem, which the check counts as too much: maxmem is raised to twice that.
 */
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, keylen: 32 } as const;
/** A stored hash asking for more than this is refused rather than run (a tampered row must not pin the CPU). */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;

/** Names as people: writes them: plain characters, bounded, no spaces (they are typed on command lines and shown in records). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/;

/** Why `name` cannot name an account, or undefined when it can. */
export function checkAccountName(name: string): string | undefined {
  return NAME.test(name) ? undefined : `an account name is 1 to 64 letters, digits or . _ @ + - starting with a letter or digit, got ${JSON.stringify(name)}`;
}

function checkRole(rules: AccountRules, role: string): void {
  if (Object.hasOwn(rules.roles, role)) return;
  const known = Object.keys(rules.roles);
  throw new AccountError(`role "${role}" is not defined in roles: (${known.length > 0 ? `defined: ${known.join(', ')}` : 'none defined'})`);
}

function checkName(name: string): void {
  const problem = checkAccountName(name);
  if (problem) throw new AccountError(problem);
}

const iso = (clock: Clock): string => new Date(clock.now()).toISOString();
const byOf = (by: string | undefined): { by?: string } => (by !== undefined && by !== '' ? { by } : {});

// ---------------------------------------------------------------------------------------------
// Password hashes: `scrypt$N$r$p$salt$hash`, salt and hash in base64.

function derive(password: string, salt: Buffer, keylen: number, o: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, keylen, o, (err, key) => (err ? reject(err) : resolve(key))));
}

const scryptOptions = (N: number, r: number, p: number): ScryptOptions => ({ N, r, p, maxmem: 2 * 128 * N * r * p });

/** Hashes a password with a fresh random salt, in the stored form `scrypt$N$r$p$salt$hash`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, SCRYPT.keylen, scryptOptions(SCRYPT.N, SCRYPT.r, SCRYPT.p));
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), key.toString('base64')].join('$');
}

interface ParsedHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parseHash(stored: string): ParsedHash | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(parts[4], 'base64');
  const key = Buffer.from(parts[5], 'base64');
  const whole = [N, r, p].every((n) => Number.isInteger(n) && n >= 1);
  if (!whole || (N & (N - 1)) !== 0 || N < 2 || 128 * N * r * p > MAX_SCRYPT_MEMORY) return undefined;
  if (salt.length < 8 || key.length < 16 || key.length > 64) return undefined;
  return { N, r, p, salt, key };
}

// What an unknown, disabled or unreadable account is checked against, so that the answer costs the
// same scrypt whether the name exists or not. Its key matches no password anyone can find.
const DUMMY: ParsedHash = { ...SCRYPT, salt: Buffer.alloc(16, 0x5a), key: Buffer.alloc(SCRYPT.keylen, 0xa5) };

/** Does `password` match `hash`? Always one scrypt and a constant-time compare; a hash that does not parse matches nothing. */
async function matches(password: string, parsed: ParsedHash | undefined): Promise<boolean> {
  const h = parsed ?? DUMMY;
  const key = await derive(password, h.salt, h.key.length, scryptOptions(h.N, h.r, h.p));
  return timingSafeEqual(key, h.key) && parsed !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Reading the log. Written only by this module; a row that does not read as one of ours (a tampered
// store, which audit verify names) fails closed: a person whose newest event is unreadable cannot
// sign in, a token whose newest event is unreadable does not verify.

type UserEvent = { action: 'add'; name: string; role: string; hash: string; by?: string } | { action: 'disable'; name: string; by?: string } | { action: 'unreadable'; name: string };
type TokenEvent = { action: 'create'; id: string; name: string; role: string; sha256: string; by?: string } | { action: 'revoke'; id: string; by?: string } | { action: 'unreadable'; id: string };

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const optBy = (d: Record<string, unknown>): { by?: string } => byOf(str(d.by));

function readUserEvent(d: Record<string, unknown>): UserEvent | undefined {
  const name = str(d.name);
  if (name === undefined) return undefined;
  const role = str(d.role);
  const hash = str(d.hash);
  if (d.action === 'add' && role !== undefined && hash !== undefined) return { action: 'add', name, role, hash, ...optBy(d) };
  if (d.action === 'disable') return { action: 'disable', name, ...optBy(d) };
  return { action: 'unreadable', name };
}

function readTokenEvent(d: Record<string, unknown>): TokenEvent | undefined {
  const id = str(d.id);
  if (id === undefined) return undefined;
  const name = str(d.name);
  const role = str(d.role);
  const sha256 = str(d.sha256);
  if (d.action === 'create' && name !== undefined && role !== undefined && sha256 !== undefined && /^[0-9a-f]{64}$/.test(sha256)) return { action: 'create', id, name, role, sha256, ...optBy(d) };
  if (d.action === 'revoke') return { action: 'revoke', id, ...optBy(d) };
  return { action: 'unreadable', id };
}

interface Folded<E> {
  newest: E;
  newestAt: string;
  firstAt: string;
  history: Array<{ event: E; at: string }>;
}

/** The events of one kind grouped by name (a token's id), oldest first within each: the last is the one that holds. */
function fold<E>(events: readonly WatchEvent[], read: (d: Record<string, unknown>) => E | undefined, keyOf: (e: E) => string): Map<string, Folded<E>> {
  const byName = new Map<string, Folded<E>>();
  for (const ev of events) {
    const e = read(ev.data);
    if (e === undefined) continue;
    const k = keyOf(e);
    const seen = byName.get(k);
    if (seen) {
      seen.newest = e;
      seen.newestAt = ev.at;
      seen.history.push({ event: e, at: ev.at });
    } else byName.set(k, { newest: e, newestAt: ev.at, firstAt: ev.at, history: [{ event: e, at: ev.at }] });
  }
  return byName;
}

const userEvents = (store: Store, gate: string): Promise<WatchEvent[]> => store.listEvents({ gate, ...ACCOUNT_SCOPE, kinds: ['account'] });
const tokenEvents = (store: Store, gate: string): Promise<WatchEvent[]> => store.listEvents({ gate, ...ACCOUNT_SCOPE, kinds: ['token'] });

async function users(store: Store, gate: string): Promise<Map<string, Folded<UserEvent>>> {
  return fold(await userEvents(store, gate), readUserEvent, (e) => e.name);
}

async function tokens(store: Store, gate: string): Promise<Map<string, Folded<TokenEvent>>> {
  return fold(await tokenEvents(store, gate), readTokenEvent, (e) => e.id);
}

// ---------------------------------------------------------------------------------------------
// People.

/**
 * Adds a person, or replaces the account of that name (a new password, a new role, enabled again):
 * the newest event wins. The password is stored as its scrypt hash only. Refuses a name that is not
 * plain characters, a password under 12 characters, a role not in `roles:`, and, when the config
 * has `people:`, a name it does not list in that role (such an account could attest nothing).
 */
export async function addUser(
  store: Store,
  clock: Clock,
  req: AccountRules & { gate: string; name: string; role: string; password: string; by?: string },
): Promise<UserInfo> {
  checkName(req.name);
  checkRole(req, req.role);
  if (req.people) {
    const person = req.people[req.name];
    if (!person) throw new AccountError(`${req.name} is not listed in people:, so could attest nothing: list them there first`);
    if (!person.roles.includes(req.role)) throw new AccountError(`${req.name} does not hold the role ${req.role} (people: lists ${person.roles.join(', ') || 'no roles'})`);
  }
  const length = [...req.password].length;
  if (length < PASSWORD_MIN_LENGTH) throw new AccountError(`a password has at least ${PASSWORD_MIN_LENGTH} characters (this one has ${length})`);
  if (length > PASSWORD_MAX_LENGTH) throw new AccountError(`a password has at most ${PASSWORD_MAX_LENGTH} characters`);
  const hash = await hashPassword(req.password);
  const earlier = (await users(store, req.gate)).get(req.name);
  const at = iso(clock);
  await store.addEvent({ gate: req.gate, ...ACCOUNT_SCOPE, kind: 'account', at, data: { action: 'add', name: req.name, role: req.role, hash, ...byOf(req.by) } });
  return { name: req.name, role: req.role, disabled: false, createdAt: earlier?.firstAt ?? at, updatedAt: at, ...byOf(req.by) };
}

/**
 * The account of `name` when `password` is its password, else undefined: unknown, disabled and
 * wrong all answer the same, after the same one scrypt (an unknown name is hashed against a dummy)
 * and a constant-time compare.
 */
export async function verifyPassword(store: Store, req: { gate: string; name: string; password: string }): Promise<Account | undefined> {
  const user = (await users(store, req.gate)).get(req.name)?.newest;
  const live = user?.action === 'add' ? user : undefined;
  const password = [...req.password].length > PASSWORD_MAX_LENGTH ? '' : req.password;
  const ok = await matches(password, live ? parseHash(live.hash) : undefined);
  return ok && live && password !== '' ? { name: live.name, role: live.role, kind: 'person' } : undefined;
}

/** Disables a person's account: they can no longer sign in (adding them again enables it, with a new password). */
export async function disableUser(store: Store, clock: Clock, req: { gate: string; name: string; by?: string }): Promise<void> {
  const user = (await users(store, req.gate)).get(req.name);
  if (!user) throw new AccountError(`no account ${JSON.stringify(req.name)} in gate ${req.gate} (gonogo user list shows them)`);
  if (user.newest.action === 'disable') throw new AccountError(`the account ${req.name} is already disabled`);
  await store.addEvent({ gate: req.gate, ...ACCOUNT_SCOPE, kind: 'account', at: iso(clock), data: { action: 'disable', name: req.name, ...byOf(req.by) } });
}

/** Every person's account of the gate, by name; never a hash. An account whose newest event is unreadable lists as disabled. */
export async function listUsers(store: Store, gate: string): Promise<UserInfo[]> {
  const out: UserInfo[] = [];
  for (const [name, f] of await users(store, gate)) {
    let role = '';
    for (const { event } of f.history) if (event.action === 'add') role = event.role;
    const by = f.newest.action === 'unreadable' ? undefined : f.newest.by;
    out.push({ name, role, disabled: f.newest.action !== 'add', createdAt: f.firstAt, updatedAt: f.newestAt, ...byOf(by) });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

// ---------------------------------------------------------------------------------------------
// Tokens.

const sha256 = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();
const TOKEN = /^gng_[A-Za-z0-9_-]{43}$/;

/**
 * Creates a bearer token for `name` (a CI job, a rollout tool) in `role`. The token is returned
 * once and never kept: only its SHA-256 is stored. Refuses a name that is not plain characters and
 * a role not in `roles:`; authority rules still apply to whatever the token attests.
 */
export async function createToken(store: Store, clock: Clock, req: Pick<AccountRules, 'roles'> & { gate: string; name: string; role: string; by?: string }): Promise<{ id: string; token: string }> {
  checkName(req.name);
  checkRole(req, req.role);
  // The id is random, not taken from the token: knowing it tells nothing of the token.
  for (let attempt = 0; attempt < 5; attempt++) {
    const id = randomBytes(6).toString('hex');
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const data = { action: 'create', id, name: req.name, role: req.role, sha256: sha256(token).toString('hex'), ...byOf(req.by) };
    // The key makes an id unique in the gate even between two processes drawing the same one.
    const added = await store.addEvent({ gate: req.gate, ...ACCOUNT_SCOPE, kind: 'token', at: iso(clock), key: `token:${id}`, data });
    if (added) return { id, token };
  }
  throw new AccountError('could not draw an unused token id (five tries)');
}

/** The token's account when it is a live token of the gate, else undefined (unknown, revoked, malformed). */
export async function verifyToken(store: Store, req: { gate: string; token: string }): Promise<TokenAccount | undefined> {
  const given = sha256(req.token);
  const wellFormed = TOKEN.test(req.token);
  let found: TokenAccount | undefined;
  // Every live token is compared, in constant time each, whichever matches.
  for (const f of (await tokens(store, req.gate)).values()) {
    const t = f.newest;
    if (t.action !== 'create') continue;
    if (timingSafeEqual(given, Buffer.from(t.sha256, 'hex')) && wellFormed) found = { id: t.id, name: t.name, role: t.role, kind: 'token' };
  }
  return found;
}

/** Revokes a token: it no longer verifies, from the next request on. */
export async function revokeToken(store: Store, clock: Clock, req: { gate: string; id: string; by?: string }): Promise<void> {
  const t = (await tokens(store, req.gate)).get(req.id);
  if (!t) throw new AccountError(`no token ${JSON.stringify(req.id)} in gate ${req.gate} (gonogo token list shows them)`);
  if (t.newest.action === 'revoke') throw new AccountError(`token ${req.id} is already revoked`);
  const added = await store.addEvent({ gate: req.gate, ...ACCOUNT_SCOPE, kind: 'token', at: iso(clock), key: `token-revoke:${req.id}`, data: { action: 'revoke', id: req.id, ...byOf(req.by) } });
  if (!added) throw new AccountError(`token ${req.id} is already revoked`);
}

/** Every token of the gate, oldest first: ids, names, roles, when created and revoked; never a hash. */
export async function listTokens(store: Store, gate: string): Promise<TokenInfo[]> {
  const out: TokenInfo[] = [];
  for (const [id, f] of await tokens(store, gate)) {
    const first = f.history[0];
    const c = first.event;
    if (c.action !== 'create') continue;
    // Anything after the creation (a revocation, or a row that no longer reads) ends the token.
    const end = f.newest.action === 'create' ? undefined : f.history[f.history.length - 1];
    const revokedBy = end?.event.action === 'revoke' ? end.event.by : undefined;
    out.push({
      id,
      name: c.name,
      role: c.role,
      createdAt: first.at,
      ...(c.by !== undefined ? { createdBy: c.by } : {}),
      ...(end ? { revokedAt: end.at } : {}),
      ...(revokedBy !== undefined ? { revokedBy } : {}),
    });
  }
  return out;
}
