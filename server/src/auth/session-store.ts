import type { EntityManager } from '@mikro-orm/postgresql';
import { execute } from '../db/prepared.ts';

/** Every statement on `dashboard_sessions` (the dashboard's sign-in sessions). */

export type StoredSession = { teamId: string; keyId: string; csrfToken: string; expiresAt: Date };

export async function insertSession(em: EntityManager, idHash: string, session: StoredSession): Promise<void> {
  await execute(
    em,
    'insert into dashboard_sessions (id_hash, team_id, api_key_id, csrf_token, expires_at) values (?, ?, ?, ?, ?)',
    [idHash, session.teamId, session.keyId, session.csrfToken, session.expiresAt],
  );
}

/**
 * The session, if it is live: not expired, and its API key not revoked (the join with the key's
 * row makes a revocation end every session made from the key at its next request).
 */
export async function findLiveSession(em: EntityManager, idHash: string): Promise<StoredSession | null> {
  const rows = await execute<{ team_id: string; api_key_id: string; csrf_token: string; expires_at: Date | string }>(
    em,
    `select s.team_id, s.api_key_id, s.csrf_token, s.expires_at from dashboard_sessions s
      join api_keys k on k.id = s.api_key_id and k.revoked_at is null
      where s.id_hash = ? and s.expires_at > now()`,
    [idHash],
  );
  const row = rows[0];
  return row
    ? { teamId: row.team_id, keyId: row.api_key_id, csrfToken: row.csrf_token, expiresAt: new Date(row.expires_at) }
    : null;
}

export async function deleteSession(em: EntityManager, idHash: string): Promise<void> {
  await execute(em, 'delete from dashboard_sessions where id_hash = ?', [idHash]);
}

/** Deletes at most `limit` expired sessions (bounded work, run at each sign-in). */
export async function deleteExpiredSessions(em: EntityManager, limit: number): Promise<void> {
  await execute(
    em,
    `delete from dashboard_sessions where id_hash in (
      select id_hash from dashboard_sessions where expires_at <= now() limit ?)`,
    [limit],
  );
}
