import type { EntityManager } from '@mikro-orm/postgresql';

/** Callback ids stored in plain by older versions (the old `callback_id` column), up to `limit`. */
export function findPlainCallbackIds(em: EntityManager, limit: number) {
  return em.execute<{ id: string; callback_id: string }[]>(
    'select id, callback_id from tasks where callback_id is not null limit ?',
    [limit],
  );
}

/**
 * Stores a plain callback id sealed (and its hash if missing) and empties the plain column, only if
 * the row still holds the value read (two instances starting together: one of them writes).
 */
export async function sealCallbackId(em: EntityManager, taskId: string, plain: string, sealed: string): Promise<void> {
  await em.execute(
    `update tasks set callback_id_sealed = ?, callback_id = null,
       callback_id_hash = coalesce(callback_id_hash, encode(sha256(convert_to(callback_id, 'UTF8')), 'hex'))
     where id = ? and callback_id = ?`,
    [sealed, taskId, plain],
  );
}
