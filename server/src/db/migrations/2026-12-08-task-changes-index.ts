import { Migration } from '@mikro-orm/migrations';

/**
 * Live events read a team's tasks by the time they last changed: a resume replays the changes since
 * its cursor, and each process sweeps the recent changes of the teams it streams to
 * (tasks/store/changes.ts). Without this index both would scan every task of the team.
 */
export class TaskChangesIndex extends Migration {
  override name = '2026-12-08-task-changes-index';

  override up(): void {
    this.addSql(`create index if not exists "tasks_team_id_updated_at_index" on "tasks" ("team_id", "updated_at");`);
  }
}
