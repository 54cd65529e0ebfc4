import { Migration } from '@mikro-orm/migrations';

/**
 * Flow control: a task's `flow_key`, the per-team limits of each key (`flow_keys`), and the log of
 * dispatches granted per key in the last minute (`flow_grants`, the sliding window of
 * `ratePerMinute`). A slot is held by the task itself (`flow_slot` = the scope it was granted
 * under), so it is given back by the task's own status change: nothing to leak when a holder dies.
 */
export class FlowControl extends Migration {
  override name = '2026-12-08-flow-control';

  override up(): void {
    this.addSql(
      `alter table "tasks" add column "flow_key" text null, add column "flow_slot" text null,
        add column "flow_grant" boolean not null default false, add column "flow_held" boolean not null default false;`,
    );
    // The held tasks of a key, in dispatch order (the hand-over's pick and a task's position).
    this.addSql(
      `create index "tasks_flow_held_index" on "tasks" ("team_id", "flow_key", "priority" desc, "created_at", "id")
        where "flow_held" and "status" = 'pending';`,
    );
    // The slots of a key: tasks granted a slot and not yet ended.
    this.addSql(
      `create index "tasks_flow_slot_index" on "tasks" ("team_id", "flow_key") where "flow_slot" is not null
        and "status" in ('pending', 'delayed', 'processing', 'waiting', 'polling');`,
    );
    this.addSql(
      `create table "flow_keys" (
        "team_id" uuid not null references "teams" ("id") on delete cascade,
        "key" text not null,
        "concurrency" int null,
        "rate_per_minute" int null,
        "scope" text not null default 'task',
        "effective_concurrency" int null,
        "paused" boolean not null default false,
        "paused_until" timestamptz null,
        "throttled" bigint not null default 0,
        "created_at" timestamptz not null default now(),
        "updated_at" timestamptz not null default now(),
        primary key ("team_id", "key"));`,
    );
    this.addSql(
      `create table "flow_grants" ("team_id" uuid not null, "flow_key" text not null, "granted_at" timestamptz not null default now());`,
    );
    this.addSql(`create index "flow_grants_key_index" on "flow_grants" ("team_id", "flow_key", "granted_at");`);
  }
}
