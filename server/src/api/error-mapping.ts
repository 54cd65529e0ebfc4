import { TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { AppError, type ErrorCode, type ErrorDetail } from '../shared/app-error.ts';
import { zodIssuesToDetails } from '../shared/zod-details.ts';

/** The REST error body: always `{error, code?, details?}`. */
export type RestErrorBody = { error: string; code?: ErrorCode; details?: ErrorDetail[] };

/** The one table from domain codes to HTTP statuses and tRPC codes. */
export const ERROR_CODES: Record<ErrorCode, { http: number; trpc: TRPC_ERROR_CODE_KEY }> = {
  validation_failed: { http: 400, trpc: 'BAD_REQUEST' },
  unauthorized: { http: 401, trpc: 'UNAUTHORIZED' },
  not_found: { http: 404, trpc: 'NOT_FOUND' },
  conflict: { http: 409, trpc: 'CONFLICT' },
  idempotency_conflict: { http: 409, trpc: 'CONFLICT' },
  payload_too_large: { http: 413, trpc: 'PAYLOAD_TOO_LARGE' },
  unsupported_media_type: { http: 415, trpc: 'UNSUPPORTED_MEDIA_TYPE' },
  rate_limited: { http: 429, trpc: 'TOO_MANY_REQUESTS' },
  internal_error: { http: 500, trpc: 'INTERNAL_SERVER_ERROR' },
};

export function toTRPCError(error: AppError): TRPCError {
  return new TRPCError({ code: ERROR_CODES[error.code].trpc, message: error.message, cause: error });
}

const isZodError = (e: unknown): e is Error & { issues: never[] } =>
  e instanceof Error && e.name === 'ZodError' && Array.isArray((e as { issues?: unknown }).issues);

/** Errors raised by tRPC or trpc-to-openapi themselves (no AppError behind them). */
const FRAMEWORK_ERRORS: Partial<Record<TRPC_ERROR_CODE_KEY, RestErrorBody>> = {
  NOT_FOUND: { error: 'Not found: no such route; see /docs for the API', code: 'not_found' },
  PARSE_ERROR: { error: 'Request body is not valid JSON', code: 'validation_failed' },
  PAYLOAD_TOO_LARGE: { error: 'Request body too large', code: 'payload_too_large' },
  UNSUPPORTED_MEDIA_TYPE: { error: 'Content-Type must be application/json', code: 'unsupported_media_type' },
  METHOD_NOT_SUPPORTED: { error: 'Method not allowed on this route', code: 'not_found' },
};

/**
 * Any error → the REST body. Unexpected errors become a bare 500 message: no stack, no internals.
 */
export function restErrorBody(error: unknown): RestErrorBody {
  const cause = error instanceof TRPCError ? error.cause : error;
  if (cause instanceof AppError) {
    return { error: cause.message, code: cause.code, ...(cause.details ? { details: cause.details } : {}) };
  }
  if (isZodError(cause)) {
    const details = zodIssuesToDetails(cause.issues);
    const fields = [...new Set(details.map((d) => d.path || '(body)'))].join(', ');
    return { error: `Invalid request: ${fields}`, code: 'validation_failed', details };
  }
  // tRPC's own input refusals (a batch over the size cap, a bad batch shape) say what is wrong.
  if (error instanceof TRPCError && error.code === 'BAD_REQUEST') {
    return { error: `Bad request: ${error.message}`, code: 'validation_failed' };
  }
  if (error instanceof TRPCError && FRAMEWORK_ERRORS[error.code]) {
    return FRAMEWORK_ERRORS[error.code] as RestErrorBody;
  }
  return { error: 'Internal server error', code: 'internal_error' };
}

export function httpStatusOf(body: RestErrorBody): number {
  return body.code ? ERROR_CODES[body.code].http : 500;
}
