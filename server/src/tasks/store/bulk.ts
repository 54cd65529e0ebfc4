import type { EntityManager } from '@mikro-orm/postgresql';
import { LIFECYCLE } from '../task-status.ts';
import { ACTIVE_STATUSES, type TaskStatus, TERMINAL_STATUSES } from '../task-types.ts';
import { CANCELLED_STUCK } from './cancel-expire.ts';
import { filterWhere, type TaskFilter, uuidArray } from './filters.ts';
import { inList } from './fragments.ts';
import { STUCK } from './stuck-attempts.ts';

/**
 * Bulk cancel and the candidates of a bulk replay: a chunk of ids at a time, each chunk its own short
 * statements (never one transaction over thousands of tasks), every change fenced like its
 * single-task version so that dispatch, callbacks and other cancels racing it stay safe.
 */

/** What a bulk action acts on: not-yet-terminal tasks for a cancel, terminal ones not yet replayed for a replay. */
export type BulkTarget = 'cancel' | 'replay';

const TARGET_CONDITION: Record<BulkTarget, string> = {
  cancel: `status in (${inList(ACTIVE_STATUSES)})`,
  replay: `status in (${inList(TERMINAL_STATUSES)}) and replayed_at is null`,
};

/**
 * The next `limit` ids (ascending) of the team's tasks matching `filter` and the action's target
 * condition, after `afterId`. Only ids are read: a chunk never holds task payloads in memory.
 */
export async function nextMatchingIds(
  em: EntityManager,
  teamId: string,
  filter: TaskFilter,
  opts: { target: BulkTarget; afterId: string | null; limit: number },
): Promise<string[]> {
  const { where, params } = filterWhere(teamId, filter);
  where.push(TARGET_CONDITION[opts.target]);
  if (opts.afterId) {
    where.push('id > ?');
    params.push(opts.afterId);
  }
  const rows = await em.execute<{ id: string }[]>(
    `select id from tasks where ${where.join(' and ')} order by id limit ?`,
    [...params, opts.limit],
  );
  return rows.map((r) => r.id);
}

/**
 * cancelTask (cancel-expire.ts) for a chunk of ids, in one autocommit UPDATE with the same fence:
 * pending/delayed/waiting/polling, processing between attempts, or a stuck attempt. A task claimed
 * by a worker meanwhile no longer matches (flagCancelMany takes it). Returns id and status only.
 */
export async function cancelMany(
  em: EntityManager,
  teamId: string,
  ids: readonly string[],
): Promise<{ id: string; status: TaskStatus }[]> {
  return em.execute(
    `update tasks set status = 'cancelled', completed_at = now(), updated_at = now(), dispatch_lease = null,
       attempts = case when ${STUCK} then attempts || ${CANCELLED_STUCK} else attempts end
     where id = any(?::uuid[]) and team_id = ?
       and (status in (${inList(LIFECYCLE.cancel.from)}) or (status = 'processing' and dispatch_lease is null) or (${STUCK}))
     returning id, status`,
    [uuidArray(ids), teamId],
  );
}

/**
 * flagCancelRequested for a chunk: tasks whose attempt is in flight end as cancelled when it ends.
 * Tasks already flagged are left alone, so the count is of tasks this call changed.
 */
export async function flagCancelMany(em: EntityManager, teamId: string, ids: readonly string[]): Promise<string[]> {
  const rows = await em.execute<{ id: string }[]>(
    `update tasks set cancel_requested = true, updated_at = now()
     where id = any(?::uuid[]) and team_id = ? and status = 'processing' and not cancel_requested
     returning id`,
    [uuidArray(ids), teamId],
  );
  return rows.map((r) => r.id);
}

/** Whether any task after `afterId` still matches (hasMore after a call stopped at its cap). */
export async function anyMatchingAfter(
  em: EntityManager,
  teamId: string,
  filter: TaskFilter,
  opts: { target: BulkTarget; afterId: string },
): Promise<boolean> {
  return (await nextMatchingIds(em, teamId, filter, { ...opts, limit: 1 })).length > 0;
}
