import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MikroORM } from '@mikro-orm/postgresql';
import { z } from 'zod';
import type { RateLimiter } from '../ratelimit/rate-limiter.ts';
import { AppError } from '../shared/app-error.ts';
import { zodIssuesToDetails } from '../shared/zod-details.ts';
import { acceptCallback, acceptSignal, type ExternalOutcome, keptCallbackHeaders } from '../tasks/external-results.ts';
import type { TaskEffects } from '../tasks/task-effects.ts';
import type { RawRoute } from './http-server.ts';
import { parseJson, readBody } from './read-body.ts';
import type { RequestMeta } from './request-meta.ts';
import { sendJson } from './send-json.ts';

/** Callback ids and signal tokens: 64 lowercase hex. Anything else is 404 before any query. */
const CREDENTIAL = /^[0-9a-f]{64}$/;
/** Why 64 KiB: a signal is a small JSON decision, not a payload store. */
const MAX_SIGNAL_BYTES = 64 * 1024;

const signalBodySchema = z.discriminatedUnion(
  'status',
  [
    z.strictObject({ status: z.literal('completed'), result: z.unknown().optional(), error: z.string().optional() }),
    z.strictObject({
      status: z.literal('failed'),
      result: z.unknown().optional(),
      error: z.string().max(10_000).optional(),
    }),
  ],
  { error: 'status must be "completed" or "failed"' },
);

export type ExternalRouteDeps = {
  orm: MikroORM;
  effects: TaskEffects;
  callbackLimiter: RateLimiter;
  signalLimiter: RateLimiter;
  maxCallbackBytes: number;
};

/** Headers every answer of these unauthenticated routes carries: the URL itself is a credential. */
const PRIVATE = { 'Referrer-Policy': 'no-referrer', 'Cache-Control': 'no-store' };

function reply(res: ServerResponse, outcome: ExternalOutcome): void {
  if ('task' in outcome) sendJson(res, outcome.status, { task: outcome.task }, PRIVATE);
  else sendJson(res, outcome.status, { error: outcome.error, code: outcome.code }, PRIVATE);
}

function replyError(res: ServerResponse, error: unknown, extra: Record<string, string> = {}): void {
  if (!(error instanceof AppError)) throw error;
  const status = { payload_too_large: 413, validation_failed: 400, rate_limited: 429 }[error.code as string] ?? 400;
  const body = { error: error.message, code: error.code, ...(error.details ? { details: error.details } : {}) };
  sendJson(res, status, body, { ...PRIVATE, ...extra });
}

/** Per client IP, on Postgres so the budget holds across instances. Throws 429 when spent. */
async function limit(limiter: RateLimiter, meta: RequestMeta): Promise<void> {
  const decision = await limiter.consume(meta.clientIp);
  if (!decision.allowed) {
    throw new AppError('rate_limited', 'Rate limit exceeded', { retryAfterSeconds: decision.retryAfter });
  }
}

function pathParam(prefix: string) {
  return (pathname: string) =>
    pathname.startsWith(prefix) && pathname.indexOf('/', prefix.length) === -1 ? pathname.slice(prefix.length) : null;
}

async function guarded(res: ServerResponse, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    const retryAfter = error instanceof AppError ? error.retryAfterSeconds : undefined;
    replyError(res, error, retryAfter ? { 'Retry-After': String(retryAfter) } : {});
  }
}

export function externalRoutes(deps: ExternalRouteDeps): RawRoute[] {
  const notFound = (res: ServerResponse, message: string) =>
    sendJson(res, 404, { error: message, code: 'not_found' }, PRIVATE);
  return [
    {
      method: 'POST',
      match: pathParam('/v1/callbacks/'),
      handle: (req: IncomingMessage, res: ServerResponse, callbackId: string, meta: RequestMeta) => {
        if (!CREDENTIAL.test(callbackId)) return Promise.resolve(notFound(res, 'Invalid or expired callback ID'));
        return guarded(res, async () => {
          const raw = await readBody(req, deps.maxCallbackBytes);
          const json = parseJson(raw);
          const headers = keptCallbackHeaders(req.headers);
          const payload = { raw: raw.toString('utf8'), json, headers };
          reply(
            res,
            await acceptCallback(deps.orm, deps.effects, callbackId, payload, () => limit(deps.callbackLimiter, meta)),
          );
        });
      },
    },
    {
      method: 'POST',
      match: pathParam('/v1/signals/'),
      handle: (req: IncomingMessage, res: ServerResponse, token: string, meta: RequestMeta) => {
        if (!CREDENTIAL.test(token)) return Promise.resolve(notFound(res, 'Invalid or expired signal token'));
        return guarded(res, async () => {
          const body = parseJson(await readBody(req, MAX_SIGNAL_BYTES));
          const parsed = signalBodySchema.safeParse(body);
          if (!parsed.success) {
            const details = zodIssuesToDetails(parsed.error.issues);
            throw new AppError(
              'validation_failed',
              `Invalid signal: ${details.map((d) => d.path || '(body)').join(', ')}`,
              {
                details,
              },
            );
          }
          const signal =
            parsed.data.status === 'completed'
              ? { status: 'completed' as const, result: parsed.data.result }
              : { status: 'failed' as const, error: parsed.data.error ?? 'Failed by signal' };
          const hash = createHash('sha256').update(token).digest('hex');
          reply(res, await acceptSignal(deps.orm, deps.effects, hash, signal, () => limit(deps.signalLimiter, meta)));
        });
      },
    },
  ];
}
