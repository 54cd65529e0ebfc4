import type { EntityManager } from '@mikro-orm/postgresql';
import { fromKysely, type PgBoss, type Queue, type SendOptions } from 'pg-boss';
import { poolExecutor } from '../db/prepared.ts';
import { type Alongside, type SqlExecutor, withAlongside, withDerivedJobs } from './boss-sql.ts';

export type { Alongside, SqlExecutor };
/** A job's options (id, priority, start time, group) as the queue takes them. */
export type JobOptions = SendOptions;

/**
 * Why 60 s: heartbeat expiry is the takeover window: a killed instance's in-flight jobs are picked
 * up by another instance within it (configurable: ASYNCQUEUE_JOB_TAKEOVER_SECONDS).
 */
const DEFAULT_TAKEOVER_SECONDS = 60;

/**
 * Every queue of the design, with its retry policy. pg-boss only retries a job whose worker died
 * (heartbeat lost) or threw unexpectedly: task-level retries (maxRetries, backoff, Retry-After) are
 * new delayed jobs decided by the handlers, so they never depend on pg-boss's own backoff.
 */
export const QUEUE_NAMES = ['dispatch', 'expire', 'poll', 'webhook', 'retention'] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export type JobPayloads = {
  dispatch: { taskId: string };
  expire: { taskId: string };
  poll: { taskId: string };
  webhook: { taskId: string; attempt: number };
  retention: Record<string, never>;
};

/**
 * The fairness group of a task's dispatch jobs (pg-boss's `group`): its team, or its team and flow
 * key. The dispatch pump takes groups in turn (job-pump.ts), so one team's (or one key's) backlog
 * never holds up another's next task.
 */
export function dispatchGroup(teamId: string, flowKey: string | null | undefined): { id: string } {
  return { id: flowKey ? `${teamId}/${flowKey}` : teamId };
}

/** Why: heartbeats must be ≥ 10 s (pg-boss minimum) and well inside the takeover window. */
export function heartbeatSeconds(takeoverSeconds = DEFAULT_TAKEOVER_SECONDS): number {
  return Math.max(10, Math.floor(takeoverSeconds / 2));
}

export function queueOptions(name: QueueName, takeoverSeconds = DEFAULT_TAKEOVER_SECONDS): Omit<Queue, 'name'> {
  return {
    // Why: wake workers through LISTEN/NOTIFY the moment a job is created (ms pickup, not a poll).
    // Not dispatch: pg-boss's NOTIFY sits inside the creating transaction, and a notifying commit
    // holds PostgreSQL's NOTIFY lock through its disk flush. Creates would queue on it; the
    // dispatch pumps are woken by our own NOTIFY sent after the commit (tasks/change-notifier.ts).
    notify: name !== 'dispatch',
    heartbeatSeconds: heartbeatSeconds(takeoverSeconds),
    // Why: retries here cover only crashes and bugs; 5 tries with backoff outlast a restart storm.
    // A dispatch redelivery never calls behind the task's back: the claim counts the interrupted
    // attempt against maxRetries, or ends the task when none is left (claimStatement in tasks/store/claim.ts).
    retryLimit: 5,
    retryDelay: 1,
    retryBackoff: true,
    retryDelayMax: 60,
    // Why: the slowest legitimate job is a 600 s dispatch attempt plus 5 redirects' worth of slack.
    expireInSeconds: name === 'dispatch' ? 900 : 300,
    // Why: completed jobs are bookkeeping only; a day is enough to debug and keeps the table small.
    deleteAfterSeconds: 86_400,
    // Why: a delayed job (webhook retry up to 6 h, expiry up to 24 h + delay) must not be purged first.
    retentionSeconds: 14 * 86_400,
  };
}

/**
 * Sends a job on the caller's transaction: commit → the row and the job exist; rollback → neither.
 * With `alongside`, the caller's statement and the job's INSERT are a single statement.
 */
export type Enqueue = <Q extends QueueName>(
  em: EntityManager,
  queue: Q,
  data: JobPayloads[Q],
  options?: SendOptions,
  alongside?: Alongside,
) => Promise<string>;

export function createEnqueue(boss: PgBoss): Enqueue {
  return async (em, queue, data, options = {}, alongside) => {
    // Outside a transaction: pg-boss's statement as a named prepared statement on the ORM's pool.
    const db = em.isInTransaction() ? fromKysely(em.getKysely() as never) : poolExecutor(em, { prepared: true });
    const id = await boss.send(queue, data, { ...options, db: alongside ? withAlongside(db, alongside) : db });
    // pg-boss answers null (and sends nothing) when the queue does not exist: never let it pass silently.
    if (!id) throw new Error(`pg-boss refused a job for queue "${queue}" (missing queue?)`);
    return id;
  };
}

/** One job of an `EnqueueMany` call: its id, payload, priority and (for a delayed one) start time. */
export type ManyJob<Q extends QueueName> = {
  id: string;
  data: JobPayloads[Q];
  priority?: number;
  startAfter?: Date;
  /** The fairness group of a dispatch job (dispatchGroup). */
  group?: { id: string };
};

/**
 * As many jobs as the rows `alongside` inserts, made in SQL from the columns its RETURNING list
 * names (job_id, task_id, priority, start_after — null: at once — and group_id; boss-sql.ts
 * withDerivedJobs): a batch's dispatch jobs (`{taskId}` each) without building and sending a JSON
 * array of them.
 */
export type DerivedJobs = { derivedFromRows: number };

/**
 * Sends many jobs of one queue in ONE statement (pg-boss's `insert`), with `alongside` (e.g. the
 * tasks' multi-row INSERT) as a CTE of it. Throws unless every job was inserted (pg-boss skips a
 * conflicting id silently): on the caller's transaction it then rolls back whole; outside one (the
 * statement is the whole change) the caller takes back the rows it inserted, as a single create does.
 */
export type EnqueueMany = <Q extends QueueName>(
  em: EntityManager,
  queue: Q,
  jobs: readonly ManyJob<Q>[] | DerivedJobs,
  alongside?: Alongside,
) => Promise<void>;

export function createEnqueueMany(boss: PgBoss): EnqueueMany {
  return async (em, queue, jobs, alongside) => {
    const derived = 'derivedFromRows' in jobs;
    const expected = derived ? jobs.derivedFromRows : jobs.length;
    if (expected === 0) return;
    if (derived && !alongside) throw new Error('derived jobs need the statement inserting their rows');
    // Outside a transaction: named prepared statements on the ORM's pool (a batch's text varies
    // with the columns its rows share, hence bounded).
    const db = em.isInTransaction() ? fromKysely(em.getKysely() as never) : poolExecutor(em, { prepared: 'bounded' });
    const payload = derived
      ? []
      : jobs.map((job) => ({
          id: job.id,
          data: job.data,
          priority: job.priority,
          ...(job.group ? { group: job.group } : {}),
          ...(job.startAfter ? { startAfter: job.startAfter.toISOString() } : {}),
        }));
    const ids = await boss.insert(queue, payload, {
      db: alongside ? (derived ? withDerivedJobs : withAlongside)(db, alongside) : db,
      returnId: true,
    });
    if ((ids?.length ?? 0) !== expected) {
      throw new Error(`pg-boss inserted ${ids?.length ?? 0} of ${expected} jobs for queue "${queue}"`);
    }
  };
}
