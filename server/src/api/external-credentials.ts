import { createHash } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { execute } from '../db/prepared.ts';

export type CredentialKind = 'callback' | 'signal';
export type StoredCredential = { column: 'callback_id_hash' | 'signal_token_hash'; value: string };

/**
 * How a presented callback id or signal token is stored on its task: the column and the value to
 * look for. The one place that knows it (both are stored as their SHA-256).
 */
export function storedCredential(kind: CredentialKind, presented: string): StoredCredential {
  const hash = createHash('sha256').update(presented).digest('hex');
  return { column: kind === 'callback' ? 'callback_id_hash' : 'signal_token_hash', value: hash };
}

/**
 * True when a task holds this credential and has not used it yet: one indexed look-up, run before
 * the request body is read, so that a flood of bodies to random ids costs no reading or parsing.
 * Whether the task still accepts it (409) is settled after the body, by the conditional UPDATE.
 */
export async function credentialIsLive(orm: MikroORM, stored: StoredCredential): Promise<boolean> {
  const consumed = stored.column === 'callback_id_hash' ? 'callback_consumed' : 'signal_consumed';
  const rows = await execute<{ live: number }>(
    orm.em.fork(),
    `select 1 as live from tasks where ${stored.column} = ? and not ${consumed} limit 1`,
    [stored.value],
  );
  return rows.length > 0;
}
