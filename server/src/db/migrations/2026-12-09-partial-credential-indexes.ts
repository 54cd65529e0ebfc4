import { Migration } from '@mikro-orm/migrations';

/**
 * The callback-id and signal-token hashes (and the plain callback id of older versions, null in
 * every new row) stay unique, but only where they exist: most tasks have none (a direct task, a
 * polled one), and a full unique index wrote a NULL entry for each of them into all three B-trees,
 * three index inserts and their WAL on every create. Look-ups (`= $1`) and the
 * uniqueness of every real hash are the same on the partial index.
 * Built inside the migration's transaction: creates wait while it builds, which reads only the
 * tasks that have the credential.
 */
export class PartialCredentialIndexes extends Migration {
  override name = '2026-12-09-partial-credential-indexes';

  override up(): void {
    for (const column of ['callback_id', 'callback_id_hash', 'signal_token_hash']) {
      const name = `tasks_${column}_unique`;
      this.addSql(`alter table "tasks" drop constraint "${name}";`);
      this.addSql(`create unique index "${name}" on "tasks" ("${column}") where "${column}" is not null;`);
    }
  }
}
