import { z } from 'zod';
import { LISTED_BODY_CHARS, LISTED_PROGRESS_CHARS } from '../../tasks/store/read.ts';
import { pollConfigSchema } from '../../tasks/task-input-schema.ts';
import { TASK_STATUSES } from '../../tasks/task-types.ts';

const chars = (n: number) => n.toLocaleString('en-US');

/** What a task list leaves out (tasks/store/read.ts), for the list route and its schema. */
export const LIST_CAPS_DESCRIPTION =
  `Payloads are capped: \`body\` and \`result.body\` stop after ${chars(LISTED_BODY_CHARS)} characters ` +
  `(a cut result body has \`result.bodyTruncated: true\`) and a \`progress\` over ${chars(LISTED_PROGRESS_CHARS)} ` +
  'characters of JSON is null. GET /v1/tasks/{id} returns them whole.';

const isoDate = z.string().describe('ISO-8601 UTC timestamp with milliseconds');

export const taskStatusSchema = z
  .enum(TASK_STATUSES)
  .describe(
    'Task status: pending, delayed, processing, waiting, polling, then one of the terminal completed, failed, timeout, cancelled',
  );

export const taskResultSchema = z
  .object({
    statusCode: z.number().int(),
    headers: z.record(z.string(), z.string()),
    body: z
      .string()
      .describe(
        'Response, callback or signal body: the text itself when bodyEncoding is utf8, the base64 of the bytes when it is base64',
      ),
    bodyEncoding: z
      .enum(['utf8', 'base64'])
      .describe(
        'utf8: the body bytes were valid UTF-8 without NUL and `body` is that text; base64: anything else (audio, images, gzip) and `body` is their base64',
      ),
    duration: z.number().describe('Milliseconds (0 for callbacks and signals)'),
    bodyTruncated: z
      .boolean()
      .describe(
        `The body was cut: at the maximum response size, or (in task lists only) after its first ${chars(LISTED_BODY_CHARS)} characters`,
      ),
  })
  .describe('The result, one shape whatever produced it');

const attemptSchema = z.object({
  number: z.number().int(),
  startedAt: isoDate,
  durationMs: z.number(),
  statusCode: z.number().int().nullable(),
  error: z.string().nullable(),
  willRetry: z.boolean(),
});

const webhookDeliverySchema = z.object({
  attempt: z.number().int(),
  webhookId: z.string(),
  sentAt: isoDate,
  durationMs: z.number(),
  statusCode: z.number().int().nullable(),
  error: z.string().nullable(),
});

const effectivePollConfigSchema = pollConfigSchema.extend({
  headers: z.record(z.string(), z.string()).optional().describe('Fixed headers a preset sends with every poll'),
});

export const taskSchema = z
  .object({
    id: z.string().describe('UUIDv7'),
    status: taskStatusSchema,
    targetUrl: z.string(),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
    headers: z.record(z.string(), z.string()).describe('Secret header values show only their first 4 characters'),
    body: z.string().nullable(),
    timeout: z.number().int(),
    maxRetries: z.number().int(),
    retryBackoff: z.enum(['exponential', 'linear']),
    delayUntil: isoDate.nullable(),
    priority: z.number().int(),
    waitForSignal: z.boolean(),
    maxWaitTime: z.number().int(),
    onCompleteUrl: z.string().nullable(),
    provider: z.string().nullable(),
    pollConfig: effectivePollConfigSchema.nullable().describe('Polling settings, presets expanded'),
    hasCallback: z.boolean(),
    result: taskResultSchema.nullable(),
    error: z.string().nullable().describe('Why it failed or timed out'),
    progress: z.unknown().describe('Last non-final callback payload or last poll status body, or null'),
    retryCount: z.number().int(),
    attempts: z.array(attemptSchema),
    webhookDeliveries: z.array(webhookDeliverySchema),
    cancelRequested: z.boolean(),
    createdAt: isoDate,
    updatedAt: isoDate,
    startedAt: isoDate.nullable(),
    completedAt: isoDate.nullable(),
    replayOf: z
      .string()
      .nullable()
      .describe('The id of the task this one replays (POST /v1/tasks/{id}/replay), or null'),
    flowKey: z.string().nullable().describe('Flow-control key of the task, or null (no limits).'),
  })
  .describe('A task');

export const taskEnvelopeSchema = z.object({ task: taskSchema });

export const createTaskResponseSchema = z.object({
  task: taskSchema.extend({
    callbackId: z.string().nullable().describe('Callback credential; shown only in this response'),
  }),
  callbackUrl: z.string().optional().describe('Present when {asyncqueue_callback_url} was used'),
  signalToken: z.string().optional().describe('Present when waitForSignal is true; shown only here'),
});

export const taskListSchema = z.object({
  tasks: z.array(taskSchema).describe(`Newest first. ${LIST_CAPS_DESCRIPTION}`),
  pagination: z.object({
    limit: z.number().int(),
    hasMore: z.boolean(),
    nextCursor: z.string().nullable().describe('Pass as `cursor` to get the next page'),
  }),
});
