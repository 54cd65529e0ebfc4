import type { EntityManager } from '@mikro-orm/postgresql';
import { execute } from '../../db/prepared.ts';
import { storableJson } from '../storable-text.ts';

/** One completion-webhook delivery of one task (a JSON object, see WebhookDeliveryRecord). */
export type DeliveryEntry = { taskId: string; delivery: object };

/**
 * Appends deliveries to their tasks' records. `$records` is one JSON array of `{id, deliveries}`,
 * one element per task: a single text parameter serves one delivery and a whole group of them, and
 * the join reads each task by its primary key (also in the plan a named statement keeps).
 */
const APPEND_DELIVERIES = (records: string) =>
  `update tasks t set webhook_deliveries = t.webhook_deliveries || r.deliveries, updated_at = now()
   from jsonb_to_recordset(${records}::jsonb) as r(id uuid, deliveries jsonb) where t.id = r.id`;

/** The parameter of APPEND_DELIVERIES: one element per task, its deliveries in order. */
function deliveryRecords(entries: readonly DeliveryEntry[]): string {
  const byTask = new Map<string, object[]>();
  for (const { taskId, delivery } of entries) {
    const records = byTask.get(taskId);
    if (records) records.push(delivery);
    else byTask.set(taskId, [delivery]);
  }
  return storableJson([...byTask].map(([id, deliveries]) => ({ id, deliveries })));
}

/** Appends one completion-webhook delivery to the task's record. */
export async function appendWebhookDelivery(em: EntityManager, taskId: string, delivery: object): Promise<void> {
  await execute(em, APPEND_DELIVERIES('?'), [deliveryRecords([{ taskId, delivery }])]);
}

/**
 * `appendWebhookDelivery` for many deliveries, as a statement for another to carry (its
 * placeholders numbered from `$first`): the records of deliveries and the settling of their jobs in
 * one statement.
 */
export function webhookDeliveriesStatement(
  entries: readonly DeliveryEntry[],
  first: number,
): { sql: string; params: unknown[] } {
  return { sql: APPEND_DELIVERIES(`$${first}`), params: [deliveryRecords(entries)] };
}
