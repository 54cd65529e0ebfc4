import type pg from 'pg';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';

/** Why 60 s: every limit of the API is per one-minute fixed window (the *_PER_MINUTE settings in README.md). */
const WINDOW_SECONDS = 60;
export const RATE_LIMIT_TABLE = 'rate_limits';

export type RateDecision = {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Unix seconds when the window resets. */
  resetAt: number;
  /** Whole seconds to wait before retrying (≥ 1), meaningful when not allowed. */
  retryAfter: number;
};

export type RateLimiter = {
  /** Takes `points` (default 1) of the key's window; refused when the window has not that many left. */
  consume(key: string, points?: number): Promise<RateDecision>;
  /** Gives back points taken by `consume` (a request that turned out not to be the key's, a batch that created nothing). */
  refund(key: string, points?: number): Promise<void>;
};

/**
 * A fixed-window limiter on PostgreSQL (rate-limiter-flexible), so the limit holds across server
 * instances. The table comes from our migration (`tableCreated: true`), so no request can race the
 * library's lazy CREATE TABLE.
 */
export function createRateLimiter(pool: pg.Pool, opts: { points: number; keyPrefix: string }): RateLimiter {
  const limiter = new RateLimiterPostgres({
    storeClient: pool,
    storeType: 'pool',
    tableName: RATE_LIMIT_TABLE,
    tableCreated: true,
    keyPrefix: opts.keyPrefix,
    points: opts.points,
    duration: WINDOW_SECONDS,
    // Why: stale rows are cleared by our retention job; the library's own timer is per-process noise.
    clearExpiredByTimeout: false,
    // Why: once a key is refused, it stays refused until its window ends (a fixed window only gets
    // fuller): this process then answers its further requests from memory, without a database
    // round trip each, so a flood of refused requests costs next to nothing. Other instances still
    // count in PostgreSQL; the limit is never raised by this, only answered sooner.
    inMemoryBlockOnConsumed: opts.points + 1,
  });
  const decide = (res: RateLimiterRes, allowed: boolean): RateDecision => ({
    allowed,
    limit: opts.points,
    remaining: Math.max(0, res.remainingPoints),
    resetAt: Math.ceil((Date.now() + res.msBeforeNext) / 1000),
    retryAfter: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
  });
  return {
    async consume(key, points = 1) {
      if (points > 1) {
        // Several points at once (a batch of tasks): refused without taking any when the window has
        // not that many left, so a refused batch leaves the rest of the window to smaller requests
        // (taking them would also set the in-memory block above for the rest of the window).
        const current = await limiter.get(key);
        if (current && current.consumedPoints + points > opts.points) return decide(current, false);
      }
      try {
        return decide(await limiter.consume(key, points), true);
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        // A refused consume still counted its points; several at once (a batch that raced another
        // past the check above) are given back, so a refused batch takes none.
        if (points > 1) await limiter.reward(key, points);
        return decide(rejection, false);
      }
    },
    async refund(key, points = 1) {
      await limiter.reward(key, points);
    },
  };
}
