import { expireTask } from '../../tasks/store/cancel-expire.ts';
import type { JobPayloads } from '../queues.ts';
import type { HandlerDeps, JobRef } from './handler-deps.ts';

/**
 * The deadline passed: waiting (maxWaitTime) or polling (maxDuration) → timeout. A callback, signal
 * or poll result that got there first already moved the task on, so this UPDATE matches nothing; a
 * second delivery of the job is equally harmless.
 */
export async function handleExpire(deps: HandlerDeps, job: JobRef<JobPayloads['expire']>): Promise<void> {
  await deps.lifecycle.change('expire', null, (tx) => expireTask(tx, job.data.taskId));
}
