import { afterTransition } from '../../tasks/task-effects.ts';
import { expireTask } from '../../tasks/task-transitions.ts';
import type { JobPayloads } from '../queues.ts';
import type { HandlerDeps, JobRef } from './handler-deps.ts';

/**
 * maxWaitTime elapsed: waiting → timeout. A callback or signal that got there first already moved
 * the task on, so this UPDATE matches nothing; a second delivery of the job is equally harmless.
 */
export async function handleExpire(deps: HandlerDeps, job: JobRef<JobPayloads['expire']>): Promise<void> {
  await deps.orm.em.fork().transactional(async (tem) => {
    const rows = await tem.execute<{ max_wait_time: number }[]>('select max_wait_time from tasks where id = ?', [
      job.data.taskId,
    ]);
    const maxWait = rows[0]?.max_wait_time;
    if (maxWait === undefined) return;
    const expired = await expireTask(
      tem,
      job.data.taskId,
      'waiting',
      `No callback or signal within maxWaitTime (${maxWait} s)`,
    );
    if (expired) await afterTransition(tem, deps.effects, expired);
  });
}
