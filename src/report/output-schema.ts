// The shape of `--format json` of `check`, `validate`, `status` and `report`: one zod schema, the
// source of the documents' TypeScript types and of schema/gonogo-output.schema.json (a test keeps
// the committed file equal to what this generates, and validates real outputs against it).
//
// Two documents share the decision-and-results fields: a run (`check`, `validate`) and the gate's
// state (`status`, `report`). `schemaVersion` changes when a field is removed or changes meaning; a
// field added within a version arrives with the schema file that ships beside it (objects are
// closed, so the schema always says exactly what a document of its release holds).
import { z } from 'zod';
import { STATUS_ORDER, TIERS, VERDICTS } from '../model.js';
import { SCHEMA_VERSION } from './json.js';

export { SCHEMA_VERSION };

const tierCount = z
  .object({
  total: z.number().int(),
  passed: z.number().int(),
  failed: z.number().int(),
  error: z.number().int(),
  pending: z.number().int(),
  skipped: z.number().int(),
  waived: z.number().int(),
  })
  .meta({ id: 'TierCount' });

const itemResult = z
  .object({
    id: z.string(),
    title: z.string().nullable().describe('The item title from the config; null when the config no longer has the item.'),
    tier: z.enum(TIERS),
    category: z.string().nullable(),
    status: z.enum(STATUS_ORDER).describe('pass | skipped | waived | pending | fail | error; `error` and `pending` never count as passed.'),
    message: z.string().describe('The judgement in one sentence, naming every value it read.'),
    evidence: z.unknown().describe("What the check observed, as its kind keeps it: a probe's findings and exchanges, a command's argv and output tail, an http request and answer; null when none."),
    durationMs: z.number(),
    attempts: z.number().int().describe('How many attempts were made (retries of flaky checks).'),
    runId: z.string().optional().describe('State documents: the run this result comes from (absent for manual items and items never run).'),
  })
  .meta({ id: 'ItemResult', description: 'One item of the checklist and its result.' });

const rootCause = z
  .object({
    cause: z.string().describe('The shared reason, e.g. `environment variable STAGING_URL is not set`.'),
    items: z.array(z.string()).describe('Ids of the items that could not be verified for it.'),
  })
  .meta({ id: 'RootCause', description: 'A reason several items errored for, reported once.' });

/** The fields both documents carry: the decision, its reasons, and every item's result. */
const decisionAndResults = {
  decision: z.enum(VERDICTS).nullable().describe('GO, GO_WITH_CONDITIONS or NO_GO; null when a run was aborted (never GO).'),
  readiness: z.number().nullable().describe('Share of critical items passed, 0-100; null without a decision.'),
  tiers: z.object({ critical: tierCount, high: tierCount, recommended: tierCount }).nullable().describe('Counts per tier; null without a decision.'),
  reasons: z.array(z.string()).describe('Why the decision is what it is.'),
  conditions: z.array(z.string()).describe('For GO WITH CONDITIONS: the waived items with their mitigations.'),
  blockers: z.array(z.string()).describe('Ids of the items that block GO.'),
  missingSignoffs: z.array(z.string()).describe('Required sign-offs not given (`decision`, `stage:security`, ...).'),
  causes: z.array(rootCause).describe('Root causes shared by two or more errored items.'),
  items: z.array(itemResult).describe('Every item in checklist order (a run: the items it ran).'),
};

const signedRun = z.object({ id: z.string(), verdict: z.enum(VERDICTS), configHash: z.string() });

const attestationBase = {
  id: z.string().describe('`gonogo revoke ID` names it.'),
  release: z.string(),
  by: z.string(),
  role: z.string(),
  at: z.string().describe('ISO 8601.'),
  standing: z.enum(['counts', 'stale', 'revoked', 'expired', 'refused', 'other-release']).describe('Whether it counts now, and if not why.'),
  why: z.string(),
};

const attestation = z
  .discriminatedUnion('kind', [
    z.object({
      kind: z.literal('signoff'),
      ...attestationBase,
      target: z.discriminatedUnion('type', [z.object({ type: z.literal('item'), id: z.string() }), z.object({ type: z.literal('stage'), id: z.string() }), z.object({ type: z.literal('decision') })]),
      env: z.string().nullable(),
      run: signedRun.nullable().describe('Decision and stage sign-offs: the run signed.'),
      note: z.string().nullable(),
    }),
    z.object({ kind: z.literal('waiver'), ...attestationBase, itemId: z.string(), mitigation: z.string(), owner: z.string(), expires: z.string() }),
    z.object({ kind: z.literal('revocation'), ...attestationBase, attestationId: z.string(), reason: z.string() }),
  ])
  .meta({ id: 'Attestation', description: 'A sign-off, waiver or revocation with its standing.' });

const stage = z
  .object({
  id: z.string(),
  title: z.string(),
  budgetMs: z.number(),
  durationMs: z.number(),
  overBudget: z.boolean(),
  status: z.enum(['passed', 'failed', 'not-run']),
  items: z.array(z.string()),
  failedCritical: z.array(z.string()),
  signoffRoles: z.array(z.string()),
  signedOff: z.boolean(),
  })
  .meta({ id: 'StageReport' });

const selection = z
  .object({ only: z.array(z.string()).optional(), tiers: z.array(z.enum(TIERS)).optional(), stageSet: z.string().optional() })
  .describe('What the run covered; absent fields mean all. A run with `only` or `tiers` is partial.');

const runSummary = z.object({
  id: z.string(),
  command: z.string(),
  env: z.string(),
  release: z.string(),
  status: z.enum(['running', 'completed', 'aborted']),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  partial: z.boolean(),
  decision: z.enum(VERDICTS).nullable(),
  readiness: z.number().nullable(),
  configHash: z.string(),
});

export const stateDocumentSchema = z
  .object({
    schemaVersion: z.literal(SCHEMA_VERSION),
    document: z.literal('state'),
    gate: z.string(),
    env: z.string(),
    release: z.string().describe('What is decided: `--release`, the git commit (`+dirty`), or the config hash.'),
    generatedAt: z.string().describe('ISO 8601: the moment the state was read.'),
    configHash: z.string(),
    configChanged: z.boolean().describe('The config changed since the last run.'),
    staleItems: z.array(z.string()).describe('Items whose definition changed since their last result: not run.'),
    lastRun: runSummary.nullable().describe('The newest completed run of this release and environment.'),
    ...decisionAndResults,
    attestations: z.array(attestation).describe('Every attestation of the gate, oldest first, with its standing.'),
  })
  .meta({ id: 'StateDocument', description: 'The gate state for one release (`status`, `report`).' });

export const runDocumentSchema = z
  .object({
    schemaVersion: z.literal(SCHEMA_VERSION),
    document: z.literal('run'),
    gate: z.string(),
    env: z.string(),
    release: z.string(),
    command: z.string().describe('`check`, or `validate:<stage-set>`.'),
    runId: z.string(),
    status: z.enum(['running', 'completed', 'aborted']),
    startedAt: z.string(),
    finishedAt: z.string(),
    partial: z.boolean().describe('The run left items out (--only/--tier): its decision covers its selection only.'),
    selection,
    ...decisionAndResults,
    stages: z.array(stage).nullable().describe('`validate`: each stage against its budget; null for `check`.'),
    state: stateDocumentSchema.optional().describe('The gate state for this release after the run (a partial run updates only what it ran).'),
  })
  .meta({ id: 'RunDocument', description: 'One run (`check`, `validate`).' });

export const outputDocumentSchema = z.discriminatedUnion('document', [runDocumentSchema, stateDocumentSchema]);

/** `check` and `validate` with `--format json`. */
export type RunDocument = z.output<typeof runDocumentSchema>;
/** `status` and `report` with `--format json`. */
export type StateDocument = z.output<typeof stateDocumentSchema>;
/** One item's result as both documents list it. */
export type DocumentItem = z.output<typeof itemResult>;
/** One attestation with its standing, as the state document lists it. */
export type DocumentAttestation = z.output<typeof attestation>;

/** The published JSON Schema as text, exactly as committed in schema/gonogo-output.schema.json. */
export function outputJsonSchemaText(): string {
  const schema = z.toJSONSchema(outputDocumentSchema, { target: 'draft-2020-12' });
  const { $schema, ...rest } = schema;
  return `${JSON.stringify({ $schema, $id: 'https://gonogo.dev/schema/gonogo-output.schema.json', title: 'gonogo --format json', ...rest }, null, 2)}\n`;
}
