import { type Principal, readApiKey } from '../auth/authenticate.ts';
import { readSessionCookie } from '../auth/dashboard-sessions.ts';
import { AppError } from '../shared/app-error.ts';
import type { ApiServices } from './context.ts';
import type { RequestMeta } from './request-meta.ts';

/**
 * Authenticates an HTTP request and charges its rate limits ONCE per request, whatever the number
 * of procedures in it (a tRPC batch) and whether the REST handler already checked it before reading
 * the body: the promise is kept on the request's meta. Sets the rate-limit headers; 401/429 throw.
 */
export function admitRequest(services: ApiServices, meta: RequestMeta): Promise<Principal> {
  meta.admission ??= admitOnce(services, meta);
  return meta.admission;
}

async function admitOnce(services: ApiServices, meta: RequestMeta): Promise<Principal> {
  const headers = meta.responseHeaders;
  let admitted: Awaited<ReturnType<ApiServices['admit']>>;
  try {
    admitted = await admitKeyOrSession(services, meta);
  } catch (error) {
    if (error instanceof AppError && error.retryAfterSeconds) headers['Retry-After'] = String(error.retryAfterSeconds);
    throw error;
  }
  const { principal, decision } = admitted;
  headers['X-RateLimit-Limit'] = String(decision.limit);
  headers['X-RateLimit-Remaining'] = String(decision.remaining);
  headers['X-RateLimit-Reset'] = String(decision.resetAt);
  if (!decision.allowed) {
    headers['Retry-After'] = String(decision.retryAfter);
    throw new AppError('rate_limited', `Rate limit exceeded: retry after ${decision.retryAfter} s`, {
      retryAfterSeconds: decision.retryAfter,
    });
  }
  return principal;
}

/**
 * An API key when one is presented (no CSRF token needed: a browser never adds it by itself), else
 * the dashboard's session cookie, else the key's 401 ("API key required").
 */
function admitKeyOrSession(services: ApiServices, meta: RequestMeta): ReturnType<ApiServices['admit']> {
  const key = readApiKey(meta.header);
  const sessionId = key === undefined ? readSessionCookie(meta.header('cookie')) : undefined;
  if (sessionId === undefined) return services.admit(key, meta.clientIp);
  const request = { method: meta.method, csrfToken: meta.header('x-csrf-token') };
  return services.admitSession(sessionId, request, meta.clientIp);
}
