/** Stable machine codes of every error the API can return; `api/error-mapping.ts` maps them to HTTP. */
export type ErrorCode =
  | 'validation_failed'
  | 'unauthorized'
  | 'not_found'
  | 'conflict'
  | 'idempotency_conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'internal_error';

export type ErrorDetail = { path: string; message: string };

/** The one error type of the domain: a human message, a code, and for validation the bad fields. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetail[] | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, extra: { details?: ErrorDetail[]; retryAfterSeconds?: number } = {}) {
    // An AppError is an answer (401, 404, 429…), not a bug: no stack trace is captured. Capturing
    // one is the most expensive part of refusing a request, and a flood of refused requests must
    // stay cheap. Unexpected errors keep their stacks.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'AppError';
    this.code = code;
    this.details = extra.details;
    this.retryAfterSeconds = extra.retryAfterSeconds;
  }
}

export function validationError(details: ErrorDetail[]): AppError {
  const fields = [...new Set(details.map((d) => d.path || '(body)'))].join(', ');
  return new AppError('validation_failed', `Invalid request: ${fields}`, { details });
}
