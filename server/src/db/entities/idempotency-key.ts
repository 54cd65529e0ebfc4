import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

/**
 * One row per (team, Idempotency-Key) for 24 h. The original 201 body carries credentials
 * (callback id, signal token), so it is stored encrypted with the server's encryption key.
 */
export const IdempotencyKeySchema = defineEntity({
  name: 'IdempotencyKey',
  tableName: 'idempotency_keys',
  primaryKeys: ['teamId', 'key'],
  properties: {
    teamId: p.uuid().primary(),
    key: p.text().primary(),
    requestHash: p.text(),
    taskId: p.uuid(),
    responseEnc: p.text(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

export type IdempotencyKey = InferEntity<typeof IdempotencyKeySchema>;
