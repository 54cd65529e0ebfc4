import type { EntityManager } from '@mikro-orm/postgresql';
import { execute } from '../db/prepared.ts';
import { AppError } from '../shared/app-error.ts';
import { API_KEY_PATTERN, hashApiKey } from './api-key-format.ts';
import type { KeyTeamHints } from './key-team-hints.ts';

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
 * Authenticates the key and takes one point of its team's rate limit (`limiter`). A key seen valid
 * before (its team is known from `hints`) is checked in the database while the limiter decides: one
 * round trip of latency instead of two, and a revocation still applies to the very next request
 * (SPEC §9) — only such a just-revoked key may spend a point of its team's budget. A key not seen
 * before is checked first, so a wrong key spends nobody's budget.
 */
export async function admit<D>(
  em: EntityManager,
  hints: KeyTeamHints,
  limiter: { consume(teamId: string): Promise<D> },
  key: string | undefined,
): Promise<{ principal: Principal; decision: D }> {
  if (!key) throw new AppError('unauthorized', 'API key required');
  if (!API_KEY_PATTERN.test(key)) throw new AppError('unauthorized', 'Invalid or revoked API key');
  const keyHash = hashApiKey(key);
  const lookup = async (): Promise<Principal> => {
    const rows = await execute<{ id: string; team_id: string }>(
      em,
      'select id, team_id from api_keys where key_hash = ? and revoked_at is null',
      [keyHash],
    );
    const row = rows[0];
    if (!row) throw new AppError('unauthorized', 'Invalid or revoked API key');
    return { teamId: row.team_id, keyId: row.id };
  };
  const knownTeam = hints.get(keyHash);
  if (knownTeam) {
    const [principal, decision] = await Promise.all([lookup(), limiter.consume(knownTeam)]);
    return { principal, decision };
  }
  const principal = await lookup();
  hints.remember(keyHash, principal.teamId);
  return { principal, decision: await limiter.consume(principal.teamId) };
}
