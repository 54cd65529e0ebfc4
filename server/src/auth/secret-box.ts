import { createCipheriv, createDecipheriv, createSecretKey, randomBytes } from 'node:crypto';

/** Why 12: the GCM nonce size NIST recommends; random per message, never reused with one key. */
const NONCE_BYTES = 12;
/** Sealed without additional data (idempotent replays; vault values before they were bound). */
const UNBOUND = 'v1';
/** Sealed with additional data naming the value's owner (a team, a token, a task). */
const BOUND = 'v2';

/**
 * AES-256-GCM for values stored at rest. Text form: `<version>.<nonce>.<tag>.<data>`.
 * With `boundTo`, the ciphertext opens only with the same `boundTo` (GCM additional data), so a
 * value copied onto another row (another team, token or task) fails to open instead of leaking.
 */
export type SecretBox = {
  seal(plain: string, boundTo?: string): string;
  open(sealed: string, boundTo?: string): string;
};

export class SealedValueError extends Error {
  override readonly name = 'SealedValueError';
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new Error('the encryption key must be 32 bytes');
  // A KeyObject made once: given the raw bytes, node:crypto wraps them anew for every cipher (37 µs
  // a cipher on Node 24, against 5 µs with the KeyObject): a callback task's create seals its
  // callback id and each of its dispatches opens it (team secrets' openings are kept, sealed-owners.ts).
  const keyObject = createSecretKey(key);
  return {
    seal(plain, boundTo) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', keyObject, nonce);
      if (boundTo !== undefined) cipher.setAAD(Buffer.from(boundTo, 'utf8'));
      const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return [boundTo === undefined ? UNBOUND : BOUND, nonce, cipher.getAuthTag(), data]
        .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
        .join('.');
    },
    open(sealed, boundTo) {
      const [version, nonce, tag, data] = sealed.split('.');
      const expected = boundTo === undefined ? UNBOUND : BOUND;
      if (version !== expected || !nonce || !tag || data === undefined) {
        throw new SealedValueError(`not a sealed value (${expected} expected)`);
      }
      const decipher = createDecipheriv('aes-256-gcm', keyObject, Buffer.from(nonce, 'base64url'));
      if (boundTo !== undefined) decipher.setAAD(Buffer.from(boundTo, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      try {
        return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
      } catch {
        throw new SealedValueError('the sealed value does not open with this key for this owner');
      }
    },
  };
}
