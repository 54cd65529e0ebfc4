import type { EntityManager } from '@mikro-orm/postgresql';
import { fromKysely, type PgBoss, type Queue, type SendOptions } from 'pg-boss';

/** Why 60 s: heartbeat expiry is the takeover window for a killed instance's jobs (SPEC §12). */
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

export function queueOptions(name: QueueName, takeoverSeconds = DEFAULT_TAKEOVER_SECONDS): Omit<Queue, 'name'> {
  // Why: heartbeats must be ≥ 10 s (pg-boss minimum) and well inside the takeover window.
  const heartbeatSeconds = Math.max(10, Math.floor(takeoverSeconds / 2));
  return {
    // Why: wake workers through LISTEN/NOTIFY the moment a job is created (ms pickup, not a poll).
    notify: true,
    heartbeatSeconds,
    // Why: retries here cover only crashes and bugs; 5 tries with backoff outlast a restart storm.
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

/** Sends a job on the caller's transaction: commit → the row and the job exist; rollback → neither. */
export type Enqueue = <Q extends QueueName>(
  em: EntityManager,
  queue: Q,
  data: JobPayloads[Q],
  options?: SendOptions,
) => Promise<string>;

export function createEnqueue(boss: PgBoss): Enqueue {
  return async (em, queue, data, options = {}) => {
    const id = await boss.send(queue, data, { ...options, db: fromKysely(em.getKysely() as never) });
    // pg-boss answers null (and sends nothing) when the queue does not exist: never let it pass silently.
    if (!id) throw new Error(`pg-boss refused a job for queue "${queue}" (missing queue?)`);
    return id;
  };
}
