import type { EntityManager } from '@mikro-orm/postgresql';
import { TERMINAL_STATUSES } from '../task-types.ts';
import { uuidArray } from './filters.ts';
import { inList } from './fragments.ts';

/** Replays: marking the original as replayed, and the copy of many tasks inside PostgreSQL. */

/** What a bulk replay needs of each original to make its copy's credentials and dispatch job. */
export type ReplaySource = {
  id: string;
  priority: number;
  delayUntil: Date | null;
  waitForSignal: boolean;
  hasCallback: boolean;
  flowKey: string | null;
};

/**
 * Claims a chunk of originals for a bulk replay: one conditional UPDATE, `replayed_at is null`, so
 * of two bulk replays racing, each original is copied by one only. Returns the claimed ones.
 */
export async function claimReplaySources(
  em: EntityManager,
  teamId: string,
  ids: readonly string[],
): Promise<ReplaySource[]> {
  const rows = await em.execute<
    {
      id: string;
      priority: number;
      delay_until: Date | null;
      wait_for_signal: boolean;
      has_callback: boolean;
      flow_key: string | null;
    }[]
  >(
    `update tasks set replayed_at = now()
     where id = any(?::uuid[]) and team_id = ? and status in (${inList(TERMINAL_STATUSES)}) and replayed_at is null
     returning id, priority, delay_until, wait_for_signal, callback_id_hash is not null as has_callback, flow_key`,
    [uuidArray(ids), teamId],
  );
  return rows.map((r) => ({
    id: r.id,
    priority: r.priority,
    delayUntil: r.delay_until ? new Date(r.delay_until) : null,
    waitForSignal: r.wait_for_signal,
    hasCallback: r.has_callback,
    flowKey: r.flow_key,
  }));
}

/** Marks one ended task as replayed (POST /v1/tasks/{id}/replay); false when it is not terminal. */
export async function markReplayed(em: EntityManager, teamId: string, id: string): Promise<boolean> {
  const rows = await em.execute(
    `update tasks set replayed_at = now()
     where id = ? and team_id = ? and status in (${inList(TERMINAL_STATUSES)}) returning id`,
    [id, teamId],
  );
  return rows.length > 0;
}

/** The copy's own values, made in memory (fresh ids and credentials; the callback id sealed to the new id). */
export type ReplayCopy = {
  source: string;
  id: string;
  status: 'pending' | 'delayed';
  callback_id_hash: string | null;
  callback_id_sealed: string | null;
  signal_token_hash: string | null;
  dispatch_job_id: string;
};

/**
 * The request a replay copies from its original, column for column: what was asked, never what
 * happened (result, attempts, progress, webhook deliveries start empty). Header values are copied as
 * stored, so vault references stay references.
 */
const COPIED_COLUMNS = [
  'team_id',
  'target_url',
  'method',
  'headers',
  'body',
  'timeout',
  'max_retries',
  'retry_backoff',
  'delay_until',
  'priority',
  'wait_for_signal',
  'max_wait_time',
  'on_complete_url',
  'provider',
  'poll_config',
  'flow_key',
] as const;
const NEW_COLUMNS = [
  'id',
  'status',
  'callback_id_hash',
  'callback_id_sealed',
  'signal_token_hash',
  'dispatch_job_id',
] as const;

/**
 * `insert into tasks … select … from tasks` of the copies, their own values as ONE JSON parameter
 * (`$first`): bodies and headers are copied inside PostgreSQL, never read into memory. Built to sit
 * in the statement that inserts the copies' dispatch jobs (a CTE of it), so both commit together.
 */
export function replayCopyInsert(copies: readonly ReplayCopy[], first: number): { sql: string; params: unknown[] } {
  const columns = [...COPIED_COLUMNS, ...NEW_COLUMNS, 'replay_of', 'created_at', 'updated_at'];
  const values = [
    ...COPIED_COLUMNS.map((c) => `o.${c}`),
    ...NEW_COLUMNS.map((c) => `r.${c}`),
    'o.id',
    'now()',
    'now()',
  ];
  return {
    sql: `insert into tasks (${columns.map((c) => `"${c}"`).join(', ')})
      select ${values.join(', ')}
      from json_to_recordset($${first}::json) as r(source uuid, id uuid, status text, callback_id_hash text,
        callback_id_sealed text, signal_token_hash text, dispatch_job_id uuid)
      join tasks o on o.id = r.source`,
    params: [JSON.stringify(copies)],
  };
}
