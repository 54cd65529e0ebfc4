import type { EntityManager } from '@mikro-orm/postgresql';
import type { PgBoss, SendOptions } from 'pg-boss';
import { numberPlaceholders, poolExecutor, rideNextStatement } from '../db/prepared.ts';
import { type RowExtras, withConditionalAlongside } from './boss-sql.ts';
import type { JobPayloads, QueueName } from './queues.ts';

/**
 * Makes the next statement run on `em` (a store statement, `?` placeholders) carry a job: one
 * autocommit statement that runs it and, only if it returned a row, inserts the job (pg-boss's own
 * INSERT, withConditionalAlongside). The statement gets its rows back as if it had run alone.
 * For a change that enqueues nothing else: a transaction would cost BEGIN and COMMIT round trips
 * and the job's INSERT its own (task-lifecycle.ts).
 */
export type RideJob = <Q extends QueueName>(
  em: EntityManager,
  queue: Q,
  data: JobPayloads[Q],
  options: SendOptions,
  extras?: RowExtras,
) => RiddenRows;

/** The rows the statement answered, with the `extras` columns (empty until it ran, or when it matched nothing). */
export type RiddenRows = { rows(): readonly Record<string, unknown>[] };

export function createRideJob(boss: PgBoss): RideJob {
  return (em, queue, data, options, extras) => {
    let rows: Record<string, unknown>[] = [];
    rideNextStatement(em, async (sql, params) => {
      const alongside = (first: number) => ({ sql: numberPlaceholders(sql, first), params: [...params] });
      const onRows = (answered: Record<string, unknown>[]) => {
        rows = answered;
      };
      const db = withConditionalAlongside(poolExecutor(em, { prepared: true }), alongside, onRows, extras);
      const jobId = await boss.send(queue, data, { ...options, db });
      // No row (the fenced statement matched nothing, another actor won): no job either.
      if (rows.length > 0 && !jobId) throw new Error(`pg-boss refused a job for queue "${queue}" (missing queue?)`);
      return rows;
    });
    return { rows: () => rows };
  };
}
