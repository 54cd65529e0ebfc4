import { expireTask } from '../../tasks/store/cancel-expire.ts';
import { runTransition } from '../../tasks/task-effects.ts';
import type { JobPayloads } from '../queues.ts';
import type { HandlerDeps, JobRef } from './handler-deps.ts';

/**
 * The deadline passed: waiting (maxWaitTime) or polling (maxDuration) → timeout. A callback, signal
 * or poll result that got there first already moved the task on, so this UPDATE matches nothing; a
 * second delivery of the job is equally harmless.
 */
export async function handleExpire(deps: HandlerDeps, job: JobRef<JobPayloads['expire']>): Promise<void> {
  // A timeout may send the completion webhook: the UPDATE and that job share a transaction.
  await runTransition(deps.orm.em.fork(), deps.effects, true, (tx) => expireTask(tx, job.data.taskId));
}
