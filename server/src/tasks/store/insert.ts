import { BooleanType, DateTimeType, IntegerType, JsonType, TextType, UuidType } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { type Task, TaskSchema } from '../../db/entities/task.ts';
import { execute } from '../../db/prepared.ts';
import { TASK_COLUMNS } from '../task-columns.ts';
import { uuidArray } from './filters.ts';

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

/**
 * Takes back task rows whose dispatch jobs were not all inserted (so that no task exists without its
 * job; a batch is all or nothing). A job that was inserted then finds no task, and its claim takes
 * nothing.
 */
export async function deleteTaskRows(em: EntityManager, taskIds: readonly string[]): Promise<void> {
  await em.execute('delete from tasks where id = any(?::uuid[])', [uuidArray(taskIds)]);
}

/**
 * `insert into tasks (…)` of many rows in one statement, its rows as one array parameter per column
 * (`$first`, `$first + 1`, …) expanded by unnest: a few dozen parameters whatever the batch size (a
 * VALUES list would need a placeholder per column and row, and PostgreSQL allows 65,535), so it can
 * sit inside the statement that also inserts the rows' dispatch jobs (batch-create.ts). A column
 * that is null in every row is written as a plain null, and one with the same value in every row
 * (team, status, defaults, often URL, headers and body) as that one value: a batch's statement then
 * carries little more than its ids, fewer bytes to send and for PostgreSQL to parse (jsonb once,
 * not once a row). The id stays an array, so the SELECT has as many rows as the batch. `returning`
 * (optional) is the statement's RETURNING list. Why arrays rather than one JSON array of records:
 * PostgreSQL decodes an array of each column's own type about twice as fast as
 * json_populate_recordset finds ~25 keys per record, and no column name is sent a thousand times.
 */
export function taskInsertMany(
  rows: readonly Task[],
  first: number,
  returning?: string,
): { sql: string; params: unknown[] } {
  const params: string[] = [];
  const values = TASK_COLUMNS.map((column, i) => {
    const type = SQL_TYPES[i] as SqlType;
    const param = columnParam(rows, column.key, type, column.key !== 'id');
    if (param === null) return 'null';
    params.push(param.text);
    const placeholder = `$${first + params.length - 1}::${type}`;
    return param.array ? `unnest(${placeholder}[])` : placeholder;
  });
  // unnest() calls side by side in one SELECT list run in lockstep: row i of every array together.
  const sql = `insert into tasks (${COLUMN_LIST}) select ${values.join(', ')}${returning ? ` returning ${returning}` : ''}`;
  return { sql, params };
}

/**
 * The RETURNING list that gives each inserted row's dispatch job to the queue (jobs/queues.ts
 * DerivedJobs): its id, its task, priority, start (the delay of a delayed task, else at once) and
 * fairness group, which is dispatchGroup(team, flowKey) of jobs/queues.ts written in SQL (the team,
 * or `<team>/<flow key>`).
 */
export const DISPATCH_JOB_RETURNING =
  "dispatch_job_id as job_id, id as task_id, priority, case when status = 'delayed' then delay_until end as start_after, " +
  "team_id::text || coalesce('/' || nullif(flow_key, ''), '') as group_id";

type SqlType = 'uuid' | 'text' | 'jsonb' | 'int' | 'boolean' | 'timestamptz';
const TYPE_OF = new Map<unknown, SqlType>([
  [UuidType, 'uuid'],
  [TextType, 'text'],
  [JsonType, 'jsonb'],
  [IntegerType, 'int'],
  [BooleanType, 'boolean'],
  [DateTimeType, 'timestamptz'],
]);
/** Each column's PostgreSQL type, from the entity; a property of another type fails at start-up. */
const SQL_TYPES: readonly SqlType[] = TASK_COLUMNS.map(({ key, column }) => {
  const properties = TaskSchema.meta.properties as Record<string, { type: unknown } | undefined>;
  const type = TYPE_OF.get(properties[key as string]?.type);
  if (!type) throw new Error(`tasks.${column}: no array type for a batch insert of this column`);
  return type;
});

/**
 * One column of every row, in one pass: null when it is null in every row; its one value's text
 * when every row has the same (and `shareable`); else a PostgreSQL array literal (`{"a",b,NULL}`).
 * A value equal to the previous row's reuses its element (a batch's rows share most values: team,
 * status, method, often URL and body).
 */
function columnParam(
  rows: readonly Task[],
  key: keyof Task,
  type: SqlType,
  shareable: boolean,
): { text: string; array: boolean } | null {
  const elements = new Array<string>(rows.length);
  let anyValue = false;
  let anyNull = false;
  let distinct = 0;
  let last: unknown;
  let lastText = '';
  let lastElement = '';
  for (let i = 0; i < rows.length; i++) {
    const value = (rows[i] as Task)[key];
    if (value == null) {
      anyNull = true;
      elements[i] = 'NULL';
      continue;
    }
    anyValue = true;
    if (distinct === 0 || (value !== last && !(type === 'timestamptz' && sameInstant(value, last)))) {
      last = value;
      // JSON values are new objects in every row: equal texts still share their element.
      const text = type === 'jsonb' ? jsonText(value) : elementText(value);
      if (distinct === 0 || text !== lastText) {
        distinct += 1;
        lastText = text;
        lastElement = arrayElement(text);
      }
    }
    elements[i] = lastElement;
  }
  if (!anyValue) return null;
  if (shareable && !anyNull && distinct === 1) return { text: lastText, array: false };
  return { text: `{${elements.join(',')}}`, array: true };
}

const sameInstant = (a: unknown, b: unknown) => a instanceof Date && b instanceof Date && a.getTime() === b.getTime();

/** A JSON column's text; the empty lists every new row has (attempts, deliveries) without a stringify. */
const jsonText = (value: unknown) => (Array.isArray(value) && value.length === 0 ? '[]' : JSON.stringify(value));

const elementText = (value: unknown) => (value instanceof Date ? value.toISOString() : String(value));

/** Text an array literal reads as itself without quotes: ids, numbers, booleans, timestamps, plain words. */
const BARE = /^[0-9A-Za-z_.:+-]+$/;

/**
 * An element as the array literal must spell it: bare when nothing in it can be read otherwise
 * (never the word NULL), else double-quoted with `"` and `\` escaped (commas, braces, spaces).
 */
function arrayElement(text: string): string {
  if (BARE.test(text) && text.toLowerCase() !== 'null') return text;
  return `"${text.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}
