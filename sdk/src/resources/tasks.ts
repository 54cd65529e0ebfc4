import { linkedController } from '../abort.ts';
import type { Core } from '../core.ts';
import { WaitTimeoutError } from '../errors.ts';
import type {
  BulkActionResult,
  CreateManyParams,
  CreateManyResponse,
  CreateTaskParams,
  CreateTaskResponse,
  Task,
  TaskFilter,
  TaskPage,
  TaskQueue,
  TaskStats,
} from '../generated/api-types.ts';
import {
  type GetTaskOptions,
  isTerminalStatus,
  type ListTasksParams,
  type RequestOptions,
  type WaitOptions,
} from '../types.ts';
import { type SubscribeOptions, subscribeTasks } from './task-events.ts';

/** Why 25: the server holds a long-poll at most 25 s (`wait` is 0–25 on GET /v1/tasks/{id}). */
const MAX_POLL_SECONDS = 25;
const DEFAULT_WAIT_TIMEOUT_MS = 120_000;
/** Why +10 s: a long-poll answers after `wait` seconds by design; the attempt timeout must outlast it. */
const LONG_POLL_GRACE_MS = 10_000;

/**
 * The answer of `tasks.list`: await it for one page, or iterate it with `for await` to walk every
 * task across all pages (newest first), fetching the next page as needed.
 */
export class TaskListPromise extends Promise<TaskPage> implements AsyncIterable<Task> {
  // `then` of a subclass builds plain promises: the page fetching below is not inherited.
  static override get [Symbol.species](): PromiseConstructor {
    return Promise;
  }

  #nextPage: ((cursor: string) => Promise<TaskPage>) | undefined;

  /** @internal */
  static start(first: Promise<TaskPage>, nextPage: (cursor: string) => Promise<TaskPage>): TaskListPromise {
    const promise = new TaskListPromise((resolve, reject) => {
      first.then(resolve, reject);
    });
    promise.#nextPage = nextPage;
    return promise;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Task, void, undefined> {
    let page: TaskPage = await this;
    for (;;) {
      yield* page.tasks;
      const cursor = page.pagination.nextCursor;
      if (!page.pagination.hasMore || cursor === null || !this.#nextPage) return;
      page = await this.#nextPage(cursor);
    }
  }
}

/** `aq.tasks`: create, read, list, cancel and wait for tasks. */
export class Tasks {
  readonly #core: Core;

  /** @internal Use `new AsyncQueue().tasks`. */
  constructor(core: Core) {
    this.#core = core;
  }

  /**
   * Creates a task. Retried on connection errors, 429 and 5xx like read calls, because every
   * create carries an idempotency key (yours, or a UUID the SDK generates): a retry of a create
   * that did reach the server replays its answer instead of creating a second task.
   *
   * @returns `{task, callbackUrl?, signalToken?}`; `callbackUrl` when `{asyncqueue_callback_url}`
   * was used, `signalToken` when `waitForSignal` is true.
   */
  create(params: CreateTaskParams, options: RequestOptions = {}): Promise<CreateTaskResponse> {
    const input = { ...params, idempotencyKey: params.idempotencyKey ?? crypto.randomUUID() };
    return this.#core.call({ ...options, retryable: true }, (signal) => this.#core.api.createTask(input, signal));
  }

  /**
   * Creates 1–1,000 tasks in one request. The valid ones are created together; each invalid one is
   * answered in its place with its own error (`results[i].details[].path` like `tasks.3.targetUrl`),
   * so check each result: `'task' in result`. Each task counts against the rate limit. Retried
   * like `create`: the whole batch carries one idempotency key (yours, or a UUID the SDK generates).
   *
   * @returns `{results}`, one per item in input order.
   */
  createMany(params: CreateManyParams, options: RequestOptions = {}): Promise<CreateManyResponse> {
    const input = { ...params, idempotencyKey: params.idempotencyKey ?? crypto.randomUUID() };
    return this.#core.call({ ...options, retryable: true }, (signal) => this.#core.api.createTasks(input, signal));
  }

  /**
   * Creates a new task with the request of an ended task (`replayOf` = its id; vault references
   * stay references). Answers like `create`, with a new `callbackUrl` / `signalToken` where the
   * original had them. Not retried. Throws `ConflictError` for a task that has not ended.
   */
  replay(id: string, options: RequestOptions = {}): Promise<CreateTaskResponse> {
    return this.#core.call({ ...options, retryable: false }, (signal) => this.#core.api.replayTask({ id }, signal));
  }

  /**
   * Cancels the tasks matching `filter` that have not ended (at most 10,000 a call; call again
   * while `hasMore`). A processing task gets `cancelRequested` and ends when its attempt ends.
   * Not retried.
   */
  cancelMany(filter: TaskFilter, options: RequestOptions = {}): Promise<BulkActionResult> {
    return this.#core.call({ ...options, retryable: false }, (signal) => this.#core.api.cancelTasks(filter, signal));
  }

  /**
   * Replays the ended tasks matching `filter` that were not replayed yet (at most 10,000 a call;
   * call again while `hasMore`). The copies' new credentials are not returned: use `replay` for a
   * task whose signal token you need. Not retried.
   */
  replayMany(filter: TaskFilter, options: RequestOptions = {}): Promise<BulkActionResult> {
    return this.#core.call({ ...options, retryable: false }, (signal) => this.#core.api.replayTasks(filter, signal));
  }

  /** The team's tasks counted by status: `{counts: {pending, …, cancelled}, total}`. */
  stats(options: RequestOptions = {}): Promise<TaskStats> {
    return this.#core.call({ ...options, retryable: true }, (signal) => this.#core.api.taskStats(signal));
  }

  /** Reads a task. With `wait` (seconds, ≤ 25) it long-polls until the status changes. */
  async get(id: string, options: GetTaskOptions = {}): Promise<Task> {
    const wait = options.wait === undefined ? undefined : Math.max(0, Math.min(MAX_POLL_SECONDS, options.wait));
    const base = options.timeoutMs ?? this.#core.options.timeoutMs;
    const timeoutMs = wait ? Math.max(base, wait * 1000 + LONG_POLL_GRACE_MS) : base;
    const input = wait === undefined ? { id } : { id, wait };
    const { task } = await this.#core.call({ ...options, timeoutMs, retryable: true }, (signal) =>
      this.#core.api.getTask(input, signal),
    );
    return task;
  }

  /**
   * Lists the team's tasks, newest first. `await` it for one page (`{tasks, pagination}`), or
   * `for await (const task of aq.tasks.list())` to walk all pages.
   */
  list(params: ListTasksParams = {}, options: RequestOptions = {}): TaskListPromise {
    const page = (cursor: string | undefined) =>
      this.#core.call({ ...options, retryable: true }, (signal) =>
        this.#core.api.listTasks(cursor === undefined ? params : { ...params, cursor }, signal),
      );
    return TaskListPromise.start(page(params.cursor), page);
  }

  /** Every task matching `params`, across all pages, newest first. */
  listAll(params: Omit<ListTasksParams, 'cursor'> = {}, options: RequestOptions = {}): AsyncGenerator<Task> {
    return this.list(params, options)[Symbol.asyncIterator]();
  }

  /**
   * Cancels a task. `pending`, `delayed`, `waiting` and `polling` tasks end as `cancelled` at
   * once; a `processing` task gets `cancelRequested: true` and ends when its attempt ends.
   * Not retried. Throws `ConflictError` for a task that already ended.
   */
  async cancel(id: string, options: RequestOptions = {}): Promise<Task> {
    const { task } = await this.#core.call({ ...options, retryable: false }, (signal) =>
      this.#core.api.cancelTask({ id }, signal),
    );
    return task;
  }

  /**
   * Why a task waits: `held` is true for a pending task its flow key holds back, with the `reason`
   * (`concurrency`, `rate` or `paused`), its `position` in the key's line and, for a rate window or
   * a pause, `retryAt`. Computed on request.
   */
  async queue(id: string, options: RequestOptions = {}): Promise<TaskQueue> {
    return this.#core.call({ ...options, retryable: true }, (signal) => this.#core.api.taskQueue({ id }, signal));
  }

  /** Sends the completion webhook of an ended task again (same `webhook-id`). Not retried. */
  async redeliverWebhook(id: string, options: RequestOptions = {}): Promise<Task> {
    const { task } = await this.#core.call({ ...options, retryable: false }, (signal) =>
      this.#core.api.redeliverWebhook({ id }, signal),
    );
    return task;
  }

  /**
   * Yields the task now and then each time it changes (status, progress, attempts…), using
   * long-polls (`?wait=`), and ends after yielding a terminal state. Throws `WaitTimeoutError`
   * after `timeoutMs`; rejects with the signal's reason when `signal` aborts.
   */
  async *watch(id: string, options: WaitOptions = {}): AsyncGenerator<Task, void, undefined> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    const pollSeconds = Math.max(1, Math.min(MAX_POLL_SECONDS, Math.floor(options.pollSeconds ?? MAX_POLL_SECONDS)));
    const endsAt = Date.now() + timeoutMs;
    // One signal for the caller's abort and our own deadline; which one fired decides the error.
    let last: Task | undefined;
    const { controller, dispose } = linkedController(options.signal);
    const deadline = setTimeout(() => controller.abort(new DOMException('wait deadline', 'TimeoutError')), timeoutMs);
    // An abandoned watch must not keep a Node process alive; an active one has its request open.
    (deadline as { unref?: () => void }).unref?.();
    try {
      for (let first = true; ; first = false) {
        const remainingMs = endsAt - Date.now();
        if (remainingMs <= 0) throw new WaitTimeoutError(id, timeoutMs, last);
        const wait = first ? 0 : Math.min(pollSeconds, Math.ceil(remainingMs / 1000));
        let task: Task;
        try {
          task = await this.get(id, { wait, signal: controller.signal });
        } catch (error) {
          if (options.signal?.aborted) throw options.signal.reason;
          if (controller.signal.aborted) throw new WaitTimeoutError(id, timeoutMs, last);
          throw error;
        }
        if (!last || task.updatedAt !== last.updatedAt || task.status !== last.status) {
          last = task;
          yield task;
        }
        if (isTerminalStatus(task.status)) return;
      }
    } finally {
      clearTimeout(deadline);
      dispose();
    }
  }

  /**
   * Waits until the task ends (`completed`, `failed`, `timeout` or `cancelled`) and returns it,
   * long-polling `?wait=` in a loop. Throws `WaitTimeoutError` after `timeoutMs` (default 2 min).
   */
  async wait(id: string, options: WaitOptions = {}): Promise<Task> {
    let last: Task | undefined;
    for await (const task of this.watch(id, options)) last = task;
    if (!last) throw new WaitTimeoutError(id, options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS, undefined);
    return last;
  }

  /**
   * Live changes of the team's tasks, pushed by the server (Server-Sent Events on GET /v1/events):
   * `for await (const task of aq.tasks.subscribe({ status: 'completed' })) …`. Filters: `taskId`,
   * `status`. Reconnects with backoff and resumes where it stopped (Last-Event-ID), so no change is
   * missed and none is yielded twice. Runs until you `break` or `signal` aborts (then it rejects
   * with the signal's reason). Throws `AuthenticationError` / `ValidationError` at once.
   */
  subscribe(options: SubscribeOptions = {}): AsyncGenerator<Task, void, undefined> {
    return subscribeTasks(this.#core, options);
  }

  /** `create` then `wait`: the ended task. `timeoutMs` bounds the wait, not the create. */
  async createAndWait(params: CreateTaskParams, options: WaitOptions = {}): Promise<Task> {
    const { task } = await this.create(params, { signal: options.signal });
    return this.wait(task.id, options);
  }
}
