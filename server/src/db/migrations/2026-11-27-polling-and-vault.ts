import { Migration } from '@mikro-orm/migrations';

/** Deadlines for waiting/polling tasks, and the token vault (values encrypted at rest). */
export class PollingAndVault extends Migration {
  override name = '2026-11-27-polling-and-vault';

  override up(): void {
    this.addSql(`alter table "tasks" add column "deadline_at" timestamptz null;`);
    this.addSql(`create table "vault_tokens" ("id" text not null, "team_id" uuid not null references "teams" ("id") on delete cascade,
      "name" text not null, "value_enc" text not null, "created_at" timestamptz not null, "deleted_at" timestamptz null,
      primary key ("id"));`);
    this.addSql(`create index "vault_tokens_team_id_index" on "vault_tokens" ("team_id", "created_at");`);
  }
}
