import type { EntityManager } from '@mikro-orm/postgresql';
import { ACTIVE_STATUSES, TASK_STATUSES, type TaskStatus } from '../task-types.ts';
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

/** A team's tasks counted by status, every status present (0 when none): GET /v1/tasks/stats. */
export async function countTeamTasksByStatus(em: EntityManager, teamId: string): Promise<Record<TaskStatus, number>> {
  const rows = await em.execute<{ status: TaskStatus; n: number }[]>(
    'select status, count(*)::int as n from tasks where team_id = ? group by status',
    [teamId],
  );
  const counts = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;
  for (const r of rows) counts[r.status] = r.n;
  return counts;
}
