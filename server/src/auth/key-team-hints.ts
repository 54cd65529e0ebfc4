import { boundedMap } from '../shared/bounded-map.ts';

/** Why 10,000: far more keys than a deployment uses at once, and a bounded map (≈1.5 MB). */
const MAX_ENTRIES = 10_000;

/**
 * Which team a key hash belonged to when last seen valid. A key never changes team, so the hint is
 * never wrong about the team; whether the key is still valid is always asked of the database, in
 * parallel with the team's rate limit (see authenticate.ts). Only keys that were valid are kept.
 */
export type KeyTeamHints = {
  get(keyHash: string): string | undefined;
  remember(keyHash: string, teamId: string): void;
  /** The key failed its look-up (revoked): later requests look it up before charging anyone. */
  forget(keyHash: string): void;
};

export function createKeyTeamHints(): KeyTeamHints {
  const teams = boundedMap<string, string>(MAX_ENTRIES);
  return { get: teams.get, remember: teams.set, forget: teams.delete };
}
