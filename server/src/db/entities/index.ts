import { ApiKeySchema } from './api-key.ts';
import { IdempotencyKeySchema } from './idempotency-key.ts';
import { TaskSchema } from './task.ts';
import { TeamSchema } from './team.ts';

/** Every entity of the data model; the ORM config and the migration generator read this list. */
export const entities = [TeamSchema, ApiKeySchema, TaskSchema, IdempotencyKeySchema];
