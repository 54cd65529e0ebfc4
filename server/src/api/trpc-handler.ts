import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { type ApiServices, contextFactory } from './context.ts';
import { attachMeta, type RequestMeta, responseMetaFromContext } from './request-meta.ts';
import type { AppRouter } from './routers/app-router.ts';

/** Why +64 KiB: the same envelope allowance as REST, so both transports accept the same tasks. */
const ENVELOPE_ALLOWANCE = 64 * 1024;
/**
 * Why 20: a batch runs its procedures concurrently, so one request naming hundreds of procedures
 * would be hundreds of units of work for one rate-limit point. The SDK sends one call per request
 * (httpLink, no batching); a client that batches (httpBatchLink) must set maxItems ≤ 20.
 */
export const MAX_BATCH_SIZE = 20;

/** tRPC at /trpc/* (the SDK's transport), same procedures and context as REST. */
export function createTrpcHandler(opts: { router: AppRouter; services: ApiServices; maxBodyBytes: number }) {
  const handler = createHTTPHandler({
    router: opts.router,
    basePath: '/trpc/',
    maxBodySize: opts.maxBodyBytes + ENVELOPE_ALLOWANCE,
    maxBatchSize: MAX_BATCH_SIZE,
    createContext: contextFactory(opts.services) as never,
    responseMeta: responseMetaFromContext,
  });
  return (req: IncomingMessage, res: ServerResponse, meta: RequestMeta): void => {
    attachMeta(req, meta);
    handler(req, res);
  };
}
