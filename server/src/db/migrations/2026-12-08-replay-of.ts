import { Migration } from '@mikro-orm/migrations';

/**
 * `replay_of`: the task a replay was copied from (POST /v1/tasks/{id}/replay and the bulk replay),
 * null for every other task. No foreign key: the original may be deleted by retention first.
 * `replayed_at`: when a task was last replayed. A bulk replay claims each task it copies with a
 * conditional UPDATE on it (`replayed_at is null`), so two bulk replays racing copy a task once, and
 * a second call after `hasMore` goes on with the tasks not replayed yet.
 */
export class ReplayOf extends Migration {
  override name = '2026-12-08-replay-of';

  override up(): void {
    this.addSql(`alter table "tasks" add column "replay_of" uuid null, add column "replayed_at" timestamptz null;`);
  }
}
