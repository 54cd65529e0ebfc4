import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MikroORM } from '@mikro-orm/postgresql';
import { admitRequest } from '../api/admission.ts';
import type { ApiServices } from '../api/context.ts';
import { httpStatusOf } from '../api/error-mapping.ts';
import type { RawRoute } from '../api/http-server.ts';
import type { RequestMeta } from '../api/request-meta.ts';
import { sendJson } from '../api/send-json.ts';
import { AppError } from '../shared/app-error.ts';
import { zodIssuesToDetails } from '../shared/zod-details.ts';
import { parseLastEventId } from './event-cursor.ts';
import type { EventHub } from './event-hub.ts';
import { replayChanges } from './event-replay.ts';
import { createEventStream, type EventFilter } from './event-stream.ts';
import { eventsQuerySchema } from './events-query.ts';

export const EVENTS_PATH = '/v1/events';

/** Why 2 s: how long an EventSource waits before reconnecting after the stream ends (e.g. a restart). */
const RECONNECT_DELAY_MS = 2_000;
/** Why 5 s: a full server or team frees streams as clients leave; retrying sooner only adds load. */
const FULL_RETRY_AFTER_SECONDS = 5;

export type EventsRouteDeps = { orm: MikroORM; services: ApiServices; hub: EventHub };

/** GET /v1/events: authenticated like the REST API, then a Server-Sent Events stream of task changes. */
export function eventsRoute(deps: EventsRouteDeps): RawRoute {
  return {
    method: 'GET',
    match: (pathname) => (pathname === EVENTS_PATH ? '' : null),
    handle: async (req, res, _param, meta) => {
      try {
        const principal = await admitRequest(deps.services, meta);
        const asked = readQuery(req, meta);
        await openStream(deps, res, meta, { teamId: principal.teamId, ...asked.filter }, asked.cursor);
      } catch (error) {
        if (!(error instanceof AppError) || res.headersSent) throw error;
        replyError(res, meta, error);
      }
    },
  };
}

function readQuery(req: IncomingMessage, meta: RequestMeta) {
  const query = Object.fromEntries(new URL(req.url ?? '/', 'http://localhost').searchParams);
  const parsed = eventsQuerySchema.safeParse(query);
  if (!parsed.success) {
    const details = zodIssuesToDetails(parsed.error.issues);
    throw new AppError('validation_failed', details.map((d) => d.message).join('; '), { details });
  }
  const { taskId, status, lastEventId } = parsed.data;
  const resumeFrom = meta.header('last-event-id') ?? lastEventId;
  return { filter: { taskId, status }, cursor: resumeFrom ? parseLastEventId(resumeFrom) : null };
}

async function openStream(
  deps: EventsRouteDeps,
  res: ServerResponse,
  meta: RequestMeta,
  filter: EventFilter,
  cursor: bigint | null,
): Promise<void> {
  const stream = createEventStream(res, filter, () => deps.hub.remove(stream));
  const added = deps.hub.add(stream);
  if (added === 'team_full') {
    throw new AppError('rate_limited', 'Too many open event streams for this team: close one, or retry later', {
      retryAfterSeconds: FULL_RETRY_AFTER_SECONDS,
    });
  }
  if (added === 'server_full') {
    sendJson(res, 503, { error: 'This server has too many open event streams: retry shortly' }, retryAfter());
    return;
  }
  res.writeHead(200, {
    ...meta.responseHeaders,
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    Connection: 'keep-alive',
    // Nginx buffers responses unless told not to: events would arrive in bursts, late.
    'X-Accel-Buffering': 'no',
  });
  // The first bytes confirm the subscription: live changes from here on reach this stream.
  res.write(`retry: ${RECONNECT_DELAY_MS}\n: connected\n\n`);
  if (cursor !== null) await replayChanges(deps.orm, stream, cursor);
  stream.goLive();
}

function retryAfter(): Record<string, string> {
  return { 'Retry-After': String(FULL_RETRY_AFTER_SECONDS), 'Cache-Control': 'no-store' };
}

function replyError(res: ServerResponse, meta: RequestMeta, error: AppError): void {
  const body = { error: error.message, code: error.code, ...(error.details ? { details: error.details } : {}) };
  const headers: Record<string, string> = { ...meta.responseHeaders, 'Cache-Control': 'no-store' };
  if (error.retryAfterSeconds) headers['Retry-After'] = String(error.retryAfterSeconds);
  sendJson(res, httpStatusOf(body), body, headers);
}
