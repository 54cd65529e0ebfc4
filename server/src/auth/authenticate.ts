import type { EntityManager } from '@mikro-orm/postgresql';
import { AppError } from '../shared/app-error.ts';
import { API_KEY_PATTERN, hashApiKey } from './api-key-format.ts';

export type Principal = { teamId: string; keyId: string };

/** Reads the key from `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function readApiKey(header: (name: string) => string | undefined): string | undefined {
  const authorization = header('authorization');
  if (authorization) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    return match ? (match[1] as string).trim() : authorization.trim();
  }
  return header('x-api-key')?.trim() || undefined;
}

/**
 * Resolves a key to its team. No cache: revocation must take effect on the very next request, and
 * the look-up is one primary-index probe.
 */
export async function authenticate(em: EntityManager, key: string | undefined): Promise<Principal> {
  if (!key) throw new AppError('unauthorized', 'API key required');
  if (!API_KEY_PATTERN.test(key)) throw new AppError('unauthorized', 'Invalid or revoked API key');
  const rows = await em.execute<{ id: string; team_id: string }[]>(
    'select id, team_id from api_keys where key_hash = ? and revoked_at is null',
    [hashApiKey(key)],
  );
  const row = rows[0];
  if (!row) throw new AppError('unauthorized', 'Invalid or revoked API key');
  return { teamId: row.team_id, keyId: row.id };
}
