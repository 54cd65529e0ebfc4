import type { EntityManager } from '@mikro-orm/postgresql';
import type { Task } from '../db/entities/task.ts';
import { execute } from '../db/prepared.ts';
import { taskFromRow } from './task-columns.ts';
import type { TaskStatus } from './task-types.ts';

/** Raw rows (snake_case) → Task objects, never in an identity map (see task-columns.ts). */
export function mapTaskRows(rows: Record<string, unknown>[]): Task[] {
  return rows.map(taskFromRow);
}

export async function findTeamTask(em: EntityManager, teamId: string, id: string): Promise<Task | null> {
  const rows = await execute(em, 'select * from tasks where id = ? and team_id = ?', [id, teamId]);
  return mapTaskRows(rows)[0] ?? null;
}

export async function listTeamTasks(
  em: EntityManager,
  teamId: string,
  opts: { status?: TaskStatus | undefined; beforeId?: string | undefined; limit: number },
): Promise<Task[]> {
  const where = ['team_id = ?'];
  const params: unknown[] = [teamId];
  if (opts.status) {
    where.push('status = ?');
    params.push(opts.status);
  }
  if (opts.beforeId) {
    where.push('id < ?');
    params.push(opts.beforeId);
  }
  params.push(opts.limit);
  // Not prepared: a plan made once for any team and status could pick the wrong index for some.
  const rows = await em.execute(`select * from tasks where ${where.join(' and ')} order by id desc limit ?`, params);
  return mapTaskRows(rows);
}

export async function findTaskById(em: EntityManager, id: string): Promise<Task | null> {
  const rows = await execute(em, 'select * from tasks where id = ?', [id]);
  return mapTaskRows(rows)[0] ?? null;
}
