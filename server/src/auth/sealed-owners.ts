import { type BoundedMap, boundedMap } from '../shared/bounded-map.ts';
import type { SecretBox } from './secret-box.ts';

// What each sealed column is bound to (AES-GCM additional data), in one place: a ciphertext copied
// onto another row fails to open. The labels are part of the stored data: never change them.

/** A vault token's value: bound to its team and its token id. */
export const vaultTokenOwner = (teamId: string, tokenId: string): string => `vault-token:${teamId}:${tokenId}`;

/** A team's webhook secret (current or previous): bound to the team. */
export const teamSecretOwner = (teamId: string): string => `team-webhook-secret:${teamId}`;

/** A task's callback id (kept so each dispatch can substitute the callback URL): bound to the task. */
export const callbackIdOwner = (taskId: string): string => `task-callback-id:${taskId}`;

/**
 * Why 1,000: a deployment has a handful of teams, each with one or two secrets; the bound only
 * matters against a flood of rotations. Each entry is a team's sealed value and its opening.
 */
const MAX_OPENED_SECRETS = 1_000;
const openedSecrets = new WeakMap<SecretBox, BoundedMap<string, string>>();

/**
 * The team's plain `whsec_` secrets from their sealed column values (current first). Every dispatch
 * and every webhook signs with them, so an opening is kept per sealed value (AES-GCM opening was
 * ~2 % of a busy server's CPU): a sealed value never changes (a rotation writes a new one), so a kept
 * opening is never stale, and the database still decides which values are the team's.
 */
export function openTeamSecrets(box: SecretBox, teamId: string, sealed: readonly string[]): string[] {
  let opened = openedSecrets.get(box);
  if (!opened) {
    opened = boundedMap(MAX_OPENED_SECRETS);
    openedSecrets.set(box, opened);
  }
  const cache = opened;
  return sealed.map((value) => cache.getOrMake(`${teamId} ${value}`, () => box.open(value, teamSecretOwner(teamId))));
}
