import type { Task } from '../../db/entities/task.ts';
import { dispatchHeaders } from '../../dispatch/outbound-headers.ts';
import { classifyOutcome } from '../../dispatch/outcome.ts';
import { runTransition, sendsWebhook } from '../../tasks/task-effects.ts';
import { cancelHeldAttempt, endAttempt, type Held, recordLostAttempt } from '../../tasks/task-transitions.ts';
import type { HttpMethod } from '../../tasks/task-types.ts';
import { claimOf } from '../claiming-fetch.ts';
import type { JobPayloads } from '../queues.ts';
import { type Decision, decideAttempt } from './attempt-decision.ts';
import type { HandlerDeps, JobRef } from './handler-deps.ts';
import { prepareRequest } from './prepare-request.ts';

/**
 * One attempt of a task's HTTP call: claimed by the fetch that took the job (claiming-fetch.ts), the
 * call outside any transaction, one statement to record the attempt and move on (a transaction only
 * when jobs are enqueued with it: a retry is a new delayed job, waiting/polling get their expiry, a
 * final status its webhook).
 */
export async function handleDispatch(deps: HandlerDeps, job: JobRef<JobPayloads['dispatch']>): Promise<void> {
  const held: Held = { taskId: job.data.taskId, jobId: job.id, lease: job.retryCount };
  const claimed = await takeClaim(deps, held, job);
  if (!claimed) return;
  const { task, signingSecrets } = claimed;
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
    const end = { kind: 'failed', error: message, result: null } as const;
    const em = deps.orm.em.fork();
    await runTransition(em, deps.effects, sendsWebhook(task, 'failed'), (tx) => endAttempt(tx, held, attempt, end));
    return;
  }
  const headers = dispatchHeaders({
    userHeaders: request.headers,
    taskId: task.id,
    attempt: task.retryCount + 1,
    body: request.body,
    secrets: signingSecrets,
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
  await recordAttempt(deps, held, task, decideAttempt(task, startedAt, result, outcome));
}

/** Jobs that ending the attempt this way enqueues, besides the UPDATE itself. */
function enqueuesJobs(task: Task, end: Decision['end']): boolean {
  if (end.kind === 'retry' || end.kind === 'waiting' || end.kind === 'polling') return true;
  return sendsWebhook(task, end.kind);
}

/**
 * Ends the held attempt as decided. A direct task without onCompleteUrl completes in one autocommit
 * statement; otherwise the UPDATE and its jobs share a transaction. A cancel requested meanwhile
 * wins; an attempt that lost to a callback is only recorded.
 */
async function recordAttempt(deps: HandlerDeps, held: Held, task: Task, decision: Decision): Promise<void> {
  const em = deps.orm.em.fork();
  const ended = await runTransition(em, deps.effects, enqueuesJobs(task, decision.end), async (tem) => {
    const ended = await endAttempt(tem, held, decision.attempt, decision.end);
    if (!ended) return null;
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
    if (decision.end.kind === 'polling') {
      const first = { id: decision.end.pollJobId, ...pollStart(ended) };
      await deps.effects.enqueue(tem, 'poll', { taskId: task.id }, first);
    }
    return ended;
  });
  if (ended) return;
  // Lost the UPDATE: a cancel was requested (→ cancelled, which sends no webhook) or the task ended
  // another way. Each is one conditional statement; neither enqueues anything.
  const lost = { ...decision.attempt, willRetry: false };
  const cancelled = await runTransition(em, deps.effects, false, (tx) => cancelHeldAttempt(tx, held, lost));
  if (!cancelled) await recordLostAttempt(em, task.id, lost);
}

/** The first poll waits one interval: the provider has only just accepted the job. */
function pollStart(task: Task) {
  return { startAfter: new Date(Date.now() + (task.pollConfig?.interval ?? 5) * 1000) };
}

/** The task this job claimed when fetched; a task flagged for cancel ends here without a call. */
async function takeClaim(deps: HandlerDeps, held: Held, job: JobRef<JobPayloads['dispatch']>) {
  const claimed = claimOf(job);
  if (!claimed) return null;
  if (claimed.task.cancelRequested) {
    await runTransition(deps.orm.em.fork(), deps.effects, false, (tx) => cancelHeldAttempt(tx, held, null));
    return null;
  }
  if (held.lease === 0 && claimed.task.retryCount === 0) deps.effects.onTransition?.('processing');
  deps.effects.publish?.(claimed.task);
  return claimed;
}
