import type { EntityManager } from '@mikro-orm/postgresql';
import { ApiKeySchema } from '../db/entities/api-key.ts';
import { TeamSchema } from '../db/entities/team.ts';
import { uuidv7 } from '../db/uuid-v7.ts';
import { AppError } from '../shared/app-error.ts';
import { generateApiKey, generateWebhookSecret, hashApiKey, keyPrefix } from './api-key-format.ts';
import { teamSecretOwner } from './sealed-owners.ts';
import type { SecretBox } from './secret-box.ts';

/** Why 24 h: receivers need a day to deploy the new secret while the old one still verifies. */
export const SECRET_ROTATION_OVERLAP_MS = 24 * 60 * 60 * 1000;

export type CreatedTeam = { id: string; name: string; webhookSecret: string };
export type CreatedKey = { id: string; teamId: string; name: string; prefix: string; apiKey: string };
export type KeyListing = { id: string; name: string; prefix: string; createdAt: string; revokedAt: string | null };

/**
 * Creates a team. Its webhook secret is stored sealed (bound to the team) and returned in plain
 * text only here, to be shown once.
 */
export async function createTeam(em: EntityManager, name: string, box: SecretBox): Promise<CreatedTeam> {
  const id = uuidv7();
  const webhookSecret = generateWebhookSecret();
  const team = em.create(TeamSchema, {
    id,
    name,
    webhookSecret: box.seal(webhookSecret, teamSecretOwner(id)),
    previousWebhookSecret: null,
    previousSecretExpiresAt: null,
    createdAt: new Date(),
  });
  await em.flush();
  return { id: team.id, name: team.name, webhookSecret };
}

/** A new current secret (sealed); the old one keeps signing for the overlap. Returns the new one in plain text. */
export async function rotateTeamSecret(
  em: EntityManager,
  teamId: string,
  box: SecretBox,
): Promise<{ id: string; webhookSecret: string }> {
  const team = await em.findOne(TeamSchema, { id: teamId });
  if (!team) throw new AppError('not_found', `No team with id ${teamId}`);
  team.previousWebhookSecret = team.webhookSecret;
  team.previousSecretExpiresAt = new Date(Date.now() + SECRET_ROTATION_OVERLAP_MS);
  const webhookSecret = generateWebhookSecret();
  team.webhookSecret = box.seal(webhookSecret, teamSecretOwner(team.id));
  await em.flush();
  return { id: team.id, webhookSecret };
}

/** Creates a key; `apiKey` may be given (bootstrap), else one is generated. Only its hash is stored. */
export async function createApiKey(
  em: EntityManager,
  teamId: string,
  name: string,
  apiKey: string = generateApiKey(),
): Promise<CreatedKey> {
  const team = await em.findOne(TeamSchema, { id: teamId });
  if (!team) throw new AppError('not_found', `No team with id ${teamId}`);
  const row = em.create(ApiKeySchema, {
    id: uuidv7(),
    teamId,
    name,
    prefix: keyPrefix(apiKey),
    keyHash: hashApiKey(apiKey),
    createdAt: new Date(),
    revokedAt: null,
  });
  await em.flush();
  return { id: row.id, teamId, name, prefix: row.prefix, apiKey };
}

export async function listApiKeys(em: EntityManager, teamId: string): Promise<KeyListing[]> {
  if (!(await em.findOne(TeamSchema, { id: teamId }))) throw new AppError('not_found', `No team with id ${teamId}`);
  const rows = await em.find(ApiKeySchema, { teamId }, { orderBy: { createdAt: 'asc', id: 'asc' } });
  return rows.map((k) => ({
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    createdAt: k.createdAt.toISOString(),
    revokedAt: k.revokedAt ? k.revokedAt.toISOString() : null,
  }));
}

export async function revokeApiKey(em: EntityManager, keyId: string): Promise<{ id: string; revokedAt: string }> {
  const key = await em.findOne(ApiKeySchema, { id: keyId });
  if (!key) throw new AppError('not_found', `No API key with id ${keyId}`);
  key.revokedAt ??= new Date();
  await em.flush();
  return { id: key.id, revokedAt: key.revokedAt.toISOString() };
}

export async function countTeams(em: EntityManager): Promise<number> {
  return em.count(TeamSchema, {});
}
