import { createHmac } from 'node:crypto';

// Signatures on outbound calls and completion webhooks (SPEC §4, §10), with node:crypto only:
// - X-AsyncQueue-Signature: t=<unix>,v1=<hex HMAC-SHA256(key, "<t>.<body>")> (hosted-service format);
// - Standard Webhooks: webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<t>.<body>")>.
// Both use the same key, the bytes of the team secret after `whsec_`. During a rotation every
// current secret signs, so receivers holding either one verify.

const SECRET_PREFIX = 'whsec_';

/** The HMAC key of a `whsec_<base64>` secret (the prefix is optional, as in Standard Webhooks). */
export function secretKey(whsec: string): Buffer {
  const encoded = whsec.startsWith(SECRET_PREFIX) ? whsec.slice(SECRET_PREFIX.length) : whsec;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw new Error('Invalid webhook secret: expected whsec_<base64>');
  return Buffer.from(encoded, 'base64');
}

/** `t=<unix>,v1=<hex>[,v1=<hex>…]`, one v1 per secret, over `<t>.<body>`. */
export function asyncQueueSignature(secrets: readonly string[], body: string, unixSeconds: number): string {
  const t = String(unixSeconds);
  const signatures = requireSecrets(secrets).map((secret) => `v1=${hmac(secret, `${t}.${body}`).toString('hex')}`);
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
  const signatures = requireSecrets(secrets).map((secret) => `v1,${hmac(secret, content).toString('base64')}`);
  return { 'webhook-id': webhookId, 'webhook-timestamp': t, 'webhook-signature': signatures.join(' ') };
}

function hmac(secret: string, content: string): Buffer {
  return createHmac('sha256', secretKey(secret)).update(content, 'utf8').digest();
}

function requireSecrets(secrets: readonly string[]): readonly string[] {
  if (secrets.length === 0) throw new Error('No signing secret: a team always has at least one');
  return secrets;
}
