import { Migration } from '@mikro-orm/migrations';

/** Teams, API keys, tasks, idempotency keys and the rate limiter's table. */
export class InitialSchema extends Migration {
  override name = '2026-11-27-initial-schema';

  override up(): void {
    this.addSql(`create table "teams" ("id" uuid not null, "name" text not null, "webhook_secret" text not null,
      "previous_webhook_secret" text null, "previous_secret_expires_at" timestamptz null,
      "created_at" timestamptz not null, primary key ("id"));`);

    this.addSql(`create table "api_keys" ("id" uuid not null, "team_id" uuid not null references "teams" ("id") on delete cascade,
      "name" text not null, "prefix" text not null, "key_hash" text not null, "created_at" timestamptz not null,
      "revoked_at" timestamptz null, primary key ("id"));`);
    this.addSql(`create index "api_keys_team_id_index" on "api_keys" ("team_id");`);
    this.addSql(`alter table "api_keys" add constraint "api_keys_key_hash_unique" unique ("key_hash");`);

    this.addSql(`create table "tasks" ("id" uuid not null, "team_id" uuid not null references "teams" ("id") on delete cascade,
      "status" text not null, "target_url" text not null, "method" text not null, "headers" jsonb not null,
      "body" text null, "timeout" int not null, "max_retries" int not null, "retry_backoff" text not null,
      "delay_until" timestamptz null, "priority" int not null, "wait_for_signal" boolean not null,
      "max_wait_time" int not null, "on_complete_url" text null, "provider" text null, "poll_config" jsonb null,
      "callback_id" text null, "callback_consumed" boolean not null default false, "signal_token_hash" text null,
      "signal_consumed" boolean not null default false, "start_result" jsonb null, "result" jsonb null, "error" text null, "progress" jsonb null,
      "retry_count" int not null default 0, "attempts" jsonb not null default '[]', "webhook_deliveries" jsonb not null default '[]',
      "dispatch_job_id" uuid null, "dispatch_lease" int null, "cancel_requested" boolean not null default false, "idempotency_key" text null,
      "created_at" timestamptz not null, "updated_at" timestamptz not null, "started_at" timestamptz null,
      "completed_at" timestamptz null, primary key ("id"));`);
    this.addSql(`alter table "tasks" add constraint "tasks_callback_id_unique" unique ("callback_id");`);
    this.addSql(`alter table "tasks" add constraint "tasks_signal_token_hash_unique" unique ("signal_token_hash");`);
    this.addSql(`create index "tasks_team_id_id_index" on "tasks" ("team_id", "id");`);
    this.addSql(`create index "tasks_team_id_status_id_index" on "tasks" ("team_id", "status", "id");`);
    this.addSql(`create index "tasks_status_completed_at_index" on "tasks" ("status", "completed_at");`);

    this.addSql(`create table "idempotency_keys" ("team_id" uuid not null references "teams" ("id") on delete cascade,
      "key" text not null, "request_hash" text not null, "task_id" uuid not null, "response_enc" text not null,
      "created_at" timestamptz not null, primary key ("team_id", "key"));`);
    this.addSql(`create index "idempotency_keys_created_at_index" on "idempotency_keys" ("created_at");`);

    // rate-limiter-flexible's own layout, created here so no request races its lazy CREATE TABLE.
    this.addSql(
      `create table "rate_limits" ("key" varchar(255) primary key, "points" integer not null default 0, "expire" bigint);`,
    );
  }
}
