import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter, type RateLimiter } from '../server/src/ratelimit/rate-limiter.ts';
import { createTestDatabase } from './helpers/test-database.ts';

// Points taken from the store in blocks (server/src/ratelimit/point-blocks.ts): fewer store writes,
// the same counts. Each limiter stands for one server instance; they share the store (a real
// PostgreSQL, the migrated rate_limits table).

let pool: pg.Pool;
let writes = 0;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: await createTestDatabase(), max: 6 });
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    writes += 1;
    return query(...args);
  };
});
afterAll(async () => {
  await pool.end();
});

let keys = 0;
const newKey = () => {
  keys += 1;
  return `team-${keys}`;
};

async function consumeUntilRefused(limiters: RateLimiter[], key: string, maxCalls: number) {
  let allowed = 0;
  let refusedInARow = 0;
  for (let call = 0; call < maxCalls && refusedInARow < limiters.length * 3; call += 1) {
    const decision = await (limiters[call % limiters.length] as RateLimiter).consume(key);
    if (decision.allowed) {
      allowed += 1;
      refusedInARow = 0;
    } else refusedInARow += 1;
  }
  return allowed;
}

async function storedPoints(key: string): Promise<number> {
  const { rows } = await pool.query('select points from rate_limits where key = $1', [`team:${key}`]);
  return Number(rows[0]?.points ?? 0);
}

describe('rate-limit points taken in blocks', () => {
  it('one instance: 2,000 requests of a large budget count down one by one, with a store write per block, not per request', async () => {
    const limiter = createRateLimiter(pool, { points: 100_000, keyPrefix: 'team' });
    const key = newKey();
    const before = writes;
    const remaining: number[] = [];
    for (let i = 0; i < 2000; i += 1) {
      const decision = await limiter.consume(key);
      expect(decision.allowed).toBe(true);
      remaining.push(decision.remaining);
    }
    expect(remaining).toEqual(remaining.map((_, i) => 100_000 - 1 - i));
    expect(writes - before).toBeLessThan(2000 / 20);
    // Every point handed out was counted in the store first (the last block may hold a few unused).
    const stored = await storedPoints(key);
    expect(stored).toBeGreaterThanOrEqual(2000);
    expect(stored).toBeLessThan(2000 + 50);
  });

  it('one instance: exactly the limit is let through, then 429, and the store counts exactly the limit', async () => {
    const limiter = createRateLimiter(pool, { points: 1000, keyPrefix: 'team' });
    const key = newKey();
    expect(await consumeUntilRefused([limiter], key, 1100)).toBe(1000);
    expect(await storedPoints(key)).toBeGreaterThanOrEqual(1000);
    const refused = await limiter.consume(key);
    expect(refused.allowed).toBe(false);
    expect(refused.remaining).toBe(0);
  });

  it('two instances taking turns: together exactly the limit, never more', async () => {
    const a = createRateLimiter(pool, { points: 1000, keyPrefix: 'team' });
    const b = createRateLimiter(pool, { points: 1000, keyPrefix: 'team' });
    expect(await consumeUntilRefused([a, b], newKey(), 1100)).toBe(1000);
  });

  it('two instances, 400 concurrent requests on a limit of 300 after a warm start: never more than the limit', async () => {
    const a = createRateLimiter(pool, { points: 300, keyPrefix: 'team' });
    const b = createRateLimiter(pool, { points: 300, keyPrefix: 'team' });
    const key = newKey();
    // Both have heard from the store, so their next takes are blocks.
    expect((await a.consume(key)).allowed).toBe(true);
    expect((await b.consume(key)).allowed).toBe(true);
    const decisions = await Promise.all(Array.from({ length: 400 }, (_, i) => (i % 2 ? a : b).consume(key)));
    const allowed = decisions.filter((d) => d.allowed).length + 2;
    expect(allowed).toBeLessThanOrEqual(300);
    // Points held in a block by one instance while the other is refused are at most a few blocks' worth.
    expect(allowed).toBeGreaterThan(300 - 2 * 5);
  });

  it('a refunded point goes back to the block: the next request costs no store write', async () => {
    const limiter = createRateLimiter(pool, { points: 100_000, keyPrefix: 'team' });
    const key = newKey();
    await limiter.consume(key);
    const first = await limiter.consume(key);
    await limiter.refund(key);
    const before = writes;
    const again = await limiter.consume(key);
    expect(writes).toBe(before);
    expect(again.remaining).toBe(first.remaining);
  });

  it('batches far from the limit share a block: 12 batches of 100, three store writes, exact counts', async () => {
    const limiter = createRateLimiter(pool, { points: 1_000_000, keyPrefix: 'team' });
    const key = newKey();
    const before = writes;
    for (let i = 1; i <= 12; i += 1) {
      expect(await limiter.consume(key, 100)).toMatchObject({ allowed: true, remaining: 1_000_000 - 100 * i });
    }
    // The first batch has not heard from the store: a look-up and its own take. The second takes
    // its 100 with a block of 1,000 that serves the next ten.
    expect(writes - before).toBe(3);
    expect(await storedPoints(key)).toBe(1200);
  });

  it('concurrent batches of one key wait for its block being taken instead of each taking one', async () => {
    const limiter = createRateLimiter(pool, { points: 1_000_000, keyPrefix: 'team' });
    const key = newKey();
    await limiter.consume(key, 100);
    const before = writes;
    const decisions = await Promise.all(Array.from({ length: 8 }, () => limiter.consume(key, 100)));
    expect(decisions.every((d) => d.allowed)).toBe(true);
    expect(decisions.map((d) => d.remaining).sort((x, y) => y - x)).toEqual(
      Array.from({ length: 8 }, (_, i) => 1_000_000 - 100 * (i + 2)),
    );
    expect(writes - before).toBe(1);
  });

  it('near the limit a batch is refused whole and takes nothing, also after a stale last word', async () => {
    const a = createRateLimiter(pool, { points: 1000, keyPrefix: 'team' });
    const b = createRateLimiter(pool, { points: 1000, keyPrefix: 'team' });
    const key = newKey();
    await a.consume(key, 100);
    // Room for the batch many times over, but 1/64 of it is less than a batch: no block, no look-up.
    let before = writes;
    expect(await a.consume(key, 100)).toMatchObject({ allowed: true, remaining: 800 });
    expect(writes - before).toBe(1);
    expect(await storedPoints(key)).toBe(200);
    // b spends most of the window; a's last word is stale, so a takes without looking, is refused,
    // gives the points back, then looks.
    expect((await b.consume(key, 700)).allowed).toBe(true);
    before = writes;
    expect((await a.consume(key, 150)).allowed).toBe(false);
    expect(writes - before).toBe(3);
    expect(await storedPoints(key)).toBe(900);
    // Now a knows the window is nearly spent: batches that fit are let through, exactly to the limit.
    expect(await a.consume(key, 80)).toMatchObject({ allowed: true, remaining: 20 });
    expect(await a.consume(key, 20)).toMatchObject({ allowed: true, remaining: 0 });
    expect((await a.consume(key, 20)).allowed).toBe(false);
    expect(await storedPoints(key)).toBe(1000);
  });

  it('two instances, 300 concurrent batches of 100 on a limit of 20,000 (blocks, then exact takes): never more than the limit', async () => {
    const a = createRateLimiter(pool, { points: 20_000, keyPrefix: 'team' });
    const b = createRateLimiter(pool, { points: 20_000, keyPrefix: 'team' });
    const key = newKey();
    // Both have heard from the store (19,800 left), so their next batches take blocks.
    expect((await a.consume(key, 100)).allowed).toBe(true);
    expect((await b.consume(key, 100)).allowed).toBe(true);
    const decisions = await Promise.all(Array.from({ length: 300 }, (_, i) => (i % 2 ? a : b).consume(key, 100)));
    const granted = (decisions.filter((d) => d.allowed).length + 2) * 100;
    expect(granted).toBeLessThanOrEqual(20_000);
    expect(await storedPoints(key)).toBeLessThanOrEqual(20_000);
    // What blocks hold back unused at the end of the window is a few batches, not a large part.
    expect(granted).toBeGreaterThanOrEqual(19_000);
  });
});
