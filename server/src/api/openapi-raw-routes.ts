import { z } from 'zod';
import { eventsQuerySchema } from '../events/events-query.ts';
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

const callbackAndSignalPaths = {
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

/** GET /v1/events: Server-Sent Events, authenticated like the REST API. */
const eventsPath = {
  '/v1/events': {
    get: {
      operationId: 'events-subscribe',
      tags: ['events'],
      summary: 'Stream task changes (Server-Sent Events)',
      description:
        'The team’s task changes as they happen: each is `event: task.updated`, `id: <cursor>`, `data: {"task": …}` (the task as GET /v1/tasks lists it, payloads capped). Filters `taskId` and `status`. Reconnect with the `Last-Event-ID` header (or `lastEventId`) to resume: the changes since that event are replayed from the tasks table, re-sending the minute before it, so delivery is at least once and an event may repeat a version already received (same task id and updatedAt). A comment line every 15 s keeps proxies from closing a quiet stream. A client that stops reading is disconnected rather than buffered for. Open streams are capped per team (429) and per server (503).',
      security: [{ bearerAuth: [] }, { apiKeyHeader: [] }],
      requestParams: {
        query: eventsQuerySchema,
        header: z.object({
          'last-event-id': z.string().optional().describe('The id of the last event received: resume after it'),
        }),
      },
      responses: {
        200: {
          description:
            'An endless text/event-stream. Each event’s data is a JSON object {"task": …} in the list shape (schema below).',
          content: { 'text/event-stream': { schema: taskEnvelope } },
        },
      },
    },
  },
};

export const rawRoutePaths = { ...callbackAndSignalPaths, ...eventsPath };

export const RAW_ROUTE_ERRORS = {
  'events-subscribe': ['400', '503'],
  'callbacks-receive': ['400', '404', '409', '413', '429', '503'],
  'signals-send': ['400', '404', '409', '413', '429', '503'],
};
