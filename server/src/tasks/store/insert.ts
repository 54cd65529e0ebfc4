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

/**
 * `insert into tasks (…)` of many rows in one statement, its rows as ONE JSON parameter (`$first`)
 * expanded by json_populate_recordset: one parameter whatever the batch size (a VALUES list would
 * need a placeholder per column and row, and PostgreSQL allows 65,535), so it can sit inside the
 * statement that also inserts the rows' dispatch jobs (batch-create.ts).
 */
export function taskInsertMany(rows: readonly Task[], first: number): { sql: string; params: unknown[] } {
  return {
    sql: `insert into tasks (${COLUMN_LIST}) select ${COLUMN_LIST} from json_populate_recordset(null::tasks, $${first}::json)`,
    params: [JSON.stringify(rows.map(rowRecord))],
  };
}

/**
 * One row keyed by column, without its null columns (absent keys are null for
 * json_populate_recordset; half of a new row's columns are null). Every record gets its keys in the
 * same order, so rows with the same null columns share one shape and stringify on V8's fast path (Object.fromEntries of ~45
 * keys per row was the costliest step of a batch).
 */
function rowRecord(row: Task): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const { key, column } of TASK_COLUMNS) {
    const value = row[key];
    if (value != null) record[column] = value;
  }
  return record;
}
