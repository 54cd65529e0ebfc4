import { AppError } from '../shared/app-error.ts';
import { type BatchDeps, type BatchOutcome, createBatch, type RateCharge } from './batch-create.ts';
import type { CreateBatchInput } from './batch-input-schema.ts';
import { type BulkOutcome, cancelMatching, replayMatching } from './bulk-actions.ts';
import { type CreateOutcome, type CreateTaskResponse, createTask } from './create-task.ts';
import { replayTask } from './replay-task.ts';
import { cancelTask, flagCancelRequested } from './store/cancel-expire.ts';
import type { TaskFilter } from './store/filters.ts';
import { findTeamTask, listTeamTasks } from './store/read.ts';
import { countTeamTasksByStatus } from './store/stats.ts';
import type { TaskChangeListener } from './task-change-listener.ts';
import { decodeCursor, encodeCursor } from './task-cursor.ts';
import type { CreateTaskInput } from './task-input-schema.ts';
import { type TaskLifecycle, WEBHOOK_STATUSES } from './task-lifecycle.ts';
import { isTerminal } from './task-status.ts';
import type { TaskStatus } from './task-types.ts';
import { type TaskView, toTaskView } from './task-view.ts';

export type TaskListPage = {
  tasks: TaskView[];
  pagination: { limit: number; hasMore: boolean; nextCursor: string | null };
};

export type TaskService = ReturnType<typeof createTaskService>;

/** Why 3: cancel re-reads after losing a race to a status change; three rounds always settle it. */
const CANCEL_ROUNDS = 3;

const notFound = (id: string) => new AppError('not_found', `Task ${id} not found`);

type StoredTask = NonNullable<Awaited<ReturnType<typeof findTeamTask>>>;
type ReadTask = (teamId: string, id: string) => Promise<StoredTask>;

/** The task use cases behind the API. Each call works on its own fork of the ORM (lifecycle.em()). */
export function createTaskService(lifecycle: TaskLifecycle, deps: BatchDeps, listener: TaskChangeListener) {
  const fork = () => lifecycle.em();
  const read: ReadTask = async (teamId, id) => {
    const task = await findTeamTask(fork(), teamId, id);
    if (!task) throw notFound(id);
    return task;
  };
  return {
    create(teamId: string, input: CreateTaskInput, idempotencyKey: string | null): Promise<CreateOutcome> {
      return createTask(fork(), deps, teamId, input, idempotencyKey);
    },

    /** Creates the valid items of a batch in one transaction; per-item results in input order. */
    createMany(
      teamId: string,
      input: CreateBatchInput,
      opts: { idempotencyKey: string | null; charge: RateCharge },
    ): Promise<BatchOutcome> {
      return createBatch(fork(), deps, teamId, input, opts);
    },

    /** A new task with an ended task's request (`replayOf` = its id), answered as a create. */
    replay(teamId: string, id: string): Promise<CreateTaskResponse> {
      return replayTask(fork(), deps, teamId, id);
    },

    /** Cancels up to 10,000 matching tasks, a chunk at a time. */
    cancelMany(teamId: string, filter: TaskFilter): Promise<BulkOutcome> {
      return cancelMatching(lifecycle, teamId, filter);
    },

    /** Replays up to 10,000 matching ended tasks not replayed yet, a chunk at a time. */
    replayMany(teamId: string, filter: TaskFilter): Promise<BulkOutcome> {
      return replayMatching(fork(), deps, teamId, filter);
    },

    /** The team's tasks counted by status. */
    stats(teamId: string): Promise<Record<TaskStatus, number>> {
      return countTeamTasksByStatus(fork(), teamId);
    },

    /**
     * Reads a task; with `waitSeconds` > 0, long-polls: returns as soon as its status changes (at
     * once when terminal), else after waitSeconds with the current state.
     */
    async get(teamId: string, id: string, waitSeconds = 0, signal?: AbortSignal): Promise<TaskView> {
      const initial = await read(teamId, id);
      if (waitSeconds <= 0 || isTerminal(initial.status)) return toTaskView(initial);
      return waitForStatusChange(read, listener, { teamId, id, initial }, Date.now() + waitSeconds * 1000, signal);
    },

    async list(
      teamId: string,
      opts: TaskFilter & { limit: number; cursor?: string | undefined },
    ): Promise<TaskListPage> {
      const { cursor: _cursor, limit, ...filter } = opts;
      const beforeId = opts.cursor ? decodeCursor(opts.cursor) : undefined;
      const rows = await listTeamTasks(fork(), teamId, { ...filter, beforeId, limit: limit + 1 });
      const page = rows.slice(0, opts.limit);
      const hasMore = rows.length > opts.limit;
      const last = page.at(-1);
      return {
        tasks: page.map(toTaskView),
        pagination: { limit: opts.limit, hasMore, nextCursor: hasMore && last ? encodeCursor(last.id) : null },
      };
    },

    async cancel(teamId: string, id: string): Promise<TaskView> {
      return cancelOrFlag(lifecycle, teamId, id);
    },

    /** Sends the completion webhook again (same webhook-id), starting a fresh retry schedule. */
    async redeliverWebhook(teamId: string, id: string): Promise<TaskView> {
      const task = await read(teamId, id);
      checkRedeliverable(task);
      const next = { taskId: id, attempt: task.webhookDeliveries.length + 1 };
      await lifecycle.send('webhook', next);
      return toTaskView(task);
    },
  };
}

/**
 * The long-poll loop of `get`: until `deadline`, returns as soon as the task's status differs from
 * `initial`'s (the task `id` of `teamId` as first read). The waiter registers before the re-read, so a change between the two is never missed.
 */
async function waitForStatusChange(
  read: ReadTask,
  listener: TaskChangeListener,
  asked: { teamId: string; id: string; initial: StoredTask },
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<TaskView> {
  const { teamId, id, initial } = asked;
  for (;;) {
    const remaining = deadline - Date.now();
    if (remaining <= 0 || signal?.aborted) break;
    const wait = listener.waitForChange(id, remaining, signal);
    const current = await read(teamId, id);
    if (current.status !== initial.status) {
      wait.cancel();
      return toTaskView(current);
    }
    const outcome = await wait.promise;
    // A change committed by this process comes with its row: no second read needed.
    const published = outcome.task;
    if (published?.teamId === teamId && published.status !== initial.status) return toTaskView(published);
    if (outcome.result !== 'changed') break;
  }
  return toTaskView(await read(teamId, id));
}

/**
 * Cancels at once from pending/delayed/waiting/polling, and from processing between attempts
 * (a retry waiting for its backoff) or a stuck attempt (held past its timeout plus a margin:
 * stuck-attempts.ts); callback ids and signal tokens die with the status. A task whose attempt
 * is in flight is flagged and ends as cancelled when that attempt ends.
 */
async function cancelOrFlag(lifecycle: TaskLifecycle, teamId: string, id: string): Promise<TaskView> {
  const em = lifecycle.em();
  for (let round = 0; round < CANCEL_ROUNDS; round += 1) {
    // A cancel sends no webhook: one autocommit UPDATE, published like every other transition.
    const cancelled = await lifecycle.change('cancel', null, (tx) => cancelTask(tx, teamId, id));
    if (cancelled) return toTaskView(cancelled);
    const flagged = await flagCancelRequested(em, teamId, id);
    const task = flagged ?? (await findTeamTask(em, teamId, id));
    if (!task) throw notFound(id);
    if (task.status === 'processing') return toTaskView(task);
    if (isTerminal(task.status)) {
      throw new AppError('conflict', `Task is already ${task.status}`);
    }
  }
  throw new AppError('conflict', 'Task changed state while cancelling; retry');
}

/** A webhook is redelivered only for a task that has an onCompleteUrl and ended with a webhook status. */
function checkRedeliverable(task: StoredTask): void {
  if (!task.onCompleteUrl)
    throw new AppError('conflict', 'Task has no onCompleteUrl; there is no webhook to redeliver');
  if (!WEBHOOK_STATUSES.includes(task.status)) {
    throw new AppError('conflict', `Task is ${task.status}: webhooks are sent for completed, failed and timeout tasks`);
  }
}
