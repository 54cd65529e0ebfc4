import type { IncomingMessage, ServerResponse } from 'node:http';
import { createOpenApiNodeHttpHandler } from 'trpc-to-openapi';
import { AppError } from '../shared/app-error.ts';
import { admitRequest } from './admission.ts';
import { type ApiServices, contextFactory } from './context.ts';
import { httpStatusOf, type RestErrorBody, restErrorBody } from './error-mapping.ts';
import {
  type BodyLimits,
  closeAfterResponse,
  isJsonContentType,
  parseJson,
  readBody,
  replyUnreadBody,
} from './read-body.ts';
import { attachMeta, type RequestMeta, responseMetaFromContext } from './request-meta.ts';
import type { AppRouter } from './routers/app-router.ts';
import { sendJson } from './send-json.ts';
import { keepBodyTypesStrict } from './strict-body-types.ts';

/** Why +64 KiB: the JSON envelope around a 1 MiB task body may add that much before 413. */
const ENVELOPE_ALLOWANCE = 64 * 1024;
/** Why 30 s: 1 MiB arrives in ~4 s even over a 2 Mbit/s link; a client trickling it is cut (408). */
const BODY_READ_TIMEOUT_MS = 30_000;

type Captured = { statusCode: number; headers: Record<string, string>; body: string };

/**
 * REST (/v1) through trpc-to-openapi. A request with a body is authenticated (key present,
 * well-formed, known; rate limit taken) BEFORE its body is read, so a stranger's large bodies cost
 * no reading or parsing. We read and check the body ourselves (413, 415, 400 with our messages),
 * parse it ONCE and hand the adapter a Fetch Request carrying the parsed value, capture its answer,
 * and rewrite error bodies to exactly `{error, code?, details?}` — the adapter's own error shape
 * leaks tRPC internals.
 */
export function createRestHandler(opts: { router: AppRouter; services: ApiServices; maxBodyBytes: number }) {
  keepBodyTypesStrict(opts.router);
  const handler = createOpenApiNodeHttpHandler({
    router: opts.router,
    createContext: contextFactory(opts.services) as never,
    responseMeta: responseMetaFromContext,
  });
  const limits = { maxBytes: opts.maxBodyBytes + ENVELOPE_ALLOWANCE, timeoutMs: BODY_READ_TIMEOUT_MS };

  return async (req: IncomingMessage, res: ServerResponse, meta: RequestMeta): Promise<void> => {
    let request: Request;
    try {
      request = await toFetchRequest(req, meta, limits, opts.services);
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
    const captured: Captured = { statusCode: 200, headers: {}, body: '' };
    await handler(request as never, captureResponse(captured) as never);
    writeCaptured(res, captured);
  };
}

async function toFetchRequest(
  req: IncomingMessage,
  meta: RequestMeta,
  limits: BodyLimits,
  services: ApiServices,
): Promise<Request> {
  const method = req.method ?? 'GET';
  const url = `http://localhost${req.url ?? '/'}`;
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value);
  }
  if (method === 'GET' || method === 'HEAD' || method === 'DELETE') {
    return new Request(url, { method, headers, signal: meta.signal });
  }
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
  headers.set('content-type', 'application/json');
  headers.delete('content-length');
  headers.delete('transfer-encoding');
  const request = new Request(url, { method, headers, signal: meta.signal });
  // The adapter takes an own `body` that is not a stream as the already-parsed input: parsed once.
  Object.defineProperty(request, 'body', { value });
  return request;
}

function sendsBody(req: IncomingMessage): boolean {
  return Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
}

function captureResponse(target: Captured) {
  return {
    set statusCode(code: number) {
      target.statusCode = code;
    },
    get statusCode() {
      return target.statusCode;
    },
    setHeader(name: string, value: string | number) {
      target.headers[name] = String(value);
    },
    end(body?: string) {
      target.body = body ?? '';
    },
  };
}

function writeCaptured(res: ServerResponse, captured: Captured): void {
  for (const [name, value] of Object.entries(captured.headers)) res.setHeader(name, value);
  if (captured.statusCode < 400) {
    res.statusCode = captured.statusCode;
    res.setHeader('Content-Type', 'application/json');
    res.end(captured.body);
    return;
  }
  let body: RestErrorBody = { error: 'Internal server error', code: 'internal_error' };
  try {
    const parsed = JSON.parse(captured.body) as { data?: { aq?: RestErrorBody } };
    if (parsed.data?.aq) body = parsed.data.aq;
  } catch {
    // keep the generic 500 body
  }
  sendJson(res, body.code ? httpStatusOf(body) : captured.statusCode, body);
}
