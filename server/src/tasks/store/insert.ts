import type { EntityManager } from '@mikro-orm/postgresql';
import type { Task } from '../../db/entities/task.ts';
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

/** Takes back a task row whose dispatch job was not inserted (so that no task exists without its job). */
export async function deleteTaskRow(em: EntityManager, taskId: string): Promise<void> {
  await em.execute('delete from tasks where id = ?', [taskId]);
}

/**
 * `insert into tasks (…)` of many rows in one statement, its rows as ONE JSON parameter (`$first`)
 * expanded by json_populate_recordset: one parameter whatever the batch size (a VALUES list would
 * need a placeholder per column and row, and PostgreSQL allows 65,535), so it can sit inside the
 * statement that also inserts the rows' dispatch jobs (batch-create.ts).
 */
export function taskInsertMany(rows: readonly Task[], first: number): { sql: string; params: unknown[] } {
  // The JSON text is written field by field: objects of ~45 keys built per row (Object.fromEntries)
  // and stringified made this the costliest step of a batch.
  const records = rows.map(
    (row) => `{${TASK_COLUMNS.map(({ key, column }) => `"${column}":${jsonValue(row[key])}`).join(',')}}`,
  );
  return {
    sql: `insert into tasks (${COLUMN_LIST}) select ${COLUMN_LIST} from json_populate_recordset(null::tasks, $${first}::json)`,
    params: [`[${records.join(',')}]`],
  };
}

/** JSON of one column value; nulls, numbers and booleans (most of a new row) without JSON.stringify. */
function jsonValue(value: unknown): string {
  if (value == null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
