import type { EntityManager } from '@mikro-orm/postgresql';
import { openTeamSecrets } from '../../auth/sealed-owners.ts';
import { webhookRetryDelayMs } from '../../dispatch/backoff.ts';
import { parseRetryAfter } from '../../dispatch/retry-after.ts';
import { asyncQueueSignature, standardWebhookHeaders } from '../../dispatch/signing.ts';
import { findTaskWithSigningSecrets, type TaskWithSigningSecrets } from '../../tasks/store/signing-secrets.ts';
import { appendWebhookDelivery, type DeliveryEntry } from '../../tasks/store/webhook-deliveries.ts';
import type { WebhookDeliveryRecord } from '../../tasks/task-types.ts';
import { toTaskView } from '../../tasks/task-view.ts';
import type { JobPayloads } from '../queues.ts';
import { retryWhileDatabaseUnreachable } from './database-retry.ts';
import type { HandlerDeps, JobRef } from './handler-deps.ts';

/** Why 10 s: a webhook receiver is expected to acknowledge at once and process later. */
const WEBHOOK_TIMEOUT_MS = 10_000;
/** Why 64 KiB: we only keep the status; a receiver's body is read just enough to free the socket. */
const WEBHOOK_RESPONSE_CAP = 64 * 1024;
/** Why 410: the receiver says the endpoint is gone for good; retrying would be noise. */
const GONE = 410;

const EVENTS = { completed: 'task.completed', failed: 'task.failed', timeout: 'task.timeout' } as const;

/** The webhook-id is stable for a task across retries and redeliveries, so receivers can dedupe. */
export function webhookIdOf(taskId: string): string {
  return `msg_${taskId.replace(/-/g, '')}`;
}

/**
 * Delivers the completion webhook once, records the delivery on the task, and schedules the next
 * attempt on failure (5 s … 6 h, honoring Retry-After; 410 stops). Never changes the task status.
 */
export function handleWebhook(deps: HandlerDeps, job: JobRef<JobPayloads['webhook']>): Promise<void> {
  return deliverWebhook(deps, job);
}

/**
 * Settles a job this process did not fetch, in one statement with the delivery's record, in the
 * retry's transaction when there is one.
 */
export type SettleWith = (em: EntityManager, record: DeliveryEntry) => Promise<void>;

/**
 * `handleWebhook`, for a job this process may not have fetched: `settle` settles it with the record,
 * `preloaded` is the task and its team's secrets when the change that ended it read them (webhook-at-once.ts).
 */
export async function deliverWebhook(
  deps: HandlerDeps,
  job: Pick<JobRef<JobPayloads['webhook']>, 'data'>,
  settle?: SettleWith,
  preloaded?: TaskWithSigningSecrets,
): Promise<void> {
  const found = preloaded ?? (await findTaskWithSigningSecrets(deps.lifecycle.em(), job.data.taskId));
  const task = found?.task;
  if (!found || !task?.onCompleteUrl || !(task.status in EVENTS)) return;
  const secrets = openTeamSecrets(deps.secretBox, task.teamId, found.signingSecrets);
  const body = JSON.stringify({ event: EVENTS[task.status as keyof typeof EVENTS], task: toTaskView(task) });
  const webhookId = webhookIdOf(task.id);
  const now = Math.floor(Date.now() / 1000);
  const sentAt = new Date();
  const result = await deps.caller.call({
    url: task.onCompleteUrl,
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'User-Agent': `AsyncQueue/${deps.version}`,
      'X-AsyncQueue-Signature': asyncQueueSignature(secrets, body, now),
      ...standardWebhookHeaders(secrets, webhookId, now, body),
    },
    body,
    timeoutMs: WEBHOOK_TIMEOUT_MS,
    maxResponseBytes: WEBHOOK_RESPONSE_CAP,
  });
  const statusCode = result.ok ? result.response.statusCode : null;
  const durationMs = result.ok ? result.response.durationMs : result.failure.durationMs;
  deps.observeWebhook?.(durationMs / 1000, statusCode);
  const delivered = statusCode !== null && statusCode >= 200 && statusCode < 300;
  const delivery: WebhookDeliveryRecord = {
    attempt: job.data.attempt,
    webhookId,
    sentAt: sentAt.toISOString(),
    durationMs,
    statusCode,
    error: delivered ? null : result.ok ? `Receiver answered ${statusCode}` : result.failure.message,
  };
  const retryAfterMs = result.ok ? parseRetryAfter(result.response.headers['retry-after'], Date.now()) : null;
  // 410 (receiver gone) and a network-guard refusal (a private address) are final: no retries.
  const final = delivered || statusCode === GONE || (!result.ok && result.failure.kind === 'network_guard');
  const nextDelay = final ? null : webhookRetryDelayMs(job.data.attempt, retryAfterMs);
  const record = (tem: EntityManager) =>
    settle ? settle(tem, { taskId: task.id, delivery }) : appendWebhookDelivery(tem, task.id, delivery);
  const next = { taskId: task.id, attempt: job.data.attempt + 1 };
  // A final delivery is one autocommit statement; a retry's job commits with its record. The
  // webhook went out: a database that is restarting must not make pg-boss send it again.
  await retryWhileDatabaseUnreachable(async () => {
    if (nextDelay === null) return deps.lifecycle.write(record);
    const startAfter = new Date(Date.now() + nextDelay);
    return deps.lifecycle.write(record, async (send) => {
      await send('webhook', next, { startAfter });
    });
  }, deps.recordRetryMs);
}
