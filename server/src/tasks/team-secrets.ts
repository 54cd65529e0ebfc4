import type { EntityManager } from '@mikro-orm/postgresql';
import { execute } from '../db/prepared.ts';

/**
 * The webhook secrets that sign for a team right now: the current one, plus the previous one
 * while its 24 h rotation overlap lasts.
 */
export async function teamSigningSecrets(em: EntityManager, teamId: string): Promise<string[]> {
  const rows = await execute<{ webhook_secret: string; previous_webhook_secret: string | null }>(
    em,
    `select webhook_secret,
       case when previous_secret_expires_at > now() then previous_webhook_secret end as previous_webhook_secret
     from teams where id = ?`,
    [teamId],
  );
  const row = rows[0];
  if (!row) return [];
  return row.previous_webhook_secret ? [row.webhook_secret, row.previous_webhook_secret] : [row.webhook_secret];
}
