import { type Principal, readApiKey } from '../auth/authenticate.ts';
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
    admitted = await services.admit(readApiKey(meta.header), meta.clientIp);
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
