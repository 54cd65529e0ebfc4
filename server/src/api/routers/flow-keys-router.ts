import { z } from 'zod';
import { flowKeyEnvelope, flowKeyParam, flowKeyUpsertInput, flowKeyViewSchema } from '../schemas/flow-key-schemas.ts';
import { authedProcedure, router } from '../trpc.ts';

const TAG = ['flow-keys'];
const keyInput = z.object({ key: flowKeyParam });

export const flowKeysRouter = router({
  upsert: authedProcedure
    .meta({
      openapi: {
        method: 'PUT',
        path: '/v1/flow-keys/{key}',
        tags: TAG,
        summary: 'Create or change a flow key',
        description:
          "Sets a key's limits for your team: fields left out keep their value, null clears a limit. Tasks with this flowKey then wait in line (status pending) instead of exceeding them.",
      },
    })
    .input(flowKeyUpsertInput)
    .output(flowKeyEnvelope)
    .mutation(async ({ ctx, input }) => {
      const { key, ...change } = input;
      return { flowKey: await ctx.services.flowKeys.upsert(ctx.principal.teamId, key, change) };
    }),

  list: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/v1/flow-keys',
        tags: TAG,
        summary: 'List flow keys',
        description: "Your team's keys (up to 1,000, by name) with their limits and live figures.",
      },
    })
    .input(z.object({}))
    .output(z.object({ flowKeys: z.array(flowKeyViewSchema) }))
    .query(async ({ ctx }) => ({ flowKeys: await ctx.services.flowKeys.list(ctx.principal.teamId) })),

  get: authedProcedure
    .meta({
      openapi: { method: 'GET', path: '/v1/flow-keys/{key}', tags: TAG, summary: 'Get a flow key' },
    })
    .input(keyInput)
    .output(flowKeyEnvelope)
    .query(async ({ ctx, input }) => ({ flowKey: await ctx.services.flowKeys.get(ctx.principal.teamId, input.key) })),

  delete: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/v1/flow-keys/{key}',
        tags: TAG,
        summary: 'Delete a flow key',
        description: 'Removes the limits: tasks it held back are dispatched at once, without limits.',
      },
    })
    .input(keyInput)
    .output(flowKeyEnvelope)
    .mutation(async ({ ctx, input }) => ({
      flowKey: await ctx.services.flowKeys.delete(ctx.principal.teamId, input.key),
    })),

  pause: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/v1/flow-keys/{key}/pause',
        tags: TAG,
        summary: 'Pause a flow key',
        description: 'No new task of this key is dispatched until it is resumed; calls in flight finish.',
      },
    })
    .input(keyInput)
    .output(flowKeyEnvelope)
    .mutation(async ({ ctx, input }) => ({
      flowKey: await ctx.services.flowKeys.setPaused(ctx.principal.teamId, input.key, true),
    })),

  resume: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/v1/flow-keys/{key}/resume',
        tags: TAG,
        summary: 'Resume a flow key',
        description: 'Dispatches the tasks it held back, within its limits.',
      },
    })
    .input(keyInput)
    .output(flowKeyEnvelope)
    .mutation(async ({ ctx, input }) => ({
      flowKey: await ctx.services.flowKeys.setPaused(ctx.principal.teamId, input.key, false),
    })),
});
