import { ApiKeySchema } from './api-key.ts';
import { IdempotencyKeySchema } from './idempotency-key.ts';
import { TaskSchema } from './task.ts';
import { TeamSchema } from './team.ts';
import { VaultTokenSchema } from './vault-token.ts';

/** Every entity of the data model; the ORM config and the migration generator read this list. */
export const entities = [TeamSchema, ApiKeySchema, TaskSchema, IdempotencyKeySchema, VaultTokenSchema];
