import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AppError } from '../shared/app-error.ts';
import { deleteExpiredSessions, deleteSession, findLiveSession, insertSession } from './session-store.ts';

/** The cookie that carries a dashboard session id (HttpOnly, SameSite=Strict). */
export const SESSION_COOKIE = 'aq_session';

/**
 * Why 12 h: a working day at the dashboard without signing in again, while a cookie left behind on
 * a shared machine stops working by the next day. Revoking the key ends a session at once anyway.
 */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

/**
 * Why 10 per minute per client IP: a person signing in needs one or two tries; a script guessing
 * keys gets 10 a minute (keys have 285 bits of entropy, but a leaked-key list could be replayed).
 */
export const SIGN_IN_ATTEMPTS_PER_MINUTE = 10;

/** Why 100: expired rows are swept a few at each sign-in, so a sign-in never does unbounded work. */
const EXPIRED_SWEEP_LIMIT = 100;

/** A session id: 32 random bytes, base64url (43 characters). Anything else is refused unread. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/** Methods that change nothing: a cookie request with any other method must carry the CSRF token. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Who a session acts for (the same shape as an authenticated key's principal). */
type Principal = { teamId: string; keyId: string };

export type StartedSession = { sessionId: string; csrfToken: string; expiresAt: Date };
export type SessionInfo = { teamId: string; csrfToken: string; expiresAt: Date };

const hashSessionId = (id: string) => createHash('sha256').update(id).digest('hex');

/** The session id in a Cookie header, or undefined when there is none. */
export function readSessionCookie(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SESSION_COOKIE) return value.join('=');
  }
  return undefined;
}

/** Stores a new session for an authenticated key; the key itself is never kept. */
export async function startSession(em: EntityManager, principal: Principal): Promise<StartedSession> {
  const sessionId = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + SESSION_TTL_MS);
  await deleteExpiredSessions(em, EXPIRED_SWEEP_LIMIT);
  await insertSession(em, hashSessionId(sessionId), { ...principal, csrfToken, expiresAt });
  return { sessionId, csrfToken, expiresAt };
}

/** The live session behind a cookie, or a 401 saying to sign in again. */
export async function readSession(em: EntityManager, sessionId: string): Promise<SessionInfo & Principal> {
  const session = SESSION_ID.test(sessionId) ? await findLiveSession(em, hashSessionId(sessionId)) : null;
  if (!session) {
    throw new AppError(
      'unauthorized',
      'Dashboard session expired, signed out or revoked: sign in again with an API key',
    );
  }
  return session;
}

/**
 * The principal of a cookie-authenticated request. A state-changing method must echo the session's
 * CSRF token in `X-CSRF-Token` (a page of another site cannot read it), else 401.
 */
export async function sessionPrincipal(
  em: EntityManager,
  sessionId: string,
  request: { method: string | undefined; csrfToken: string | undefined },
): Promise<Principal> {
  const session = await readSession(em, sessionId);
  const safe = request.method !== undefined && SAFE_METHODS.has(request.method);
  if (!safe && !sameToken(request.csrfToken, session.csrfToken)) {
    throw new AppError(
      'unauthorized',
      'Missing or wrong X-CSRF-Token header: a request signed in by the dashboard cookie must send the csrfToken of GET /dashboard/session',
    );
  }
  return { teamId: session.teamId, keyId: session.keyId };
}

export async function endSession(em: EntityManager, sessionId: string): Promise<void> {
  if (SESSION_ID.test(sessionId)) await deleteSession(em, hashSessionId(sessionId));
}

function sameToken(presented: string | undefined, expected: string): boolean {
  if (!presented) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
