import type { EntityManager } from '@mikro-orm/postgresql';
import type { Task } from '../db/entities/task.ts';
import { execute } from '../db/prepared.ts';
import { TASK_COLUMNS, taskFromRow } from './task-columns.ts';
import { mapTaskRows } from './task-queries.ts';
import { TRANSITIONS } from './task-status.ts';
import type { AttemptRecord, TaskResult, TaskStatus } from './task-types.ts';
import { SIGNING_SECRET_COLUMNS, signingSecretsOf, type TaskWithSigningSecrets } from './team-secrets.ts';

/**
 * The conditional UPDATEs of the dispatch path. Each names the job and lease that may act, so a
 * stale or duplicate pg-boss delivery, a callback that won the race, or a cancel can never be
 * overwritten: the loser's UPDATE matches no row.
 */
const inList = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');
const ACTIVE = inList(TRANSITIONS.complete);

/**
 * Runs one `update … returning *` (a transition that enqueues nothing needs no transaction: one
 * round trip). The caller publishes the returned row once committed (runTransition): to this
 * process's long-polls, and by a NOTIFY sent after the commit to everyone else's (see
 * change-notifier.ts for why not in the statement).
 */
async function one(em: EntityManager, update: string, params: unknown[]): Promise<Task | null> {
  return mapTaskRows(await execute(em, update, params))[0] ?? null;
}

/**
 * The job's task id as a uuid, or null: a malformed job (not written by us) must come back
 * unclaimed, not fail the cast and with it every fetch of the queue.
 */
const TASK_ID_OF_JOB = `case when f.data->>'taskId' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
  then (f.data->>'taskId')::uuid end`;

/** Prefix of the claimed task's columns in a claiming fetch's rows (they sit beside the job's). */
const CLAIMED = 'aq_task_';

/** The attempt a redelivery records for the run that held the task before it (crash or kill). */
const INTERRUPTED = `jsonb_build_array(jsonb_build_object(
  'number', tasks.retry_count + 1,
  'startedAt', to_char(tasks.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'durationMs', (extract(epoch from now() - tasks.updated_at) * 1000)::int,
  'statusCode', null,
  'error', 'Interrupted: the worker running this attempt stopped (crash or kill); retried by another worker',
  'willRetry', true))`;

/** The claimed task's columns, prefixed so they cannot collide with the job's. */
const CLAIMED_COLUMNS = TASK_COLUMNS.map(({ column }) => `c.${column} as ${CLAIMED}${column}`).join(', ');

/**
 * pending/delayed → processing, in the same statement as pg-boss's fetch of the dispatch jobs: each
 * fetched job claims its task with the job's attempt (pg-boss's retry count) as lease, so fetch and
 * claim are one commit, not two. A job whose task is no longer claimable (cancelled, ended, a stale
 * job) comes back unclaimed. Also a crashed attempt's redelivery (same job, higher retry count):
 * the interrupted attempt is recorded and counted as a retry, so attempt numbers never repeat and
 * every attempt shows on the task. Each row also carries the team's signing secrets.
 */
export function claimingFetchSql(fetchSql: string): string {
  return `with aq_fetched as (${fetchSql}),
  aq_claimed as (
    update tasks set status = 'processing', dispatch_lease = f."retryCount",
      started_at = coalesce(tasks.started_at, now()), updated_at = now(),
      attempts = case when tasks.dispatch_lease is null then tasks.attempts else tasks.attempts || ${INTERRUPTED} end,
      retry_count = case when tasks.dispatch_lease is null then tasks.retry_count else tasks.retry_count + 1 end
    from aq_fetched f
    where tasks.id = ${TASK_ID_OF_JOB} and tasks.dispatch_job_id = f.id
      and tasks.status in (${inList(TRANSITIONS.claim)}, 'processing')
      and (tasks.dispatch_lease is null or tasks.dispatch_lease < f."retryCount")
    returning tasks.*)
  select f.*, ${CLAIMED_COLUMNS}, ${SIGNING_SECRET_COLUMNS}
  from aq_fetched f left join aq_claimed c on c.dispatch_job_id = f.id left join teams t on t.id = c.team_id`;
}

export type Claim = TaskWithSigningSecrets;

/**
 * Splits a claiming fetch's row into the job's own columns (for pg-boss; none of them starts with
 * `aq_`) and the claim (null when the task was not claimable).
 */
export function splitClaimedRow(row: Record<string, unknown>): { job: Record<string, unknown>; claim: Claim | null } {
  const job: Record<string, unknown> = {};
  const task: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (key.startsWith(CLAIMED)) task[key.slice(CLAIMED.length)] = value;
    else if (!key.startsWith('aq_')) job[key] = value;
  }
  if (task.id == null) return { job, claim: null };
  return { job, claim: { task: taskFromRow(task), signingSecrets: signingSecretsOf(row) } };
}

const HELD = `id = ? and dispatch_job_id = ? and dispatch_lease = ? and status = 'processing'`;
const APPEND = `attempts = attempts || ?::jsonb, updated_at = now()`;

export type AttemptEnd =
  | { kind: 'completed'; result: TaskResult }
  | { kind: 'waiting'; startResult: TaskResult }
  | { kind: 'polling'; startResult: TaskResult; pollJobId: string }
  | { kind: 'failed'; error: string; result: TaskResult | null }
  | { kind: 'retry'; nextJobId: string };

/** Ends the attempt held by (jobId, lease), unless a cancel was requested meanwhile. */
export function endAttempt(em: EntityManager, held: Held, attempt: AttemptRecord, end: AttemptEnd) {
  const base = [JSON.stringify([attempt])];
  const where = `${HELD} and not cancel_requested`;
  const keys = [held.taskId, held.jobId, held.lease];
  switch (end.kind) {
    case 'completed':
      return one(
        em,
        `update tasks set status = 'completed', result = ?::jsonb, completed_at = now(), dispatch_lease = null, ${APPEND}
         where ${where} returning *`,
        [JSON.stringify(end.result), ...base, ...keys],
      );
    case 'waiting':
      return one(
        em,
        `update tasks set status = 'waiting', start_result = ?::jsonb, dispatch_lease = null,
           deadline_at = now() + make_interval(secs => max_wait_time), ${APPEND}
         where ${where} returning *`,
        [JSON.stringify(end.startResult), ...base, ...keys],
      );
    case 'polling':
      return one(
        em,
        `update tasks set status = 'polling', start_result = ?::jsonb, dispatch_lease = null, poll_job_id = ?,
           deadline_at = now() + make_interval(secs => (poll_config->>'maxDuration')::int), ${APPEND}
         where ${where} returning *`,
        [JSON.stringify(end.startResult), end.pollJobId, ...base, ...keys],
      );
    case 'failed':
      return one(
        em,
        `update tasks set status = 'failed', error = ?, result = ?::jsonb, completed_at = now(), dispatch_lease = null, ${APPEND}
         where ${where} returning *`,
        [end.error, end.result ? JSON.stringify(end.result) : null, ...base, ...keys],
      );
    case 'retry':
      return one(
        em,
        `update tasks set dispatch_job_id = ?, dispatch_lease = null, retry_count = retry_count + 1, ${APPEND}
         where ${where} returning *`,
        [end.nextJobId, ...base, ...keys],
      );
  }
}

export type Held = { taskId: string; jobId: string; lease: number };

/** The attempt ended while a cancel was requested: whatever its outcome, the task is cancelled. */
export function cancelHeldAttempt(em: EntityManager, held: Held, attempt: AttemptRecord | null) {
  return one(
    em,
    `update tasks set status = 'cancelled', completed_at = now(), dispatch_lease = null,
       attempts = attempts || ?::jsonb, updated_at = now()
     where ${HELD} and cancel_requested returning *`,
    [JSON.stringify(attempt ? [attempt] : []), held.taskId, held.jobId, held.lease],
  );
}

/** The task ended another way (a callback beat the HTTP response): keep only the attempt. */
export function recordLostAttempt(em: EntityManager, taskId: string, attempt: AttemptRecord) {
  return one(em, `update tasks set ${APPEND} where id = ? returning *`, [JSON.stringify([attempt]), taskId]);
}

/**
 * A client's cancel: at once from pending/delayed/waiting/polling, and from processing between
 * attempts (no lease: a retry waiting for its backoff). An attempt in flight is not touched here.
 */
export function cancelTask(em: EntityManager, teamId: string, taskId: string) {
  return one(
    em,
    `update tasks set status = 'cancelled', completed_at = now(), updated_at = now()
     where id = ? and team_id = ?
       and (status in (${inList(TRANSITIONS.cancel)}) or (status = 'processing' and dispatch_lease is null))
     returning *`,
    [taskId, teamId],
  );
}

/**
 * waiting → timeout at maxWaitTime; polling (incl. hybrid callback + polling) → timeout at
 * maxDuration. Only once the deadline has passed, so an early or duplicate expire job is harmless.
 */
export function expireTask(em: EntityManager, taskId: string) {
  return one(
    em,
    `update tasks set status = 'timeout', completed_at = now(), updated_at = now(),
       error = case when status = 'waiting'
         then 'No callback or signal within maxWaitTime (' || max_wait_time || ' s)'
         else 'Polling exceeded maxDuration (' || (poll_config->>'maxDuration') || ' s) without a final status' end
     where id = ? and status in ('waiting', 'polling') and deadline_at <= now() returning *`,
    [taskId],
  );
}

/** The single-use flag of each credential column (a poll result, by id, consumes nothing). */
const CONSUMED_FLAG = { callback_id: 'callback_consumed', signal_token_hash: 'signal_consumed', id: null } as const;

/** A result from outside (callback, signal, poll): consumes the credential in the same UPDATE. */
export function completeFromOutside(
  em: EntityManager,
  where: { column: 'callback_id' | 'signal_token_hash' | 'id'; value: string },
  outcome: { status: 'completed'; result: TaskResult } | { status: 'failed'; error: string; result: TaskResult | null },
  from: readonly TaskStatus[] = TRANSITIONS.complete,
) {
  const flag = CONSUMED_FLAG[where.column];
  const consumed = flag ? `${flag} = true,` : '';
  const unused = flag ? `and not ${flag}` : '';
  return one(
    em,
    `update tasks set status = ?, result = ?::jsonb, error = ?, ${consumed} completed_at = now(), updated_at = now()
     where ${where.column} = ? ${unused} and status in (${inList(from)}) returning *`,
    [
      outcome.status,
      outcome.result ? JSON.stringify(outcome.result) : null,
      outcome.status === 'failed' ? outcome.error : null,
      where.value,
    ],
  );
}

/** A non-final callback (e.g. Luma `dreaming`): kept as progress; the id stays usable. */
export function recordProgress(em: EntityManager, callbackId: string, progress: unknown) {
  return one(
    em,
    `update tasks set progress = ?::jsonb, updated_at = now()
     where callback_id = ? and not callback_consumed and status in (${ACTIVE}) returning *`,
    [JSON.stringify(progress), callbackId],
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
  const keep = progress === undefined ? '' : 'progress = ?::jsonb,';
  return one(
    em,
    `update tasks set ${keep} poll_job_id = ?, updated_at = now()
     where id = ? and status = 'polling' and (poll_job_id = ? or poll_job_id is null) returning *`,
    [...(progress === undefined ? [] : [JSON.stringify(progress)]), poll.nextJobId, poll.taskId, poll.jobId],
  );
}
