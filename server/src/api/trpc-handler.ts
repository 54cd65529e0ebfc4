import type { IncomingMessage, ServerResponse } from 'node:http';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { internal_exceptionHandler } from '@trpc/server/adapters/node-http';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { type ApiServices, contextFactory } from './context.ts';
import { closeAfterResponse } from './read-body.ts';
import { attachMeta, type RequestMeta, responseMetaFromContext } from './request-meta.ts';
import type { AppRouter } from './routers/app-router.ts';
import { sendJson } from './send-json.ts';
import { trpcFetchRequest, writeFetchResponse } from './trpc-fetch-io.ts';

/** Why +64 KiB: the same envelope allowance as REST, so both transports accept the same tasks. */
const ENVELOPE_ALLOWANCE = 64 * 1024;
/**
 * Why 20: a batch runs its procedures concurrently, so one request naming hundreds of procedures
 * would be hundreds of units of work for one rate-limit point. The SDK sends one call per request
 * (httpLink, no batching); a client that batches (httpBatchLink) must set maxItems ≤ 20.
 */
export const MAX_BATCH_SIZE = 20;

/** tRPC's JSON-RPC error numbers for the two answers given before tRPC runs. */
const RPC_CODES = { NOT_FOUND: -32004, BAD_REQUEST: -32600 } as const;

function rpcError(code: keyof typeof RPC_CODES, httpStatus: number, message: string, path?: string) {
  return { error: { message, code: RPC_CODES[code], data: { code, httpStatus, ...(path ? { path } : {}) } } };
}

/**
 * What a request path names, judged before tRPC runs: a batch over the cap (400), or only
 * procedures the router does not have (404), answered in tRPC's own error shape without building
 * a context, a caller or an error with a stack — a stranger's flood of random names stays cheap.
 * Anything else (known names, a mix) is tRPC's to answer.
 */
function refuseEarly(pathname: string, isBatch: boolean, procedures: ReadonlySet<string>) {
  const names = decodeURIComponent(pathname.slice('/trpc/'.length)).split(',');
  if (isBatch && names.length > MAX_BATCH_SIZE) {
    return {
      status: 400,
      body: rpcError('BAD_REQUEST', 400, `Batch too large: at most ${MAX_BATCH_SIZE} calls per request`),
    };
  }
  if (names.some((name) => procedures.has(name))) return null;
  if (!isBatch && names.length > 1) return null;
  const each = names.map((name) => rpcError('NOT_FOUND', 404, `No procedure found on path "${name}"`, name));
  return { status: 404, body: isBatch ? each : each[0] };
}

/**
 * tRPC at /trpc/* (the SDK's transport), same procedures and context as REST. A GET or a JSON POST
 * that wants no streamed answer goes through tRPC's fetch handler with a light request and its
 * answer is written in one write (trpc-fetch-io.ts); anything else through the stock Node adapter.
 */
export function createTrpcHandler(opts: { router: AppRouter; services: ApiServices; maxBodyBytes: number }) {
  const procedures = new Set(Object.keys(opts.router._def.procedures));
  const maxBodySize = opts.maxBodyBytes + ENVELOPE_ALLOWANCE;
  const createContext = contextFactory(opts.services) as never;
  const handler = createHTTPHandler({
    router: opts.router,
    basePath: '/trpc/',
    maxBodySize,
    maxBatchSize: MAX_BATCH_SIZE,
    createContext,
    responseMeta: responseMetaFromContext,
  });
  const fetchOptions = {
    router: opts.router,
    endpoint: '/trpc',
    maxBatchSize: MAX_BATCH_SIZE,
    createContext,
    responseMeta: responseMetaFromContext,
  };
  return (req: IncomingMessage, res: ServerResponse, meta: RequestMeta): Promise<void> | undefined => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let early: ReturnType<typeof refuseEarly>;
    try {
      early = refuseEarly(url.pathname, url.searchParams.get('batch') === '1', procedures);
    } catch {
      // A malformed percent-escape: no procedure can have that name.
      early = { status: 404, body: rpcError('NOT_FOUND', 404, 'No procedure found on this path') };
    }
    if (early) {
      // A body still on its way is not read: the connection closes once the answer is out.
      if (!req.complete) closeAfterResponse(req, res);
      sendJson(res, early.status, early.body);
      return;
    }
    const request = trpcFetchRequest(req, meta, maxBodySize);
    if (!request) {
      attachMeta(req, meta);
      handler(req, res);
      return;
    }
    attachMeta(request, meta);
    return fetchRequestHandler({ ...fetchOptions, req: request })
      .then((response) => writeFetchResponse(res, response))
      .catch(internal_exceptionHandler({ router: opts.router, req, res, path: '', createContext }));
  };
}
