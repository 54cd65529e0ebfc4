import { randomUUID } from 'node:crypto';
import type { Task } from '../../db/entities/task.ts';
import { retryDelayMs } from '../../dispatch/backoff.ts';
import type { OutboundResult } from '../../dispatch/http-caller.ts';
import type { classifyOutcome } from '../../dispatch/outcome.ts';
import type { EncodedBody } from '../../dispatch/response-body.ts';
import type { AttemptEnd } from '../../tasks/store/attempts.ts';
import type { AttemptRecord, TaskResult } from '../../tasks/task-types.ts';

export type Decision = { end: AttemptEnd; retryDelayMs: number | null; attempt: AttemptRecord };

/** A response as a task's result; `body` replaces the response's own (a poll's value at resultPath). */
export function toTaskResult(result: OutboundResult, body?: EncodedBody): TaskResult | null {
  if (!result.ok) return null;
  const r = result.response;
  return {
    statusCode: r.statusCode,
    headers: r.headers,
    body: body ? body.body : r.body,
    bodyEncoding: body ? body.bodyEncoding : r.bodyEncoding,
    duration: r.durationMs,
    bodyTruncated: r.bodyTruncated,
  };
}

/** What a successful call leads to: polling (incl. hybrid callback + polling), waiting, or done. */
function afterSuccess(task: Task, result: TaskResult): AttemptEnd {
  if (task.pollConfig) return { kind: 'polling', startResult: result, pollJobId: randomUUID() };
  if (task.callbackIdHash || task.waitForSignal) return { kind: 'waiting', startResult: result };
  return { kind: 'completed', result };
}

/**
 * Pure: from the classified outcome of one attempt to the task's next state and the attempt record.
 * Every retry, whatever set its delay (backoff or Retry-After), counts against maxRetries.
 */
export function decideAttempt(
  task: Task,
  startedAt: Date,
  result: OutboundResult,
  outcome: ReturnType<typeof classifyOutcome>,
  random: () => number = Math.random,
): Decision {
  const taskResult = toTaskResult(result);
  const durationMs = result.ok ? result.response.durationMs : result.failure.durationMs;
  const attempt = (error: string | null, willRetry: boolean): AttemptRecord => ({
    number: task.retryCount + 1,
    startedAt: startedAt.toISOString(),
    durationMs,
    statusCode: result.ok ? result.response.statusCode : null,
    error,
    willRetry,
  });
  if (outcome.kind === 'success') {
    return { end: afterSuccess(task, taskResult as TaskResult), retryDelayMs: null, attempt: attempt(null, false) };
  }
  if (outcome.kind === 'retry' && task.retryCount < task.maxRetries) {
    const delay = outcome.retryAfterMs ?? retryDelayMs(task.retryBackoff, task.retryCount + 1, random);
    return {
      end: { kind: 'retry', nextJobId: randomUUID() },
      retryDelayMs: delay,
      attempt: attempt(outcome.reason, true),
    };
  }
  const attempts = task.retryCount + 1;
  const error =
    outcome.kind === 'retry'
      ? `Failed after ${attempts} attempt${attempts > 1 ? 's' : ''}: ${outcome.reason}`
      : outcome.reason;
  return {
    end: { kind: 'failed', error, result: taskResult },
    retryDelayMs: null,
    attempt: attempt(outcome.reason, false),
  };
}
