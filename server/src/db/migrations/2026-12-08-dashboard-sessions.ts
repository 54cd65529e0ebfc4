import { Migration } from '@mikro-orm/migrations';

/**
 * Dashboard sessions: an API key signed in through the dashboard is exchanged for a random session
 * id kept in an HttpOnly cookie. Only the id's SHA-256 is stored (a copy of this table opens no
 * session), with the team and the key it was made from (a revoked or deleted key ends its sessions:
 * every request joins the key's row), the CSRF token the page must echo on state-changing requests,
 * and the expiry.
 */
export class DashboardSessions extends Migration {
  override name = '2026-12-08-dashboard-sessions';

  override up(): void {
    this.addSql(`create table "dashboard_sessions" ("id_hash" text not null,
      "team_id" uuid not null references "teams" ("id") on delete cascade,
      "api_key_id" uuid not null references "api_keys" ("id") on delete cascade,
      "csrf_token" text not null, "created_at" timestamptz not null default now(),
      "expires_at" timestamptz not null, primary key ("id_hash"));`);
    this.addSql(`create index "dashboard_sessions_api_key_id_index" on "dashboard_sessions" ("api_key_id");`);
    this.addSql(`create index "dashboard_sessions_expires_at_index" on "dashboard_sessions" ("expires_at");`);
  }
}
