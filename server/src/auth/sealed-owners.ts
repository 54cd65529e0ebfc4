import type { SecretBox } from './secret-box.ts';

// What each sealed column is bound to (AES-GCM additional data), in one place: a ciphertext copied
// onto another row fails to open. The labels are part of the stored data: never change them.

/** A vault token's value: bound to its team and its token id. */
export const vaultTokenOwner = (teamId: string, tokenId: string): string => `vault-token:${teamId}:${tokenId}`;

/** A team's webhook secret (current or previous): bound to the team. */
export const teamSecretOwner = (teamId: string): string => `team-webhook-secret:${teamId}`;

/** A task's callback id (kept so each dispatch can substitute the callback URL): bound to the task. */
export const callbackIdOwner = (taskId: string): string => `task-callback-id:${taskId}`;

/** The team's plain `whsec_` secrets from their sealed column values (current first). */
export function openTeamSecrets(box: SecretBox, teamId: string, sealed: readonly string[]): string[] {
  return sealed.map((value) => box.open(value, teamSecretOwner(teamId)));
}
