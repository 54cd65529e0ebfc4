import type { EntityManager } from '@mikro-orm/postgresql';
import { execute } from '../../db/prepared.ts';
import { storableJson } from '../storable-text.ts';

/** Appends one completion-webhook delivery to the task's record (a JSON object, see WebhookDeliveryRecord). */
export async function appendWebhookDelivery(em: EntityManager, taskId: string, delivery: object): Promise<void> {
  await execute(
    em,
    'update tasks set webhook_deliveries = webhook_deliveries || ?::jsonb, updated_at = now() where id = ?',
    [storableJson([delivery]), taskId],
  );
}
