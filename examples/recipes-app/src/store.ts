// In-memory data for the reference app: users, families, recipes, documents and sessions.
// Everything is bounded, because load tests and probes create objects in a loop.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type Role = 'user' | 'admin';

/** An account to seed; `family` groups users that share recipes. */
export interface UserSeed {
  username: string;
  password: string;
  role: Role;
  family?: string;
}

export interface User {
  id: string;
  username: string;
  role: Role;
  familyId: string | null;
  salt: Buffer;
  hash: Buffer;
}

export interface Recipe {
  id: string;
  title: string;
  ingredients: string[];
  ownerId: string;
  shared: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface StoredDocument {
  id: string;
  name: string;
  ownerId: string;
  contentType: string;
  bytes: Buffer;
  createdAt: string;
}

/** Password for each seeded user is its name followed by "-password". */
export const DEFAULT_USERS: readonly UserSeed[] = [
  { username: 'alice', password: 'alice-password', role: 'user', family: 'smith' },
  { username: 'bob', password: 'bob-password', role: 'user' },
  { username: 'carol', password: 'carol-password', role: 'user', family: 'smith' },
  { username: 'admin', password: 'admin-password', role: 'admin' },
];

const MAX_RECIPES = 10_000;
const MAX_DOCUMENT_BYTES = 64 * 1024 * 1024;

/** Thrown when a bounded collection is full; the app answers 507. */
export class StorageFullError extends Error {}

/** What the data integrity check found: the recipes table agrees with its ledger, or how it does not. */
export type IntegrityReport =
  | { ok: true; recipes: number; checksum: string }
  | { ok: false; problem: string; recipes: number; expected: number; checksum: string; expectedChecksum: string };

/** A recipe row's digest: every stored field, so any change to a row changes it. */
function rowDigest(r: Recipe): Buffer {
  return createHash('sha256').update(JSON.stringify([r.id, r.ownerId, r.title, r.ingredients, r.shared])).digest();
}

/** XORs `digest` into `sum`: order-free, and removing a row is XORing it again. */
function fold(sum: Buffer, digest: Buffer): void {
  for (let i = 0; i < sum.length; i++) sum[i] ^= digest[i];
}

// A fast keyed hash, not scrypt: this is a fixture that load tests hammer, not a password store.
function hashPassword(password: string, salt: Buffer): Buffer {
  return createHmac('sha256', salt).update(password).digest();
}

export class Store {
  readonly users = new Map<string, User>();
  readonly recipes = new Map<string, Recipe>();
  readonly documents = new Map<string, StoredDocument>();
  private readonly byName = new Map<string, User>();
  private nextRecipe = 1;
  private nextDocument = 1;
  private nextFamily = 1;
  private documentBytes = 0;
  // The store's own bookkeeping of the recipes it wrote (as a database keeps row counts and page
  // checksums beside a table): the integrity check recomputes both from the rows and compares.
  private readonly ledger = { count: 0, checksum: Buffer.alloc(32) };
  // Compared against for unknown usernames, so that a miss costs as much as a wrong password.
  private readonly dummy = { salt: randomBytes(16), hash: randomBytes(32) };

  constructor(users: readonly UserSeed[], private readonly now: () => number) {
    users.forEach((seed, i) => {
      const salt = randomBytes(16);
      const user: User = {
        id: String(i + 1),
        username: seed.username,
        role: seed.role,
        familyId: seed.family ?? null,
        salt,
        hash: hashPassword(seed.password, salt),
      };
      this.users.set(user.id, user);
      this.byName.set(user.username, user);
    });
    this.seedContent();
  }

  private seedContent(): void {
    const owner = (name: string): User | undefined => this.byName.get(name);
    const alice = owner('alice');
    const bob = owner('bob');
    const carol = owner('carol');
    // IDs are fixed by position, so that tests and docs can say "recipe 1" even with custom users.
    const seedRecipe = (id: string, user: User | undefined, title: string, ingredients: string[], shared: boolean): void => {
      if (user) this.insertRecipe(this.makeRecipe(id, user.id, title, ingredients, shared));
    };
    seedRecipe('1', alice, "Grandma's apple pie", ['6 apples', '200 g flour', '100 g butter', '80 g sugar', 'cinnamon'], false);
    seedRecipe('2', bob, "Bob's chili", ['500 g beef', '2 cans kidney beans', '3 chillies', '1 onion'], false);
    seedRecipe('3', carol, "Carol's lemon cake", ['3 lemons', '250 g flour', '200 g sugar', '4 eggs'], true);
    this.nextRecipe = 4;
    const seedDocument = (id: string, user: User | undefined, name: string, text: string): void => {
      if (!user) return;
      const bytes = Buffer.from(`%PDF-1.4\n% ${text}\n%%EOF\n`);
      this.documents.set(id, { id, name, ownerId: user.id, contentType: 'application/pdf', bytes, createdAt: this.timestamp() });
      this.documentBytes += bytes.length;
    };
    seedDocument('1', alice, 'alice-passport.pdf', 'Passport of Alice Smith, P<GBRSMITH<<ALICE');
    seedDocument('2', bob, 'bob-tax-return.pdf', 'Tax return of Bob Jones, 2023');
    this.nextDocument = 3;
  }

  private timestamp(): string {
    return new Date(this.now()).toISOString();
  }

  private makeRecipe(id: string, ownerId: string, title: string, ingredients: string[], shared: boolean): Recipe {
    const at = this.timestamp();
    return { id, title, ingredients, ownerId, shared, createdAt: at, updatedAt: at };
  }

  /** The user whose password matches, or undefined; constant work for unknown names. */
  verify(username: string, password: string): User | undefined {
    const user = this.byName.get(username);
    const { salt, hash } = user ?? this.dummy;
    const ok = timingSafeEqual(hashPassword(password, salt), hash);
    return ok && user ? user : undefined;
  }

  userByName(username: string): User | undefined {
    return this.byName.get(username);
  }

  familyMembers(user: User): User[] {
    if (user.familyId === null) return [user];
    return [...this.users.values()].filter((u) => u.familyId === user.familyId);
  }

  /** Puts `invitee` into `inviter`'s family (creating one when needed); false when already in another. */
  joinFamily(inviter: User, invitee: User): boolean {
    if (invitee.familyId !== null && invitee.familyId !== inviter.familyId) return false;
    if (inviter.familyId === null) inviter.familyId = `family-${this.nextFamily++}`;
    invitee.familyId = inviter.familyId;
    return true;
  }

  /** Whether `user` may see and change `recipe`: its owner, or a family member when it is shared. */
  canAccessRecipe(user: User, recipe: Recipe): boolean {
    if (recipe.ownerId === user.id) return true;
    const owner = this.users.get(recipe.ownerId);
    return recipe.shared && owner !== undefined && owner.familyId !== null && owner.familyId === user.familyId;
  }

  visibleRecipes(user: User): Recipe[] {
    return [...this.recipes.values()].filter((r) => this.canAccessRecipe(user, r));
  }

  addRecipe(ownerId: string, title: string, ingredients: string[], shared: boolean): Recipe {
    if (this.recipes.size >= MAX_RECIPES) throw new StorageFullError('recipe storage full');
    const id = String(this.nextRecipe++);
    const recipe = this.makeRecipe(id, ownerId, title, ingredients, shared);
    this.insertRecipe(recipe);
    return recipe;
  }

  updateRecipe(recipe: Recipe, change: { title?: string; ingredients?: string[]; shared?: boolean }): Recipe {
    fold(this.ledger.checksum, rowDigest(recipe));
    if (change.title !== undefined) recipe.title = change.title;
    if (change.ingredients !== undefined) recipe.ingredients = change.ingredients;
    if (change.shared !== undefined) recipe.shared = change.shared;
    recipe.updatedAt = this.timestamp();
    fold(this.ledger.checksum, rowDigest(recipe));
    return recipe;
  }

  deleteRecipe(recipe: Recipe): void {
    if (!this.recipes.delete(recipe.id)) return;
    this.ledger.count--;
    fold(this.ledger.checksum, rowDigest(recipe));
  }

  /**
   * Recomputes the count and checksum of `rows` (default: the recipes table as it is) and compares
   * them with the ledger kept as the store wrote.
   */
  checkIntegrity(rows: Iterable<Recipe> = this.recipes.values()): IntegrityReport {
    const sum = Buffer.alloc(32);
    let count = 0;
    for (const row of rows) {
      fold(sum, rowDigest(row));
      count++;
    }
    const checksum = sum.toString('hex').slice(0, 16);
    const expectedChecksum = this.ledger.checksum.toString('hex').slice(0, 16);
    if (count === this.ledger.count && sum.equals(this.ledger.checksum)) return { ok: true, recipes: count, checksum };
    const problem =
      count !== this.ledger.count
        ? `the recipes table holds ${count} row${count === 1 ? '' : 's'}, its ledger recorded ${this.ledger.count}`
        : `the recipes table's checksum ${checksum} differs from its ledger's ${expectedChecksum}: a row changed outside the store`;
    return { ok: false, problem, recipes: count, expected: this.ledger.count, checksum, expectedChecksum };
  }

  private insertRecipe(recipe: Recipe): void {
    this.recipes.set(recipe.id, recipe);
    this.ledger.count++;
    fold(this.ledger.checksum, rowDigest(recipe));
  }

  addDocument(ownerId: string, name: string, contentType: string, bytes: Buffer): StoredDocument {
    if (this.documentBytes + bytes.length > MAX_DOCUMENT_BYTES) throw new StorageFullError('document storage full');
    const doc: StoredDocument = { id: String(this.nextDocument++), name, ownerId, contentType, bytes, createdAt: this.timestamp() };
    this.documents.set(doc.id, doc);
    this.documentBytes += bytes.length;
    return doc;
  }
}

export interface Session {
  id: string;
  userId: string;
  csrfToken: string;
  createdAt: number;
}

const MAX_SESSIONS = 10_000;
const SESSION_TTL_MS = 24 * 60 * 60 * 1000;

/** Server-side sessions keyed by the `sid` cookie; the oldest are dropped beyond a cap. */
export class Sessions {
  private readonly byId = new Map<string, Session>();

  constructor(private readonly now: () => number) {}

  create(userId: string): Session {
    const session: Session = {
      id: randomBytes(24).toString('base64url'),
      userId,
      csrfToken: randomBytes(24).toString('base64url'),
      createdAt: this.now(),
    };
    this.byId.set(session.id, session);
    if (this.byId.size > MAX_SESSIONS) {
      const oldest = this.byId.keys().next();
      if (!oldest.done) this.byId.delete(oldest.value);
    }
    return session;
  }

  get(id: string): Session | undefined {
    const session = this.byId.get(id);
    if (session && this.now() - session.createdAt > SESSION_TTL_MS) {
      this.byId.delete(id);
      return undefined;
    }
    return session;
  }

  delete(id: string): void {
    this.byId.delete(id);
  }
}

const MAX_LIMITED_CLIENTS = 10_000;

/** Sliding-window login limiter per client; rejected attempts are not counted, so a lockout ends. */
export class LoginLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  /** Records an attempt by `client`; returns 0 when allowed, else the seconds to wait. */
  attempt(client: string): number {
    const t = this.now();
    const recent = (this.hits.get(client) ?? []).filter((at) => t - at < this.windowMs);
    this.hits.delete(client);
    if (recent.length >= this.limit) {
      this.hits.set(client, recent);
      return Math.max(1, Math.ceil((recent[0] + this.windowMs - t) / 1000));
    }
    recent.push(t);
    this.hits.set(client, recent);
    if (this.hits.size > MAX_LIMITED_CLIENTS) {
      const oldest = this.hits.keys().next();
      if (!oldest.done) this.hits.delete(oldest.value);
    }
    return 0;
  }
}
