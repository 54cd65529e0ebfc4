import { openTeamSecrets } from '../../auth/sealed-owners.ts';
import type { Task } from '../../db/entities/task.ts';
import type { OutboundResult } from '../../dispatch/http-caller.ts';
import { dispatchHeaders, dispatchHopPolicy } from '../../dispatch/outbound-headers.ts';
import { classifyOutcome } from '../../dispatch/outcome.ts';
import { cancelHeldAttempt, endAttempt, type Held, recordLostHeldAttempt } from '../../tasks/store/attempts.ts';
import type { TaskWithSigningSecrets } from '../../tasks/store/signing-secrets.ts';
import type { HttpMethod } from '../../tasks/task-types.ts';
import { claimOf, heldKeyOf } from '../boss-sql.ts';
import type { JobPayloads } from '../queues.ts';
import { type Decision, decideAttempt } from './attempt-decision.ts';
import { retryWhileDatabaseUnreachable } from './database-retry.ts';
import { decideInterrupted, endHeldAttempt } from './end-held-attempt.ts';
import { adaptToFlowKey } from './flow-adapt.ts';
import type { HandlerDeps, JobRef } from './handler-deps.ts';
import { prepareRequest } from './prepare-request.ts';

/**
 * One attempt of a task's HTTP call: claimed by the fetch that took the job (boss-sql.ts), the
 * call outside any transaction, one statement to record the attempt and move on (a transaction only
 * when jobs are enqueued with it: a retry is a new delayed job, waiting/polling get their expiry, a
 * final status its webhook).
 */
export async function handleDispatch(deps: HandlerDeps, job: JobRef<JobPayloads['dispatch']>): Promise<void> {
  const held: Held = { taskId: job.data.taskId, jobId: job.id, lease: job.retryCount };
  const claimed = await takeClaim(deps, held, job);
  if (!claimed) return;
  const { task, signingSecrets } = claimed;
  let request: PreparedRequest;
  try {
    request = await prepareRequest(task, deps);
  } catch (error) {
    await failUnsendable(deps, held, task, error);
    return;
  }
  const { startedAt, result } = await callTarget(deps, task, request, signingSecrets);
  await settleAttempt(deps, held, task, startedAt, result);
}

type PreparedRequest = Awaited<ReturnType<typeof prepareRequest>>;

/** A vault token deleted after the task was created: nothing to send, and retrying cannot help. */
async function failUnsendable(deps: HandlerDeps, held: Held, task: Task, error: unknown): Promise<void> {
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
  await deps.lifecycle.change('fail', task, (tx) => endAttempt(tx, held, attempt, end));
}

/** The task's HTTP call, signed with the team's secrets, outside any transaction. */
async function callTarget(
  deps: HandlerDeps,
  task: Task,
  request: PreparedRequest,
  signingSecrets: TaskWithSigningSecrets['signingSecrets'],
): Promise<{ startedAt: Date; result: OutboundResult }> {
  const secrets = openTeamSecrets(deps.secretBox, task.teamId, signingSecrets);
  const headers = dispatchHeaders({
    userHeaders: request.headers,
    taskId: task.id,
    attempt: task.retryCount + 1,
    method: task.method,
    url: request.targetUrl,
    body: request.body,
    secrets,
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
    hopPolicy: dispatchHopPolicy(secrets, request.vaultHeaders),
  });
  return { startedAt, result };
}

/**
 * The call went out: from here on, whatever fails ends the attempt through the task's policy,
 * never by pg-boss redelivering the job behind the task's back.
 */
async function settleAttempt(deps: HandlerDeps, held: Held, task: Task, startedAt: Date, result: OutboundResult) {
  let decision: Decision | null = null;
  try {
    const outcome = classifyOutcome(result, Date.now());
    deps.observeDispatch?.((Date.now() - startedAt.getTime()) / 1000, outcome.kind);
    const decided = await adaptToFlowKey(deps, task, result, outcome, decideAttempt(task, startedAt, result, outcome));
    decision = decided;
    // A database that is restarting must not turn into a second call: the outcome waits in memory.
    await retryWhileDatabaseUnreachable(() => recordAttempt(deps, held, task, decided), deps.recordRetryMs);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const facts = {
      startedAt: startedAt.toISOString(),
      durationMs: result.ok ? result.response.durationMs : result.failure.durationMs,
      statusCode: result.ok ? result.response.statusCode : null,
    };
    const fallback = decideInterrupted(
      task,
      facts,
      `Recording the attempt failed: ${message}`,
      decision?.end.kind === 'failed',
    );
    // If this minimal statement fails too (the database is down), the job fails: its redelivery is
    // then judged by the claim, which counts the attempt against maxRetries (tasks/store/claim.ts).
    await retryWhileDatabaseUnreachable(() => recordAttempt(deps, held, task, fallback, false), deps.recordRetryMs);
  } finally {
    // The response's share of the byte budget (http-caller.ts) is given back once it is recorded.
    if (result.ok) result.response.release();
  }
}

/**
 * Ends the held attempt as decided. A cancel requested meanwhile wins; an attempt that lost to a
 * callback is only recorded (not the fallback's: the first try may have recorded it), and one that
 * the watchdog or a cancel already ended records nothing: every UPDATE here is fenced on the
 * attempt's job and lease.
 */
async function recordAttempt(deps: HandlerDeps, held: Held, task: Task, decision: Decision, recordLost = true) {
  if (await endHeldAttempt(deps, held, task, decision)) return;
  // Lost the UPDATE: a cancel was requested (→ cancelled, which sends no webhook) or the task ended
  // another way. Each is one conditional statement; neither enqueues anything.
  const lost = { ...decision.attempt, willRetry: false };
  const cancelled = await deps.lifecycle.change('cancelAttempt', task, (tx) => cancelHeldAttempt(tx, held, lost));
  if (!cancelled && recordLost) await recordLostHeldAttempt(deps.lifecycle.em(), held, lost);
}

/**
 * The task this job claimed when fetched; a task flagged for cancel ends here without a call. A
 * task the claim refused (its attempts were spent by an interrupted one) ended `failed` in the
 * fetch itself: here it gets what every transition gets, its webhook and its publication.
 */
async function takeClaim(deps: HandlerDeps, held: Held, job: JobRef<JobPayloads['dispatch']>) {
  const claimed = claimOf(job);
  if (!claimed) {
    // Parked behind its flow key (committed with the fetch): the key's hand-over decides when it runs.
    const parked = heldKeyOf(job);
    if (parked) deps.onFlowHeld?.(parked.teamId, parked.flowKey);
    return null;
  }
  if (claimed.refused) {
    await announceRefused(deps, claimed.task);
    return null;
  }
  if (claimed.task.cancelRequested) {
    await deps.lifecycle.change('cancelAttempt', claimed.task, (tx) => cancelHeldAttempt(tx, held, null));
    return null;
  }
  const firstClaim = held.lease === 0 && claimed.task.retryCount === 0;
  await deps.lifecycle.announce(claimed.task, { count: firstClaim, webhook: false });
  return claimed;
}

/**
 * The completion webhook of a task the claim refused. Not in the fetch's own statement (pg-boss
 * builds its job INSERT), so a process dying between that commit and this one loses this webhook:
 * the task itself is ended and correct either way.
 */
async function announceRefused(deps: HandlerDeps, task: Task): Promise<void> {
  await deps.lifecycle.announce(task, { count: true, webhook: true });
}
