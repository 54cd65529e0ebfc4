import { z } from 'zod';
import { flowKeySchema } from '../../flow/flow-key-format.ts';
import { BULK_CHUNK, MAX_BULK_TASKS } from '../../tasks/bulk-actions.ts';
import { PROVIDER_IDS } from '../../tasks/providers/index.ts';
import { TASK_STATUSES } from '../../tasks/task-types.ts';
import { createTaskResponseSchema } from './task-schemas.ts';

/** Why 1,000: an id list is read whole with the body; more ids are more calls. */
export const MAX_FILTER_IDS = 1000;

const status = z
  .enum(TASK_STATUSES, { error: `status must be one of ${TASK_STATUSES.join(', ')}` })
  .describe('Only tasks in this status');
const provider = z
  .string()
  .refine((id) => PROVIDER_IDS.includes(id), { error: `provider must be one of ${PROVIDER_IDS.join(', ')}` })
  .describe('Only tasks of this provider preset');
const instant = (what: string) =>
  z.iso
    .datetime({ offset: true, error: `${what} must be an ISO-8601 date-time such as 2026-01-15T10:30:00.000Z` })
    .describe(`Only tasks created ${what === 'createdAfter' ? 'after' : 'before'} this instant`);

/** The filter fields a list shares with the bulk actions (query strings of GET /v1/tasks). */
export const listFilterFields = {
  status: status.optional(),
  provider: provider.optional(),
  flowKey: flowKeySchema('flowKey').optional().describe('Only tasks of this flow key'),
  createdAfter: instant('createdAfter').optional(),
  createdBefore: instant('createdBefore').optional(),
};

export const bulkFilterSchema = z
  .strictObject({
    ids: z
      .array(z.uuid({ error: 'ids must be task ids (UUIDs)' }))
      .min(1, 'ids must hold at least one id')
      .max(MAX_FILTER_IDS, `ids must hold at most ${MAX_FILTER_IDS} ids`)
      .optional()
      .describe(`Only these tasks (at most ${MAX_FILTER_IDS})`),
    ...listFilterFields,
  })
  .refine((f) => Object.values(f).some((v) => v !== undefined), {
    error:
      'give at least one of ids, status, provider, flowKey, createdAfter, createdBefore (a bulk action never covers every task by default)',
  })
  .describe('Which tasks: every field given narrows the selection; at least one is required');

export const bulkOutcomeSchema = z.object({
  matched: z
    .number()
    .int()
    .describe(`Tasks this call acted on (at most ${MAX_BULK_TASKS.toLocaleString('en-US')})`),
  changed: z.number().int().describe('Of those, how many were changed (cancelled or flagged; replayed)'),
  hasMore: z
    .boolean()
    .describe('More tasks match than one call covers: call again to go on (done tasks no longer match)'),
});

export const BULK_DESCRIPTION = `Works through at most ${MAX_BULK_TASKS.toLocaleString('en-US')} tasks per call, ${BULK_CHUNK} at a time (each chunk its own short statements, never one long transaction).`;

const batchItemErrorSchema = z
  .object({
    error: z.string(),
    code: z.literal('validation_failed'),
    details: z
      .array(
        z.object({
          path: z.string().describe('Dot path from the batch body, e.g. tasks.3.targetUrl'),
          message: z.string(),
        }),
      )
      .describe('One entry per bad field of this item'),
  })
  .describe('An item that was not created, and why');

export const batchResponseSchema = z.object({
  results: z
    .array(z.union([createTaskResponseSchema, batchItemErrorSchema]))
    .describe('One per item, in input order: the create answer, or the error of an invalid item'),
});

const countsByStatus = Object.fromEntries(TASK_STATUSES.map((s) => [s, z.number().int()])) as Record<
  (typeof TASK_STATUSES)[number],
  z.ZodNumber
>;

export const taskStatsSchema = z.object({
  counts: z.object(countsByStatus).describe("The team's tasks in each status (0 when none)"),
  total: z.number().int(),
});
