import { deleteExpiredIdempotencyKeys } from '../../tasks/store/idempotency.ts';
import { deleteEndedTasks } from '../../tasks/store/retention.ts';
import type { HandlerDeps } from './handler-deps.ts';

/**
 * Deletes terminal tasks older than ASYNCQUEUE_RETENTION_DAYS, idempotency keys past their 24 h,
 * and expired rate-limit windows. Idempotent: running it twice deletes nothing more.
 */
export async function handleRetention(deps: HandlerDeps): Promise<{ tasks: number; idempotencyKeys: number }> {
  const em = deps.lifecycle.em();
  const tasks = await deleteEndedTasks(em, deps.retentionDays);
  const idempotencyKeys = await deleteExpiredIdempotencyKeys(em);
  await em.execute('delete from rate_limits where expire < ?', [Date.now()]);
  return { tasks, idempotencyKeys };
}
