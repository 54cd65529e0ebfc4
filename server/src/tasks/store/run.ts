import type { EntityManager } from '@mikro-orm/postgresql';
import type { Task } from '../../db/entities/task.ts';
import { execute } from '../../db/prepared.ts';
import { mapTaskRows } from './read.ts';

/**
 * The task store: the fenced statements on `tasks`, one query family per file of this folder
 * (claim.ts, attempts.ts, cancel-expire.ts, outside.ts, stuck-attempts.ts). The conditional
 * UPDATEs of the transitions (status table: task-status.ts) each name the state they expect, and
 * on the dispatch path the job and lease that may act, so a stale or duplicate pg-boss delivery, a
 * callback that won the race, or a cancel can never be overwritten: the loser's UPDATE matches no
 * row.
 */

/**
 * Runs one `update … returning *` (a transition that enqueues nothing needs no transaction: one
 * round trip). The caller publishes the returned row once committed (the lifecycle, task-lifecycle.ts): to this
 * process's long-polls, and by a NOTIFY sent after the commit to everyone else's (see
 * change-notifier.ts for why not in the statement).
 */
export async function one(em: EntityManager, update: string, params: unknown[]): Promise<Task | null> {
  return mapTaskRows(await execute(em, update, params))[0] ?? null;
}
