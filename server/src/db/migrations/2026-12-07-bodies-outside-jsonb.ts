import { Migration } from '@mikro-orm/migrations';

/**
 * Response bodies move out of jsonb into text columns, with their encoding ("utf8" text, or the
 * base64 of bytes that are not UTF-8 text): jsonb refuses \u0000, so a PNG, an MP3 or a body with
 * an escaped NUL failed the write of its attempt, and a big body was re-escaped (up to 6× its size)
 * on its way in. Progress becomes the JSON text of the payload for the same reason. Existing
 * bodies were JSON strings, hence valid text: they move as "utf8".
 */
export class BodiesOutsideJsonb extends Migration {
  override name = '2026-12-07-bodies-outside-jsonb';

  override up(): void {
    this.addSql(`alter table "tasks"
      add column "result_body" text null, add column "result_body_encoding" text null,
      add column "start_result_body" text null, add column "start_result_body_encoding" text null;`);
    this.addSql(`update "tasks" set "result_body" = "result"->>'body', "result_body_encoding" = 'utf8',
      "result" = "result" - 'body' where jsonb_typeof("result") = 'object' and "result" ? 'body';`);
    this.addSql(`update "tasks" set "start_result_body" = "start_result"->>'body', "start_result_body_encoding" = 'utf8',
      "start_result" = "start_result" - 'body' where jsonb_typeof("start_result") = 'object' and "start_result" ? 'body';`);
    this.addSql(`alter table "tasks" alter column "progress" type text using "progress"::text;`);
  }
}
