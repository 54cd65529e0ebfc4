import { limitsInForce } from '../../flow/store/flow-keys.ts';
import { TASK_COLUMNS, taskFromRow } from '../task-columns.ts';
import { LIFECYCLE } from '../task-status.ts';
import { inList, interruptedAttempt } from './fragments.ts';
import { SIGNING_SECRET_COLUMNS, signingSecretsOf, type TaskWithSigningSecrets } from './signing-secrets.ts';

/** The claim: pending/delayed → processing in the queue's own fetch statement, and a redelivery's interrupted attempt. */

/**
 * The queue's fetch of dispatch jobs, as the claim reads it (the queue adapter, jobs/boss-sql.ts,
 * names them): the fetch statement, and SQL expressions on one of its rows for the job's id, its
 * attempt (the lease) and its task id as text.
 */
export type FetchedJobs = { statement: string; jobId: string; attempt: string; taskIdText: string };

/**
 * The job's task id as a uuid, or null: a malformed job (not written by us) must come back
 * unclaimed, not fail the cast and with it every fetch of the queue.
 */
const taskIdOfJob = (
  taskIdText: string,
) => `case when ${taskIdText} ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
  then (${taskIdText})::uuid end`;

/** Prefix of the claimed task's columns in a claiming fetch's rows (they sit beside the job's). */
const CLAIMED = 'aq_task_';

const INTERRUPTED_ERROR =
  'Interrupted: the worker running this attempt stopped before recording it (crash, kill or database failure)';
/** A redelivery with retries left: the interrupted attempt counts as a retry. */
const INTERRUPTED = interruptedAttempt(`${INTERRUPTED_ERROR}; retried by another worker`, true);
/** A redelivery with no retries left: the interrupted attempt was the last one. */
const INTERRUPTED_LAST = interruptedAttempt(INTERRUPTED_ERROR, false);

/** A redelivery whose interrupted attempt would take retry_count past max_retries. */
const SPENT = `tasks.dispatch_lease is not null and tasks.retry_count >= tasks.max_retries`;

/**
 * A task its flow key holds back: the key has a limit or is paused, and no hand-over granted this
 * task its attempt (flow/hand-over.ts). Such a task is not claimed but parked (HELD below).
 */
const GATED = `tasks.flow_key is not null and not tasks.flow_grant and exists (select 1 from flow_keys k
  where k.team_id = tasks.team_id and k.key = tasks.flow_key
    and ${limitsInForce('k')})`;

/** The claimed task's columns, prefixed so they cannot collide with the job's. */
const CLAIMED_COLUMNS = TASK_COLUMNS.map(({ column }) => `c.${column} as ${CLAIMED}${column}`).join(', ');

/**
 * pending/delayed → processing, in the same statement as the queue's fetch of the dispatch jobs: each
 * fetched job claims its task with the job's attempt (the queue's retry count) as lease, so fetch and
 * claim are one commit, not two. A job whose task is no longer claimable (cancelled, ended, a stale
 * job) comes back unclaimed. Also a crashed attempt's redelivery (same job, higher retry count):
 * the interrupted attempt is recorded and counted as a retry, so attempt numbers never repeat and
 * every attempt shows on the task. A redelivery whose interrupted attempt was the task's last
 * (retry_count already at max_retries) is REFUSED: the task ends `failed` here, fenced like the
 * claim, so the target is never called more than maxRetries + 1 times whatever stopped the worker.
 * Each row also carries the team's signing secrets, and `aq_refused` for a refused task.
 */
export function claimStatement(fetched: FetchedJobs): string {
  const job = (column: string) => `f.${column}`;
  const taskId = taskIdOfJob(job(fetched.taskIdText));
  const attempt = job(fetched.attempt);
  const redelivered = `tasks.id = ${taskId} and tasks.dispatch_job_id = ${job(fetched.jobId)}`;
  return `with aq_fetched as (${fetched.statement}),
  aq_claimed as (
    update tasks set status = 'processing', dispatch_lease = ${attempt},
      started_at = coalesce(tasks.started_at, now()), updated_at = now(),
      attempts = case when tasks.dispatch_lease is null then tasks.attempts else tasks.attempts || ${INTERRUPTED} end,
      retry_count = case when tasks.dispatch_lease is null then tasks.retry_count else tasks.retry_count + 1 end,
      flow_grant = false, flow_held = false
    from aq_fetched f
    where ${redelivered}
      and tasks.status in (${inList(LIFECYCLE.claim.from)}, 'processing')
      and (tasks.dispatch_lease is null or tasks.dispatch_lease < ${attempt})
      and not (${SPENT})
      and (tasks.dispatch_lease is not null or not (${GATED}))
    returning tasks.*),
  aq_held as (
    update tasks set status = 'pending', flow_held = true, updated_at = now()
    from aq_fetched f
    where ${redelivered} and tasks.status in (${inList(LIFECYCLE.claim.from)}, 'processing') and tasks.dispatch_lease is null
      and not tasks.cancel_requested and ${GATED}
    returning tasks.id, tasks.team_id, tasks.flow_key),
  aq_refused as (
    update tasks set status = 'failed', dispatch_lease = null, completed_at = now(), updated_at = now(),
      error = 'Failed after ' || (tasks.retry_count + 1)
        || case when tasks.retry_count = 0 then ' attempt: ' else ' attempts: ' end || '${INTERRUPTED_ERROR}',
      attempts = tasks.attempts || ${INTERRUPTED_LAST}
    from aq_fetched f
    where ${redelivered} and tasks.status = 'processing' and tasks.dispatch_lease < ${attempt} and ${SPENT}
    returning tasks.*),
  aq_taken as (select *, false as aq_refused from aq_claimed union all select *, true from aq_refused)
  select f.*, ${CLAIMED_COLUMNS}, c.aq_refused, ${SIGNING_SECRET_COLUMNS},
    h.team_id as aq_held_team, h.flow_key as aq_held_key
  from aq_fetched f left join aq_taken c on c.dispatch_job_id = ${job(fetched.jobId)} left join teams t on t.id = c.team_id
    left join aq_held h on h.id = ${taskId}`;
}

/** A task the claim parked behind its flow key: the key a hand-over must now look at. */
export type HeldKey = { teamId: string; flowKey: string };

/** `refused`: the task was not claimed but ended `failed` (its attempts were spent); see claimStatement. */
export type Claim = TaskWithSigningSecrets & { refused: boolean };

/**
 * Splits a claiming fetch's row into the job's own columns (for the queue; none of them starts with
 * `aq_`) and the claim (null when the task was not claimable).
 */
export function splitClaimedRow(row: Record<string, unknown>): {
  job: Record<string, unknown>;
  claim: Claim | null;
  held: HeldKey | null;
} {
  const job: Record<string, unknown> = {};
  const task: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (key.startsWith(CLAIMED)) task[key.slice(CLAIMED.length)] = value;
    else if (!key.startsWith('aq_')) job[key] = value;
  }
  const held = row.aq_held_key == null ? null : { teamId: String(row.aq_held_team), flowKey: String(row.aq_held_key) };
  if (task.id == null) return { job, claim: null, held };
  const claim = { task: taskFromRow(task), signingSecrets: signingSecretsOf(row), refused: row.aq_refused === true };
  return { job, claim, held };
}
