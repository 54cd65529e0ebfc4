import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { boundedMap } from '../shared/bounded-map.ts';

// Signatures on outbound calls and completion webhooks, with node:crypto only:
// - completion webhooks: X-AsyncQueue-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//   (hosted-service format) and Standard Webhooks: webhook-signature: v1,<base64 HMAC-SHA256(secret,
//   "<id>.<t>.<body>")>, both keyed by the bytes of the team secret after `whsec_`;
// - dispatched calls: X-AsyncQueue-Signature: t=<unix>,v1=<hex HMAC-SHA256(dispatch key,
//   "<t>.<METHOD>.<url>.<body>")>, keyed by a key DERIVED from the team secret. A key holder chooses
//   a dispatch's body, so with the webhook key a dispatch could be replayed as a forged completion
//   webhook; with the derived key it verifies as nothing but a dispatch.
// During a rotation every current secret signs, so receivers holding either one verify.

const SECRET_PREFIX = 'whsec_';
/** The label the dispatch key is derived with: HMAC-SHA256(secret bytes, label). */
export const DISPATCH_KEY_LABEL = 'asyncqueue-dispatch-v1';

/** The HMAC key of a `whsec_<base64>` secret (the prefix is optional, as in Standard Webhooks). */
export function secretKey(whsec: string): Buffer {
  const encoded = whsec.startsWith(SECRET_PREFIX) ? whsec.slice(SECRET_PREFIX.length) : whsec;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw new Error('Invalid webhook secret: expected whsec_<base64>');
  return Buffer.from(encoded, 'base64');
}

/** The key that signs dispatched calls: HMAC-SHA256(the secret's 32 bytes, "asyncqueue-dispatch-v1"). */
export function dispatchKey(whsec: string): Buffer {
  return createHmac('sha256', secretKey(whsec)).update(DISPATCH_KEY_LABEL, 'utf8').digest();
}

/** Why 1,000: a team has one or two secrets (two during a rotation); far more than one process signs for. */
const MAX_CACHED_SECRETS = 1000;
const keyObjects = boundedMap<string, { webhook: KeyObject; dispatch: KeyObject }>(MAX_CACHED_SECRETS);

/**
 * The HMAC keys of a secret as KeyObjects, made once per secret: given raw bytes, node:crypto wraps
 * them anew for every HMAC (32 µs an HMAC on Node 24, against 8 µs with a KeyObject), and the
 * dispatch key was derived again for every call. Bounded; a full cache starts over.
 */
function keysOf(whsec: string): { webhook: KeyObject; dispatch: KeyObject } {
  return keyObjects.getOrMake(whsec, () => ({
    webhook: createSecretKey(secretKey(whsec)),
    dispatch: createSecretKey(dispatchKey(whsec)),
  }));
}

/** `t=<unix>,v1=<hex>[,v1=<hex>…]`, one v1 per secret, over `<t>.<body>`: completion webhooks. */
export function asyncQueueSignature(secrets: readonly string[], body: string, unixSeconds: number): string {
  const t = String(unixSeconds);
  const signatures = requireSecrets(secrets).map(
    (secret) => `v1=${hmac(keysOf(secret).webhook, `${t}.${body}`).toString('hex')}`,
  );
  return [`t=${t}`, ...signatures].join(',');
}

/** What one outbound request (one redirect hop) is signed over. */
export type SignedRequest = { method: string; url: string; body: string | null };

/**
 * `t=<unix>,v1=<hex>[,v1=<hex>…]` for a dispatched request, one v1 per secret, over
 * `<t>.<METHOD>.<url>.<body>` with the derived dispatch key; no body (GET) signs ''.
 */
export function dispatchSignature(secrets: readonly string[], request: SignedRequest, unixSeconds: number): string {
  const t = String(unixSeconds);
  const content = `${t}.${request.method.toUpperCase()}.${request.url}.${request.body ?? ''}`;
  const signatures = requireSecrets(secrets).map(
    (secret) => `v1=${hmac(keysOf(secret).dispatch, content).toString('hex')}`,
  );
  return [`t=${t}`, ...signatures].join(',');
}

export type StandardWebhookHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/** Standard Webhooks headers: `v1,<base64>` per secret, space-separated, over `<id>.<t>.<body>`. */
export function standardWebhookHeaders(
  secrets: readonly string[],
  webhookId: string,
  unixSeconds: number,
  body: string,
): StandardWebhookHeaders {
  const t = String(unixSeconds);
  const content = `${webhookId}.${t}.${body}`;
  const signatures = requireSecrets(secrets).map(
    (secret) => `v1,${hmac(keysOf(secret).webhook, content).toString('base64')}`,
  );
  return { 'webhook-id': webhookId, 'webhook-timestamp': t, 'webhook-signature': signatures.join(' ') };
}

function hmac(key: KeyObject, content: string): Buffer {
  return createHmac('sha256', key).update(content, 'utf8').digest();
}

function requireSecrets(secrets: readonly string[]): readonly string[] {
  if (secrets.length === 0) throw new Error('No signing secret: a team always has at least one');
  return secrets;
}
