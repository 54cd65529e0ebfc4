import type { EntityManager } from '@mikro-orm/postgresql';
import type { Task } from '../../db/entities/task.ts';
import { execute } from '../../db/prepared.ts';
import { storableJson, storableText, storedResult } from '../storable-text.ts';
import { TASK_COLUMNS } from '../task-columns.ts';
import type { AttemptRecord, TaskResult } from '../task-types.ts';
import { RESULT } from './fragments.ts';
import { mapTaskRows } from './read.ts';
import { one } from './run.ts';

/** The end of an attempt held by (dispatch job, lease): every UPDATE fenced on that lease. */

type BodyColumn = 'result_body' | 'start_result_body';

/** Every column but `body`, for a RETURNING that must not send back the body it has just written. */
const returningWithout = (body: BodyColumn) =>
  TASK_COLUMNS.filter(({ column }) => column !== body)
    .map(({ column }) => column)
    .join(', ');
const RETURNING_WITHOUT = {
  result_body: returningWithout('result_body'),
  start_result_body: returningWithout('start_result_body'),
};

/**
 * Like `one`, for an UPDATE that writes a response body (up to the response cap: megabytes): the
 * row comes back without it and the body written is put in its place, so a big body crosses the
 * connection once, not twice (and is not parsed back into a second copy).
 */
async function oneWritingBody(
  em: EntityManager,
  update: (returning: string) => string,
  params: unknown[],
  written: { column: BodyColumn; body: string | null },
): Promise<Task | null> {
  const rows = await execute<Record<string, unknown>>(em, update(RETURNING_WITHOUT[written.column]), params);
  for (const row of rows) row[written.column] = written.body;
  return mapTaskRows(rows)[0] ?? null;
}

const HELD = `id = ? and dispatch_job_id = ? and dispatch_lease = ? and status = 'processing'`;
const APPEND = `attempts = attempts || ?::jsonb, updated_at = now()`;
const START_RESULT = `start_result = ?::jsonb, start_result_body = ?, start_result_body_encoding = ?`;

export type AttemptEnd =
  | { kind: 'completed'; result: TaskResult }
  | { kind: 'waiting'; startResult: TaskResult }
  | { kind: 'polling'; startResult: TaskResult; pollJobId: string }
  | { kind: 'failed'; error: string; result: TaskResult | null }
  | { kind: 'retry'; nextJobId: string }
  /** A 429 on a flow-controlled key: back in line, held, without spending a retry (slot given back). */
  | { kind: 'throttled' };

/** Ends the attempt held by (jobId, lease), unless a cancel was requested meanwhile. */
export function endAttempt(em: EntityManager, held: Held, attempt: AttemptRecord, end: AttemptEnd) {
  const base = [storableJson([attempt])];
  const where = `${HELD} and not cancel_requested`;
  const keys = [held.taskId, held.jobId, held.lease];
  switch (end.kind) {
    case 'completed': {
      const stored = storedResult(end.result);
      return oneWritingBody(
        em,
        (
          returning,
        ) => `update tasks set status = 'completed', ${RESULT}, completed_at = now(), dispatch_lease = null, ${APPEND}
         where ${where} returning ${returning}`,
        [...stored, ...base, ...keys],
        { column: 'result_body', body: stored[1] },
      );
    }
    case 'waiting': {
      const stored = storedResult(end.startResult);
      return oneWritingBody(
        em,
        (returning) => `update tasks set status = 'waiting', ${START_RESULT}, dispatch_lease = null,
           deadline_at = now() + make_interval(secs => max_wait_time), ${APPEND}
         where ${where} returning ${returning}`,
        [...stored, ...base, ...keys],
        { column: 'start_result_body', body: stored[1] },
      );
    }
    case 'polling': {
      const stored = storedResult(end.startResult);
      return oneWritingBody(
        em,
        (returning) => `update tasks set status = 'polling', ${START_RESULT}, dispatch_lease = null, poll_job_id = ?,
           deadline_at = now() + make_interval(secs => (poll_config->>'maxDuration')::int), ${APPEND}
         where ${where} returning ${returning}`,
        [...stored, end.pollJobId, ...base, ...keys],
        { column: 'start_result_body', body: stored[1] },
      );
    }
    case 'failed': {
      const stored = storedResult(end.result);
      return oneWritingBody(
        em,
        (
          returning,
        ) => `update tasks set status = 'failed', error = ?, ${RESULT}, completed_at = now(), dispatch_lease = null, ${APPEND}
         where ${where} returning ${returning}`,
        [storableText(end.error), ...stored, ...base, ...keys],
        { column: 'result_body', body: stored[1] },
      );
    }
    case 'throttled':
      return one(
        em,
        `update tasks set status = 'pending', dispatch_lease = null, flow_held = true, flow_grant = false, flow_slot = null, ${APPEND}
         where ${where} returning *`,
        [...base, ...keys],
      );
    case 'retry':
      return one(
        em,
        `update tasks set dispatch_job_id = ?, dispatch_lease = null, retry_count = retry_count + 1, ${APPEND}
         where ${where} returning *`,
        [end.nextJobId, ...base, ...keys],
      );
  }
}

export type Held = { taskId: string; jobId: string; lease: number };

/** The attempt ended while a cancel was requested: whatever its outcome, the task is cancelled. */
export function cancelHeldAttempt(em: EntityManager, held: Held, attempt: AttemptRecord | null) {
  return one(
    em,
    `update tasks set status = 'cancelled', completed_at = now(), dispatch_lease = null,
       attempts = attempts || ?::jsonb, updated_at = now()
     where ${HELD} and cancel_requested returning *`,
    [JSON.stringify(attempt ? [attempt] : []), held.taskId, held.jobId, held.lease],
  );
}

/**
 * The task ended another way while this attempt was held (a callback or signal beat the HTTP
 * response): keep only the attempt. Fenced on the attempt's job and lease, so an attempt that the
 * watchdog or a cancel already ended (lease cleared, or a new job named) records nothing twice.
 */
export function recordLostHeldAttempt(em: EntityManager, held: Held, attempt: AttemptRecord) {
  return execute(
    em,
    `update tasks set attempts = attempts || ?::jsonb, updated_at = now()
     where id = ? and dispatch_job_id = ? and dispatch_lease = ? and status <> 'processing' returning id`,
    [JSON.stringify([attempt]), held.taskId, held.jobId, held.lease],
  );
}
