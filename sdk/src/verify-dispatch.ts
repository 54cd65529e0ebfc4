import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookVerificationError } from './errors.ts';
import { checkTimestamp, header, secretKey, type TimestampOptions } from './signature-parts.ts';
import type { WebhookHeaders } from './types.ts';

/** The label of the dispatch key: HMAC-SHA256(the team secret's 32 bytes, this label). */
const DISPATCH_KEY_LABEL = 'asyncqueue-dispatch-v1';

/** The request a dispatch arrived as: its method and the full URL it was sent to. */
export type VerifyDispatchOptions = TimestampOptions & {
  /** The request's method, e.g. `POST` (any case). */
  method: string;
  /** The full URL AsyncQueue called, e.g. `https://api.example.com/run?x=1` (each redirect hop is signed for its own URL). */
  url: string;
};

/**
 * Verifies that a request your service received was dispatched by AsyncQueue for your team:
 * `X-AsyncQueue-Signature: t=<unix>,v1=<hex>` is HMAC-SHA256 over `<t>.<METHOD>.<url>.<raw body>`
 * with a key derived from the team's `whsec_…` secret (so a dispatch never verifies as a
 * completion webhook, and a webhook never as a dispatch). A request without a body (GET) signs ''.
 *
 * Pass the raw body exactly as received; during a secret rotation pass both secrets. Throws
 * `WebhookVerificationError` when the header is missing, the timestamp is outside the tolerance
 * (5 min by default) or no signature matches. Node only (uses node:crypto); synchronous.
 */
export function verifyDispatch(
  rawBody: string | Uint8Array | null | undefined,
  headers: WebhookHeaders,
  secret: string | readonly string[],
  options: VerifyDispatchOptions,
): void {
  const signature = header(headers, 'x-asyncqueue-signature');
  if (!signature) throw new WebhookVerificationError('Missing X-AsyncQueue-Signature header');
  const parts = signature.split(',').map((part) => part.trim());
  const timestamp = parts.find((part) => part.startsWith('t='))?.slice(2);
  if (!timestamp) throw new WebhookVerificationError('X-AsyncQueue-Signature has no timestamp');
  checkTimestamp(timestamp, options);
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (secrets.length === 0) throw new WebhookVerificationError('No webhook secret given');
  const body = rawBody == null ? new Uint8Array() : typeof rawBody === 'string' ? Buffer.from(rawBody) : rawBody;
  const prefix = `${timestamp}.${options.method.toUpperCase()}.${options.url}.`;
  const expected = secrets.map((s) => {
    const key = createHmac('sha256', secretKey(s)).update(DISPATCH_KEY_LABEL).digest();
    return createHmac('sha256', key).update(prefix).update(body).digest();
  });
  const given = parts.filter((part) => part.startsWith('v1=')).map((part) => Buffer.from(part.slice(3), 'hex'));
  const valid = given.some((sig) => expected.some((exp) => sig.length === exp.length && timingSafeEqual(sig, exp)));
  if (!valid) throw new WebhookVerificationError('No matching dispatch signature');
}
