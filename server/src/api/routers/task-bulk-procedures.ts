import { z } from 'zod';
import { AppError } from '../../shared/app-error.ts';
import type { RateCharge } from '../../tasks/batch-create.ts';
import { createBatchInputSchema, MAX_BATCH_TASKS } from '../../tasks/batch-input-schema.ts';
import type { TaskFilter } from '../../tasks/store/filters.ts';
import type { Context } from '../context.ts';
import {
  BULK_DESCRIPTION,
  batchResponseSchema,
  bulkFilterSchema,
  bulkOutcomeSchema,
  taskStatsSchema,
} from '../schemas/task-bulk-schemas.ts';
import { createTaskResponseSchema } from '../schemas/task-schemas.ts';
import { authedProcedure } from '../trpc.ts';
import { resolveIdempotencyKey } from './idempotency-key.ts';

const TAG = ['tasks'];
const taskId = z.uuid({ error: 'id must be a task id (UUID)' }).describe('Task id');

/** The filter as the store takes it (dates parsed). */
export function toTaskFilter(input: {
  ids?: string[] | undefined;
  status?: TaskFilter['status'];
  provider?: string | undefined;
  flowKey?: string | undefined;
  createdAfter?: string | undefined;
  createdBefore?: string | undefined;
}): TaskFilter {
  return {
    ids: input.ids,
    status: input.status,
    provider: input.provider,
    flowKey: input.flowKey,
    createdAfter: input.createdAfter ? new Date(input.createdAfter) : undefined,
    createdBefore: input.createdBefore ? new Date(input.createdBefore) : undefined,
  };
}

/**
 * A batch counts one point of the team's rate limit per task. The request's own point (taken at
 * admission) is the first task's; the others are taken at once, or the batch is refused whole (429).
 */
function batchCharge(ctx: Context, teamId: string): RateCharge {
  const extra = (tasks: number) => Math.max(0, tasks - 1);
  return {
    async take(tasks) {
      if (extra(tasks) === 0) return;
      const decision = await ctx.services.teamRateLimit.take(teamId, extra(tasks));
      const headers = ctx.meta.responseHeaders;
      headers['X-RateLimit-Remaining'] = String(decision.remaining);
      headers['X-RateLimit-Reset'] = String(decision.resetAt);
      if (decision.allowed) return;
      headers['Retry-After'] = String(decision.retryAfter);
      throw new AppError(
        'rate_limited',
        `Rate limit exceeded: this batch needs ${tasks} requests of the team's limit and ${decision.remaining + 1} are left; retry after ${decision.retryAfter} s or send a smaller batch`,
        { retryAfterSeconds: decision.retryAfter },
      );
    },
    async giveBack(tasks) {
      if (extra(tasks) > 0) await ctx.services.teamRateLimit.giveBack(teamId, extra(tasks));
    },
  };
}

/** Batch create, replay, bulk cancel/replay and stats; spread into the tasks router BEFORE `get`. */
export const taskBulkProcedures = {
  // First: GET /v1/tasks/stats must be matched before GET /v1/tasks/{id}.
  stats: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/v1/tasks/stats',
        tags: TAG,
        summary: 'Count tasks by status',
        description: "The team's tasks counted in each status (every status listed, 0 when none).",
      },
    })
    .input(z.object({}))
    .output(taskStatsSchema)
    .query(async ({ ctx }) => {
      const counts = await ctx.services.tasks.stats(ctx.principal.teamId);
      return { counts, total: Object.values(counts).reduce((a, b) => a + b, 0) };
    }),

  createMany: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/v1/tasks/batch',
        tags: TAG,
        summary: 'Create many tasks',
        description: `Creates 1–${MAX_BATCH_TASKS} tasks. Answers 200 with one result per item in input order: the create answer, or the item's own validation error (paths like tasks.3.targetUrl). The valid items are created together in one transaction; invalid ones create nothing. Each task counts against the rate limit. An Idempotency-Key covers the whole batch (the same body replays the stored results with Idempotent-Replayed: true).`,
      },
    })
    .input(createBatchInputSchema)
    .output(batchResponseSchema)
    .mutation(async ({ ctx, input }) => {
      const key = resolveIdempotencyKey(ctx.meta.header('idempotency-key'), input.idempotencyKey);
      const teamId = ctx.principal.teamId;
      const outcome = await ctx.services.tasks.createMany(teamId, input, {
        idempotencyKey: key,
        charge: batchCharge(ctx, teamId),
      });
      if (outcome.replayed) ctx.meta.responseHeaders['Idempotent-Replayed'] = 'true';
      return outcome.body;
    }),

  cancelMany: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/v1/tasks/cancel',
        tags: TAG,
        summary: 'Cancel many tasks',
        description: `Cancels the matching tasks that have not ended, as POST /v1/tasks/{id}/cancel does (a processing one is flagged cancelRequested). ${BULK_DESCRIPTION}`,
      },
    })
    .input(bulkFilterSchema)
    .output(bulkOutcomeSchema)
    .mutation(({ ctx, input }) => ctx.services.tasks.cancelMany(ctx.principal.teamId, toTaskFilter(input))),

  replayMany: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/v1/tasks/replay',
        tags: TAG,
        summary: 'Replay many tasks',
        description: `Replays the matching ended tasks that were not replayed yet, each as POST /v1/tasks/{id}/replay does; the copies' new callback ids and signal tokens are not returned (replay one task to get them). ${BULK_DESCRIPTION}`,
      },
    })
    .input(bulkFilterSchema)
    .output(bulkOutcomeSchema)
    .mutation(({ ctx, input }) => ctx.services.tasks.replayMany(ctx.principal.teamId, toTaskFilter(input))),

  replay: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/v1/tasks/{id}/replay',
        tags: TAG,
        summary: 'Replay a task',
        description:
          'Creates a new task with the same request as an ended task (vault references stay references), with replayOf = its id and a new callback id / signal token. Answers 201 as a create does; 409 for a task that has not ended.',
      },
    })
    .input(z.object({ id: taskId }))
    .output(createTaskResponseSchema)
    .mutation(async ({ ctx, input }) => {
      const body = await ctx.services.tasks.replay(ctx.principal.teamId, input.id);
      ctx.meta.successStatus = 201;
      return body;
    }),
};
