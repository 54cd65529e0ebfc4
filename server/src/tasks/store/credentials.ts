import type { EntityManager } from '@mikro-orm/postgresql';
import { execute } from '../../db/prepared.ts';
import type { TaskStatus } from '../task-types.ts';

/** What the look-up of a presented credential found (undefined: no task holds it). */
export type CredentialLookup = {
  id: string;
  status: TaskStatus;
  consumed: boolean;
  provider: string | null;
  sends_webhook: boolean;
};

export type CredentialColumn = 'callback_id_hash' | 'signal_token_hash';

/** One indexed look-up by credential: status, whether it was used, the preset, onCompleteUrl set. */
export async function findByCredential(
  em: EntityManager,
  column: CredentialColumn,
  value: string,
): Promise<CredentialLookup | undefined> {
  const consumed = column === 'callback_id_hash' ? 'callback_consumed' : 'signal_consumed';
  const rows = await execute<CredentialLookup>(
    em,
    `select id, status, ${consumed} as consumed, provider, on_complete_url is not null as sends_webhook
     from tasks where ${column} = ?`,
    [value],
  );
  return rows[0];
}
