import { z } from 'zod';
import type { ErrorDetail } from '../shared/app-error.ts';
import { noNul } from '../shared/no-nul.ts';
import { zodIssuesToDetails } from '../shared/zod-details.ts';
import { type CreateTaskInput, createTaskInputSchema, MAX_IDEMPOTENCY_KEY_LENGTH } from './task-input-schema.ts';

/**
 * Why 1,000: one batch is one transaction and one statement of 1,000 rows (a few ms of locks), and
 * its answer (1,000 task objects) stays a few hundred KiB; bigger imports are several batches.
 */
export const MAX_BATCH_TASKS = 1000;

const INVALID = Symbol('invalid batch item');

/** An item of a batch that failed its create body's validation: its own details, paths within it. */
export type InvalidBatchItem = { [INVALID]: true; details: ErrorDetail[]; input: unknown };
export type BatchItem = CreateTaskInput | InvalidBatchItem;

export function isInvalidItem(item: BatchItem): item is InvalidBatchItem {
  return (item as Partial<InvalidBatchItem>)[INVALID] === true;
}

/**
 * Each item is a create body (the document shows it as one). An item that fails it does not fail
 * the batch: `.catch` keeps its issues as an invalid item, answered in its place in the results.
 * Its raw input is kept for the batch's request hash (idempotency).
 */
const batchItemSchema = createTaskInputSchema.catch(
  (ctx) =>
    ({
      [INVALID]: true,
      details: zodIssuesToDetails(ctx.error.issues),
      input: ctx.input,
    }) as unknown as CreateTaskInput,
);

export const createBatchInputSchema = z.strictObject({
  tasks: z
    .array(batchItemSchema, { error: 'tasks must be an array of task create bodies' })
    .min(1, 'tasks must hold at least one task')
    .max(MAX_BATCH_TASKS, `tasks must hold at most ${MAX_BATCH_TASKS} tasks; send more batches`)
    .describe(`1–${MAX_BATCH_TASKS} create bodies (as POST /v1/tasks), answered in this order`),
  idempotencyKey: noNul(z.string())
    .min(1)
    .max(MAX_IDEMPOTENCY_KEY_LENGTH)
    .nullish()
    .describe('One key for the whole batch; also accepted as the Idempotency-Key header'),
});

export type CreateBatchInput = { tasks: BatchItem[]; idempotencyKey?: string | null | undefined };
