import type { Config } from '../config/config.ts';
import { heartbeatSeconds } from '../jobs/queues.ts';
import { startWorkers, type Workers } from '../jobs/workers.ts';
import type { Logger } from '../logging/logger.ts';
import type { Domain } from './domain.ts';
import type { Storage } from './storage.ts';

/** Starts the job handlers, unless this instance only serves the API (ASYNCQUEUE_ROLE=api). */
export async function startWorkersOfRole(
  config: Config,
  logger: Logger,
  storage: Storage,
  domain: Domain,
): Promise<Workers | null> {
  if (config.role === 'api') return null;
  const { orm, secretBox } = storage;
  const { listener, vault, taskMetrics, flowGate } = domain;
  // Workers sweep for flow keys whose window or pause ended, and hand-overs a crash skipped.
  flowGate.startSweep();
  return startWorkers(
    storage.boss,
    {
      lifecycle: domain.lifecycle,
      caller: domain.caller,
      publicUrl: config.publicUrl,
      version: config.version,
      maxResponseBytes: config.maxResponseBytes,
      retentionDays: config.retentionDays,
      // A third of the heartbeat window: the pump touches its jobs every half window, so a job whose
      // outcome waits this long is still inside its window (with a sixth to spare) and is never
      // handed to another worker meanwhile.
      recordRetryMs: (heartbeatSeconds(config.jobTakeoverSeconds) * 1000) / 3,
      secretBox,
      resolveVault: (teamId, headers) => vault.resolve(orm.em.fork(), teamId, headers),
      observeDispatch: taskMetrics.dispatch,
      observeWebhook: taskMetrics.webhook,
      onFlowHeld: (teamId, flowKey) => flowGate.wake(teamId, flowKey),
    },
    {
      onJobError: (queue, message) => logger.error({ queue, error: message }, 'job failed; pg-boss will retry it'),
      subscribe: (channel, onNotify) => listener.subscribe(channel, onNotify),
      heartbeatSeconds: heartbeatSeconds(config.jobTakeoverSeconds),
      webhookLeaseSeconds: config.jobTakeoverSeconds,
    },
  );
}
