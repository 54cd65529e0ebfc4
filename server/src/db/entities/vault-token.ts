import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/** A secret a team stores once and references from task headers as `tok_…`. */
export const VaultTokenSchema = defineEntity({
  name: 'VaultToken',
  tableName: 'vault_tokens',
  properties: {
    /** `tok_` + 24 base62 characters: what a header value names to use this secret. */
    id: p.text().primary(),
    teamId: p.uuid(),
    name: p.text(),
    /**
     * AES-256-GCM sealed value, bound to its team and token id (auth/sealed-owners.ts): copied onto
     * another row it does not open. The plain value is never stored.
     */
    valueEnc: p.text(),
    createdAt: p.datetime(),
    /** Deleted tokens stay for audit; references to them fail. */
    deletedAt: p.datetime().nullable(),
  },
});

export type VaultToken = InferEntity<typeof VaultTokenSchema>;
