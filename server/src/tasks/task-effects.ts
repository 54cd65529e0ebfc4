import type { EntityManager } from '@mikro-orm/postgresql';
import type { Task } from '../db/entities/task.ts';
import type { Enqueue } from '../jobs/queues.ts';
import { notifyTaskChanged } from './task-events.ts';
import type { TaskStatus } from './task-types.ts';

/** What every transition does besides its UPDATE, inside the same transaction. */
export type TaskEffects = {
  enqueue: Enqueue;
  /** Counts transitions for /metrics; never throws. */
  onTransition?: (status: TaskStatus) => void;
};

/** The statuses that send a completion webhook (a cancel is the client's own doing). */
export const WEBHOOK_STATUSES: TaskStatus[] = ['completed', 'failed', 'timeout'];

/**
 * After a status change committed by this transaction: wake long-polls everywhere, and for a
 * terminal status with onCompleteUrl enqueue the completion webhook (commit → exactly one job).
 */
export async function afterTransition(em: EntityManager, effects: TaskEffects, task: Task): Promise<void> {
  await notifyTaskChanged(em, task.id);
  if (WEBHOOK_STATUSES.includes(task.status) && task.onCompleteUrl) {
    await effects.enqueue(em, 'webhook', { taskId: task.id, attempt: 1 });
  }
  effects.onTransition?.(task.status);
}
