import type { EntityManager } from '@mikro-orm/postgresql';
import { findPlainCallbackIds, sealCallbackId } from '../tasks/store/legacy-callback-ids.ts';
import { callbackIdOwner, teamSecretOwner, vaultTokenOwner } from './sealed-owners.ts';
import type { SecretBox } from './secret-box.ts';

// Start-up step (after the migrations, before anything reads these columns): values stored by
// older versions are sealed the current way. Idempotent: each pass finds only what is still old,
// and each row is updated only if it still holds the value read (two instances starting together
// both succeed; one of them writes).

/** Why 500: bounds one statement's work on a large tasks table; the loop runs until none are left. */
const BATCH = 500;

export type SealedAtRest = { teams: number; vaultTokens: number; callbackIds: number };

export async function sealAtRest(em: EntityManager, box: SecretBox): Promise<SealedAtRest> {
  return {
    teams: await sealTeamSecrets(em, box),
    vaultTokens: await bindVaultTokens(em, box),
    callbackIds: await sealCallbackIds(em, box),
  };
}

type TeamRow = { id: string; webhook_secret: string; previous_webhook_secret: string | null };

/** Plain `whsec_` team secrets (current and previous) → sealed, bound to the team. */
async function sealTeamSecrets(em: EntityManager, box: SecretBox): Promise<number> {
  const rows = await em.execute<TeamRow[]>(
    `select id, webhook_secret, previous_webhook_secret from teams
     where webhook_secret like 'whsec\\_%' or previous_webhook_secret like 'whsec\\_%'`,
  );
  const seal = (value: string | null, teamId: string) =>
    value?.startsWith('whsec_') ? box.seal(value, teamSecretOwner(teamId)) : value;
  for (const row of rows) {
    await em.execute(
      `update teams set webhook_secret = ?, previous_webhook_secret = ?
       where id = ? and webhook_secret = ? and previous_webhook_secret is not distinct from ?`,
      [
        seal(row.webhook_secret, row.id),
        seal(row.previous_webhook_secret, row.id),
        row.id,
        row.webhook_secret,
        row.previous_webhook_secret,
      ],
    );
  }
  return rows.length;
}

type TokenRow = { id: string; team_id: string; value_enc: string };

/** Vault values sealed without additional data (v1) → re-sealed bound to their team and token id. */
async function bindVaultTokens(em: EntityManager, box: SecretBox): Promise<number> {
  const rows = await em.execute<TokenRow[]>(
    `select id, team_id, value_enc from vault_tokens where value_enc like 'v1.%'`,
  );
  for (const row of rows) {
    const bound = box.seal(box.open(row.value_enc), vaultTokenOwner(row.team_id, row.id));
    await em.execute('update vault_tokens set value_enc = ? where id = ? and value_enc = ?', [
      bound,
      row.id,
      row.value_enc,
    ]);
  }
  return rows.length;
}

/** Plain callback ids (the old column) → sealed, bound to the task; the plain column is emptied. */
async function sealCallbackIds(em: EntityManager, box: SecretBox): Promise<number> {
  let sealed = 0;
  for (;;) {
    const rows = await findPlainCallbackIds(em, BATCH);
    for (const row of rows) {
      await sealCallbackId(em, row.id, row.callback_id, box.seal(row.callback_id, callbackIdOwner(row.id)));
    }
    sealed += rows.length;
    if (rows.length < BATCH) return sealed;
  }
}
