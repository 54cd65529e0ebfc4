import { z } from 'zod';
import { pollConfigSchema } from '../../tasks/task-input-schema.ts';
import { publicProcedure, router } from '../trpc.ts';

const provider = z.object({
  id: z.string().describe('Use as the task field `provider`'),
  name: z.string(),
  description: z.string(),
  pollConfig: pollConfigSchema.extend({ headers: z.record(z.string(), z.string()).optional() }),
});

export const providersRouter = router({
  list: publicProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/v1/providers',
        tags: ['providers'],
        summary: 'List provider presets',
        description:
          'The polling presets, with effective URLs (after ASYNCQUEUE_PROVIDER_BASE_URLS). No API key needed.',
        protect: false,
      },
    })
    .input(z.object({}))
    .output(z.object({ providers: z.array(provider) }))
    .query(({ ctx }) => ({ providers: ctx.services.providers.list() })),
});
