// Names in a config that must name something else in it: a typo in a role, a user, a stage, an item
// or an environment field is a config problem at load, with its position, not a refusal (or a
// silently unclosable stage) on the day of the release.
import { ANONYMOUS } from '../checks/_shared/auth.js';
import { PERMISSION_PATTERN } from './schema.js';
import { checkWatchReferences } from './watch-schema.js';
import { RELEASE_FIELD, VALUE_PLACEHOLDER } from './values.js';

type Path = (string | number)[];

/** Where problems are reported: a value's position, or a text's position inside a string value. */
export interface ReferenceSink {
  /** A problem at the value at `path`. */
  at(path: Path, message: string): void;
  /** A problem at the `nth` occurrence of `needle` inside the string value at `path`. */
  inString(path: Path, needle: string, nth: number, message: string): void;
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** "(defined: a, b)" or "(none defined: add a X: section)". */
function known(names: Iterable<string>, section: string): string {
  const list = [...names];
  return list.length > 0 ? `(defined: ${list.join(', ')})` : `(none defined: add a ${section} section)`;
}

/** Matches of `re` in `text`, each with how many identical matches precede it (to find it again in the file). */
export function matchesWithRank(text: string, re: RegExp): { match: RegExpExecArray; nth: number }[] {
  const seen = new Map<string, number>();
  return [...text.matchAll(re)].map((match) => {
    const nth = seen.get(match[0]) ?? 0;
    seen.set(match[0], nth + 1);
    return { match, nth };
  });
}

/** Every string under `value` with its path. */
function strings(value: unknown, path: Path, out: { text: string; path: Path }[] = []): { text: string; path: Path }[] {
  if (typeof value === 'string') out.push({ text: value, path });
  else if (Array.isArray(value)) value.forEach((x, i) => strings(x, [...path, i], out));
  else if (value !== null && typeof value === 'object') for (const [k, x] of Object.entries(value)) strings(x, [...path, k], out);
  return out;
}

/** Option paths (relative to a check) that name a test user of `auth.users`, by kind; `*` for every kind. */
const USER_OPTIONS: Record<string, readonly string[]> = {
  '*': ['loginAs', 'asUser'],
  'auth-required': ['control'],
  'access-control': ['owner', 'other'],
};

/** Names of test users a check's options refer to, with their paths relative to the check. */
function userRefs(check: Record<string, unknown>): { name: string; path: Path }[] {
  const keys = [...USER_OPTIONS['*'], ...(typeof check.kind === 'string' ? (USER_OPTIONS[check.kind] ?? []) : [])];
  const refs: { name: string; path: Path }[] = [];
  for (const k of keys) if (typeof check[k] === 'string') refs.push({ name: check[k], path: [k] });
  // auth-required's per-path override.
  asArray(check.paths).forEach((p, i) => {
    const asUser = asRecord(p).asUser;
    if (typeof asUser === 'string') refs.push({ name: asUser, path: ['paths', i, 'asUser'] });
  });
  return refs;
}

/**
 * Checks every cross-reference of a config (raw data, after merging `extends`), reporting each
 * broken one to `sink`:
 * - test users named by checks (`loginAs`, `asUser`, ...) exist in `auth.users`;
 * - roles named by stages' `signoff`, items' `signers` and `people` exist in `roles`;
 * - `rules.requiredSignoffs` name existing stages and items;
 * - permissions `stage:<id>` and `item:<id>` in `roles` name existing stages and items;
 * - `{{env.NAME}}` in checks and `auth` is a field of every environment (`{{release}}` always is);
 * - an environment has no field named `release` (the run's own value).
 * `verbatim(itemIndex)` gives the option paths of an item's check that are passed as written (and
 * checked elsewhere). Stage items and duplicate ids are checked by the loader.
 */
export function checkReferences(raw: Record<string, unknown>, sink: ReferenceSink, verbatim: (check: Record<string, unknown>) => readonly string[]): void {
  const roles = asRecord(raw.roles);
  const roleNames = Object.keys(roles);
  const hasRole = (r: string): boolean => Object.hasOwn(roles, r);
  const items = asArray(raw.items);
  const itemIds = new Set(items.map((i) => asRecord(i).id).filter((id): id is string => typeof id === 'string'));
  const stageSets = asRecord(raw.stages);
  const stageIds = new Set<string>();
  for (const list of Object.values(stageSets)) for (const s of asArray(list)) if (typeof asRecord(s).id === 'string') stageIds.add(asRecord(s).id as string);
  const users = Object.keys(asRecord(asRecord(raw.auth).users));
  const hasAuth = raw.auth !== undefined;

  const role = (name: unknown, path: Path, what: string): void => {
    if (typeof name === 'string' && !hasRole(name)) sink.at(path, `${what} "${name}" is not a role in roles: ${known(roleNames, 'roles:')}`);
  };
  const target = (t: string, path: Path, what: string): void => {
    const m = /^(stage|item):(.+)$/.exec(t);
    if (!m) return;
    const [, type, id] = m;
    if (type === 'stage' && !stageIds.has(id)) sink.at(path, `${what} "${t}" names no stage of any stage set ${known(stageIds, 'stages:')}`);
    if (type === 'item' && !itemIds.has(id)) sink.at(path, `${what} "${t}" names no item (unknown item id "${id}")`);
  };

  // Roles: the permissions they grant.
  for (const [name, grants] of Object.entries(roles)) {
    asArray(grants).forEach((g, i) => {
      if (typeof g === 'string' && PERMISSION_PATTERN.test(g)) target(g, ['roles', name, i], 'permission');
    });
  }

  // People: the roles they hold.
  for (const [person, held] of Object.entries(asRecord(raw.people))) {
    const list = Array.isArray(held) ? held : asArray(asRecord(held).roles);
    const base: Path = Array.isArray(held) ? ['people', person] : ['people', person, 'roles'];
    list.forEach((r, i) => role(r, [...base, i], `${person}'s role`));
  }

  // Stages: the roles that sign them off.
  for (const [set, list] of Object.entries(stageSets)) {
    asArray(list).forEach((st, si) => asArray(asRecord(st).signoff).forEach((r, ri) => role(r, ['stages', set, si, 'signoff', ri], 'sign-off role')));
  }

  // Rules: the sign-offs a decision needs.
  asArray(asRecord(raw.rules).requiredSignoffs).forEach((r, i) => {
    if (typeof r === 'string') target(r, ['rules', 'requiredSignoffs', i], 'required sign-off');
  });

  // Environments: `release` is the run's own value, so no environment may shadow it.
  const environments = Object.entries(asRecord(raw.environments));
  for (const [name, env] of environments) {
    if (Object.hasOwn(asRecord(env), RELEASE_FIELD)) {
      sink.at(['environments', name, RELEASE_FIELD], `"${RELEASE_FIELD}" is reserved: {{release}} and {{env.release}} are the release being decided (--release); name this field otherwise`);
    }
  }
  const envField = (text: string, path: Path): void => {
    for (const { match, nth } of matchesWithRank(text, VALUE_PLACEHOLDER)) {
      const field = match[2];
      if (field === undefined || field === RELEASE_FIELD) continue;
      const lacking = environments.filter(([, env]) => !Object.hasOwn(asRecord(env), field)).map(([n]) => n);
      if (lacking.length === 0) continue;
      const which = lacking.length === environments.length ? 'no environment has' : `environment${lacking.length > 1 ? 's' : ''} ${lacking.map((n) => `"${n}"`).join(', ')} lack${lacking.length > 1 ? '' : 's'}`;
      sink.inString(path, match[0], nth, `${match[0]}: ${which} a field "${field}" (add it under environments:, or use a field every environment has)`);
    }
  };

  // Items: signers, the test users their checks log in as, and the environment fields they read.
  items.forEach((it, i) => {
    const item = asRecord(it);
    asArray(item.signers).forEach((r, ri) => role(r, ['items', i, 'signers', ri], 'signer role'));
    if (item.check === undefined) return;
    const check = asRecord(item.check);
    for (const ref of userRefs(check)) {
      // `anonymous` is the principal without credentials, never a configured user.
      if (users.includes(ref.name) || ref.name === ANONYMOUS) continue;
      const message = hasAuth ? `test user "${ref.name}" is not in auth.users ${known(users, 'auth.users:')}` : `test user "${ref.name}": the config has no auth: section (a login recipe and its users)`;
      sink.at(['items', i, 'check', ...ref.path], message);
    }
    const skip = new Set(verbatim(check));
    for (const s of strings(check, [])) {
      const dotted = s.path.join('.');
      if ([...skip].some((v) => dotted === v || dotted.startsWith(`${v}.`))) continue;
      envField(s.text, ['items', i, 'check', ...s.path]);
    }
  });
  for (const s of strings(raw.auth, ['auth'])) envField(s.text, s.path);

  // The watch: trigger items and post-rollback validation items.
  checkWatchReferences(raw, sink);
}

/** `{{env.NAME}}` in an `expect:` condition whose value in some environment holds a `${VAR}`: a secret that would be judged (and shown) in the clear. */
export function secretFieldsOf(raw: Record<string, unknown>): Set<string> {
  const fields = new Set<string>();
  for (const env of Object.values(asRecord(raw.environments))) {
    for (const [k, v] of Object.entries(asRecord(env))) if (typeof v === 'string' && /\$\{[A-Za-z_][A-Za-z0-9_]*\}/.test(v)) fields.add(k);
  }
  return fields;
}
