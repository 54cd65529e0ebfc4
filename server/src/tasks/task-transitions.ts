import type { EntityManager } from '@mikro-orm/postgresql';
import type { Task } from '../db/entities/task.ts';
import { execute } from '../db/prepared.ts';
import { storableJson, storableText, storedProgress, storedResult } from './storable-text.ts';
import { STUCK, STUCK_MARGIN_SECONDS } from './stuck-attempts.ts';
import { TASK_COLUMNS, taskFromRow } from './task-columns.ts';
import { mapTaskRows } from './task-queries.ts';
import { TRANSITIONS } from './task-status.ts';
import type { AttemptRecord, TaskResult, TaskStatus } from './task-types.ts';
import { SIGNING_SECRET_COLUMNS, signingSecretsOf, type TaskWithSigningSecrets } from './team-secrets.ts';

/**
 * The conditional UPDATEs of every transition (status table: task-status.ts). Each names the state
 * it expects, and on the dispatch path the job and lease that may act, so a stale or duplicate
 * pg-boss delivery, a callback that won the race, or a cancel can never be overwritten: the loser's
 * UPDATE matches no row.
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

type BodyColumn = 'result_body' | 'start_result_body';

/** Every column but `body`, for a RETURNING that must not send back the body it has just written. */
const returningWithout = (body: BodyColumn) =>
  TASK_COLUMNS.filter(({ column }) => column !== body)
    .map(({ column }) => column)
    .join(', ');
const RETURNING_WITHOUT = {
  result_body: returningWithout('result_body'),
  start_result_body: returningWithout('start_result_body'),
};

/**
 * Like `one`, for an UPDATE that writes a response body (up to the response cap: megabytes): the
 * row comes back without it and the body written is put in its place, so a big body crosses the
 * connection once, not twice (and is not parsed back into a second copy).
 */
async function oneWritingBody(
  em: EntityManager,
  update: (returning: string) => string,
  params: unknown[],
  written: { column: BodyColumn; body: string | null },
): Promise<Task | null> {
  const rows = await execute<Record<string, unknown>>(em, update(RETURNING_WITHOUT[written.column]), params);
  for (const row of rows) row[written.column] = written.body;
  return mapTaskRows(rows)[0] ?? null;
}

/**
 * The job's task id as a uuid, or null: a malformed job (not written by us) must come back
 * unclaimed, not fail the cast and with it every fetch of the queue.
 */
const TASK_ID_OF_JOB = `case when f.data->>'taskId' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
  then (f.data->>'taskId')::uuid end`;

/** Prefix of the claimed task's columns in a claiming fetch's rows (they sit beside the job's). */
const CLAIMED = 'aq_task_';

/**
 * The attempt a redelivery records for the run that held the task before it (a crash, a kill, or
 * a failure after the call that could not be recorded), or that the watchdog and a cancel record
 * for a stuck one: the attempt's number, its start (the claim set updated_at), no status code.
 */
const interruptedAttempt = (error: string, willRetry: boolean) => `jsonb_build_array(jsonb_build_object(
  'number', tasks.retry_count + 1,
  'startedAt', to_char(tasks.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'durationMs', (extract(epoch from now() - tasks.updated_at) * 1000)::int,
  'statusCode', null,
  'error', '${error}',
  'willRetry', ${willRetry}))`;

const INTERRUPTED_ERROR =
  'Interrupted: the worker running this attempt stopped before recording it (crash, kill or database failure)';
/** A redelivery with retries left: the interrupted attempt counts as a retry. */
const INTERRUPTED = interruptedAttempt(`${INTERRUPTED_ERROR}; retried by another worker`, true);
/** A redelivery with no retries left: the interrupted attempt was the last one. */
const INTERRUPTED_LAST = interruptedAttempt(INTERRUPTED_ERROR, false);

/** The stuck attempt a cancel ends (see cancelTask). */
const CANCELLED_STUCK = interruptedAttempt(
  `Interrupted: no outcome within the attempt timeout plus ${STUCK_MARGIN_SECONDS} s; the task was cancelled`,
  false,
);

/** A redelivery whose interrupted attempt would take retry_count past max_retries. */
const SPENT = `tasks.dispatch_lease is not null and tasks.retry_count >= tasks.max_retries`;

/** The claimed task's columns, prefixed so they cannot collide with the job's. */
const CLAIMED_COLUMNS = TASK_COLUMNS.map(({ column }) => `c.${column} as ${CLAIMED}${column}`).join(', ');

/**
 * pending/delayed → processing, in the same statement as pg-boss's fetch of the dispatch jobs: each
 * fetched job claims its task with the job's attempt (pg-boss's retry count) as lease, so fetch and
 * claim are one commit, not two. A job whose task is no longer claimable (cancelled, ended, a stale
 * job) comes back unclaimed. Also a crashed attempt's redelivery (same job, higher retry count):
 * the interrupted attempt is recorded and counted as a retry, so attempt numbers never repeat and
 * every attempt shows on the task. A redelivery whose interrupted attempt was the task's last
 * (retry_count already at max_retries) is REFUSED: the task ends `failed` here, fenced like the
 * claim, so the target is never called more than maxRetries + 1 times whatever stopped the worker.
 * Each row also carries the team's signing secrets, and `aq_refused` for a refused task.
 */
export function claimingFetchSql(fetchSql: string): string {
  const redelivered = `tasks.id = ${TASK_ID_OF_JOB} and tasks.dispatch_job_id = f.id`;
  return `with aq_fetched as (${fetchSql}),
  aq_claimed as (
    update tasks set status = 'processing', dispatch_lease = f."retryCount",
      started_at = coalesce(tasks.started_at, now()), updated_at = now(),
      attempts = case when tasks.dispatch_lease is null then tasks.attempts else tasks.attempts || ${INTERRUPTED} end,
      retry_count = case when tasks.dispatch_lease is null then tasks.retry_count else tasks.retry_count + 1 end
    from aq_fetched f
    where ${redelivered}
      and tasks.status in (${inList(TRANSITIONS.claim)}, 'processing')
      and (tasks.dispatch_lease is null or tasks.dispatch_lease < f."retryCount")
      and not (${SPENT})
    returning tasks.*),
  aq_refused as (
    update tasks set status = 'failed', dispatch_lease = null, completed_at = now(), updated_at = now(),
      error = 'Failed after ' || (tasks.retry_count + 1)
        || case when tasks.retry_count = 0 then ' attempt: ' else ' attempts: ' end || '${INTERRUPTED_ERROR}',
      attempts = tasks.attempts || ${INTERRUPTED_LAST}
    from aq_fetched f
    where ${redelivered} and tasks.status = 'processing' and tasks.dispatch_lease < f."retryCount" and ${SPENT}
    returning tasks.*),
  aq_taken as (select *, false as aq_refused from aq_claimed union all select *, true from aq_refused)
  select f.*, ${CLAIMED_COLUMNS}, c.aq_refused, ${SIGNING_SECRET_COLUMNS}
  from aq_fetched f left join aq_taken c on c.dispatch_job_id = f.id left join teams t on t.id = c.team_id`;
}

/** `refused`: the task was not claimed but ended `failed` (its attempts were spent); see claimingFetchSql. */
export type Claim = TaskWithSigningSecrets & { refused: boolean };

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
  const claim = { task: taskFromRow(task), signingSecrets: signingSecretsOf(row), refused: row.aq_refused === true };
  return { job, claim };
}

const HELD = `id = ? and dispatch_job_id = ? and dispatch_lease = ? and status = 'processing'`;
const APPEND = `attempts = attempts || ?::jsonb, updated_at = now()`;
/** A result's three columns (jsonb metadata, body text, encoding), set from storedResult's params. */
const RESULT = `result = ?::jsonb, result_body = ?, result_body_encoding = ?`;
const START_RESULT = `start_result = ?::jsonb, start_result_body = ?, start_result_body_encoding = ?`;

export type AttemptEnd =
  | { kind: 'completed'; result: TaskResult }
  | { kind: 'waiting'; startResult: TaskResult }
  | { kind: 'polling'; startResult: TaskResult; pollJobId: string }
  | { kind: 'failed'; error: string; result: TaskResult | null }
  | { kind: 'retry'; nextJobId: string };

/** Ends the attempt held by (jobId, lease), unless a cancel was requested meanwhile. */
export function endAttempt(em: EntityManager, held: Held, attempt: AttemptRecord, end: AttemptEnd) {
  const base = [storableJson([attempt])];
  const where = `${HELD} and not cancel_requested`;
  const keys = [held.taskId, held.jobId, held.lease];
  switch (end.kind) {
    case 'completed': {
      const stored = storedResult(end.result);
      return oneWritingBody(
        em,
        (
          returning,
        ) => `update tasks set status = 'completed', ${RESULT}, completed_at = now(), dispatch_lease = null, ${APPEND}
         where ${where} returning ${returning}`,
        [...stored, ...base, ...keys],
        { column: 'result_body', body: stored[1] },
      );
    }
    case 'waiting': {
      const stored = storedResult(end.startResult);
      return oneWritingBody(
        em,
        (returning) => `update tasks set status = 'waiting', ${START_RESULT}, dispatch_lease = null,
           deadline_at = now() + make_interval(secs => max_wait_time), ${APPEND}
         where ${where} returning ${returning}`,
        [...stored, ...base, ...keys],
        { column: 'start_result_body', body: stored[1] },
      );
    }
    case 'polling': {
      const stored = storedResult(end.startResult);
      return oneWritingBody(
        em,
        (returning) => `update tasks set status = 'polling', ${START_RESULT}, dispatch_lease = null, poll_job_id = ?,
           deadline_at = now() + make_interval(secs => (poll_config->>'maxDuration')::int), ${APPEND}
         where ${where} returning ${returning}`,
        [...stored, end.pollJobId, ...base, ...keys],
        { column: 'start_result_body', body: stored[1] },
      );
    }
    case 'failed': {
      const stored = storedResult(end.result);
      return oneWritingBody(
        em,
        (
          returning,
        ) => `update tasks set status = 'failed', error = ?, ${RESULT}, completed_at = now(), dispatch_lease = null, ${APPEND}
         where ${where} returning ${returning}`,
        [storableText(end.error), ...stored, ...base, ...keys],
        { column: 'result_body', body: stored[1] },
      );
    }
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

/**
 * A client's cancel: at once from pending/delayed/waiting/polling, from processing between
 * attempts (no lease: a retry waiting for its backoff), and from an attempt that is stuck (held
 * past its timeout plus STUCK_MARGIN_SECONDS): that one is recorded as interrupted and its lease
 * dropped, so the late worker's own UPDATE matches nothing. An attempt in flight is not touched.
 */
export function cancelTask(em: EntityManager, teamId: string, taskId: string) {
  return one(
    em,
    `update tasks set status = 'cancelled', completed_at = now(), updated_at = now(), dispatch_lease = null,
       attempts = case when ${STUCK} then attempts || ${CANCELLED_STUCK} else attempts end
     where id = ? and team_id = ?
       and (status in (${inList(TRANSITIONS.cancel)}) or (status = 'processing' and dispatch_lease is null) or (${STUCK}))
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
  from: readonly TaskStatus[] = TRANSITIONS.complete,
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
