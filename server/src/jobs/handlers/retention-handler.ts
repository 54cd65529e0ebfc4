import type { HandlerDeps } from './handler-deps.ts';

/**
 * Deletes terminal tasks older than ASYNCQUEUE_RETENTION_DAYS, idempotency keys past their 24 h,
 * and expired rate-limit windows. Idempotent: running it twice deletes nothing more.
 */
export async function handleRetention(deps: HandlerDeps): Promise<{ tasks: number; idempotencyKeys: number }> {
  const em = deps.orm.em.fork();
  const tasks = await em.execute<{ n: number }[]>(
    `with gone as (delete from tasks where status in ('completed', 'failed', 'timeout', 'cancelled')
       and completed_at < now() - make_interval(days => ?) returning 1) select count(*)::int as n from gone`,
    [deps.retentionDays],
  );
  const keys = await em.execute<{ n: number }[]>(
    `with gone as (delete from idempotency_keys where created_at < now() - interval '24 hours' returning 1)
     select count(*)::int as n from gone`,
  );
  await em.execute('delete from rate_limits where expire < ?', [Date.now()]);
  return { tasks: tasks[0]?.n ?? 0, idempotencyKeys: keys[0]?.n ?? 0 };
}
