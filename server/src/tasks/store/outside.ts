import type { EntityManager } from '@mikro-orm/postgresql';
import { storableText, storedProgress, storedResult } from '../storable-text.ts';
import { LIFECYCLE } from '../task-status.ts';
import type { TaskResult, TaskStatus } from '../task-types.ts';
import { inList, RESULT } from './fragments.ts';
import { one } from './run.ts';

/** Results from outside the attempt (callback, signal, poll): completion and progress. */

/** The statuses a callback may still report progress on (those a result from outside may complete). */
const ACTIVE = inList(LIFECYCLE.complete.from);

/** The single-use flag of each credential column (a poll result, by id, consumes nothing). */
const CONSUMED_FLAG = {
  callback_id_hash: 'callback_consumed',
  signal_token_hash: 'signal_consumed',
  id: null,
} as const;

/** A result from outside (callback, signal, poll): consumes the credential in the same UPDATE. */
export function completeFromOutside(
  em: EntityManager,
  where: { column: 'callback_id_hash' | 'signal_token_hash' | 'id'; value: string },
  outcome: { status: 'completed'; result: TaskResult } | { status: 'failed'; error: string; result: TaskResult | null },
  from: readonly TaskStatus[] = LIFECYCLE.complete.from,
) {
  const flag = CONSUMED_FLAG[where.column];
  const consumed = flag ? `${flag} = true,` : '';
  const unused = flag ? `and not ${flag}` : '';
  return one(
    em,
    `update tasks set status = ?, ${RESULT}, error = ?, ${consumed} completed_at = now(), updated_at = now()
     where ${where.column} = ? ${unused} and status in (${inList(from)}) returning *`,
    [
      outcome.status,
      ...storedResult(outcome.result),
      outcome.status === 'failed' ? storableText(outcome.error) : null,
      where.value,
    ],
  );
}

/** A non-final callback (e.g. Luma `dreaming`): kept as progress; the id stays usable. */
export function recordProgress(em: EntityManager, callbackId: string, progress: unknown) {
  return one(
    em,
    `update tasks set progress = ?, updated_at = now()
     where callback_id_hash = ? and not callback_consumed and status in (${ACTIVE}) returning *`,
    [storedProgress(progress), callbackId],
  );
}

/**
 * A non-final poll by the chain's current job: keep the parsed status body as progress and hand the
 * chain to the next poll job, while the task is still polling. A stale or duplicate poll job matches
 * nothing (a task polling since before the fence had no job named: its next poll names one).
 */
export function recordPollProgress(
  em: EntityManager,
  poll: { taskId: string; jobId: string; nextJobId: string },
  progress: unknown,
) {
  const keep = progress === undefined ? '' : 'progress = ?,';
  return one(
    em,
    `update tasks set ${keep} poll_job_id = ?, updated_at = now()
     where id = ? and status = 'polling' and (poll_job_id = ? or poll_job_id is null) returning *`,
    [...(progress === undefined ? [] : [storedProgress(progress)]), poll.nextJobId, poll.taskId, poll.jobId],
  );
}
