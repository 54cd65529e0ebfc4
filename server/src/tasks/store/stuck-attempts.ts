import type { EntityManager } from '@mikro-orm/postgresql';
import type { Task } from '../../db/entities/task.ts';
import { execute } from '../../db/prepared.ts';
import { STUCK_MARGIN_SECONDS } from '../stuck-attempts.ts';
import { mapTaskRows } from './read.ts';

/** Attempts held past their timeout: found by the watchdog, ended by a cancel. */

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
