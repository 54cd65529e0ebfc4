import type { EntityManager } from '@mikro-orm/postgresql';
import type { Task } from '../db/entities/task.ts';
import { execute } from '../db/prepared.ts';
import { mapTaskRows } from './task-queries.ts';
import type { AttemptRecord } from './task-types.ts';

/**
 * How long past its own `timeout` an attempt may still hold its task before it counts as stuck.
 * The call itself is bounded by `timeout` (one deadline covers redirects and the body), so a
 * healthy worker records its attempt milliseconds after it; why 60 s: it covers the statements
 * around the call through a database restart's reconnects, and equals pg-boss's default takeover
 * window, so a dead worker's job is normally redelivered (and the claim moves the task on) first.
 * The watchdog is for what pg-boss cannot see: a live worker whose handler never finishes, or a
 * job pg-boss gave up on.
 */
export const STUCK_MARGIN_SECONDS = 60;

/**
 * SQL condition on `tasks`: an attempt holds the task (processing, lease taken) for longer than its
 * timeout plus the margin. The clock is `updated_at`, set when the attempt was claimed; a later
 * change to the row (a cancel flag) only postpones it, never makes it early.
 */
export const STUCK = `status = 'processing' and dispatch_lease is not null
  and updated_at < now() - make_interval(secs => timeout + ${STUCK_MARGIN_SECONDS})`;

/** Why 100: one sweep moves on at most this many tasks; the next sweep takes the rest. */
const SWEEP_BATCH = 100;

/** Tasks whose attempt is stuck, oldest first (the watchdog ends each one, fenced on its lease). */
export async function findStuckAttempts(em: EntityManager): Promise<Task[]> {
  const rows = await execute(em, `select * from tasks where ${STUCK} order by updated_at limit ${SWEEP_BATCH}`);
  return mapTaskRows(rows);
}

/**
 * The task ended another way while this attempt was held (a callback or signal beat the HTTP
 * response): keep only the attempt. Fenced on the attempt's job and lease, so an attempt that the
 * watchdog or a cancel already ended (lease cleared, or a new job named) records nothing twice.
 */
export function recordLostHeldAttempt(
  em: EntityManager,
  held: { taskId: string; jobId: string; lease: number },
  attempt: AttemptRecord,
) {
  return execute(
    em,
    `update tasks set attempts = attempts || ?::jsonb, updated_at = now()
     where id = ? and dispatch_job_id = ? and dispatch_lease = ? and status <> 'processing' returning id`,
    [JSON.stringify([attempt]), held.taskId, held.jobId, held.lease],
  );
}
