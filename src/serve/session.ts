// Sessions of the dashboard: a signed cookie, no server-side table. The cookie holds who signed in
// (name, role), when the session ends and its CSRF token, signed with HMAC-SHA256 by a key made at
// start: a restart signs everyone out, and nothing a client writes can name another account or
// stretch its session. Sign-out is the one thing a signed cookie cannot undo by itself, so the ids of
// signed-out sessions are kept until those sessions would have ended anyway (bounded).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { listUsers, verifyToken } from '../auth/accounts.js';
import type { Account, TokenAccount, UserInfo } from '../auth/accounts.js';
import { StoreCache } from '../store/cache.js';
import type { Store } from '../store/types.js';
import type { Clock } from '../util/clock.js';

/** How long a session lasts from sign-in: a working day. */
export const SESSION_MS = 8 * 60 * 60 * 1000;

/** The cookie's name. */
export const SESSION_COOKIE = 'gonogo_session';

/** A session as its cookie holds it. */
export interface Session {
  /** Random: names the session for sign-out. */
  id: string;
  name: string;
  role: string;
  /** Milliseconds since the epoch after which the session is over. */
  expires: number;
  /** The token every state-changing request of this session carries (form field `csrf` or header X-CSRF-Token). */
  csrf: string;
}

/** Signed-out sessions kept at most (each until its own expiry); past it, the oldest go first. */
const MAX_SIGNED_OUT = 10_000;

const b64 = (b: Buffer): string => b.toString('base64url');

/** Issues and reads session cookies with one key (random unless given: tests pass their own). */
export class Sessions {
  private readonly key: Buffer;
  private readonly signedOut = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    key?: Buffer,
  ) {
    this.key = key ?? randomBytes(32);
  }

  /** A new session for `account`: the cookie's value and the session it stands for. */
  issue(account: Pick<Account, 'name' | 'role'>): { value: string; session: Session } {
    const session: Session = { id: b64(randomBytes(12)), name: account.name, role: account.role, expires: this.clock.now() + SESSION_MS, csrf: b64(randomBytes(24)) };
    const payload = b64(Buffer.from(JSON.stringify({ i: session.id, n: session.name, r: session.role, e: session.expires, c: session.csrf }), 'utf8'));
    return { value: `${payload}.${this.sign(payload)}`, session };
  }

  /** The session a cookie value stands for, when its signature holds, it has not expired and was not signed out. */
  read(value: string | undefined): Session | undefined {
    if (value === undefined || value.length > 4096) return undefined;
    const dot = value.indexOf('.');
    if (dot <= 0) return undefined;
    const payload = value.slice(0, dot);
    const given = Buffer.from(value.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(payload), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { i, n, r, e, c } = parsed as Record<string, unknown>;
    if (typeof i !== 'string' || typeof n !== 'string' || typeof r !== 'string' || typeof e !== 'number' || typeof c !== 'string') return undefined;
    if (e <= this.clock.now() || this.signedOut.has(i)) return undefined;
    return { id: i, name: n, role: r, expires: e, csrf: c };
  }

  /** Ends a session before its expiry: its cookie no longer reads, even if kept by someone. */
  signOut(session: Session): void {
    const now = this.clock.now();
    for (const [id, expires] of this.signedOut) if (expires <= now) this.signedOut.delete(id);
    while (this.signedOut.size >= MAX_SIGNED_OUT) {
      const oldest = this.signedOut.keys().next().value;
      if (oldest === undefined) break;
      this.signedOut.delete(oldest);
    }
    this.signedOut.set(session.id, session.expires);
  }

  private sign(payload: string): string {
    return b64(createHmac('sha256', this.key).update(payload).digest());
  }
}

/** Does the token a request carries match its session's? Constant time; a missing token matches nothing. */
export function csrfMatches(session: Session, given: string | undefined): boolean {
  if (given === undefined || given === '') return false;
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(session.csrf, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Who a request comes from: a person signed in by session, or a bearer token of a CI job or rollout tool. */
export interface Principal {
  name: string;
  role: string;
  kind: 'person' | 'token';
  /** A signed-in person's session (its CSRF token); absent for a token, which no browser sends by itself. */
  session?: Session;
}

/** The per-request values the dashboard's middleware sets. */
export interface ServeEnv {
  Variables: {
    principal?: Principal;
  };
}

/** What a request presented: a bearer token that does not verify is an answer of its own (401), never a fall-back to the cookie. */
export type Authentication = { principal: Principal } | { principal?: undefined; badToken: boolean };

/**
 * What authenticate keeps between requests, while the store's change token is unchanged: the
 * accounts, and each token presented (by its SHA-256) with what it verified as. A disable, a new
 * role or a revocation is a commit, so it still holds from the next request on.
 */
export class AccountCache {
  readonly users = new StoreCache<UserInfo[]>(1);
  readonly tokens = new StoreCache<TokenAccount | undefined>(64);
}

/**
 * Who a request comes from: `Authorization: Bearer gng_...` (verifyToken), else the session cookie,
 * whose account must still be enabled in the same role (a disabled account or a changed role ends
 * its sessions from the next request on, as accounts.ts promises).
 */
export async function authenticate(
  req: { authorization?: string; sessionCookie?: string },
  deps: { sessions: Sessions; store: Store; gate: string; cache?: AccountCache },
): Promise<Authentication> {
  const { store, gate, cache } = deps;
  const auth = req.authorization;
  if (auth !== undefined && auth !== '') {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(auth);
    const token = m?.[1];
    const verify = (t: string): Promise<TokenAccount | undefined> => verifyToken(store, { gate, token: t });
    const account = token === undefined ? undefined : await (cache ? cache.tokens.get(store, createHash('sha256').update(token).digest('hex'), () => verify(token)) : verify(token));
    return account ? { principal: { name: account.name, role: account.role, kind: 'token' } } : { badToken: true };
  }
  const session = deps.sessions.read(req.sessionCookie);
  if (!session) return { badToken: false };
  const users = await (cache ? cache.users.get(store, gate, () => listUsers(store, gate)) : listUsers(store, gate));
  const user = users.find((u) => u.name === session.name);
  if (!user || user.disabled || user.role !== session.role) return { badToken: false };
  return { principal: { name: session.name, role: session.role, kind: 'person', session } };
}
