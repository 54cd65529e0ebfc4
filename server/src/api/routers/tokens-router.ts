import { z } from 'zod';
import { noNul } from '../../shared/no-nul.ts';
import { authedProcedure, router } from '../trpc.ts';

const token = z.object({
  id: z.string().describe('tok_… — put it as a header value to use the secret'),
  name: z.string(),
  createdAt: z.string().describe('ISO-8601 UTC'),
});
const TAG = ['tokens'];

export const tokensRouter = router({
  create: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/v1/tokens',
        tags: TAG,
        summary: 'Store a secret in the vault',
        description:
          'Stores a secret (encrypted at rest, never returned). Use its id as a task header value, e.g. "Authorization": "tok_…", and it is replaced at dispatch time.',
      },
    })
    .input(
      z.strictObject({
        name: noNul(z.string()).min(1, 'name is required').max(100, 'name must be at most 100 characters'),
        value: noNul(z.string()).min(1, 'value is required').max(8192, 'value must be at most 8192 characters'),
      }),
    )
    .output(z.object({ token }))
    .mutation(async ({ ctx, input }) => {
      ctx.meta.successStatus = 201;
      return { token: await ctx.services.tokens.create(ctx.principal.teamId, input.name, input.value) };
    }),

  list: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/v1/tokens',
        tags: TAG,
        summary: 'List vault tokens',
        description: 'Names and ids only; values are never returned.',
      },
    })
    .input(z.object({}))
    .output(z.object({ tokens: z.array(token) }))
    .query(async ({ ctx }) => ({ tokens: await ctx.services.tokens.list(ctx.principal.teamId) })),

  delete: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/v1/tokens/{id}',
        tags: TAG,
        summary: 'Delete a vault token',
        description: 'New tasks referencing it are rejected (400); queued tasks that reference it fail at dispatch.',
      },
    })
    .input(z.object({ id: z.string().regex(/^tok_[0-9A-Za-z]{24}$/, 'id must be a token id (tok_…)') }))
    .output(z.object({ token }))
    .mutation(async ({ ctx, input }) => ({ token: await ctx.services.tokens.delete(ctx.principal.teamId, input.id) })),
});
