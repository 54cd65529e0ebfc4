import type { EntityManager } from '@mikro-orm/postgresql';
import type { Task } from '../../db/entities/task.ts';
import { execute } from '../../db/prepared.ts';
import { TASK_COLUMNS, taskFromRow } from '../task-columns.ts';
import { filterWhere, type TaskFilter } from './filters.ts';

/** Raw rows (snake_case) → Task objects, never in an identity map (see task-columns.ts). */
export function mapTaskRows(rows: Record<string, unknown>[]): Task[] {
  return rows.map(taskFromRow);
}

/**
 * Why 1,024 characters: a list shows what each task is and how it ended, not its payloads; 100
 * tasks of 5 MiB bodies each would otherwise be read, decoded and serialized in one response, and
 * even 4 KiB previews made a team's burst of lists (a minute's rate-limit budget at once) the most
 * expensive thing a key holder could ask for (bench/hostile.ts).
 * A list's `result.body` and `body` stop after this many characters (a cut result body says
 * `bodyTruncated: true`); `GET /v1/tasks/:id`, long-polls and webhooks show them whole.
 */
export const LISTED_BODY_CHARS = 1024;
/** Why 4 KiB: progress is JSON (it cannot be cut and stay JSON), so a bigger one is left out (null). */
export const LISTED_PROGRESS_CHARS = 4 * 1024;

const CUT = 'aq_result_body_cut';
/** Whether `column` is longer than `chars`, reading only a prefix of it (left() detoasts a slice). */
const longer = (column: string, chars: number) => `char_length(left(${column}, ${chars + 1})) > ${chars}`;
const CAPPED: Record<string, string> = {
  body: `left(body, ${LISTED_BODY_CHARS}) as body`,
  result_body: `left(result_body, ${LISTED_BODY_CHARS}) as result_body, ${longer('result_body', LISTED_BODY_CHARS)} as ${CUT}`,
  start_result_body: 'null as start_result_body',
  progress: `case when ${longer('progress', LISTED_PROGRESS_CHARS)} then null else progress end as progress`,
};
/** Every column of a task, its payloads capped (a list never reads a whole body into memory). */
export const LISTED_COLUMNS = TASK_COLUMNS.map(({ column }) => CAPPED[column] ?? `"${column}"`).join(', ');

export async function findTeamTask(em: EntityManager, teamId: string, id: string): Promise<Task | null> {
  const rows = await execute(em, 'select * from tasks where id = ? and team_id = ?', [id, teamId]);
  return mapTaskRows(rows)[0] ?? null;
}

export async function listTeamTasks(
  em: EntityManager,
  teamId: string,
  opts: TaskFilter & { beforeId?: string | undefined; limit: number },
): Promise<Task[]> {
  const { where, params } = filterWhere(teamId, opts);
  if (opts.beforeId) {
    where.push('id < ?');
    params.push(opts.beforeId);
  }
  params.push(opts.limit);
  // Not prepared: a plan made once for any team and status could pick the wrong index for some.
  const rows = await em.execute(
    `select ${LISTED_COLUMNS} from tasks where ${where.join(' and ')} order by id desc limit ?`,
    params,
  );
  return rows.map(listedTaskFromRow);
}

/** A row read with LISTED_COLUMNS → a Task whose cut result body says `bodyTruncated: true`. */
export function listedTaskFromRow(row: Record<string, unknown>): Task {
  const task = taskFromRow(row);
  if (row[CUT] === true && task.result) task.result.bodyTruncated = true;
  return task;
}

export async function findTaskById(em: EntityManager, id: string): Promise<Task | null> {
  const rows = await execute(em, 'select * from tasks where id = ?', [id]);
  return mapTaskRows(rows)[0] ?? null;
}
