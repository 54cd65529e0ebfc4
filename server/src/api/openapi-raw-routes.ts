import { z } from 'zod';
import { taskSchema } from './schemas/task-schemas.ts';

/**
 * The raw (non-tRPC) routes, described for the OpenAPI document in zod-openapi's format: they are
 * served by node:http handlers for speed, but they are part of the public REST surface.
 */
const credential = (name: string, description: string) =>
  z.object({
    [name]: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .describe(description),
  });

const taskEnvelope = z.object({ task: taskSchema });
const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } });

export const rawRoutePaths = {
  '/v1/callbacks/{callbackId}': {
    post: {
      operationId: 'callbacks-receive',
      tags: ['callbacks'],
      summary: 'Receive a provider callback',
      description:
        'The URL that replaced {asyncqueue_callback_url}. No API key: the callback id is the credential. Any JSON body (up to 5 MiB) completes the task and becomes its result; a preset’s non-final payload (Luma `dreaming`, Replicate `starting`…) is kept as progress and answered 202. Rate limited per client IP.',
      requestParams: { path: credential('callbackId', 'Callback id: 64 lowercase hex characters') },
      requestBody: { required: true, ...json(z.unknown().describe('The provider’s JSON payload, stored as is')) },
      responses: {
        200: { description: 'The task completed with this payload', ...json(taskEnvelope) },
        202: {
          description: 'A non-final payload, kept as progress; the callback URL stays usable',
          ...json(taskEnvelope),
        },
      },
    },
  },
  '/v1/signals/{signalToken}': {
    post: {
      operationId: 'signals-send',
      tags: ['signals'],
      summary: 'Send a signal to a waiting task',
      description:
        'Completes or fails a waitForSignal task (human approval, payments, any external event). No API key: the signal token is the credential; single use. Rate limited per client IP.',
      requestParams: { path: credential('signalToken', 'Signal token from the create response: 64 lowercase hex') },
      requestBody: {
        required: true,
        ...json(
          z.object({
            status: z.enum(['completed', 'failed']),
            result: z.unknown().optional().describe('Any JSON; stored as JSON text in result.body'),
            error: z.string().optional().describe('Why it failed (status failed)'),
          }),
        ),
      },
      responses: { 200: { description: 'The task, now completed or failed', ...json(taskEnvelope) } },
    },
  },
};

export const RAW_ROUTE_ERRORS = {
  'callbacks-receive': ['400', '404', '409', '413', '429', '503'],
  'signals-send': ['400', '404', '409', '413', '429', '503'],
};
