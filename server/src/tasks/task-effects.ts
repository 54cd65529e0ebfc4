import type { EntityManager } from '@mikro-orm/postgresql';
import type { Task } from '../db/entities/task.ts';
import type { Enqueue } from '../jobs/queues.ts';
import type { TaskStatus } from './task-types.ts';

/** What every transition does besides its UPDATE (runTransition). */
export type TaskEffects = {
  enqueue: Enqueue;
  /** Counts transitions for /metrics; never throws. */
  onTransition?: (status: TaskStatus) => void;
  /**
   * A committed transition's row: to this process's long-polls at once, and by a NOTIFY sent after
   * the commit to everyone else's (task-change-listener.ts, change-notifier.ts).
   */
  publish?: (task: Task) => void;
  /**
   * A committed change known by id only (a bulk action reads no rows back): long-polls anywhere,
   * this process's included, learn of it from the NOTIFY and re-read.
   */
  announce?: (taskId: string) => void;
};

/** The statuses that send a completion webhook (a cancel is the client's own doing). */
export const WEBHOOK_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'timeout'];

/** Whether this task's move to `status` enqueues its completion webhook. */
export function sendsWebhook(task: Pick<Task, 'onCompleteUrl'>, status: TaskStatus): boolean {
  return WEBHOOK_STATUSES.includes(status) && task.onCompleteUrl != null;
}

/**
 * Inside the transaction of a status change: for a terminal status with onCompleteUrl, enqueue the
 * completion webhook (commit → exactly one job). Long-polls learn of the change from `publish`,
 * after the commit.
 */
async function afterTransition(em: EntityManager, effects: TaskEffects, task: Task): Promise<void> {
  if (sendsWebhook(task, task.status)) await effects.enqueue(em, 'webhook', { taskId: task.id, attempt: 1 });
  effects.onTransition?.(task.status);
}

/**
 * Runs one transition and its effects. `enqueues` says whether it may enqueue a job (known before
 * the UPDATE: onCompleteUrl never changes): then the UPDATE and the job share a transaction;
 * otherwise the transition is its single autocommit statement, with no BEGIN/COMMIT round trips.
 */
export async function runTransition(
  em: EntityManager,
  effects: TaskEffects,
  enqueues: boolean,
  update: (em: EntityManager) => Promise<Task | null>,
): Promise<Task | null> {
  if (!enqueues) {
    const task = await update(em);
    if (task) {
      effects.onTransition?.(task.status);
      effects.publish?.(task);
    }
    return task;
  }
  const task = await em.transactional(async (tem) => {
    const changed = await update(tem);
    if (changed) await afterTransition(tem, effects, changed);
    return changed;
  });
  // Only now is the row committed, and so safe to show.
  if (task) effects.publish?.(task);
  return task;
}
