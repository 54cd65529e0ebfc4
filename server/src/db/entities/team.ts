import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/** A tenant. Everything an API key sees belongs to its team. */
export const TeamSchema = defineEntity({
  name: 'Team',
  tableName: 'teams',
  properties: {
    id: p.uuid().primary(),
    name: p.text(),
    /**
     * The signing secret (`whsec_` + base64 of 32 bytes), sealed with the encryption key and bound
     * to the team (auth/sealed-owners.ts): signs completion webhooks; outbound calls are signed
     * with a key derived from it.
     */
    webhookSecret: p.text(),
    /** The sealed secret before the last rotation; still signs until `previousSecretExpiresAt`. */
    previousWebhookSecret: p.text().nullable(),
    previousSecretExpiresAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export type Team = InferEntity<typeof TeamSchema>;
