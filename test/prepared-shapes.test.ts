import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrm } from '../server/src/db/database.ts';
import { numberPlaceholders, poolExecutor } from '../server/src/db/prepared.ts';
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
