import type { EntityManager } from '@mikro-orm/postgresql';
import { execute } from '../../db/prepared.ts';
import { storableJson } from '../storable-text.ts';

const APPEND_DELIVERY = (delivery: string, taskId: string) =>
  `update tasks set webhook_deliveries = webhook_deliveries || ${delivery}::jsonb, updated_at = now() where id = ${taskId}`;

/** Appends one completion-webhook delivery to the task's record (a JSON object, see WebhookDeliveryRecord). */
export async function appendWebhookDelivery(em: EntityManager, taskId: string, delivery: object): Promise<void> {
  await execute(em, APPEND_DELIVERY('?', '?'), [storableJson([delivery]), taskId]);
}

/**
 * `appendWebhookDelivery` as a statement for another to carry (its placeholders numbered from
 * `$first`): the record of a delivery and the settling of its job in one statement.
 */
export function webhookDeliveryStatement(
  taskId: string,
  delivery: object,
  first: number,
): { sql: string; params: unknown[] } {
  return { sql: APPEND_DELIVERY(`$${first}`, `$${first + 1}`), params: [storableJson([delivery]), taskId] };
}
