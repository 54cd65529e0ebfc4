import { Migration } from '@mikro-orm/migrations';

/**
 * The poll job allowed to run a polling task's next poll. A redelivered or duplicate poll job no
 * longer matches it, so a crash between enqueuing the next poll and completing the current job
 * cannot start a second chain. Null for tasks that were polling before this migration: their next
 * poll sets it.
 */
export class PollChain extends Migration {
  override name = '2026-11-27-poll-chain';

  override up(): void {
    this.addSql(`alter table "tasks" add column "poll_job_id" uuid null;`);
  }
}
