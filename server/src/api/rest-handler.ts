import type { IncomingMessage, ServerResponse } from 'node:http';
import { createOpenApiNodeHttpHandler } from 'trpc-to-openapi';
import { AppError } from '../shared/app-error.ts';
import { admitRequest } from './admission.ts';
import { type ApiServices, contextFactory } from './context.ts';
import { httpStatusOf, restErrorBody } from './error-mapping.ts';
import { openApiRouteTable } from './openapi-route-table.ts';
import {
  type BodyLimits,
  closeAfterResponse,
  isJsonContentType,
  parseJson,
  readBody,
  replyUnreadBody,
} from './read-body.ts';
import { attachMeta, type RequestMeta, responseMetaFromContext } from './request-meta.ts';
import { adapterRequest, adapterResponse } from './rest-adapter-io.ts';
import type { AppRouter } from './routers/app-router.ts';
import { sendJson } from './send-json.ts';
import { keepBodyTypesStrict } from './strict-body-types.ts';

/** Why +64 KiB: the JSON envelope around a 1 MiB task body may add that much before 413. */
const ENVELOPE_ALLOWANCE = 64 * 1024;
/** Why 30 s: 1 MiB arrives in ~4 s even over a 2 Mbit/s link; a client trickling it is cut (408). */
const BODY_READ_TIMEOUT_MS = 30_000;

/**
 * REST (/v1) through trpc-to-openapi. A request with a body is authenticated (key present,
 * well-formed, known; rate limit taken) BEFORE its body is read, so a stranger's large bodies cost
 * no reading or parsing. We read and check the body ourselves (413, 415, 400 with our messages),
 * parse it ONCE and hand the adapter a request carrying the parsed value (rest-adapter-io.ts); its
 * answer goes out in one write, error bodies rewritten to exactly `{error, code?, details?}`. The
 * adapter sees the router through openapi-route-table.ts (its per-request schema walk done once).
 */
export function createRestHandler(opts: { router: AppRouter; services: ApiServices; maxBodyBytes: number }) {
  keepBodyTypesStrict(opts.router);
  const handler = createOpenApiNodeHttpHandler({
    router: openApiRouteTable(opts.router),
    createContext: contextFactory(opts.services) as never,
    responseMeta: responseMetaFromContext,
  });
  const limits = { maxBytes: opts.maxBodyBytes + ENVELOPE_ALLOWANCE, timeoutMs: BODY_READ_TIMEOUT_MS };

  return async (req: IncomingMessage, res: ServerResponse, meta: RequestMeta): Promise<void> => {
    let request: Request;
    try {
      request = await toAdapterRequest(req, meta, limits, opts.services);
    } catch (error) {
      if (replyUnreadBody(req, res, error, meta.responseHeaders)) return;
      const body = restErrorBody(
        error instanceof AppError ? error : new AppError('internal_error', 'Internal server error'),
      );
      if (!req.complete) closeAfterResponse(req, res);
      sendJson(res, httpStatusOf(body), body, meta.responseHeaders);
      return;
    }
    attachMeta(request, meta);
    await handler(request as never, adapterResponse(res) as never);
  };
}

async function toAdapterRequest(
  req: IncomingMessage,
  meta: RequestMeta,
  limits: BodyLimits,
  services: ApiServices,
): Promise<Request> {
  const method = req.method ?? 'GET';
  const target = req.url ?? '/';
  if (method === 'GET' || method === 'HEAD' || method === 'DELETE') return adapterRequest(method, target, meta, null);
  // Every /v1 route that takes a body needs a key: 401/429 here, before a byte of it is read.
  await admitRequest(services, meta);
  if (sendsBody(req) && !isJsonContentType(meta.header('content-type'))) {
    throw new AppError('unsupported_media_type', 'Content-Type must be application/json');
  }
  const raw = await readBody(req, limits);
  // An empty body (e.g. POST …/cancel from curl) is an empty JSON object.
  const value = raw.length > 0 ? parseJson(raw) : {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AppError('validation_failed', 'Invalid request: the body must be a JSON object', {
      details: [{ path: '', message: 'expected a JSON object' }],
    });
  }
  // Parsed once, here: the adapter takes the value as the input.
  return adapterRequest(method, target, meta, { contentType: 'application/json', body: value });
}

function sendsBody(req: IncomingMessage): boolean {
  return Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
}
