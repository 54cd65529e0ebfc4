import type { EntityManager } from '@mikro-orm/postgresql';
import type { PgBoss } from 'pg-boss';
import { poolExecutor } from '../db/prepared.ts';
import { type DeliveryEntry, webhookDeliveriesStatement } from '../tasks/store/webhook-deliveries.ts';
import { type SqlExecutor, withAlongside } from './boss-sql.ts';

type Waiting = { em: EntityManager; jobId: string; entry: DeliveryEntry; resolve(): void; reject(e: unknown): void };

/** Writes a finished at-once delivery's record and completes its held-back job; resolves once committed. */
export type RecordDelivery = (em: EntityManager, jobId: string, entry: DeliveryEntry) => Promise<void>;

/**
 * pg-boss's own complete of held-back webhook jobs, carrying their deliveries' records: one
 * statement, both or neither. includeQueued: the jobs were never fetched (they are still held
 * back), so they are not `active`.
 */
export async function completeWithRecords(
  boss: PgBoss,
  db: SqlExecutor,
  jobIds: string[],
  entries: readonly DeliveryEntry[],
): Promise<void> {
  const carrying = withAlongside(db, (first) => webhookDeliveriesStatement(entries, first));
  await boss.complete('webhook', jobIds, null, { db: carrying, includeQueued: true });
}

/**
 * Records of at-once deliveries written together, like a group commit: one statement in flight at
 * a time; the records that finish meanwhile wait and go in the next, with their jobs completed by
 * pg-boss's own complete (one id array) carrying them. Alone, a record is written at once (no added
 * wait); under load, one statement and one commit serve many deliveries instead of one each.
 * Nothing is held in memory that matters: a record not yet written leaves its job held back, and a
 * webhook worker delivers it again when the takeover window ends, as if this process had died.
 * The group is bounded by the deliveries in flight (webhook-at-once.ts MAX_IN_FLIGHT).
 */
export function recordsWrittenTogether(boss: PgBoss): RecordDelivery {
  let waiting: Waiting[] = [];
  let writing = false;
  const writeNext = async (): Promise<void> => {
    if (writing || waiting.length === 0) return;
    writing = true;
    const group = waiting;
    waiting = [];
    try {
      const pool = poolExecutor((group[0] as Waiting).em, { prepared: true });
      await completeWithRecords(
        boss,
        pool,
        group.map((w) => w.jobId),
        group.map((w) => w.entry),
      );
      for (const w of group) w.resolve();
    } catch (error) {
      for (const w of group) w.reject(error);
    } finally {
      writing = false;
      void writeNext();
    }
  };
  return (em, jobId, entry) =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ em, jobId, entry, resolve, reject });
      void writeNext();
    });
}
