import type { Job, PgBoss, WorkOptions } from 'pg-boss';
import { poolExecutor } from '../db/prepared.ts';
import { DISPATCH_DUE_CHANNEL } from '../tasks/change-notifier.ts';
import { LOCAL_ORIGIN } from '../tasks/task-events.ts';
import { startAttemptWatchdog } from './attempt-watchdog.ts';
import { claimingFetch } from './boss-sql.ts';
import { handleDispatch } from './handlers/dispatch-handler.ts';
import { handleExpire } from './handlers/expire-handler.ts';
import type { HandlerDeps, JobRef } from './handlers/handler-deps.ts';
import { handlePoll } from './handlers/poll-handler.ts';
import { handleRetention } from './handlers/retention-handler.ts';
import { handleWebhook } from './handlers/webhook-handler.ts';
import { type JobPump, startJobPump } from './job-pump.ts';
import type { JobPayloads, QueueName } from './queues.ts';
import { startWebhookAtOnce, type WebhookAtOnceRunner } from './webhook-at-once.ts';

/**
 * Polling is only a backstop (new jobs wake workers through NOTIFY), but delayed jobs — retries,
 * expiries, polls, webhook retries — are found by polling. Why 1 s: a retry due at t runs by t+1 s.
 */
const POLL_SECONDS = 1;

/**
 * Dispatch, the hot queue, runs on our own pump (job-pump.ts). Why 64: calls wait on the network,
 * so 64 in flight keep a process busy without holding more than a few pool connections (each job
 * uses one only for its short statements). Why 16 per fetch: a burst of creates is picked up in a
 * few statements, while one instance does not grab work another idle one could start sooner.
 */
const DISPATCH_CONCURRENCY = 64;
const DISPATCH_FETCH_BATCH = 16;
/**
 * Why 16: a full pump still takes up to 16 more jobs from teams (or flow keys) below their fair
 * share, so a newcomer's task starts within a fetch even behind another team's thousands of slow
 * calls; 16 bounds the extra memory and connections of that overflow.
 */
const DISPATCH_FAIR_RESERVE = 16;

/**
 * Why these: each worker loop fetches a batch and runs its jobs concurrently (they wait on the
 * network), so loops × batch jobs run at once per process: 32 polls, 32 webhooks. Few loops keep
 * idle polling cheap (one query per loop per POLL_SECONDS).
 */
const LOOPS: Record<Exclude<QueueName, 'dispatch'>, { loops: number; batch: number }> = {
  poll: { loops: 4, batch: 8 },
  webhook: { loops: 4, batch: 8 },
  expire: { loops: 2, batch: 16 },
  retention: { loops: 1, batch: 1 },
};

/** Why hourly: retention deletes by age in days; finer is wasted work. */
const RETENTION_CRON = '17 * * * *';

type Handler<Q extends QueueName> = (deps: HandlerDeps, job: JobRef<JobPayloads[Q]>) => Promise<void>;

export type Workers = {
  /** A dispatch job was just committed by this process: fetch now, without waiting for its NOTIFY. */
  wakeDispatch(): void;
  /**
   * Stops the attempt watchdog and the dispatch pump: no new fetches, running calls get `graceMs`,
   * the rest are failed for a retry.
   */
  stopDispatch(graceMs: number): Promise<void>;
  /** Completion webhooks delivered right after their change commits (webhook-at-once.ts). */
  webhookAtOnce: WebhookAtOnceRunner;
};

type WorkersOptions = {
  onJobError: (queue: QueueName, message: string) => void;
  /** LISTENs on a channel (a NOTIFY on DISPATCH_DUE_CHANNEL wakes the dispatch pump). */
  subscribe: (channel: string, onNotify: (payload: string) => void) => Promise<void>;
  heartbeatSeconds: number;
  /** How long a webhook this process delivers at once is held back from other workers (the takeover window). */
  webhookLeaseSeconds: number;
};

/** Registers every handler of this process (role `all` or `worker`). */
export async function startWorkers(boss: PgBoss, deps: HandlerDeps, opts: WorkersOptions): Promise<Workers> {
  await workOtherQueues(boss, deps, opts.onJobError);
  await boss.schedule('retention', RETENTION_CRON, {});
  const dispatch = startDispatchPump(boss, deps, opts);
  // Sent after a create commits (change-notifier.ts); '' after the listener reconnects. This
  // process's own creates woke the pump already (onDispatchDue).
  await opts.subscribe(DISPATCH_DUE_CHANNEL, (origin) => {
    if (origin !== LOCAL_ORIGIN) dispatch.wake();
  });
  // Dispatch attempts that outlive their timeout (a stuck handler, a job pg-boss gave up on) are
  // moved on by the task's own policy, on every worker instance (the UPDATEs are fenced).
  const watchdog = startAttemptWatchdog(deps, (message) => opts.onJobError('dispatch', message));
  const webhookAtOnce = startWebhookAtOnce(boss, deps, {
    leaseSeconds: opts.webhookLeaseSeconds,
    onError: (message) => opts.onJobError('webhook', message),
  });
  return {
    wakeDispatch: () => dispatch.wake(),
    async stopDispatch(graceMs) {
      await watchdog.stop();
      await dispatch.stop(graceMs);
    },
    webhookAtOnce,
  };
}

/** Every queue but dispatch runs on pg-boss's own `work()` loops (sizes in LOOPS). */
async function workOtherQueues(boss: PgBoss, deps: HandlerDeps, onJobError: WorkersOptions['onJobError']) {
  const handlers: { [Q in Exclude<QueueName, 'dispatch'>]: Handler<Q> } = {
    expire: handleExpire,
    poll: handlePoll,
    webhook: handleWebhook,
    retention: async (d) => {
      await handleRetention(d);
    },
  };
  for (const [queue, handler] of Object.entries(handlers) as [QueueName, Handler<QueueName>][]) {
    const { loops, batch } = LOOPS[queue as Exclude<QueueName, 'dispatch'>];
    const options: WorkOptions & { includeMetadata: true; perJobResults: true } = {
      includeMetadata: true,
      perJobResults: true,
      localConcurrency: loops,
      batchSize: batch,
      burstWhenBatchFull: batch > 1,
      pollingIntervalSeconds: POLL_SECONDS,
      notifyPollingIntervalSeconds: POLL_SECONDS,
    };
    await boss.work(queue, options, (jobs: Job<object>[]) => runBatch(deps, queue, handler, jobs, onJobError));
  }
}

/** Each job settles on its own: one failing job is retried by pg-boss without touching the others. */
async function runBatch(
  deps: HandlerDeps,
  queue: QueueName,
  handler: Handler<QueueName>,
  jobs: Job<object>[],
  onJobError: WorkersOptions['onJobError'],
) {
  const refs = jobs as unknown as JobRef<JobPayloads[QueueName]>[];
  const settled = await Promise.allSettled(refs.map((job) => handler(deps, job)));
  for (const s of settled)
    if (s.status === 'rejected') onJobError(queue, String((s.reason as Error)?.message ?? s.reason));
  return settled.map((s, i) => ({
    id: refs[i]!.id,
    status: s.status === 'fulfilled' ? ('completed' as const) : ('failed' as const),
    output: s.status === 'rejected' ? { error: String((s.reason as Error)?.message ?? s.reason) } : undefined,
  }));
}

/** Dispatch, the hot queue, runs on our own pump (job-pump.ts), its fetch claiming the tasks. */
function startDispatchPump(boss: PgBoss, deps: HandlerDeps, opts: WorkersOptions): JobPump {
  return startJobPump<JobPayloads['dispatch']>(boss, {
    queue: 'dispatch',
    concurrency: DISPATCH_CONCURRENCY,
    fairReserve: DISPATCH_FAIR_RESERVE,
    fetchBatch: DISPATCH_FETCH_BATCH,
    pollMs: POLL_SECONDS * 1000,
    // Why half: a heartbeat refreshed twice per period survives one slow or lost refresh.
    heartbeatMs: (opts.heartbeatSeconds * 1000) / 2,
    handler: (job) => handleDispatch(deps, job),
    // On the ORM's pool; each fetch claims its tasks in the same statement (boss-sql.ts);
    // the fetch named and planned again every second, complete/fail/touch named (see db/prepared.ts).
    db: {
      fetch: claimingFetch(poolExecutor(deps.lifecycle.em(), { prepared: 'replanned' })),
      settle: poolExecutor(deps.lifecycle.em(), { prepared: true }),
    },
    onError: (message) => opts.onJobError('dispatch', message),
  });
}
