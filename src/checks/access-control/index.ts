import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { defineKind } from '../types.js';
import { ANONYMOUS, fillTemplate, login, parseJson, readPath } from '../_shared/auth.js';
import type { Session } from '../_shared/auth.js';
import { ProbeClient, PROBE_FIELDS, probeBudget, probeDefaultExpect, probeOutcome } from '../_shared/probe.js';
import type { Finding } from '../_shared/probe.js';
import { linear } from '../../util/pattern.js';

const createSchema = z
  .strictObject({
    method: z.string().default('POST').describe('HTTP method of the create request.'),
    path: z.string().describe('Path the owner sends the create request to (`/api/recipes`).'),
    json: z.record(z.string(), z.unknown()).optional().describe('JSON body; `{{nonce}}` becomes a value unique to this run.'),
    form: z.record(z.string(), z.string()).optional().describe('Form-urlencoded body instead of JSON.'),
    id: z
      .string()
      .default('id')
      .describe('Dotted JSON path in the response to the new object\'s id, or to its URL (`id`, `recipe.id`, `url`).'),
    objectPath: z
      .string()
      .optional()
      .describe('Path of the new object, with `{{id}}` (`/api/recipes/{{id}}`). Default: the value itself when it is a path or URL, else `<path>/<id>`.'),
  })
  .refine((c) => !(c.json && c.form), { message: 'give either json or form, not both' })
  .describe('A request the owner makes to create the object, for apps whose ids are not known in advance. It is not deleted afterwards.');

const objectSchema = z
  .strictObject({
    path: z.string().optional().describe('Path of an object the owner owns (`/api/recipes/1`, `/files/1`).'),
    create: createSchema.optional(),
    marker: z
      .string()
      .optional()
      .describe('Text in the object that nobody else may see (a title, a file name); `{{nonce}}` allowed with create. Without it, an answer equal to the owner\'s counts as a leak.'),
    anonymous: z.boolean().default(true).describe('Also require that an anonymous request is refused.'),
  })
  .refine((o) => (o.path === undefined) !== (o.create === undefined), { message: 'give either path or create' })
  .describe('An object owned by the owner.');

const listSchema = z
  .strictObject({
    path: z.string().describe('A listing endpoint (`/api/recipes`).'),
    ownerMarker: z
      .string()
      .optional()
      .describe("Text that marks the owner's private items in the list. Default: the markers of the objects."),
    anonymous: z.boolean().default(true).describe('Also require that an anonymous listing does not show them.'),
  })
  .describe("A listing that must not show the owner's private items to anyone else.");

const options = z
  .strictObject({
    owner: z
      .string()
      .optional()
      .describe('Test user who owns the objects (a name in `auth.users`). Without one (an app without users), every object is judged on what others get: any 2xx is access.'),
    other: z
      .string()
      .default(ANONYMOUS)
      .describe('Who must not see them: a test user not in the owner\'s family or team, or `anonymous` (the default).'),
    objects: z.array(objectSchema).default([]).describe('Objects that must be refused to the other user and to anonymous.'),
    lists: z.array(listSchema).default([]).describe("Listing endpoints that must not leak the owner's items."),
    ...probeBudget,
  })
  .refine((o) => o.objects.length + o.lists.length > 0, { message: 'give at least one object or list' })
  .refine((o) => o.owner !== undefined || o.objects.every((obj) => obj.create === undefined), { message: 'create needs an owner to create the object' })
  .refine((o) => o.owner !== undefined || o.lists.every((l) => l.ownerMarker !== undefined), { message: 'without an owner, each list needs ownerMarker' });

type ObjectOptions = z.output<typeof objectSchema>;

/** A page with a password field: a login page, which is a refusal however it is served. */
const LOGIN_FORM = linear(/<input[^>]+type\s*=\s*["']?password/i);
type Who = 'other' | 'anonymous';

const ID_KEYS = ['id', '_id', 'uuid'];

/** Two JSON answers describe the same object: equal, or the same id at the top or one level down. */
function sameObject(a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined) return false;
  if (isDeepStrictEqual(a, b)) return true;
  const ids = (v: unknown): unknown[] => {
    const out: unknown[] = [];
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return out;
    for (const k of ID_KEYS) out.push(readPath(v, k));
    for (const inner of Object.values(v)) {
      if (inner !== null && typeof inner === 'object' && !Array.isArray(inner)) for (const k of ID_KEYS) out.push(readPath(inner, k));
    }
    return out.filter((x) => typeof x === 'string' || typeof x === 'number');
  };
  const idsA = ids(a);
  return ids(b).some((id) => idsA.includes(id));
}

export default defineKind({
  name: 'access-control',
  description:
    "An object owned by one test user must be refused to another user and to anonymous (401/403/404), and listings must not show the owner's private items.",
  options,
  fields: [...PROBE_FIELDS, 'leaks', 'objects', 'lists'],
  defaultExpect: probeDefaultExpect,
  async run(o, ctx) {
    if (o.owner === o.other) throw new Error(`owner and other are both "${o.owner}": the probe needs two different users`);
    const planned =
      2 +
      o.objects.reduce((n, obj) => n + (obj.create ? 1 : 0) + 2 + (obj.anonymous ? 1 : 0), 0) +
      o.lists.reduce((n, l) => n + 2 + (l.anonymous ? 1 : 0), 0);
    if (planned > o.maxRequests) throw new Error(`the access-control probe needs up to ${planned} requests; maxRequests is ${o.maxRequests}`);
    const nonce = `gonogo-${randomBytes(6).toString('hex')}`;
    const objectMarkers = o.objects.flatMap((obj) => (obj.marker ? [fillTemplate(obj.marker, { nonce })] : []));
    o.lists.forEach((l, i) => {
      if (!l.ownerMarker && objectMarkers.length === 0) {
        throw new Error(`lists[${i}] (${l.path}) needs ownerMarker, or objects with a marker: without one the probe cannot tell the owner's items`);
      }
    });

    const client = new ProbeClient(ctx, o);
    return client.guard(async () => {
      const owner = o.owner !== undefined ? await login(ctx.auth, o.owner, ctx, client) : undefined;
      const other = await login(ctx.auth, o.other, ctx, client);
      const sessions: Record<Who, Session | undefined> = { other, anonymous: undefined };
      // The principal's name in finding ids: `anonymous` whether it is `other` or the extra ask.
      const whoId = (who: Who): string => (who === 'other' && o.other === ANONYMOUS ? ANONYMOUS : who);
      const asks = (anonymous: boolean): Who[] => (anonymous && o.other !== ANONYMOUS ? ['other', 'anonymous'] : ['other']);
      const get = async (path: string, s: Session | undefined) => {
        const res = await client.send({ path, headers: s ? s.headers({ withToken: false }) : {} });
        s?.absorb(res);
        return res;
      };
      /** The same, but a rate-limited answer (after waiting as told) is undefined: not judged, counted. */
      const ask = async (path: string, s: Session | undefined) => {
        const res = await client.sendOrSkip({ path, headers: s ? s.headers({ withToken: false }) : {} });
        if (res) s?.absorb(res);
        return res;
      };

      const createObject = async (obj: ObjectOptions, index: number): Promise<string> => {
        const c = obj.create;
        if (!c || !owner) return obj.path ?? '';
        const target = new URL(client.url(c.path));
        const form = c.form ? new URLSearchParams(fillTemplate(c.form, { nonce })).toString() : undefined;
        const res = await client.send({
          path: c.path,
          method: c.method,
          headers: { ...owner.headers(), origin: target.origin, 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
          body: form ?? JSON.stringify(fillTemplate(c.json ?? {}, { nonce })),
        });
        owner.absorb(res);
        const value = readPath(parseJson(res.body), c.id);
        if (res.status < 200 || res.status >= 300 || (typeof value !== 'string' && typeof value !== 'number')) {
          throw new Error(`objects[${index}]: the owner's create request ${c.method} ${c.path} answered ${res.status} without "${c.id}" in the body: nothing to test`);
        }
        const id = String(value);
        if (c.objectPath) return fillTemplate(c.objectPath, { id: encodeURIComponent(id) });
        if (id.startsWith('/') || /^https?:\/\//.test(id)) return id;
        return `${target.pathname.replace(/\/+$/, '')}/${encodeURIComponent(id)}`;
      };

      const findings: Finding[] = [];
      const unclear: string[] = [];
      const objectsReport: Record<string, unknown>[] = [];
      for (const [i, obj] of o.objects.entries()) {
        const path = await createObject(obj, i);
        const marker = obj.marker ? fillTemplate(obj.marker, { nonce }) : undefined;
        const mine = owner ? await get(path, owner) : undefined;
        if (mine && (mine.status < 200 || mine.status >= 300)) {
          throw new Error(`the owner "${o.owner ?? ''}" cannot read ${path} (answered ${mine.status}): the probe cannot verify who else can`);
        }
        if (mine && marker !== undefined && !mine.body.includes(marker)) {
          throw new Error(`the owner's answer for ${path} does not contain the marker "${marker}": the probe cannot tell the object from another answer`);
        }
        const row: Record<string, unknown> = { path, owner: mine?.status ?? null };
        for (const who of asks(obj.anonymous)) {
          const res = await ask(path, sessions[who]);
          if (!res) {
            row[whoId(who)] = null;
            continue;
          }
          row[whoId(who)] = res.status;
          const label = who === 'other' && o.other !== ANONYMOUS ? `"${o.other}"` : ANONYMOUS;
          const ok = res.status >= 200 && res.status < 300;
          const whose = o.owner !== undefined ? `${o.owner}'s ${path}` : `the private ${path}`;
          // Without an owner to compare with, a 2xx is access whatever the body (unless a login page).
          const leaked =
            marker !== undefined
              ? res.body.includes(marker)
              : mine
                ? ok && (res.body === mine.body || sameObject(parseJson(mine.body), parseJson(res.body)))
                : ok && !LOGIN_FORM.test(res.body);
          if (leaked) {
            findings.push({
              id: `${whoId(who)}:${path}`,
              severity: 'high',
              message: `${label} reads ${whose} (answered ${res.status}${marker !== undefined ? ` containing "${marker}"` : mine ? ', the same object the owner sees' : ''})`,
              observed: { status: res.status, bodyExcerpt: res.body.slice(0, 200) },
            });
          } else if (ok) {
            findings.push({
              id: `${whoId(who)}:${path}`,
              severity: 'low',
              message: `${label} gets ${res.status} for ${path}, though not the ${mine ? "owner's object" : 'marked object'}; a refusal should be 401/403/404`,
              observed: { status: res.status, bodyExcerpt: res.body.slice(0, 200) },
            });
          } else if (!mine && marker === undefined && res.status !== 401 && res.status !== 403) {
            // Nobody can read it here: a 404 may be a missing route as well as a hidden object.
            unclear.push(`${path} as ${label} answered ${res.status}`);
          }
        }
        objectsReport.push(row);
      }

      const listsReport: Record<string, unknown>[] = [];
      for (const l of o.lists) {
        const markers = l.ownerMarker ? [fillTemplate(l.ownerMarker, { nonce })] : objectMarkers;
        const mine = owner ? await get(l.path, owner) : undefined;
        const shown = mine ? markers.filter((m) => mine.body.includes(m)) : markers;
        if (mine && (mine.status < 200 || mine.status >= 300 || shown.length === 0)) {
          throw new Error(`the owner's listing ${l.path} (answered ${mine.status}) shows none of ${markers.map((m) => `"${m}"`).join(', ')}: the probe cannot verify what others see`);
        }
        const row: Record<string, unknown> = { path: l.path, owner: mine?.status ?? null, markers: shown };
        for (const who of asks(l.anonymous)) {
          const res = await ask(l.path, sessions[who]);
          if (!res) {
            row[whoId(who)] = null;
            continue;
          }
          const leaked = shown.filter((m) => res.body.includes(m));
          row[whoId(who)] = { status: res.status, leaked };
          if (leaked.length > 0) {
            findings.push({
              id: `list.${whoId(who)}:${l.path}`,
              severity: 'high',
              message: `${who === 'other' && o.other !== ANONYMOUS ? `"${o.other}"` : ANONYMOUS} sees ${o.owner !== undefined ? `${o.owner}'s` : 'the private'} items in ${l.path}: ${leaked.map((m) => `"${m}"`).join(', ')}`,
              observed: { status: res.status, leaked },
            });
          }
        }
        listsReport.push(row);
      }

      // Nothing proved readable, but some answers prove nothing either: that is no pass.
      if (unclear.length > 0 && !findings.some((f) => f.severity === 'high')) throw new Error(`could not verify: ${unclear.join('; ')} (without an owner, a 404 may be a missing route; give owner:, or a marker)`);
      const leaks = findings.filter((f) => f.severity === 'high').map((f) => f.id);
      return probeOutcome(findings, client, { leaks, objects: objectsReport, lists: listsReport });
    });
  },
});
