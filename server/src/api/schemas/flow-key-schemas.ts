import { z } from 'zod';
import { flowKeySchema } from '../../flow/flow-key-format.ts';

/** Why 10,000: far above any provider's concurrent-job limit; bounds a typo's damage. */
const MAX_CONCURRENCY = 10_000;
/** Why 1,000,000: far above any provider's per-minute limit. */
const MAX_RATE_PER_MINUTE = 1_000_000;

export const flowKeyParam = flowKeySchema('key').describe('Flow key: 1–128 of [A-Za-z0-9._:-]');

export const flowKeyUpsertInput = z.strictObject({
  key: flowKeyParam,
  concurrency: z
    .number({ error: 'concurrency must be a whole number 1–10000, or null to clear it' })
    .int('concurrency must be a whole number 1–10000, or null to clear it')
    .min(1, 'concurrency must be 1–10000, or null to clear it')
    .max(MAX_CONCURRENCY, 'concurrency must be 1–10000, or null to clear it')
    .nullish()
    .describe('Tasks holding a slot at once; null clears the limit, absent keeps it'),
  ratePerMinute: z
    .number({ error: 'ratePerMinute must be a whole number 1–1000000, or null to clear it' })
    .int('ratePerMinute must be a whole number 1–1000000, or null to clear it')
    .min(1, 'ratePerMinute must be 1–1000000, or null to clear it')
    .max(MAX_RATE_PER_MINUTE, 'ratePerMinute must be 1–1000000, or null to clear it')
    .nullish()
    .describe('Dispatches in any 60 s window; null clears the limit, absent keeps it'),
  scope: z
    .enum(['task', 'request'], { error: 'scope must be "task" or "request"' })
    .optional()
    .describe('"task" (default): a slot is held until the task ends; "request": only during its HTTP call'),
});

export const flowKeyViewSchema = z
  .object({
    key: z.string(),
    concurrency: z.number().int().nullable(),
    ratePerMinute: z.number().int().nullable(),
    scope: z.enum(['task', 'request']),
    effectiveConcurrency: z
      .number()
      .int()
      .nullable()
      .describe('The concurrency in force: halved by each 429, back up by one per success'),
    paused: z.boolean().describe('Paused by POST …/pause until resumed'),
    pausedUntil: z.string().nullable().describe('A 429 paused the key until then (ISO-8601), else null'),
    inFlight: z.number().int().describe('Tasks holding a slot now'),
    queued: z.number().int().describe('Tasks held back by the key now'),
    throttled: z.number().int().describe('429 answers received on this key'),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .describe('A flow key: limits and live figures');

export const flowKeyEnvelope = z.object({ flowKey: flowKeyViewSchema });

export const taskQueueSchema = z
  .object({
    flowKey: z.string().nullable(),
    held: z.boolean().describe('A pending task its flow key holds back'),
    reason: z.enum(['concurrency', 'rate', 'paused']).nullable(),
    position: z.number().int().nullable().describe("1 + the key's held tasks dispatched before this one"),
    retryAt: z.string().nullable().describe('When the rate window or the pause ends, else null'),
  })
  .describe('Why a task waits');
