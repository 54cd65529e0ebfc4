import { z } from 'zod';
import { pollConfigSchema } from '../../tasks/task-input-schema.ts';
import { TASK_STATUSES } from '../../tasks/task-types.ts';

const isoDate = z.string().describe('ISO-8601 UTC timestamp with milliseconds');

export const taskStatusSchema = z.enum(TASK_STATUSES).describe('Task status (SPEC §2)');

export const taskResultSchema = z
  .object({
    statusCode: z.number().int(),
    headers: z.record(z.string(), z.string()),
    body: z.string().describe('Response, callback or signal body as text'),
    duration: z.number().describe('Milliseconds (0 for callbacks and signals)'),
    bodyTruncated: z.boolean(),
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
  tasks: z.array(taskSchema),
  pagination: z.object({
    limit: z.number().int(),
    hasMore: z.boolean(),
    nextCursor: z.string().nullable().describe('Pass as `cursor` to get the next page'),
  }),
});
