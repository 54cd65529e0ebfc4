import type { Task } from '../../db/entities/task.ts';
import type { OutboundFailureKind, OutboundResult } from '../../dispatch/outbound-types.ts';
import type { BodyEncoding } from '../../dispatch/response-body.ts';

// Inputs for the unit tests of the pure decisions (attempt, interrupted attempt, poll): a task with
// only the fields they read, and the outbound results they judge.

/** A task as the decisions read it: a direct call with 3 retries left, unless `fields` say otherwise. */
export function taskWith(fields: Partial<Task> = {}): Task {
  const defaults: Partial<Task> = {
    retryCount: 0,
    maxRetries: 3,
    retryBackoff: 'exponential',
    pollConfig: null,
    callbackIdHash: null,
    waitForSignal: false,
  };
  return { ...defaults, ...fields } as Task;
}

type Answer = { headers?: Record<string, string>; body?: string; bodyEncoding?: BodyEncoding; durationMs?: number };

/** A response the target answered with `statusCode` (a `{}` JSON body unless `answer` says otherwise). */
export function answered(statusCode: number, answer: Answer = {}): OutboundResult {
  return {
    ok: true,
    response: {
      statusCode,
      headers: answer.headers ?? {},
      body: answer.body ?? '{}',
      bodyEncoding: answer.bodyEncoding ?? 'utf8',
      bodyTruncated: false,
      durationMs: answer.durationMs ?? 3,
      redirects: 0,
      release() {},
    },
  };
}

/** A call that got no response. */
export function unanswered(kind: OutboundFailureKind, message: string, durationMs = 7): OutboundResult {
  return { ok: false, failure: { kind, message, durationMs } };
}
