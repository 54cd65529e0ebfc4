import { describe, expect, it } from 'vitest';
import { type SqlExecutor, withConditionalAlongside } from './boss-sql.ts';

/** pg-boss's job INSERT as it ends (the part the conditional splice looks for). */
const JOB_INSERT = `INSERT INTO pgboss.job_common (id, name) SELECT id, 'webhook' FROM json_to_recordset($1::text::json) as x (id uuid)
    LEFT JOIN pgboss.queue q ON q.name = 'webhook'
    ON CONFLICT DO NOTHING
    RETURNING id`;

/** An executor that answers one row and keeps every text it was sent. */
function recorder(): SqlExecutor & { texts: string[] } {
  const texts: string[] = [];
  return {
    texts,
    async executeSql(text) {
      texts.push(text);
      return { rows: [{ id: 'r1', aq_job_id: 'j1' }] };
    },
  };
}

const riding = (sql: string) => () => ({ sql, params: [] });

describe('withConditionalAlongside, its statement kept per pair of texts', () => {
  it('sends the same text for the same riding statement, another for other extras, and refuses an unknown shape', async () => {
    const db = recorder();
    const alongside = riding('update tasks set x = 1 where id = $2 returning *');
    const teams = { join: 'join teams t on t.id = aq_row.team_id', columns: 't.webhook_secret as aq_secret' };
    const onRows = () => {};
    await withConditionalAlongside(db, alongside, onRows, teams).executeSql(JOB_INSERT, ['[]']);
    await withConditionalAlongside(db, alongside, onRows, teams).executeSql(`${JOB_INSERT}`, ['[]']);
    await withConditionalAlongside(db, alongside, onRows).executeSql(JOB_INSERT, ['[]']);
    const [first, second, plain] = db.texts as [string, string, string];
    expect(second).toBe(first);
    expect(first).toContain('WHERE EXISTS (SELECT 1 FROM aq_alongside)');
    expect(first).toMatch(/aq_job_id, t\.webhook_secret as aq_secret from aq_alongside aq_row join teams t/);
    expect(plain).toMatch(/aq_job_id from aq_alongside aq_row $/);
    const unknown = withConditionalAlongside(db, alongside, onRows).executeSql('INSERT INTO elsewhere VALUES (1)', []);
    await expect(unknown).rejects.toThrow('unknown shape');
  });

  it('keeps each pair right when more pairs come than it keeps (64)', async () => {
    const db = recorder();
    for (let round = 0; round < 2; round += 1) {
      for (let i = 0; i < 80; i += 1) {
        await withConditionalAlongside(db, riding(`update tasks set n = ${i} returning *`), () => {}).executeSql(
          JOB_INSERT,
          ['[]'],
        );
        expect(db.texts.at(-1)).toContain(`with aq_alongside as (update tasks set n = ${i} returning *)`);
      }
    }
  });
});
