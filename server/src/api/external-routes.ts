import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { RateLimiter } from '../ratelimit/rate-limiter.ts';
import { AppError } from '../shared/app-error.ts';
import { noNul } from '../shared/no-nul.ts';
import { zodIssuesToDetails } from '../shared/zod-details.ts';
import {
  acceptCallback,
  acceptSignal,
  type CredentialLookup,
  type ExternalOutcome,
  isUnknownCredential,
  keptCallbackHeaders,
  lookupCredential,
} from '../tasks/external-results.ts';
import type { TaskLifecycle } from '../tasks/task-lifecycle.ts';
import type { BodyReadSlots } from './body-read-slots.ts';
import { httpStatusOf } from './error-mapping.ts';
import { type CredentialKind, storedCredential } from './external-credentials.ts';
import type { RawRoute } from './http-server.ts';
import {
  bodyTooLarge,
  closeAfterResponse,
  declaredTooLarge,
  parseJson,
  readBody,
  replyUnreadBody,
} from './read-body.ts';
import type { RequestMeta } from './request-meta.ts';
import { sendJson } from './send-json.ts';

/** Callback ids and signal tokens: 64 lowercase hex. Anything else is 404 before any query. */
const CREDENTIAL = /^[0-9a-f]{64}$/;
/** Why 64 KiB: a signal is a small JSON decision, not a payload store. */
const MAX_SIGNAL_BYTES = 64 * 1024;
/** Why 30 s: the largest callback (5 MiB by default) arrives in ~20 s even over a 2 Mbit/s link. */
const BODY_READ_TIMEOUT_MS = 30_000;
/** Why 5 s: slots free up in milliseconds normally; a longer wait only holds the connection open. */
const SLOT_WAIT_MS = 5_000;

const signalBodySchema = z.discriminatedUnion(
  'status',
  [
    z.strictObject({
      status: z.literal('completed'),
      result: z.unknown().optional(),
      error: noNul(z.string()).optional(),
    }),
    z.strictObject({
      status: z.literal('failed'),
      result: z.unknown().optional(),
      error: noNul(z.string().max(10_000)).optional(),
    }),
  ],
  { error: 'status must be "completed" or "failed"' },
);

export type ExternalRouteDeps = {
  lifecycle: TaskLifecycle;
  callbackLimiter: RateLimiter;
  signalLimiter: RateLimiter;
  maxCallbackBytes: number;
  /** Process-wide cap on callback/signal bodies read at once (see body-read-slots.ts). */
  bodySlots: BodyReadSlots;
};

/** Headers every answer of these unauthenticated routes carries: the URL itself is a credential. */
const PRIVATE = { 'Referrer-Policy': 'no-referrer', 'Cache-Control': 'no-store' };

type Route = {
  kind: CredentialKind;
  prefix: string;
  notFound: string;
  limiter: RateLimiter;
  maxBytes: number;
  /** Parses the body and settles the request (the credential is known to be live). */
  accept: (
    req: IncomingMessage,
    raw: Buffer,
    stored: string,
    found: CredentialLookup | undefined,
  ) => Promise<ExternalOutcome>;
};

/**
 * Everything before the body is cheap and bounded: the id's format (no query), the per-IP budget,
 * one indexed look-up of the credential, then a slot among the few bodies read at once. Only then
 * is the body read, within a size and a time limit.
 */
function rawRoute(deps: ExternalRouteDeps, route: Route): RawRoute {
  return {
    method: 'POST',
    match: pathParam(route.prefix),
    handle: (req, res, presented, meta) =>
      guarded(req, res, async () => {
        if (!CREDENTIAL.test(presented))
          return answerEarly(req, res, 404, { error: route.notFound, code: 'not_found' });
        if (declaredTooLarge(req, route.maxBytes)) throw bodyTooLarge(route.maxBytes);
        await limit(route.limiter, meta);
        const stored = storedCredential(route.kind, presented);
        const found = await lookupCredential(deps.lifecycle, stored.column, stored.value);
        if (isUnknownCredential(found)) {
          return answerEarly(req, res, 404, { error: route.notFound, code: 'not_found' });
        }
        const release = await deps.bodySlots.acquire(SLOT_WAIT_MS);
        if (!release) {
          const busy = { error: 'Too many request bodies are being received at once; retry shortly' };
          return answerEarly(req, res, 503, busy, { 'Retry-After': '1' });
        }
        let raw: Buffer;
        try {
          raw = await readBody(req, { maxBytes: route.maxBytes, timeoutMs: BODY_READ_TIMEOUT_MS });
        } finally {
          release();
        }
        reply(res, await route.accept(req, raw, stored.value, found));
      }),
  };
}

export function externalRoutes(deps: ExternalRouteDeps): RawRoute[] {
  const callbacks: Route = {
    kind: 'callback',
    prefix: '/v1/callbacks/',
    notFound: 'Invalid or expired callback ID',
    limiter: deps.callbackLimiter,
    maxBytes: deps.maxCallbackBytes,
    accept: (req, raw, stored, found) => {
      const payload = { raw: raw.toString('utf8'), json: parseJson(raw), headers: keptCallbackHeaders(req.headers) };
      return acceptCallback(deps.lifecycle, stored, payload, found);
    },
  };
  const signals: Route = {
    kind: 'signal',
    prefix: '/v1/signals/',
    notFound: 'Invalid or expired signal token',
    limiter: deps.signalLimiter,
    maxBytes: MAX_SIGNAL_BYTES,
    accept: (_req, raw, stored, found) => acceptSignal(deps.lifecycle, stored, parseSignal(parseJson(raw)), found),
  };
  return [rawRoute(deps, callbacks), rawRoute(deps, signals)];
}

function parseSignal(body: unknown) {
  const parsed = signalBodySchema.safeParse(body);
  if (!parsed.success) {
    const details = zodIssuesToDetails(parsed.error.issues);
    throw new AppError('validation_failed', `Invalid signal: ${details.map((d) => d.path || '(body)').join(', ')}`, {
      details,
    });
  }
  return parsed.data.status === 'completed'
    ? { status: 'completed' as const, result: parsed.data.result }
    : { status: 'failed' as const, error: parsed.data.error ?? 'Failed by signal' };
}

function reply(res: ServerResponse, outcome: ExternalOutcome): void {
  if ('task' in outcome) sendJson(res, outcome.status, { task: outcome.task }, PRIVATE);
  else sendJson(res, outcome.status, { error: outcome.error, code: outcome.code }, PRIVATE);
}

/** An answer sent before the body was read: the connection closes after it (see read-body.ts). */
function answerEarly(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
): void {
  if (!req.complete) closeAfterResponse(req, res);
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

async function guarded(req: IncomingMessage, res: ServerResponse, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (replyUnreadBody(req, res, error, PRIVATE)) return;
    if (!(error instanceof AppError)) throw error;
    const body = { error: error.message, code: error.code, ...(error.details ? { details: error.details } : {}) };
    const status = httpStatusOf(body);
    const retryAfter: Record<string, string> = error.retryAfterSeconds
      ? { 'Retry-After': String(error.retryAfterSeconds) }
      : {};
    answerEarly(req, res, status, body, retryAfter);
  }
}
