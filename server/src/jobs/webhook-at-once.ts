import type { EntityManager } from '@mikro-orm/postgresql';
import { fromKysely, type PgBoss } from 'pg-boss';
import type { DeliveryEntry } from '../tasks/store/webhook-deliveries.ts';
import type { WebhookAtOnce } from '../tasks/task-lifecycle.ts';
import type { HandlerDeps } from './handlers/handler-deps.ts';
import { deliverWebhook } from './handlers/webhook-handler.ts';
import { completeWithRecords, recordsWrittenTogether } from './webhook-records.ts';

/**
 * Why 64: deliveries wait on the receiver, so 64 in flight keep a process busy without holding more
 * than a few pool connections (each uses one only for its two short statements); beyond that, a
 * change's webhook goes to the queue and the webhook workers take it as before.
 */
const MAX_IN_FLIGHT = 64;

export type WebhookAtOnceRunner = WebhookAtOnce & {
  /** Starts no more deliveries and waits (at most `graceMs`) for those in flight. */
  stop(graceMs: number): Promise<void>;
};

/**
 * Completion webhooks delivered by the process that made the change, right after its commit
 * (task-lifecycle.ts WebhookAtOnce): no fetch by a webhook worker, no wait for its wake-up. The
 * job sent with the change is held back by `leaseSeconds` (the takeover window: a killed
 * instance's work is resumed within it, as for a running job); the delivery's record completes it
 * (in one transaction with the next attempt's job when the delivery failed), so it never runs. If
 * this process dies first, any webhook worker delivers the job when the lease ends.
 */
export function startWebhookAtOnce(
  boss: PgBoss,
  deps: HandlerDeps,
  opts: { leaseSeconds: number; onError: (message: string) => void },
): WebhookAtOnceRunner {
  const running = new Set<Promise<void>>();
  let stopped = false;
  const recordFinal = recordsWrittenTogether(boss);
  /**
   * Settles the held-back job with the delivery's record. A failed delivery's record commits with
   * its retry's job, in that transaction; a final one is written with the others that finish
   * meanwhile (webhook-records.ts).
   */
  const complete = async (em: EntityManager, jobId: string, entry: DeliveryEntry) => {
    if (!em.isInTransaction()) return recordFinal(em, jobId, entry);
    await completeWithRecords(boss, fromKysely(em.getKysely() as never), [jobId], [entry]);
  };
  return {
    lease: () =>
      stopped || running.size >= MAX_IN_FLIGHT ? null : { startAfter: new Date(Date.now() + opts.leaseSeconds * 1000) },
    deliver(taskId, jobId, found) {
      const settle = (em: EntityManager, entry: DeliveryEntry) => complete(em, jobId, entry);
      const delivery = deliverWebhook(deps, { data: { taskId, attempt: 1 } }, settle, found)
        .catch((error: unknown) => {
          // The held-back job stays queued: a webhook worker delivers it when its lease ends.
          opts.onError(
            `webhook of task ${taskId} not delivered at once (${(error as Error)?.message ?? error}); its job will`,
          );
        })
        .finally(() => running.delete(delivery));
      running.add(delivery);
    },
    async stop(graceMs) {
      stopped = true;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.race([Promise.allSettled([...running]), deadline]);
      clearTimeout(timer);
    },
  };
}
