import { createHash, randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** Why 48: 48 base62 characters carry ~285 bits, far beyond guessing. */
const KEY_CHARS = 48;
export const API_KEY_PATTERN = /^async_[0-9A-Za-z]{48}$/;
/** Why 12: `async_` + 6 characters tells keys apart in a list without revealing them. */
export const KEY_PREFIX_LENGTH = 12;

/** A fresh key: `async_` + 48 base62 characters from a CSPRNG (rejection sampling: no modulo bias). */
export function generateApiKey(): string {
  let out = '';
  while (out.length < KEY_CHARS) {
    for (const byte of randomBytes(64)) {
      if (byte < 248 && out.length < KEY_CHARS) out += BASE62[byte % 62];
    }
  }
  return `async_${out}`;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function keyPrefix(key: string): string {
  return key.slice(0, KEY_PREFIX_LENGTH);
}

/** `whsec_` + base64 of 32 random bytes: the Standard Webhooks secret format. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}
