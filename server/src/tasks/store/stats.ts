import type { EntityManager } from '@mikro-orm/postgresql';
import { ACTIVE_STATUSES } from '../task-types.ts';
import { inList } from './fragments.ts';

/** How many tasks are in each not-yet-terminal status, across all teams (the /metrics gauge). */
export async function countActiveTasks(em: EntityManager): Promise<Record<string, number>> {
  const rows = await em.execute<{ status: string; n: number }[]>(
    `select status, count(*)::int as n from tasks where status in (${inList(ACTIVE_STATUSES)}) group by status`,
  );
  const counts: Record<string, number> = Object.fromEntries(ACTIVE_STATUSES.map((s) => [s, 0]));
  for (const r of rows) counts[r.status] = r.n;
  return counts;
}
