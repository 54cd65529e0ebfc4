import { randomUUID } from 'node:crypto';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Task } from '../db/entities/task.ts';
import type { Enqueue, JobOptions, JobPayloads, QueueName } from '../jobs/queues.ts';
import type { RideJob } from '../jobs/send-riding.ts';
import { SIGNING_SECRETS_OF_ROW, signingSecretsOf, type TaskWithSigningSecrets } from './store/signing-secrets.ts';
import { LIFECYCLE, type Transition } from './task-status.ts';
import type { TaskStatus } from './task-types.ts';

/** The statuses that send a completion webhook (a cancel is the client's own doing). */
export const WEBHOOK_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'timeout'];

/** Whether this task's move to `status` enqueues its completion webhook. */
export function sendsWebhook(task: Pick<Task, 'onCompleteUrl'>, status: TaskStatus): boolean {
  return WEBHOOK_STATUSES.includes(status) && task.onCompleteUrl != null;
}

/**
 * The one job a change brings, known before its statement runs. A start given as seconds counts from
 * the change's own `now()` (pg-boss's job_now() in the same statement), so an expiry lands exactly
 * on the deadline the statement writes (`now() + max_wait_time`).
 */
export type JobAhead = { [Q in QueueName]: { queue: Q; data: JobPayloads[Q]; options: JobOptions } }[QueueName];

/** A job known ahead, sent the usual way (inside the change's transaction). */
const sendAhead =
  (ahead: JobAhead): JobsOf =>
  async (send) => {
    await (send as (queue: QueueName, data: unknown, options?: JobOptions) => Promise<string>)(
      ahead.queue,
      ahead.data,
      ahead.options,
    );
  };

/** Sends a job inside the change's transaction (commit → the change and its jobs; rollback → neither). */
export type SendJob = <Q extends QueueName>(queue: Q, data: JobPayloads[Q], options?: JobOptions) => Promise<string>;
/** What a change sends with its changed row. */
type JobsOf = (send: SendJob, changed: Task) => Promise<void>;

/** What a change of the lifecycle does besides its statement, given once by the composition root. */
export type LifecycleEffects = {
  enqueue: Enqueue;
  /** Counts transitions for /metrics; never throws. */
  onTransition?: (status: TaskStatus) => void;
  /**
   * A committed change's row: to this process's long-polls at once, and by a NOTIFY sent after the
   * commit to everyone else's (task-change-listener.ts, change-notifier.ts).
   */
  publish?: (task: Task) => void;
  /**
   * A committed change known by id only (a bulk action reads no rows back): long-polls anywhere,
   * this process's included, learn of it from the NOTIFY and re-read.
   */
  notify?: (taskId: string) => void;
  /** This process's at-once delivery of completion webhooks, when it runs workers (else undefined). */
  webhookAtOnce?: () => WebhookAtOnce | undefined;
  /** Makes the next statement on `em` carry a job, inserted only if it returned a row (jobs/send-riding.ts). */
  rideJob?: RideJob;
};

/**
 * A process that runs workers delivers a completion webhook itself right after the change commits,
 * instead of waiting for a webhook worker to fetch its job. The job is still sent with the change,
 * held back (its start time a lease ahead), so if this process dies before it settles the delivery,
 * any worker delivers it when the lease ends. Nothing is lost; a crash only delays it.
 */
export type WebhookAtOnce = {
  /** The held-back job's options; null when this process has enough deliveries in flight (the job is queued as usual). */
  lease(): JobOptions | null;
  /** After the commit: delivers now and settles the held-back job `jobId`. Never throws. */
  deliver(taskId: string, jobId: string, found?: TaskWithSigningSecrets): void;
};

/**
 * What the caller knows of the task before the change: the task itself, whether it sends a webhook
 * (a credential's look-up), or nothing (null: an expiry job).
 */
export type Known = (Pick<Task, 'onCompleteUrl'> & { id?: string }) | { id?: string; sendsWebhook: boolean } | null;

/** Whether the task is known to have onCompleteUrl. */
const knownToSendWebhook = (known: Known): boolean =>
  known !== null && ('sendsWebhook' in known ? known.sendsWebhook : known.onCompleteUrl != null);

/**
 * The one way a task changes (docs/architecture.md, "Lifecycle"). It forks the ORM, decides from the
 * lifecycle table whether the change needs a transaction, runs the store statement and the jobs the
 * change brings (plus the completion webhook of a terminal status), and publishes the committed row.
 */
export type TaskLifecycle = {
  /** A fresh ORM context, for reads and the statements of use cases. */
  em(): EntityManager;
  /**
   * Runs transition `name`: `statement` is its fenced store UPDATE (null: it matched nothing, another
   * actor won), `jobs` sends the jobs it brings with the changed row, or is the one job it brings,
   * known before it runs (then the statement carries it: one statement, no transaction).
   */
  change(
    name: Transition,
    known: Known,
    statement: (em: EntityManager) => Promise<Task | null>,
    jobs?: JobsOf | JobAhead,
  ): Promise<Task | null>;
  /** A write that is no status change (a webhook delivery's record), with the jobs it brings, if any. */
  write<T>(
    statement: (em: EntityManager) => Promise<T>,
    jobs?: (send: SendJob, written: T) => Promise<void>,
  ): Promise<T>;
  /** Sends one job on its own (an autocommit INSERT), for work that changes no row (a redelivery). */
  send: SendJob;
  /** A row changed by a statement the lifecycle did not run (the claim inside pg-boss's fetch). */
  announce(task: Task, opts: { count: boolean; webhook: boolean }): Promise<void>;
  /**
   * Committed changes known by id only (a bulk action, a chunk per statement): each is counted
   * when it changed the status (`status`), and announced by NOTIFY.
   */
  announceIds(changes: readonly { id: string; status: TaskStatus | null }[]): void;
};

/**
 * Whether transition `name` may enqueue: it always brings jobs, or it may end the task in a status
 * that sends the webhook and the task has (or may have) onCompleteUrl. Known before the UPDATE
 * (onCompleteUrl never changes), so a change that enqueues nothing is one autocommit statement.
 */
export function needsTransaction(name: Transition, known: Known): boolean {
  const entry = LIFECYCLE[name];
  if (entry.jobs) return true;
  const terminal = (entry.to as readonly TaskStatus[]).some((status) => WEBHOOK_STATUSES.includes(status));
  if (!terminal || known === null) return terminal;
  return knownToSendWebhook(known);
}

/**
 * The task whose transition `name` certainly ends in a status that sends the webhook and brings no
 * other job (complete, fail, expire of a task known to have onCompleteUrl): its statement can carry
 * the webhook's job itself, without a transaction. Null when that is not known before the UPDATE.
 */
export function webhookOnlyChange(name: Transition, known: Known): string | null {
  const entry = LIFECYCLE[name];
  if (entry.jobs || known?.id === undefined || !knownToSendWebhook(known)) return null;
  const to = entry.to as readonly TaskStatus[];
  return to.length > 0 && to.every((status) => WEBHOOK_STATUSES.includes(status)) ? known.id : null;
}

/**
 * How a change's jobs travel: the completion webhook's job (held back when this process delivers it
 * at once) and a job riding on the change's own statement (one statement instead of a transaction).
 */
function jobRoutes(effects: LifecycleEffects) {
  /** Sends the completion webhook's job; returns the at-once delivery to start after the commit, if any. */
  const sendWebhook = async (em: EntityManager, taskId: string): Promise<(() => void) | null> => {
    const atOnce = effects.webhookAtOnce?.();
    const lease = atOnce?.lease() ?? null;
    const jobId = await effects.enqueue(em, 'webhook', { taskId, attempt: 1 }, lease ?? undefined);
    return atOnce && lease ? () => atOnce.deliver(taskId, jobId) : null;
  };
  /**
   * A change whose only job is the webhook, delivered at once by this process: its statement carries
   * the job (one autocommit statement instead of BEGIN, UPDATE, INSERT, COMMIT). Returns the
   * delivery to start once the statement returned the row, or null (then the usual path runs).
   */
  const rideWebhook = (em: EntityManager, name: Transition, known: Known): ((changed: Task) => void) | null => {
    const taskId = webhookOnlyChange(name, known);
    const atOnce = taskId && effects.rideJob ? effects.webhookAtOnce?.() : undefined;
    const lease = atOnce?.lease() ?? null;
    if (!taskId || !atOnce || !lease) return null;
    const jobId = randomUUID();
    // The statement also reads the team's signing secrets: the delivery needs no read of its own.
    const ridden = effects.rideJob?.(
      em,
      'webhook',
      { taskId, attempt: 1 },
      { ...lease, id: jobId },
      SIGNING_SECRETS_OF_ROW,
    );
    return (changed) => {
      const row = ridden?.rows()[0];
      atOnce.deliver(taskId, jobId, row ? { task: changed, signingSecrets: signingSecretsOf(row) } : undefined);
    };
  };
  /** A change's one job known ahead rides on its statement, unless the change may also end with a webhook. */
  const rideAhead = (em: EntityManager, name: Transition, ahead: JobAhead): ((changed: Task) => void) | null => {
    const mayEnd = (LIFECYCLE[name].to as readonly TaskStatus[]).some((status) => WEBHOOK_STATUSES.includes(status));
    if (mayEnd || !effects.rideJob) return null;
    (effects.rideJob as (em: EntityManager, queue: QueueName, data: unknown, options: JobOptions) => void)(
      em,
      ahead.queue,
      ahead.data,
      ahead.options,
    );
    return () => {};
  };
  return { sendWebhook, rideWebhook, rideAhead };
}

export function createTaskLifecycle(orm: MikroORM, effects: LifecycleEffects): TaskLifecycle {
  const { sendWebhook, rideWebhook, rideAhead } = jobRoutes(effects);
  const sender =
    (em: EntityManager): SendJob =>
    (queue, data, options) =>
      effects.enqueue(em, queue, data, options);
  /** Publishes a committed change; counts it in /metrics only if it changes the status (`to`). */
  const published = (name: Transition, task: Task) => {
    if (LIFECYCLE[name].to.length > 0) effects.onTransition?.(task.status);
    effects.publish?.(task);
  };
  return {
    em: () => orm.em.fork(),
    async change(name, known, statement, given) {
      const em = orm.em.fork();
      const ahead = given && typeof given !== 'function' ? given : null;
      const jobs = ahead ? sendAhead(ahead) : (given as JobsOf | undefined);
      const deliverRidden = ahead ? rideAhead(em, name, ahead) : rideWebhook(em, name, known);
      if (deliverRidden || !needsTransaction(name, known)) {
        const task = await statement(em);
        if (task) published(name, task);
        if (task) deliverRidden?.(task);
        return task;
      }
      let deliverWebhook: (() => void) | null = null;
      const task = await em.transactional(async (tem) => {
        const changed = await statement(tem);
        if (!changed) return null;
        await jobs?.(sender(tem), changed);
        if (sendsWebhook(changed, changed.status)) deliverWebhook = await sendWebhook(tem, changed.id);
        return changed;
      });
      // Only now is the row committed, and so safe to show (and its webhook to send).
      if (task) published(name, task);
      if (task) (deliverWebhook as (() => void) | null)?.();
      return task;
    },
    async write(statement, jobs) {
      const em = orm.em.fork();
      if (!jobs) return statement(em);
      return em.transactional(async (tem) => {
        const written = await statement(tem);
        await jobs(sender(tem), written);
        return written;
      });
    },
    send: (queue, data, options) => effects.enqueue(orm.em.fork(), queue, data, options),
    async announce(task, opts) {
      // One job INSERT: an autocommit statement, no transaction around it.
      const deliverWebhook =
        opts.webhook && sendsWebhook(task, task.status) ? await sendWebhook(orm.em.fork(), task.id) : null;
      if (opts.count) effects.onTransition?.(task.status);
      effects.publish?.(task);
      deliverWebhook?.();
    },
    announceIds(changes) {
      for (const { id, status } of changes) {
        if (status) effects.onTransition?.(status);
        effects.notify?.(id);
      }
    },
  };
}
