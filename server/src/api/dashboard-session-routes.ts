import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { readSessionCookie, SESSION_COOKIE, SESSION_TTL_MS } from '../auth/dashboard-sessions.ts';
import { AppError } from '../shared/app-error.ts';
import { admitRequest } from './admission.ts';
import type { ApiServices } from './context.ts';
import { httpStatusOf, restErrorBody } from './error-mapping.ts';
import type { RawRoute } from './http-server.ts';
import { closeAfterResponse, isJsonContentType, parseJson, readBody, replyUnreadBody } from './read-body.ts';
import type { RequestMeta } from './request-meta.ts';
import { sendJson } from './send-json.ts';

/** Where the dashboard signs in (POST), reads its session and CSRF token (GET) and signs out (DELETE). */
export const SESSION_PATH = '/dashboard/session';
/** Why 4 KiB: the body is `{"apiKey": "async_…"}` (about 70 bytes); nothing larger is read. */
const MAX_SIGN_IN_BYTES = 4 * 1024;
/** Why 10 s: 4 KiB arrives in milliseconds; a client trickling it is cut. */
const SIGN_IN_READ_TIMEOUT_MS = 10_000;

const signInSchema = z.strictObject({ apiKey: z.string({ error: 'apiKey is required' }).max(200) });

/** Never cached, never framed, never sent as a referrer: these answers carry a session. */
const PRIVATE = { 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' };

/**
 * The dashboard's session routes. The cookie is HttpOnly (no script reads it), SameSite=Strict (no
 * other site's page sends it) and Secure when PUBLIC_URL is https. Sign-in must be JSON, which a
 * form of another site cannot send, and the key is checked then forgotten: only the session's
 * SHA-256 is stored.
 */
export function dashboardSessionRoutes(deps: { services: ApiServices; secureCookie: boolean }): RawRoute[] {
  const match = (pathname: string) => (pathname === SESSION_PATH ? '' : null);
  const cookie = (value: string, maxAgeSeconds: number) =>
    `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${deps.secureCookie ? '; Secure' : ''}`;
  return [
    {
      method: 'POST',
      match,
      handle: (req, res, _param, meta) =>
        answering(req, res, meta, async () => {
          const started = await signIn(deps.services, req, meta);
          const body = { csrfToken: started.csrfToken, expiresAt: started.expiresAt.toISOString() };
          const maxAge = Math.floor(SESSION_TTL_MS / 1000);
          sendJson(res, 201, body, { ...PRIVATE, 'Set-Cookie': cookie(started.sessionId, maxAge) });
        }),
    },
    {
      method: 'GET',
      match,
      handle: (req, res, _param, meta) =>
        answering(req, res, meta, async () => {
          const principal = await admitRequest(deps.services, meta);
          const sessionId = readSessionCookie(meta.header('cookie'));
          if (sessionId === undefined) throw new AppError('unauthorized', 'Not signed in: sign in with an API key');
          const session = await deps.services.sessions.read(sessionId);
          const body = {
            teamId: principal.teamId,
            csrfToken: session.csrfToken,
            expiresAt: session.expiresAt.toISOString(),
          };
          sendJson(res, 200, body, { ...PRIVATE, ...meta.responseHeaders });
        }),
    },
    {
      method: 'DELETE',
      match,
      handle: (req, res, _param, meta) =>
        answering(req, res, meta, async () => {
          const sessionId = readSessionCookie(meta.header('cookie'));
          if (sessionId !== undefined) {
            await admitRequest(deps.services, meta);
            await deps.services.sessions.end(sessionId);
          }
          res.writeHead(204, { ...PRIVATE, 'Set-Cookie': cookie('', 0) });
          res.end();
        }),
    },
  ];
}

/** The key in the body, checked like any request's key (401 and the IP's failure budget), then a session. */
async function signIn(services: ApiServices, req: IncomingMessage, meta: RequestMeta) {
  const attempt = await services.sessions.signInAttempt(meta.clientIp);
  if (!attempt.allowed) {
    meta.responseHeaders['Retry-After'] = String(attempt.retryAfter);
    throw new AppError('rate_limited', `Too many sign-in attempts: retry after ${attempt.retryAfter} s`);
  }
  if (!isJsonContentType(meta.header('content-type'))) {
    throw new AppError('unsupported_media_type', 'Content-Type must be application/json');
  }
  const raw = await readBody(req, { maxBytes: MAX_SIGN_IN_BYTES, timeoutMs: SIGN_IN_READ_TIMEOUT_MS });
  const parsed = signInSchema.safeParse(parseJson(raw));
  if (!parsed.success) {
    throw new AppError('validation_failed', 'Invalid request: send {"apiKey": "async_…"}', {
      details: [{ path: 'apiKey', message: 'expected an API key string' }],
    });
  }
  const { principal, decision } = await services.admit(parsed.data.apiKey.trim(), meta.clientIp);
  if (!decision.allowed) {
    meta.responseHeaders['Retry-After'] = String(decision.retryAfter);
    throw new AppError('rate_limited', `Rate limit exceeded: retry after ${decision.retryAfter} s`);
  }
  return services.sessions.start(principal);
}

/** Runs a route; an AppError (or an unread body) becomes its REST answer. */
async function answering(req: IncomingMessage, res: ServerResponse, meta: RequestMeta, run: () => Promise<void>) {
  try {
    await run();
  } catch (error) {
    if (replyUnreadBody(req, res, error, meta.responseHeaders)) return;
    if (!(error instanceof AppError)) throw error;
    if (!req.complete) closeAfterResponse(req, res);
    const body = restErrorBody(error);
    sendJson(res, httpStatusOf(body), body, { ...PRIVATE, ...meta.responseHeaders });
  }
}
