import type { MikroORM } from '@mikro-orm/postgresql';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrm } from '../server/src/db/database.ts';
import { executeReplanned, numberPlaceholders, poolExecutor, REPLAN_MS } from '../server/src/db/prepared.ts';
import { createTestDatabase } from './helpers/test-database.ts';

/**
 * Statement texts that vary with their input (a batch INSERT's shape) are kept prepared only up to
 * a bound: input crafted to vary them cannot make every pool connection keep ever more statements.
 */
let orm: MikroORM;

beforeAll(async () => {
  // One connection: every statement below runs on it, so its prepared statements can be counted.
  orm = await openOrm(await createTestDatabase(), 1);
});
afterAll(async () => {
  await orm?.close(true);
});

describe('bounded named statements', () => {
  it('names the first 32 distinct texts, runs the rest unnamed, and reuses a named one', async () => {
    const db = poolExecutor(orm.em.fork(), { prepared: 'bounded' });
    for (let i = 0; i < 100; i += 1) {
      const { rows } = await db.executeSql(`select $1::int + ${i} as n`, [1]);
      expect(rows).toEqual([{ n: i + 1 }]);
    }
    const { rows: again } = await db.executeSql('select $1::int + 5 as n', [2]);
    expect(again).toEqual([{ n: 7 }]);
    const { rows } = await db.executeSql('select count(*)::int as kept from pg_prepared_statements', []);
    expect(rows).toEqual([{ kept: 32 }]);
  });
});

describe('numbered placeholders, kept per text', () => {
  it('numbers each text from its own first number, again the same from the cache, quoted ? untouched', () => {
    const sql = "update t set a = ?, b = '?' where id = ?";
    expect(numberPlaceholders(sql, 1)).toBe("update t set a = $1, b = '?' where id = $2");
    expect(numberPlaceholders(sql, 4)).toBe("update t set a = $4, b = '?' where id = $5");
    expect(numberPlaceholders(sql, 1)).toBe("update t set a = $1, b = '?' where id = $2");
    // More texts than the cache keeps: each still numbered right, then the first ones again.
    for (let i = 0; i < 300; i += 1) expect(numberPlaceholders(`select ? + ${i}`, 2)).toBe(`select $2 + ${i}`);
    expect(numberPlaceholders(sql, 4)).toBe("update t set a = $4, b = '?' where id = $5");
  });
});

describe('replanned named statements', () => {
  it('keeps one plan per connection within a period, and plans again (old one deallocated) in the next', async () => {
    const pool = await (orm.em.getConnection().getNativeClient() as unknown as Promise<pg.Pool>);
    const text = "select count(*)::int as n from pg_class where relname <> 'aq_replanned_test'";
    const kept = async () =>
      (
        await pool.query<{ name: string; prepared: string; generic: number }>(
          `select name, prepare_time::text as prepared, generic_plans::int as generic
             from pg_prepared_statements where statement = $1`,
          [text],
        )
      ).rows;
    const start = 1_000_000 * REPLAN_MS;
    for (let i = 0; i < 3; i += 1) {
      const rows = (await executeReplanned(pool, text, [], REPLAN_MS, start + i)) as { n: number }[];
      expect(rows[0]?.n).toBeGreaterThan(0);
    }
    const first = await kept();
    expect(first).toHaveLength(1);
    // No parameters: one generic plan, made at the first run and used by all three.
    expect(first[0]?.generic).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await executeReplanned(pool, text, [], REPLAN_MS, start + REPLAN_MS);
    const next = await kept();
    expect(next).toHaveLength(1);
    expect(next[0]?.name).toBe(first[0]?.name);
    expect(next[0]?.generic).toBe(1);
    expect(next[0]?.prepared).not.toBe(first[0]?.prepared);
    // Back to a period already left: still one statement, prepared again.
    await executeReplanned(pool, text, [], REPLAN_MS, start);
    expect(await kept()).toHaveLength(1);
  });

  it('a failed run releases the connection and the next run works', async () => {
    const pool = await (orm.em.getConnection().getNativeClient() as unknown as Promise<pg.Pool>);
    await expect(executeReplanned(pool, 'select 1/0 as n', [], REPLAN_MS, 0)).rejects.toThrow(/division by zero/);
    const rows = (await executeReplanned(pool, 'select 2 as n', [], REPLAN_MS, REPLAN_MS)) as { n: number }[];
    expect(rows).toEqual([{ n: 2 }]);
  });
});
