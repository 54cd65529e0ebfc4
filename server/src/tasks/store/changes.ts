import type { EntityManager } from '@mikro-orm/postgresql';
import type { Task } from '../../db/entities/task.ts';
import { execute } from '../../db/prepared.ts';
import type { TaskStatus } from '../task-types.ts';
import { LISTED_COLUMNS, listedTaskFromRow } from './read.ts';

/**
 * The reads behind live events (GET /v1/events): changed tasks in the list shape (payloads capped
 * as in GET /v1/tasks), each with its version, `updated_at` in microseconds since the epoch (the
 * event cursor, see events/event-cursor.ts). They use the (team_id, updated_at) index.
 */
export type ChangedTask = { task: Task; version: bigint };

const VERSION = `(extract(epoch from updated_at) * 1000000)::bigint as aq_version`;

const toChanged = (rows: Record<string, unknown>[]): ChangedTask[] =>
  rows.map((row) => ({ task: listedTaskFromRow(row), version: BigInt(row.aq_version as string) }));

/** The current rows of `ids` that belong to one of `teamIds`: one query for a batch of notifications. */
export async function findChangedTasks(em: EntityManager, ids: string[], teamIds: string[]): Promise<ChangedTask[]> {
  const rows = await execute(
    em,
    `select ${LISTED_COLUMNS}, ${VERSION} from tasks where id = any(?::uuid[]) and team_id = any(?::uuid[])`,
    [ids, teamIds],
  );
  return toChanged(rows);
}

/** Where a page of changes starts: after this version, and after this id among rows of that version. */
export type ChangesAfter = { version: bigint; id: string };

export type ChangesQuery = {
  teamIds: string[];
  after: ChangesAfter;
  taskId?: string | undefined;
  status?: TaskStatus | undefined;
  limit: number;
};

/**
 * One page of the tasks of `teamIds` changed after `after`, oldest change first (keyset on
 * (updated_at, id), so a page boundary inside one instant loses nothing).
 */
export async function listChangesAfter(em: EntityManager, query: ChangesQuery): Promise<ChangedTask[]> {
  const where = [
    'team_id = any(?::uuid[])',
    // Integer microseconds, never a float of seconds: the boundary is exact.
    `(updated_at, id) > (timestamptz 'epoch' + ?::bigint * interval '1 microsecond', ?::uuid)`,
  ];
  const params: unknown[] = [query.teamIds, query.after.version.toString(), query.after.id];
  if (query.taskId) {
    where.push('id = ?');
    params.push(query.taskId);
  }
  if (query.status) {
    where.push('status = ?');
    params.push(query.status);
  }
  params.push(query.limit);
  // Prepared (one of four texts): every variant leads with the (team_id, updated_at) index.
  const rows = await execute(
    em,
    `select ${LISTED_COLUMNS}, ${VERSION} from tasks where ${where.join(' and ')} order by updated_at, id limit ?`,
    params,
  );
  return toChanged(rows);
}

/** The database's clock in microseconds since the epoch (sweeps start from it, never from the host's). */
export async function databaseNowMicros(em: EntityManager): Promise<bigint> {
  const rows = await execute(em, `select (extract(epoch from clock_timestamp()) * 1000000)::bigint as now`);
  return BigInt((rows[0] as { now: string }).now);
}
