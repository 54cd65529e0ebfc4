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

/** Domain errors become TRPCErrors with the right code, so both transports answer the right status. */
const errorBridge = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof AppError) throw toTRPCError(result.error.cause);
  return result;
});

export const publicProcedure = t.procedure.use(errorBridge);

/** Auth first (401s spend no team's budget), then the per-team limit: once per HTTP request. */
export const authedProcedure = publicProcedure.use(async ({ ctx, next }) => {
  const principal = await admitRequest(ctx.services, ctx.meta);
  return next({ ctx: { ...ctx, principal } });
});
