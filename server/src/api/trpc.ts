import { initTRPC } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { AppError } from '../shared/app-error.ts';
import { admitRequest } from './admission.ts';
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

/** A domain error becomes a TRPCError with the right code, so both transports answer the right status. */
function bridged<R extends { ok: boolean }>(result: R): R {
  const cause = result.ok ? undefined : (result as { error?: { cause?: unknown } }).error?.cause;
  if (cause instanceof AppError) throw toTRPCError(cause);
  return result;
}

export const publicProcedure = t.procedure.use(async ({ next }) => bridged(await next()));

/**
 * Auth first (401s spend no team's budget), then the per-team limit: once per HTTP request. The
 * error bridge is in the same middleware (one level of tRPC's middleware chain, not two: each level
 * copies the call's options and context).
 */
export const authedProcedure = t.procedure.use(async ({ ctx, next }) => {
  let principal: Awaited<ReturnType<typeof admitRequest>>;
  try {
    principal = await admitRequest(ctx.services, ctx.meta);
  } catch (error) {
    throw error instanceof AppError ? toTRPCError(error) : error;
  }
  return bridged(await next({ ctx: { principal } }));
});
