import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/** An API key. Only its SHA-256 is stored; the key itself is shown once at creation. */
export const ApiKeySchema = defineEntity({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: {
    id: p.uuid().primary(),
    teamId: p.uuid().index('api_keys_team_id_index'),
    name: p.text(),
    /** First 12 characters, for display (`async_AbCdEf`). */
    prefix: p.text(),
    keyHash: p.text().unique('api_keys_key_hash_unique'),
    createdAt: p.datetime().onCreate(() => new Date()),
    revokedAt: p.datetime().nullable(),
  },
});

export type ApiKey = InferEntity<typeof ApiKeySchema>;
