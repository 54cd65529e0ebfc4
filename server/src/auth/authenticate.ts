import type { EntityManager } from '@mikro-orm/postgresql';
import { execute } from '../db/prepared.ts';
import { AppError } from '../shared/app-error.ts';
import { API_KEY_PATTERN, hashApiKey } from './api-key-format.ts';
import { sessionPrincipal } from './dashboard-sessions.ts';
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

export type AdmitLimiters<D> = {
  /** Per team: one point per authenticated request. */
  team: { consume(teamId: string): Promise<D>; refund(teamId: string): Promise<void> };
  /** Per client IP: one point per failed authentication; spent → 429 instead of 401. */
  failures: { consume(clientIp: string): Promise<{ allowed: boolean; retryAfter: number }> };
};

/**
 * Authenticates the key and takes one point of its team's rate limit. A missing, malformed, unknown
 * or revoked key never spends a team's budget: it spends its client IP's budget of failed
 * authentications instead, and gets 429 once that is spent (a stranger guessing keys is slowed
 * down, and cannot lock a team out).
 */
export async function admit<D>(
  em: EntityManager,
  hints: KeyTeamHints,
  limiters: AdmitLimiters<D>,
  key: string | undefined,
  clientIp: string,
): Promise<{ principal: Principal; decision: D }> {
  return chargeFailures(limiters.failures, clientIp, () => authenticateAndCharge(em, hints, limiters.team, key));
}

/**
 * Admits a request signed in by a dashboard session cookie: the session must be live (not expired,
 * its key not revoked) and, for a state-changing method, the CSRF token must match. Charged like a
 * key: one point of the team's limit, or of the client IP's failure budget when refused.
 */
export async function admitSession<D>(
  em: EntityManager,
  limiters: AdmitLimiters<D>,
  sessionId: string,
  request: { method: string | undefined; csrfToken: string | undefined },
  clientIp: string,
): Promise<{ principal: Principal; decision: D }> {
  return chargeFailures(limiters.failures, clientIp, async () => {
    const principal = await sessionPrincipal(em, sessionId, request);
    return { principal, decision: await limiters.team.consume(principal.teamId) };
  });
}

/** Runs an authentication; a 401 spends a point of the client IP's failure budget (429 once spent). */
async function chargeFailures<T>(
  failures: AdmitLimiters<unknown>['failures'],
  clientIp: string,
  authenticate: () => Promise<T>,
): Promise<T> {
  try {
    return await authenticate();
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== 'unauthorized') throw error;
    const spent = await failures.consume(clientIp);
    if (!spent.allowed) {
      throw new AppError('rate_limited', `Too many failed authentications: retry after ${spent.retryAfter} s`, {
        retryAfterSeconds: spent.retryAfter,
      });
    }
    throw error;
  }
}

/**
 * A key seen valid before (its team is known from `hints`) is checked in the database while the
 * team's limiter decides: one round trip of latency instead of two, and a revocation still applies
 * to the very next request. If the look-up then fails (the key was revoked), the point is given
 * back and the hint dropped, so the revoked key's later requests are looked up before charging
 * anyone. A key not seen before is checked first, so a wrong key spends nobody's budget.
 */
async function authenticateAndCharge<D>(
  em: EntityManager,
  hints: KeyTeamHints,
  team: AdmitLimiters<D>['team'],
  key: string | undefined,
): Promise<{ principal: Principal; decision: D }> {
  if (!key) throw new AppError('unauthorized', 'API key required');
  if (!API_KEY_PATTERN.test(key)) throw new AppError('unauthorized', 'Invalid or revoked API key');
  const keyHash = hashApiKey(key);
  const knownTeam = hints.get(keyHash);
  if (knownTeam) {
    const charged = team.consume(knownTeam);
    const [principal, decision] = await Promise.all([
      lookupKey(em, keyHash).catch(async (error: unknown) => {
        hints.forget(keyHash);
        await charged.then(() => team.refund(knownTeam)).catch(() => {});
        throw error;
      }),
      charged,
    ]);
    return { principal, decision };
  }
  const principal = await lookupKey(em, keyHash);
  hints.remember(keyHash, principal.teamId);
  return { principal, decision: await team.consume(principal.teamId) };
}

async function lookupKey(em: EntityManager, keyHash: string): Promise<Principal> {
  const rows = await execute<{ id: string; team_id: string }>(
    em,
    'select id, team_id from api_keys where key_hash = ? and revoked_at is null',
    [keyHash],
  );
  const row = rows[0];
  if (!row) throw new AppError('unauthorized', 'Invalid or revoked API key');
  return { teamId: row.team_id, keyId: row.id };
}
