import { DateTimeType, JsonType } from '@mikro-orm/core';
import { type Task, TaskSchema } from '../db/entities/task.ts';
import type { TaskResult } from './task-types.ts';

type Column = { key: keyof Task; column: string; json: boolean; date: boolean };

/**
 * The `tasks` columns, read from the entity (MikroORM's default underscore naming), with their
 * JSON and timestamp ones flagged. The hot paths write and read task rows with these instead of the
 * ORM's per-row machinery (key reordering, hydration): one INSERT that shares its statement with
 * the dispatch job's (store/insert.ts), and raw `returning *` rows turned into Task objects.
 */
export const TASK_COLUMNS: readonly Column[] = Object.entries(TaskSchema.meta.properties).map(([key, prop]) => ({
  key: key as keyof Task,
  column: key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
  json: (prop.type as unknown) === JsonType,
  date: (prop.type as unknown) === DateTimeType,
}));

/** PostgreSQL's ISO output (`2026-11-27 03:38:45.968119+00`) → Date; anything else as Date parses it. */
function toDate(value: unknown): Date | null {
  if (value == null || value instanceof Date) return (value as Date | null) ?? null;
  const text = String(value);
  const iso = new Date(text.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
  return Number.isNaN(iso.getTime()) ? new Date(text) : iso;
}

/** A raw `tasks` row (snake_case, as the driver returns it) → a Task, like `em.map` but cheaper. */
export function taskFromRow(row: Record<string, unknown>): Task {
  const task: Record<string, unknown> = {};
  for (const { key, column, date } of TASK_COLUMNS) {
    const value = row[column];
    task[key as string] = date ? toDate(value) : (value ?? null);
  }
  task.result = withBody(task.result, task.resultBody, task.resultBodyEncoding);
  task.startResult = withBody(task.startResult, task.startResultBody, task.startResultBodyEncoding);
  return task as Task;
}

/**
 * A result's jsonb metadata joined with its body, which lives in text columns (any bytes, no
 * JSON escaping). Rows written before bodies moved out of jsonb carry the body in the metadata.
 */
function withBody(meta: unknown, body: unknown, encoding: unknown): TaskResult | null {
  if (meta == null) return null;
  const joined = { ...(meta as TaskResult) };
  if (body != null) joined.body = body as string;
  joined.body ??= '';
  joined.bodyEncoding = (encoding as TaskResult['bodyEncoding'] | null) ?? joined.bodyEncoding ?? 'utf8';
  return joined;
}
