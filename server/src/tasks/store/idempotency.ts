import type { EntityManager } from '@mikro-orm/postgresql';

/** Why 24 h: a retried request within a day replays; after that the key is free again. */
export const IDEMPOTENCY_WINDOW = '24 hours';

/**
 * Claims `key` for `taskId` inside the creating transaction, or takes over a key older than the
 * window. A concurrent request with the same key blocks on the primary key until this one commits.
 * True when this request owns the key (and must create the task).
 */
export async function claimIdempotencyKeyRow(
  em: EntityManager,
  row: { teamId: string; key: string; requestHash: string; taskId: string; responseEnc: string },
): Promise<boolean> {
  const inserted = await em.execute<{ task_id: string }[]>(
    `insert into idempotency_keys (team_id, key, request_hash, task_id, response_enc, created_at)
     values (?, ?, ?, ?, ?, now())
     on conflict (team_id, key) do update
       set request_hash = excluded.request_hash, task_id = excluded.task_id,
           response_enc = excluded.response_enc, created_at = excluded.created_at
       where idempotency_keys.created_at < now() - interval '${IDEMPOTENCY_WINDOW}'
     returning task_id`,
    [row.teamId, row.key, row.requestHash, row.taskId, row.responseEnc],
  );
  return inserted.length > 0;
}

/** The stored request hash and sealed 201 body of a team's key, or undefined. */
export async function findIdempotencyKey(
  em: EntityManager,
  teamId: string,
  key: string,
): Promise<{ request_hash: string; response_enc: string } | undefined> {
  const rows = await em.execute<{ request_hash: string; response_enc: string }[]>(
    'select request_hash, response_enc from idempotency_keys where team_id = ? and key = ?',
    [teamId, key],
  );
  return rows[0];
}

/** Deletes keys past their window; returns how many. */
export async function deleteExpiredIdempotencyKeys(em: EntityManager): Promise<number> {
  const rows = await em.execute<{ n: number }[]>(
    `with gone as (delete from idempotency_keys where created_at < now() - interval '${IDEMPOTENCY_WINDOW}' returning 1)
     select count(*)::int as n from gone`,
  );
  return rows[0]?.n ?? 0;
}
