import { randomUUID } from 'node:crypto';
import type { Task } from '../../db/entities/task.ts';
import { retryDelayMs } from '../../dispatch/backoff.ts';
import { endAttempt, type Held } from '../../tasks/store/attempts.ts';
import type { Transition } from '../../tasks/task-status.ts';
import type { AttemptRecord } from '../../tasks/task-types.ts';
import { dispatchGroup } from '../queues.ts';
import type { Decision } from './attempt-decision.ts';
import type { HandlerDeps } from './handler-deps.ts';

/** What ending an attempt needs of the handlers' dependencies. */
export type TransitionDeps = Pick<HandlerDeps, 'lifecycle'>;

/** The lifecycle entry of each way an attempt ends. */
const TRANSITION_OF = {
  completed: 'complete',
  failed: 'fail',
  waiting: 'wait',
  polling: 'poll',
  retry: 'retry',
  throttled: 'throttle',
} as const satisfies Record<Decision['end']['kind'], Transition>;

/** The first poll waits one interval: the provider has only just accepted the job. */
function pollStart(task: Task) {
  return { startAfter: new Date(Date.now() + (task.pollConfig?.interval ?? 5) * 1000) };
}

/**
 * Ends the held attempt as decided, fenced on (job, lease) and on no cancel being requested; null
 * when that UPDATE matched nothing. A direct task without onCompleteUrl completes in one
 * autocommit statement; otherwise the UPDATE and its jobs (the retry's dispatch job, the expiry,
 * the first poll, the completion webhook) share a transaction.
 */
export async function endHeldAttempt(deps: TransitionDeps, held: Held, task: Task, decision: Decision) {
  const { end } = decision;
  // A wait brings one job, its expiry, due at the deadline the UPDATE writes: it rides on the UPDATE.
  const expiry = { queue: 'expire' as const, data: { taskId: task.id }, options: { startAfter: task.maxWaitTime } };
  return deps.lifecycle.change(
    TRANSITION_OF[end.kind],
    task,
    (tx) => endAttempt(tx, held, decision.attempt, end),
    end.kind === 'waiting'
      ? expiry
      : async (send, ended) => {
          if (end.kind === 'retry') {
            const startAfter = new Date(Date.now() + (decision.retryDelayMs ?? 0));
            const group = dispatchGroup(task.teamId, task.flowKey);
            await send(
              'dispatch',
              { taskId: task.id },
              { id: end.nextJobId, priority: task.priority, group, startAfter },
            );
          }
          if (ended.status === 'polling' && ended.deadlineAt) {
            await send('expire', { taskId: task.id }, { startAfter: new Date(ended.deadlineAt) });
          }
          if (end.kind === 'polling')
            await send('poll', { taskId: task.id }, { id: end.pollJobId, ...pollStart(ended) });
        },
  );
}

/**
 * Why 500: a cause (a database error message) is kept readable in `error` without letting an
 * unexpectedly long message bloat the row.
 */
const MAX_CAUSE_LENGTH = 500;

/**
 * An attempt that could not end the normal way (its recording failed, or it got stuck) ends through
 * the task's own policy: a retry counted against maxRetries while retries are left, else `failed`
 * with an error naming the cause. No response body is kept: it may be what could not be stored.
 * `keepFailure`: the attempt had already been judged a final failure (a 4xx), which stays final.
 * `random` fixes the backoff's jitter in tests.
 */
export function decideInterrupted(
  task: Task,
  attempt: Omit<AttemptRecord, 'number' | 'error' | 'willRetry'>,
  cause: string,
  keepFailure = false,
  random: () => number = Math.random,
): Decision {
  const reason = cause.length > MAX_CAUSE_LENGTH ? `${cause.slice(0, MAX_CAUSE_LENGTH)}…` : cause;
  const willRetry = !keepFailure && task.retryCount < task.maxRetries;
  const record: AttemptRecord = { ...attempt, number: task.retryCount + 1, error: reason, willRetry };
  if (willRetry) {
    return {
      end: { kind: 'retry', nextJobId: randomUUID() },
      retryDelayMs: retryDelayMs(task.retryBackoff, task.retryCount + 1, random),
      attempt: record,
    };
  }
  const attempts = task.retryCount + 1;
  const error = `Failed after ${attempts} attempt${attempts > 1 ? 's' : ''}: ${reason}`;
  return { end: { kind: 'failed', error, result: null }, retryDelayMs: null, attempt: record };
}
