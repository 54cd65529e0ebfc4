import type { Task, TaskStatus } from './generated/api-types.ts';

/** Statuses a task never leaves. */
export type TerminalStatus = Extract<TaskStatus, 'completed' | 'failed' | 'timeout' | 'cancelled'>;

/** The terminal statuses, for runtime checks. */
export const TERMINAL_STATUSES: readonly TerminalStatus[] = Object.freeze([
  'completed',
  'failed',
  'timeout',
  'cancelled',
]);

/** Whether a status is terminal (the task will never change again). */
export function isTerminalStatus(status: TaskStatus): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

/** Filters and paging of `tasks.list`. */
export type ListTasksParams = {
  /**
   * Only tasks in this status.
   * @default undefined (every status)
   */
  status?: TaskStatus | undefined;
  /** Only tasks of this provider preset (e.g. `fal`). */
  provider?: string | undefined;
  /** Only tasks created after this instant (ISO-8601). */
  createdAfter?: string | undefined;
  /** Only tasks created before this instant (ISO-8601). */
  createdBefore?: string | undefined;
  /**
   * Page size, 1–100.
   * @default 20
   */
  limit?: number | undefined;
  /**
   * `pagination.nextCursor` of the previous page.
   * @default undefined (the newest tasks)
   */
  cursor?: string | undefined;
};

/** Options every call accepts. */
export type RequestOptions = {
  /**
   * Cancels the call, including any retry it is sleeping before; the promise rejects with the
   * signal's reason.
   * @default undefined (not cancellable)
   */
  signal?: AbortSignal | undefined;
  /**
   * Timeout of each HTTP attempt, in milliseconds. A timed-out attempt is a `ConnectionError`
   * with `code: 'timeout'` (retried like one).
   * @default the client's `timeoutMs` (60000)
   */
  timeoutMs?: number | undefined;
  /**
   * Retries for this call (only calls that are safe to repeat are ever retried).
   * @default the client's `maxRetries` (2)
   */
  maxRetries?: number | undefined;
};

/** Options of `tasks.get`. */
export type GetTaskOptions = RequestOptions & {
  /**
   * Long-poll: answer as soon as the task's status changes, or after this many seconds (0–25).
   * @default 0 (answer at once)
   */
  wait?: number | undefined;
};

/** Options of `tasks.wait`, `tasks.watch` and `tasks.createAndWait`. */
export type WaitOptions = {
  /**
   * Give up after this many milliseconds in all, with a `WaitTimeoutError` (the task itself
   * keeps running on the server).
   * @default 120000
   */
  timeoutMs?: number | undefined;
  /**
   * Seconds each long-poll request may be held by the server (1–25).
   * @default 25
   */
  pollSeconds?: number | undefined;
  /**
   * Stops waiting; the promise rejects with the signal's reason.
   * @default undefined (not cancellable)
   */
  signal?: AbortSignal | undefined;
};

/** Body of a signal (`signals.send`): complete or fail a task that waits for one. */
export type SignalParams =
  | {
      status: 'completed';
      /** Any JSON value; stored as JSON text in `task.result.body`. */
      result?: unknown;
      error?: string | undefined;
    }
  | {
      status: 'failed';
      result?: unknown;
      /** Why it failed; becomes `task.error`. */
      error?: string | undefined;
    };

/** A completion webhook, as `AsyncQueue.webhooks.verify` returns it. */
export type WebhookEvent =
  | { event: 'task.completed'; task: Task & { status: 'completed' } }
  | { event: 'task.failed'; task: Task & { status: 'failed' } }
  | { event: 'task.timeout'; task: Task & { status: 'timeout' } };

/** Request headers as any server framework hands them over (Fetch `Headers` or Node's object). */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;
