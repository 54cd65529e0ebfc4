import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookVerificationError } from './errors.ts';
import { checkTimestamp, header, secretKey } from './signature-parts.ts';
import type { WebhookEvent, WebhookHeaders } from './types.ts';
import { verifyDispatch } from './verify-dispatch.ts';

const EVENTS = { 'task.completed': 'completed', 'task.failed': 'failed', 'task.timeout': 'timeout' } as const;

/** Options of `webhooks.verify`. */
export type VerifyWebhookOptions = {
  /**
   * How far `webhook-timestamp` may be from now, in seconds, either way.
   * @default 300
   */
  toleranceSeconds?: number | undefined;
  /**
   * The current time (for tests).
   * @default new Date()
   */
  now?: Date | number | undefined;
};

/**
 * Verifies a completion webhook (Standard Webhooks signature: `webhook-id`, `webhook-timestamp`,
 * `webhook-signature: v1,<base64>` over `<id>.<timestamp>.<raw body>`) and returns the typed event.
 *
 * Pass the raw body exactly as received (not re-serialized JSON) and the team's `whsec_…` secret;
 * during a secret rotation pass both secrets. Throws `WebhookVerificationError` when a header is
 * missing, the timestamp is outside the tolerance, no signature matches, or the body is not an event.
 * Node only (uses node:crypto); synchronous.
 */
export function verifyWebhook(
  rawBody: string | Uint8Array,
  headers: WebhookHeaders,
  secret: string | readonly string[],
  options: VerifyWebhookOptions = {},
): WebhookEvent {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError('Missing webhook-id, webhook-timestamp or webhook-signature header');
  }
  checkTimestamp(timestamp, options);
  const body = typeof rawBody === 'string' ? new TextEncoder().encode(rawBody) : rawBody;
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0) throw new WebhookVerificationError('No webhook secret given');
  const expected = secrets.map((s) =>
    createHmac('sha256', secretKey(s)).update(`${id}.${timestamp}.`).update(body).digest(),
  );
  const given = signatures
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => Buffer.from(entry.slice(3), 'base64'));
  const valid = given.some((sig) => expected.some((exp) => sig.length === exp.length && timingSafeEqual(sig, exp)));
  if (!valid) throw new WebhookVerificationError('No matching webhook signature');
  return parseEvent(body);
}

/** `AsyncQueue.webhooks`: helpers for receiving completion webhooks (and verifying dispatched calls). */
export const webhooks: { readonly verify: typeof verifyWebhook; readonly verifyDispatch: typeof verifyDispatch } =
  Object.freeze({ verify: verifyWebhook, verifyDispatch });

function parseEvent(body: Uint8Array): WebhookEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new WebhookVerificationError('Webhook body is not JSON');
  }
  const event = parsed as { event?: unknown; task?: { id?: unknown; status?: unknown } } | null;
  const name = event?.event;
  const status =
    typeof name === 'string' && Object.hasOwn(EVENTS, name) ? EVENTS[name as keyof typeof EVENTS] : undefined;
  if (!status || typeof event?.task?.id !== 'string' || event.task.status !== status) {
    throw new WebhookVerificationError('Webhook body is not an AsyncQueue task event');
  }
  return parsed as WebhookEvent;
}
