import { z } from 'zod';
import { createTaskInputSchema } from '../../tasks/task-input-schema.ts';
import { taskQueueSchema } from '../schemas/flow-key-schemas.ts';
import { listFilterFields } from '../schemas/task-bulk-schemas.ts';
import {
  createTaskResponseSchema,
  LIST_CAPS_DESCRIPTION,
  taskEnvelopeSchema,
  taskListSchema,
} from '../schemas/task-schemas.ts';
import { authedProcedure, router } from '../trpc.ts';
import { resolveIdempotencyKey } from './idempotency-key.ts';
import { taskBulkProcedures, toTaskFilter } from './task-bulk-procedures.ts';

const taskId = z.uuid({ error: 'id must be a task id (UUID)' }).describe('Task id');
const TAG = ['tasks'];

export const tasksRouter = router({
  // Before `get`: their static paths (/v1/tasks/stats, /v1/tasks/batch…) win over /v1/tasks/{id}.
  ...taskBulkProcedures,
  create: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/v1/tasks',
        tags: TAG,
        summary: 'Create a task',
        description:
          'Creates a durable HTTP call. Answers 201 (200 with Idempotent-Replayed: true when an Idempotency-Key replays).',
        successDescription: 'The created task, with its one-time credentials',
      },
    })
    .input(createTaskInputSchema)
    .output(createTaskResponseSchema)
    .mutation(async ({ ctx, input }) => {
      const key = resolveIdempotencyKey(ctx.meta.header('idempotency-key'), input.idempotencyKey);
      const outcome = await ctx.services.tasks.create(ctx.principal.teamId, input, key);
      if (outcome.replayed) ctx.meta.responseHeaders['Idempotent-Replayed'] = 'true';
      else ctx.meta.successStatus = 201;
      return outcome.body;
    }),

  get: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/v1/tasks/{id}',
        tags: TAG,
        summary: 'Get a task',
        description:
          'Reads a task of your team (secret header values masked). With `wait`, long-polls: answers as soon as the status changes, or after `wait` seconds.',
      },
    })
    .input(
      z.object({
        id: taskId,
        wait: z.coerce
          .number({ error: 'wait must be a number of seconds' })
          .int('wait must be a whole number of seconds')
          .min(0, 'wait must be 0–25')
          .max(25, 'wait must be 0–25')
          .optional()
          .describe('Long-poll up to this many seconds (0–25) for a status change'),
      }),
    )
    .output(taskEnvelopeSchema)
    .query(async ({ ctx, input }) => ({
      task: await ctx.services.tasks.get(ctx.principal.teamId, input.id, input.wait ?? 0, ctx.meta.signal),
    })),

  list: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/v1/tasks',
        tags: TAG,
        summary: 'List tasks',
        description: `Newest first, with an opaque cursor that is stable under concurrent inserts. ${LIST_CAPS_DESCRIPTION}`,
      },
    })
    .input(
      z.object({
        ...listFilterFields,
        limit: z.coerce
          .number({ error: 'limit must be a number' })
          .int('limit must be a whole number')
          .min(1, 'limit must be 1–100')
          .max(100, 'limit must be 1–100')
          .default(20),
        cursor: z.string().max(200).optional().describe('pagination.nextCursor of the previous page'),
      }),
    )
    .output(taskListSchema)
    .query(({ ctx, input }) =>
      ctx.services.tasks.list(ctx.principal.teamId, {
        ...toTaskFilter(input),
        limit: input.limit,
        cursor: input.cursor,
      }),
    ),

  cancel: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/v1/tasks/{id}/cancel',
        tags: TAG,
        summary: 'Cancel a task',
        description:
          'Cancels a pending, delayed, waiting or polling task at once; a processing task ends as cancelled when its current attempt ends (cancelRequested: true).',
      },
    })
    .input(z.object({ id: taskId }))
    .output(taskEnvelopeSchema)
    .mutation(async ({ ctx, input }) => ({ task: await ctx.services.tasks.cancel(ctx.principal.teamId, input.id) })),

  queue: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/v1/tasks/{id}/queue',
        tags: TAG,
        summary: 'Why a task waits',
        description:
          "For a pending task its flow key holds back: held, the reason (concurrency, rate or paused), its position in the key's line and when the rate window or pause ends. Otherwise held is false.",
      },
    })
    .input(z.object({ id: taskId }))
    .output(taskQueueSchema)
    .query(async ({ ctx, input }) => ctx.services.flowKeys.taskQueue(ctx.principal.teamId, input.id)),

  redeliverWebhook: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/v1/tasks/{id}/webhook/redeliver',
        tags: TAG,
        summary: 'Redeliver the completion webhook',
        description:
          'Sends the completion webhook of a completed, failed or timed-out task again, with the same webhook-id. Answers 202; deliveries appear in webhookDeliveries.',
      },
    })
    .input(z.object({ id: taskId }))
    .output(taskEnvelopeSchema)
    .mutation(async ({ ctx, input }) => {
      const task = await ctx.services.tasks.redeliverWebhook(ctx.principal.teamId, input.id);
      ctx.meta.successStatus = 202;
      return { task };
    }),
});
