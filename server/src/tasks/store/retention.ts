import type { EntityManager } from '@mikro-orm/postgresql';
import { TERMINAL_STATUSES } from '../task-types.ts';
import { inList } from './fragments.ts';

/** Deletes terminal tasks that ended more than `days` days ago; returns how many. */
export async function deleteEndedTasks(em: EntityManager, days: number): Promise<number> {
  const rows = await em.execute<{ n: number }[]>(
    `with gone as (delete from tasks where status in (${inList(TERMINAL_STATUSES)})
       and completed_at < now() - make_interval(days => ?) returning 1) select count(*)::int as n from gone`,
    [days],
  );
  return rows[0]?.n ?? 0;
}
