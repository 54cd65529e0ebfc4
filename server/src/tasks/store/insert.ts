import type { EntityManager } from '@mikro-orm/postgresql';
import type { Task } from '../../db/entities/task.ts';
import { execute } from '../../db/prepared.ts';
import { TASK_COLUMNS } from '../task-columns.ts';

const COLUMN_LIST = TASK_COLUMNS.map((c) => `"${c.column}"`).join(', ');

/**
 * `insert into tasks (…) values (…)` for one row, its placeholders numbered from `$first`: built by
 * hand so that it can sit inside the statement that also inserts the dispatch job (createTask).
 */
export function taskInsert(row: Task, first: number): { sql: string; params: unknown[] } {
  const params = TASK_COLUMNS.map(({ key, json }) => {
    const value = row[key];
    return json && value != null ? JSON.stringify(value) : (value ?? null);
  });
  const placeholders = params.map((_, i) => `$${first + i}`).join(', ');
  return { sql: `insert into tasks (${COLUMN_LIST}) values (${placeholders})`, params };
}

/**
 * A task row on its own, without a dispatch job: a task its flow key holds back from the start
 * (`flow_held`); the key's hand-over sends its job when it grants it.
 */
export async function insertHeldTask(em: EntityManager, row: Task): Promise<void> {
  const { params } = taskInsert(row, 1);
  await execute(em, `insert into tasks (${COLUMN_LIST}) values (${params.map(() => '?').join(', ')})`, params);
}

/** Takes back a task row whose dispatch job was not inserted (so that no task exists without its job). */
export async function deleteTaskRow(em: EntityManager, taskId: string): Promise<void> {
  await em.execute('delete from tasks where id = ?', [taskId]);
}
