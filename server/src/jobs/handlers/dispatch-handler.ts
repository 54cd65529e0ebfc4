import type { Task } from '../../db/entities/task.ts';
import { dispatchHeaders } from '../../dispatch/outbound-headers.ts';
import { classifyOutcome } from '../../dispatch/outcome.ts';
import { afterTransition } from '../../tasks/task-effects.ts';
import {
  cancelHeldAttempt,
  claimForDispatch,
  endAttempt,
  type Held,
  recordLostAttempt,
} from '../../tasks/task-transitions.ts';
import type { HttpMethod } from '../../tasks/task-types.ts';
import { teamSigningSecrets } from '../../tasks/team-secrets.ts';
import type { JobPayloads } from '../queues.ts';
import { decideAttempt } from './attempt-decision.ts';
import type { HandlerDeps, JobRef } from './handler-deps.ts';
import { prepareRequest } from './prepare-request.ts';

/**
 * One attempt of a task's HTTP call: a short transaction to claim, the call outside any
 * transaction, a short transaction to record the attempt and move on. A retry is a new delayed job.
 */
export async function handleDispatch(deps: HandlerDeps, job: JobRef<JobPayloads['dispatch']>): Promise<void> {
  const held: Held = { taskId: job.data.taskId, jobId: job.id, lease: job.retryCount };
  const task = await claim(deps, held);
  if (!task) return;
  const em = deps.orm.em.fork();
  let request: Awaited<ReturnType<typeof prepareRequest>>;
  try {
    request = await prepareRequest(task, { publicUrl: deps.publicUrl, resolveVault: deps.resolveVault });
  } catch (error) {
    // A vault token deleted after the task was created: nothing to send, and retrying cannot help.
    const message = error instanceof Error ? error.message : String(error);
    const attempt = {
      number: task.retryCount + 1,
      startedAt: new Date().toISOString(),
      durationMs: 0,
      statusCode: null,
      error: message,
      willRetry: false,
    };
    await em.transactional(async (tem) => {
      const ended = await endAttempt(tem, held, attempt, { kind: 'failed', error: message, result: null });
      if (ended) await afterTransition(tem, deps.effects, ended);
    });
    return;
  }
  const headers = dispatchHeaders({
    userHeaders: request.headers,
    taskId: task.id,
    attempt: task.retryCount + 1,
    body: request.body,
    secrets: await teamSigningSecrets(em, task.teamId),
    version: deps.version,
    unixSeconds: Math.floor(Date.now() / 1000),
  });
  const startedAt = new Date();
  const result = await deps.caller.call({
    url: request.targetUrl,
    method: task.method as HttpMethod,
    headers,
    body: request.body,
    timeoutMs: task.timeout * 1000,
    maxResponseBytes: deps.maxResponseBytes,
  });
  const outcome = classifyOutcome(result, Date.now());
  deps.observeDispatch?.((Date.now() - startedAt.getTime()) / 1000, outcome.kind);
  const decision = decideAttempt(task, startedAt, result, outcome);
  await em.transactional(async (tem) => {
    const ended = await endAttempt(tem, held, decision.attempt, decision.end);
    if (ended) {
      if (decision.end.kind === 'retry') {
        await deps.effects.enqueue(
          tem,
          'dispatch',
          { taskId: task.id },
          {
            id: decision.end.nextJobId,
            priority: task.priority,
            startAfter: new Date(Date.now() + (decision.retryDelayMs ?? 0)),
          },
        );
      }
      if ((ended.status === 'waiting' || ended.status === 'polling') && ended.deadlineAt) {
        await deps.effects.enqueue(tem, 'expire', { taskId: task.id }, { startAfter: new Date(ended.deadlineAt) });
      }
      if (ended.status === 'polling') await deps.effects.enqueue(tem, 'poll', { taskId: task.id }, pollStart(ended));
      if (decision.end.kind !== 'retry') await afterTransition(tem, deps.effects, ended);
      return;
    }
    const cancelled = await cancelHeldAttempt(tem, held, { ...decision.attempt, willRetry: false });
    if (cancelled) await afterTransition(tem, deps.effects, cancelled);
    else await recordLostAttempt(tem, task.id, { ...decision.attempt, willRetry: false });
  });
}

/** The first poll waits one interval: the provider has only just accepted the job. */
function pollStart(task: Task) {
  return { startAfter: new Date(Date.now() + (task.pollConfig?.interval ?? 5) * 1000) };
}

/** Claims the task for this job; a task flagged for cancel ends here without a call. */
async function claim(deps: HandlerDeps, held: Held): Promise<Task | null> {
  const em = deps.orm.em.fork();
  const task = await claimForDispatch(em, held.taskId, held.jobId, held.lease);
  if (!task) return null;
  if (task.cancelRequested) {
    await em.transactional(async (tem) => {
      const cancelled = await cancelHeldAttempt(tem, held, null);
      if (cancelled) await afterTransition(tem, deps.effects, cancelled);
    });
    return null;
  }
  if (held.lease === 0 && task.retryCount === 0) deps.effects.onTransition?.('processing');
  return task;
}
