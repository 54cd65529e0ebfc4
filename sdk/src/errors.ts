import type { Task } from './generated/api-types.ts';

/** One bad field of a rejected request: a dot path (`maxRetries`, `headers.X-Foo`, `""` for the body). */
export type ErrorDetail = { path: string; message: string };

type ErrorInit = {
  status?: number | undefined;
  code: string;
  retryAfter?: number | undefined;
  details?: ErrorDetail[] | undefined;
  requestId?: string | undefined;
  cause?: unknown;
};

/**
 * Base class of every error the SDK throws. `code` is the API's lower-case machine code
 * (`validation_failed`, `not_found`, `rate_limited`…) or the SDK's own (`connection_error`,
 * `timeout`, `wait_timeout`, `webhook_verification_failed`). Each subclass is named after itself
 * (`error.name`), so the subclasses below are one line each.
 */
export class AsyncQueueError extends Error {
  /** HTTP status of the answer, or `undefined` when there was none (connection error, wait timeout). */
  readonly status: number | undefined;
  /** Stable machine code, lower case. */
  readonly code: string;
  /** Seconds the server asked to wait before trying again (`Retry-After`), when it did. */
  readonly retryAfter: number | undefined;
  /** For validation errors: each bad field. */
  readonly details: ErrorDetail[] | undefined;
  /** The server's `X-Request-Id`, to find the request in its logs. */
  readonly requestId: string | undefined;

  constructor(message: string, init: ErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.status = init.status;
    this.code = init.code;
    this.retryAfter = init.retryAfter;
    this.details = init.details;
    this.requestId = init.requestId;
  }
}

/** The server answered with an error status. Subclasses name the common ones; `generate` picks one. */
export class APIError extends AsyncQueueError {
  declare readonly status: number;
  /** An answer always has a status. */
  constructor(message: string, init: ErrorInit & { status: number }) {
    super(message, init);
  }

  /** The error for an HTTP error answer: its status's class (below), else `APIError` itself. */
  static generate(
    status: number,
    body: { error?: unknown; code?: unknown; details?: unknown } | undefined,
    extra: { retryAfter?: number | undefined; requestId?: string | undefined; cause?: unknown } = {},
  ): APIError {
    const Class = BY_STATUS[status] ?? APIError;
    const message = typeof body?.error === 'string' ? body.error : `HTTP ${status}`;
    const fallback = DEFAULT_CODES[status] ?? (status >= 500 ? 'server_error' : 'http_error');
    const code = typeof body?.code === 'string' ? body.code : fallback;
    const details = Array.isArray(body?.details) ? (body.details as ErrorDetail[]) : undefined;
    return new Class(message, { status, code, details, ...extra });
  }
}

/** 400: the request was invalid; `details` lists each bad field. */
export class ValidationError extends APIError {}
/** 401: the API key is missing, malformed, unknown or revoked. */
export class AuthenticationError extends APIError {}
/** 404: no such task, token or route (another team's task is also "not found"). */
export class NotFoundError extends APIError {}
/** 409: the task is in the wrong state, or an idempotency key was reused with another request. */
export class ConflictError extends APIError {}
/** 429: the team's (or the caller IP's) rate limit is spent; `retryAfter` says for how long. */
export class RateLimitError extends APIError {}

/** Each status's class, and its code when the body names none. */
const BY_STATUS: Record<number, typeof APIError> = {
  400: ValidationError,
  401: AuthenticationError,
  404: NotFoundError,
  409: ConflictError,
  429: RateLimitError,
};
const DEFAULT_CODES: Record<number, string> = {
  400: 'validation_failed',
  401: 'unauthorized',
  404: 'not_found',
  409: 'conflict',
  429: 'rate_limited',
};

/** The server could not be reached, the connection broke, or the request timed out (`code: 'timeout'`). */
export class ConnectionError extends AsyncQueueError {
  constructor(message: string, init: Partial<ErrorInit> = {}) {
    super(message, { code: 'connection_error', ...init });
  }
}

/** `tasks.wait` reached its own deadline before the task ended. `task` is the last state seen. */
export class WaitTimeoutError extends AsyncQueueError {
  readonly taskId: string;
  readonly task: Task | undefined;
  constructor(taskId: string, timeoutMs: number, task: Task | undefined) {
    super(`Task ${taskId} did not finish within ${timeoutMs} ms (last status: ${task?.status ?? 'unknown'})`, {
      code: 'wait_timeout',
    });
    this.taskId = taskId;
    this.task = task;
  }
}

/** `webhooks.verify` refused a delivery: missing headers, bad signature, stale timestamp or bad body. */
export class WebhookVerificationError extends AsyncQueueError {
  constructor(message: string) {
    super(message, { code: 'webhook_verification_failed' });
  }
}
