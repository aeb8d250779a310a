import { z } from 'zod';
import { KIND_NAMES, isKindName } from '../checks/kinds.js';
import type { KindName, KindTable } from '../checks/kinds.js';
import type { RegisteredKind } from '../checks/types.js';
import { authSchema } from '../checks/_shared/auth.js';
import { TIERS } from '../model.js';
import { durationOf } from './duration-schema.js';
import { checkUrl } from './url.js';
import { checkStageWatch, stageWatchFields, watchSchema } from './watch-schema.js';

export const duration = durationOf();
const timeout = durationOf('a timeout of 0 would end every check at once');
const budget = durationOf('a budget of 0 would put the stage over budget as soon as it starts');

/** Fields every check has, whatever its kind. */
const commonCheckFields = {
  timeout: timeout.optional().describe('The check is ended as `error` after this long (default: `defaults.timeout`).'),
  retries: z.number().int().min(0).max(10).optional().describe('Retries for a flaky check, with exponential backoff; every attempt is kept.'),
  backoff: duration.optional().describe('Wait before the first retry; doubles each time (default 1s).'),
  expect: z.array(z.string()).optional().describe('Conditions judged against the observations, e.g. `status == 200`. Default: the kind\'s own.'),
};

function checkVariant(name: string, options: z.ZodObject, description: string) {
  return options.extend({ kind: z.literal(name), ...commonCheckFields }).describe(description);
}

export { KIND_NAMES };

/** A check as the engine sees it: the common fields typed, the kind's own options as parsed by its schema. */
export interface CheckConfig {
  kind: KindName;
  timeout?: string | number;
  retries?: number;
  backoff?: string | number;
  expect?: string[];
  [option: string]: unknown;
}

/** The parsed check's kind is a plain string to the compiler (kinds are runtime data); name it. */
function named(c: Record<string, unknown>, ctx: { addIssue(issue: { code: 'custom'; message: string }): void }): CheckConfig {
  const { kind, ...rest } = c;
  if (!isKindName(kind)) {
    ctx.addIssue({ code: 'custom', message: `unknown check kind ${JSON.stringify(kind)}` });
    return z.NEVER;
  }
  return { ...rest, kind };
}

const DESCRIPTION = 'An automated check: `kind` picks the check kind; the other fields are its options.';

/**
 * The check schema for these kinds: each kind's own options, strictly. With none (a config whose
 * checks name no known kind), the kind name is what is wrong, and is all that is checked.
 */
function checkSchemaFor(kinds: readonly RegisteredKind[] | undefined) {
  if (!kinds || kinds.length === 0) {
    return z
      .looseObject({ kind: z.enum(KIND_NAMES), ...commonCheckFields })
      .transform(named)
      .describe(DESCRIPTION);
  }
  const [first, ...others] = kinds.map((k) => checkVariant(k.name, k.options, k.description));
  return z
    .discriminatedUnion('kind', [first, ...others])
    .transform(named)
    .describe(DESCRIPTION);
}

const estimate = z
  .strictObject({
    optimistic: z.number().nonnegative(),
    likely: z.number().nonnegative(),
    pessimistic: z.number().nonnegative(),
  })
  .describe('Hours of work left when the item is open: optimistic, likely, pessimistic.');

function itemSchemaFor(kinds: readonly RegisteredKind[] | undefined) {
  return z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'an id of letters, digits, dot, dash or underscore').describe('Unique id, e.g. SEC-001.'),
    title: z.string().min(1),
    tier: z.enum(TIERS).describe('critical items must all pass; high items count toward the thresholds; recommended never block.'),
    category: z.string().optional().describe('Grouping for reports, e.g. security, monitoring.'),
    phase: z.string().optional().describe('Critical-path phase, e.g. code-integration.'),
    owner: z.string().optional(),
    risk: z.enum(['high', 'medium', 'low']).optional(),
    estimate: estimate.optional(),
    blocker: z.boolean().optional().describe('A failing blocker item prevents GO whatever its tier.'),
    description: z.string().optional(),
    manual: z.literal(true).optional().describe('Needs a person\'s sign-off instead of a check.'),
    signers: z.array(z.string()).optional().describe('Roles whose sign-off attests this manual item.'),
    check: checkSchemaFor(kinds).optional(),
  })
  .describe('One line of the checklist.');
}

const environmentSchema = z
  .object({
    url: z
      .string()
      .superRefine((v, ctx) => {
        // `${STAGING_URL}`: set at run time (and checked then); a URL written out is checked now.
        const problem = /\$\{[A-Za-z_][A-Za-z0-9_]*\}/.test(v) ? undefined : checkUrl(v);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .describe('Base URL of the target (absolute http or https), or a `${VAR}` read at run time; `{{env.url}}` in checks.'),
  })
  .catchall(z.union([z.string(), z.number(), z.boolean()]))
  .describe('A target environment; every field is available as `{{env.<field>}}`.');

const approvals = z.number().int().min(1).max(20);

/** What a role may attest. A family (`stage`, `item`) covers each of its members (`stage:security`). */
export const PERMISSION_PATTERN = /^(decision|stage|item|waive|revoke|rollback|\*|stage:.+|item:.+)$/;
const permission = z.string().regex(PERMISSION_PATTERN, 'a permission: decision, stage, stage:<id>, item, item:<id>, waive, revoke, rollback or *');

const person = z
  .union([
    z.array(z.string()),
    z.strictObject({
      roles: z.array(z.string()).describe('Roles this person holds.'),
      emails: z.array(z.string()).optional().describe('Git author emails that are this person (for selfApproval).'),
    }),
  ])
  .describe('The roles a person holds: a list, or { roles, emails }.');

const stageSchema = z.strictObject({
  id: z.string(),
  title: z.string(),
  budget: budget.describe('Time budget; a stage that takes longer is reported over budget.'),
  items: z.array(z.string()).describe('Item ids run in this stage, in order of listing.'),
  signoff: z.array(z.string()).optional().describe('Roles whose sign-off closes this stage; when given, only these roles count (each also needs the `stage` or `stage:<id>` permission).'),
  requiredApprovals: approvals.optional().describe('Distinct people whose sign-off closes this stage (default 1).'),
  selfApproval: z.boolean().optional().describe('May the author of the release sign this stage (default true).'),
  ...stageWatchFields,
}).superRefine(checkStageWatch);

function buildConfigSchema(kinds: readonly RegisteredKind[] | undefined) {
  return z
  .strictObject({
    $schema: z.string().optional(),
    version: z.literal(1).describe('Config format version.'),
    extends: z
      .array(z.string())
      .optional()
      .describe('Files this one builds on, relative to it: later files and this one override earlier ones, maps merge, `items` add up.'),
    name: z.string().optional().describe('Name of this gate (default: the config folder name).'),
    environments: z.record(z.string(), environmentSchema).refine((e) => Object.keys(e).length > 0, 'at least one environment').describe('Targets; the first is the default for --env.'),
    defaults: z
      .strictObject({
        timeout: timeout.default('10s'),
        concurrency: z.number().int().min(1).max(256).default(8).describe('Checks running at once.'),
        perHost: z.number().int().min(1).max(256).default(4).describe('Checks running at once against one host.'),
      })
      .prefault({})
      .describe('Engine defaults.'),
    rules: z
      .strictObject({
        goHighRatio: z.number().min(0).max(1).default(0.9).describe('GO needs floor(ratio x high items) passed (seed: 16 of 18).'),
        conditionsHighRatio: z.number().min(0).max(1).default(0.7).describe('GO WITH CONDITIONS needs floor(ratio x high items) passed (seed: 12 of 18).'),
        requiredSignoffs: z.array(z.string().regex(/^(decision|stage:.+|item:.+)$/, 'decision, stage:<id> or item:<id>')).default([]),
        requiredApprovals: approvals.default(1).describe('Distinct people whose decision sign-offs are needed when `decision` is a required sign-off.'),
        selfApproval: z.boolean().default(false).describe('May the author of the release sign its decision (default false).'),
        signoffTtl: duration.default('7d').describe('How long a manual item\'s sign-off counts for its release (default 7d).'),
      })
      .prefault({})
      .describe('Decision rules.'),
    roles: z
      .record(z.string(), z.array(permission))
      .default({})
      .describe('What each role may attest: `decision`, `stage`, `stage:<id>`, `item`, `item:<id>`, `waive`, `revoke`, `*`.'),
    people: z.record(z.string(), person).optional().describe('Who holds which role: when given, a person may attest only in the roles listed here.'),
    auth: authSchema.optional().describe('How probes log in as test users.'),
    stages: z.record(z.string(), z.array(stageSchema)).default({}).describe('Stage sets for `gonogo validate <set>`.'),
    items: z.array(itemSchemaFor(kinds)).min(1),
    watch: watchSchema,
  })
  .describe('gonogo checklist as code.');
}

export type Config = z.output<ReturnType<typeof buildConfigSchema>>;
export type ItemConfig = z.output<ReturnType<typeof itemSchemaFor>>;
export type StageConfig = z.output<typeof stageSchema>;

// Built once per set of kinds: a zod schema costs milliseconds to build, and a run loads one config.
const built = new Map<string, ReturnType<typeof buildConfigSchema>>();

/**
 * The config schema checking the options of these kinds (every kind a config uses must be given);
 * with none, kinds' options are not checked (see checkSchemaFor).
 */
export function configSchemaFor(kinds?: KindTable) {
  const list = kinds ? KIND_NAMES.flatMap((n) => kinds[n] ?? []) : [];
  const key = list.map((k) => k.name).join(',');
  let schema = built.get(key);
  if (!schema) built.set(key, (schema = buildConfigSchema(list)));
  return schema;
}
