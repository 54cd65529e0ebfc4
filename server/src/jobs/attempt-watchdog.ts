import type { Task } from '../db/entities/task.ts';
import { cancelHeldAttempt, type Held } from '../tasks/store/attempts.ts';
import { findStuckAttempts } from '../tasks/store/stuck-attempts.ts';
import { STUCK_MARGIN_SECONDS } from '../tasks/stuck-attempts.ts';
import { decideInterrupted, endHeldAttempt, type TransitionDeps } from './handlers/end-held-attempt.ts';

/**
 * Why 5 s: a stuck task is moved on within its timeout + STUCK_MARGIN_SECONDS + 5 s; a sweep is one
 * query on the `processing` tasks (the status index), negligible at this rate on every instance.
 */
export const WATCHDOG_PERIOD_MS = 5_000;

const STUCK_CAUSE = `Interrupted: no outcome within the attempt timeout plus ${STUCK_MARGIN_SECONDS} s (the worker is stuck or gone)`;

/**
 * Moves on every task whose attempt is stuck (stuck-attempts.ts) through the task's own policy: a
 * retry counted against maxRetries, else `failed`; `cancelled` when a cancel was requested. Each
 * UPDATE is fenced on the lease it found, so two instances sweeping together move a task once, and
 * the late worker's own UPDATE then matches nothing. A task that cannot be moved is reported and
 * holds back none of the others. Returns how many tasks it moved.
 */
export async function sweepStuckAttempts(
  deps: TransitionDeps,
  onError: (message: string) => void = () => {},
): Promise<number> {
  let moved = 0;
  for (const task of await findStuckAttempts(deps.lifecycle.em())) {
    try {
      if (await moveOn(deps, task)) moved += 1;
    } catch (error) {
      onError(`attempt watchdog: task ${task.id}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return moved;
}

async function moveOn(deps: TransitionDeps, task: Task): Promise<boolean> {
  if (task.dispatchJobId == null || task.dispatchLease == null) return false;
  const held: Held = { taskId: task.id, jobId: task.dispatchJobId, lease: task.dispatchLease };
  const facts = {
    startedAt: task.updatedAt.toISOString(),
    durationMs: Date.now() - task.updatedAt.getTime(),
    statusCode: null,
  };
  const decision = decideInterrupted(task, facts, STUCK_CAUSE);
  if (!task.cancelRequested) return (await endHeldAttempt(deps, held, task, decision)) !== null;
  const attempt = { ...decision.attempt, willRetry: false };
  return (await deps.lifecycle.change('cancelAttempt', task, (tx) => cancelHeldAttempt(tx, held, attempt))) !== null;
}

export type AttemptWatchdog = { stop(): Promise<void> };

/** Sweeps every WATCHDOG_PERIOD_MS on this process's own timer; a sweep still running skips a tick. */
export function startAttemptWatchdog(
  deps: TransitionDeps,
  onError: (message: string) => void,
  periodMs = WATCHDOG_PERIOD_MS,
): AttemptWatchdog {
  let sweeping: Promise<void> | null = null;
  const timer = setInterval(() => {
    sweeping ??= sweepStuckAttempts(deps, onError)
      .then(
        () => {},
        (error: unknown) => onError(`attempt watchdog: ${error instanceof Error ? error.message : String(error)}`),
      )
      .finally(() => {
        sweeping = null;
      });
  }, periodMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await sweeping;
    },
  };
}
