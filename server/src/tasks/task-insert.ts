import { JsonType } from '@mikro-orm/core';
import { type Task, TaskSchema } from '../db/entities/task.ts';

/**
 * The `tasks` columns, read from the entity (MikroORM's default underscore naming), JSON ones
 * flagged: one hand-built INSERT instead of the ORM's, so that it can sit inside the statement that
 * also inserts the dispatch job (see createTask) and skips the ORM's per-row key reordering.
 */
const COLUMNS = Object.entries(TaskSchema.meta.properties).map(([key, prop]) => ({
  key: key as keyof Task,
  column: key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
  json: (prop.type as unknown) === JsonType,
}));
const COLUMN_LIST = COLUMNS.map((c) => `"${c.column}"`).join(', ');

/** `insert into tasks (…) values (…)` for one row, its placeholders numbered from `$first`. */
export function taskInsert(row: Task, first: number): { sql: string; params: unknown[] } {
  const params = COLUMNS.map(({ key, json }) => {
    const value = row[key];
    return json && value != null ? JSON.stringify(value) : (value ?? null);
  });
  const placeholders = params.map((_, i) => `$${first + i}`).join(', ');
  return { sql: `insert into tasks (${COLUMN_LIST}) values (${placeholders})`, params };
}
