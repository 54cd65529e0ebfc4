import { createHash } from 'node:crypto';
import type { CredentialColumn } from '../tasks/external-results.ts';

export type CredentialKind = 'callback' | 'signal';
export type StoredCredential = { column: CredentialColumn; value: string };

/**
 * How a presented callback id or signal token is stored on its task: the column and the value to
 * look for. The one place that knows it (both are stored as their SHA-256).
 */
export function storedCredential(kind: CredentialKind, presented: string): StoredCredential {
  const hash = createHash('sha256').update(presented).digest('hex');
  return { column: kind === 'callback' ? 'callback_id_hash' : 'signal_token_hash', value: hash };
}
