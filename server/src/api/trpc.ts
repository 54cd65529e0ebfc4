import { initTRPC } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { readApiKey } from '../auth/authenticate.ts';
import { AppError } from '../shared/app-error.ts';
import type { Context } from './context.ts';
import { restErrorBody, toTRPCError } from './error-mapping.ts';

/** tRPC is initialised once, here. Errors carry the REST body in `data.aq` for every client. */
const t = initTRPC
  .context<Context>()
  .meta<OpenApiMeta>()
  .create({
    isDev: false,
    errorFormatter({ shape, error }) {
      return { ...shape, data: { code: shape.data.code, httpStatus: shape.data.httpStatus, aq: restErrorBody(error) } };
    },
  });

export const router = t.router;

/** Domain errors become TRPCErrors with the right code, so both transports answer the right status. */
const errorBridge = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof AppError) throw toTRPCError(result.error.cause);
  return result;
});

export const publicProcedure = t.procedure.use(errorBridge);

/** Auth first (401s are not counted), then the per-team limit; headers on every authed response. */
export const authedProcedure = publicProcedure.use(async ({ ctx, next }) => {
  const { principal, decision } = await ctx.services.admit(readApiKey(ctx.meta.header));
  const headers = ctx.meta.responseHeaders;
  headers['X-RateLimit-Limit'] = String(decision.limit);
  headers['X-RateLimit-Remaining'] = String(decision.remaining);
  headers['X-RateLimit-Reset'] = String(decision.resetAt);
  if (!decision.allowed) {
    headers['Retry-After'] = String(decision.retryAfter);
    throw new AppError('rate_limited', `Rate limit exceeded: retry after ${decision.retryAfter} s`, {
      retryAfterSeconds: decision.retryAfter,
    });
  }
  return next({ ctx: { ...ctx, principal } });
});
