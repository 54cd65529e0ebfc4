import type { Task } from '../../db/entities/task.ts';
import { retryDelayMs } from '../../dispatch/backoff.ts';
import type { OutboundResult } from '../../dispatch/http-caller.ts';
import type { classifyOutcome } from '../../dispatch/outcome.ts';
import { recoverFlowKey, throttleFlowKey } from '../../flow/store/flow-keys.ts';
import type { Decision } from './attempt-decision.ts';
import type { HandlerDeps } from './handler-deps.ts';

const THROTTLED_ERROR = 'HTTP 429: the provider is throttling this flow key; back in line without spending a retry';

/**
 * Adaptive flow control. A 429 answered to a task of a configured flow key pauses the whole key
 * until its Retry-After (or the task's retry delay) and halves its effective concurrency; the task
 * goes back in line (pending, held) without spending a retry: "not now" is not a failure. A success
 * gives the key one unit of concurrency back. Any other outcome, or a key without limits, keeps
 * the decision as it is.
 */
export async function adaptToFlowKey(
  deps: Pick<HandlerDeps, 'lifecycle'>,
  task: Task,
  result: OutboundResult,
  outcome: ReturnType<typeof classifyOutcome>,
  decided: Decision,
): Promise<Decision> {
  if (!task.flowKey) return decided;
  const em = deps.lifecycle.em();
  if (outcome.kind === 'success') {
    // Only a task granted a slot ran on a key with a concurrency to recover; the others (every
    // task of a key without limits) cost no statement on the dispatch path.
    if (task.flowSlot != null) await recoverFlowKey(em, task.teamId, task.flowKey);
    return decided;
  }
  if (outcome.kind !== 'retry' || !result.ok || result.response.statusCode !== 429) return decided;
  const pauseMs = outcome.retryAfterMs ?? retryDelayMs(task.retryBackoff, task.retryCount + 1);
  if (!(await throttleFlowKey(em, task.teamId, task.flowKey, pauseMs))) return decided;
  return {
    end: { kind: 'throttled' },
    retryDelayMs: null,
    attempt: { ...decided.attempt, error: THROTTLED_ERROR, willRetry: true },
  };
}
