import type { IncomingMessage, ServerResponse } from 'node:http';
import { createOpenApiNodeHttpHandler } from 'trpc-to-openapi';
import { AppError } from '../shared/app-error.ts';
import { type ApiServices, contextFactory } from './context.ts';
import { httpStatusOf, type RestErrorBody, restErrorBody } from './error-mapping.ts';
import { isJsonContentType, parseJson, readBody } from './read-body.ts';
import { attachMeta, type RequestMeta, responseMetaFromContext } from './request-meta.ts';
import type { AppRouter } from './routers/app-router.ts';
import { sendJson } from './send-json.ts';
import { keepBodyTypesStrict } from './strict-body-types.ts';

/** Why +64 KiB: SPEC §3 — the JSON envelope around a 1 MiB body may add that much before 413. */
const ENVELOPE_ALLOWANCE = 64 * 1024;

type Captured = { statusCode: number; headers: Record<string, string>; body: string };

/**
 * REST (/v1) through trpc-to-openapi. We read and check the body ourselves (413, 415, 400 with our
 * messages), hand the adapter a Fetch Request, capture its answer, and rewrite error bodies to
 * exactly `{error, code?, details?}` — the adapter's own error shape leaks tRPC internals.
 */
export function createRestHandler(opts: { router: AppRouter; services: ApiServices; maxBodyBytes: number }) {
  keepBodyTypesStrict(opts.router);
  const handler = createOpenApiNodeHttpHandler({
    router: opts.router,
    createContext: contextFactory(opts.services) as never,
    responseMeta: responseMetaFromContext,
  });
  const limit = opts.maxBodyBytes + ENVELOPE_ALLOWANCE;

  return async (req: IncomingMessage, res: ServerResponse, meta: RequestMeta): Promise<void> => {
    let request: Request;
    try {
      request = await toFetchRequest(req, meta, limit);
    } catch (error) {
      const body = restErrorBody(
        error instanceof AppError ? error : new AppError('internal_error', 'Internal server error'),
      );
      sendJson(res, httpStatusOf(body), body);
      return;
    }
    attachMeta(request, meta);
    const captured: Captured = { statusCode: 200, headers: {}, body: '' };
    await handler(request as never, captureResponse(captured) as never);
    writeCaptured(res, captured);
  };
}

async function toFetchRequest(req: IncomingMessage, meta: RequestMeta, limit: number): Promise<Request> {
  const method = req.method ?? 'GET';
  const url = `http://localhost${req.url ?? '/'}`;
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value);
  }
  if (method === 'GET' || method === 'HEAD' || method === 'DELETE') {
    return new Request(url, { method, headers, signal: meta.signal });
  }
  const raw = await readBody(req, limit);
  if (raw.length > 0 && !isJsonContentType(meta.header('content-type'))) {
    throw new AppError('unsupported_media_type', 'Content-Type must be application/json');
  }
  // An empty body (e.g. POST …/cancel from curl) is an empty JSON object.
  // Checked here (so a bad body is our 400, not the adapter's 500), then passed on as received.
  let body = '{}';
  if (raw.length > 0) {
    body = raw.toString('utf8');
    parseJson(raw);
  }
  headers.set('content-type', 'application/json');
  headers.delete('content-length');
  return new Request(url, { method, headers, body, signal: meta.signal });
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
