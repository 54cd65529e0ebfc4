import type { Job, PgBoss, WorkOptions } from 'pg-boss';
import { handleDispatch } from './handlers/dispatch-handler.ts';
import { handleExpire } from './handlers/expire-handler.ts';
import type { HandlerDeps, JobRef } from './handlers/handler-deps.ts';
import { handlePoll } from './handlers/poll-handler.ts';
import { handleRetention } from './handlers/retention-handler.ts';
import { handleWebhook } from './handlers/webhook-handler.ts';
import type { JobPayloads, QueueName } from './queues.ts';

/**
 * Polling is only a backstop (new jobs wake workers through NOTIFY), but delayed jobs — retries,
 * expiries, polls, webhook retries — are found by polling. Why 1 s: a retry due at t runs by t+1 s.
 */
const POLL_SECONDS = 1;

/**
 * Why these: each worker loop fetches a batch and runs its jobs concurrently (they wait on the
 * network), so loops × batch jobs run at once per process: 64 dispatches, 32 polls, 32 webhooks.
 * Few loops keep idle polling cheap (one query per loop per POLL_SECONDS).
 */
const LOOPS: Record<QueueName, { loops: number; batch: number }> = {
  dispatch: { loops: 8, batch: 8 },
  poll: { loops: 4, batch: 8 },
  webhook: { loops: 4, batch: 8 },
  expire: { loops: 2, batch: 16 },
  retention: { loops: 1, batch: 1 },
};

/** Why hourly: retention deletes by age in days; finer is wasted work. */
const RETENTION_CRON = '17 * * * *';

type Handler<Q extends QueueName> = (deps: HandlerDeps, job: JobRef<JobPayloads[Q]>) => Promise<void>;

/** Registers every handler of this process (role `all` or `worker`). */
export async function startWorkers(
  boss: PgBoss,
  deps: HandlerDeps,
  opts: { onJobError: (queue: QueueName, message: string) => void; extra?: Partial<{ [Q in QueueName]: Handler<Q> }> },
) {
  const handlers: { [Q in QueueName]?: Handler<Q> } = {
    dispatch: handleDispatch,
    expire: handleExpire,
    poll: handlePoll,
    webhook: handleWebhook,
    retention: async (d) => {
      await handleRetention(d);
    },
    ...opts.extra,
  };
  for (const [queue, handler] of Object.entries(handlers) as [QueueName, Handler<QueueName>][]) {
    const { loops, batch } = LOOPS[queue];
    const options: WorkOptions & { includeMetadata: true; perJobResults: true } = {
      includeMetadata: true,
      perJobResults: true,
      localConcurrency: loops,
      batchSize: batch,
      burstWhenBatchFull: batch > 1,
      pollingIntervalSeconds: POLL_SECONDS,
      notifyPollingIntervalSeconds: POLL_SECONDS,
    };
    // Each job settles on its own: one failing job is retried by pg-boss without touching the others.
    await boss.work(queue, options, async (jobs: Job<object>[]) => {
      const refs = jobs as unknown as JobRef<JobPayloads[QueueName]>[];
      const settled = await Promise.allSettled(refs.map((job) => handler(deps, job)));
      for (const s of settled)
        if (s.status === 'rejected') opts.onJobError(queue, String((s.reason as Error)?.message ?? s.reason));
      return settled.map((s, i) => ({
        id: refs[i]!.id,
        status: s.status === 'fulfilled' ? ('completed' as const) : ('failed' as const),
        output: s.status === 'rejected' ? { error: String((s.reason as Error)?.message ?? s.reason) } : undefined,
      }));
    });
  }
  await boss.schedule('retention', RETENTION_CRON, {});
}
