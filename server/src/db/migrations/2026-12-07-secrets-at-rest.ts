import { Migration } from '@mikro-orm/migrations';

/**
 * Callback ids stop being stored in plain text: looked up by their SHA-256 (like signal tokens),
 * and kept sealed (AES-256-GCM, bound to the task) for the dispatch, which substitutes the
 * callback URL on every attempt. The hash is computed here (`sha256()` is built into PostgreSQL
 * ≥ 11); sealing needs the encryption key, so the server does it at start-up (auth/seal-at-rest.ts)
 * and empties the old `callback_id` column as it goes. Team secrets and vault values are re-sealed
 * there too; their columns keep their names.
 */
export class SecretsAtRest extends Migration {
  override name = '2026-12-07-secrets-at-rest';

  override up(): void {
    this.addSql(
      `alter table "tasks" add column "callback_id_hash" text null, add column "callback_id_sealed" text null;`,
    );
    this.addSql(
      `update "tasks" set "callback_id_hash" = encode(sha256(convert_to("callback_id", 'UTF8')), 'hex') where "callback_id" is not null;`,
    );
    this.addSql(`alter table "tasks" add constraint "tasks_callback_id_hash_unique" unique ("callback_id_hash");`);
  }
}
