import { WebhookVerificationError } from './errors.ts';
import type { WebhookHeaders } from './types.ts';

// What verifying a completion webhook and a dispatched call share: header look-up, timestamp
// tolerance, and the HMAC key of a `whsec_` secret.

/** Why 5 min: the Standard Webhooks tolerance; older deliveries may be replays. */
const DEFAULT_TOLERANCE_SECONDS = 300;

/** How far a signature's timestamp may be from now (seconds, default 300), and the clock (for tests). */
export type TimestampOptions = { toleranceSeconds?: number | undefined; now?: Date | number | undefined };

/** A header's first value, whatever the case of its name. */
export function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value[0] : value;
}

/** Throws unless `timestamp` (unix seconds) is within the tolerance of now. */
export function checkTimestamp(timestamp: string, options: TimestampOptions): void {
  if (!/^\d+$/.test(timestamp)) throw new WebhookVerificationError('Invalid webhook-timestamp');
  const now = options.now === undefined ? Date.now() : Number(options.now);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const age = Math.floor(now / 1000) - Number(timestamp);
  if (age > tolerance) throw new WebhookVerificationError('Webhook timestamp is too old');
  if (age < -tolerance) throw new WebhookVerificationError('Webhook timestamp is too far in the future');
}

/** The HMAC key: the bytes of the base64 after `whsec_` (the prefix is optional). */
export function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw new WebhookVerificationError('Invalid webhook secret: expected whsec_<base64>');
  }
  return Buffer.from(encoded, 'base64');
}
