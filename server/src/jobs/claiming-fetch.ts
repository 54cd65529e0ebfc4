import { type Claim, claimingFetchSql, type HeldKey, splitClaimedRow } from '../tasks/store/claim.ts';
import type { JobRef } from './handlers/handler-deps.ts';
import type { SqlExecutor } from './queues.ts';

/** A dispatch job as the pump hands it over: fetched and, when its task was claimable, claimed. */
export type ClaimedJob<T> = JobRef<T> & { aqClaim: Claim | null; aqHeld: HeldKey | null };

/**
 * A pg-boss `db` for the dispatch pump's fetch: pg-boss's own fetch statement, run as a CTE of the
 * claim (tasks/store/claim.ts claimingFetchSql), so taking a job and claiming its task commit
 * together. Before, the claim was a second statement and a second commit (a disk flush, ~2–3 ms)
 * between a job's fetch and its HTTP call. pg-boss still owns the job rows: its statement is run
 * unchanged and returns the same columns.
 */
export function claimingFetch(db: SqlExecutor): SqlExecutor {
  return {
    async executeSql(text, values = []) {
      const { rows } = await db.executeSql(claimingFetchSql(text), values);
      return {
        rows: rows.map((row) => {
          const { job, claim, held } = splitClaimedRow(row as Record<string, unknown>);
          return { ...job, aqClaim: claim, aqHeld: held };
        }),
      };
    },
  };
}

/** The claim a fetched dispatch job carries; throws if the job came from a fetch without it. */
export function claimOf<T>(job: JobRef<T>): Claim | null {
  if (!('aqClaim' in job)) throw new Error(`dispatch job ${job.id} was fetched without claimingFetch`);
  return (job as ClaimedJob<T>).aqClaim;
}

/** The flow key that parked this job's task instead of claiming it (null when none did). */
export function heldKeyOf<T>(job: JobRef<T>): HeldKey | null {
  return (job as Partial<ClaimedJob<T>>).aqHeld ?? null;
}
