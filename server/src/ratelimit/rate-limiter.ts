import type pg from 'pg';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { type Block, type BlockBook, batchBlockSize, createBlockBook } from './point-blocks.ts';

/** Why 60 s: every limit of the API is per one-minute fixed window (the *_PER_MINUTE settings in README.md). */
const WINDOW_SECONDS = 60;
export const RATE_LIMIT_TABLE = 'rate_limits';
/**
 * Why 4: a batch skips the look-up before its take (and takes a block for the batches after it)
 * while the store last said the window had at least 4 × its points left; what other instances take
 * in between rarely eats three quarters of that.
 */
const BATCH_HEADROOM = 4;

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
 * library's lazy CREATE TABLE. Single points come from blocks taken in the store (point-blocks.ts).
 */
export function createRateLimiter(pool: pg.Pool, opts: { points: number; keyPrefix: string }): RateLimiter {
  const settings = {
    storeClient: pool,
    storeType: 'pool',
    tableName: RATE_LIMIT_TABLE,
    tableCreated: true,
    keyPrefix: opts.keyPrefix,
    points: opts.points,
    duration: WINDOW_SECONDS,
    // Why: stale rows are cleared by our retention job; the library's own timer is per-process noise.
    clearExpiredByTimeout: false,
  } as const;
  const limiter = new RateLimiterPostgres({
    ...settings,
    // Why: once a key is refused, it stays refused until its window ends (a fixed window only gets
    // fuller): this process then answers its further requests from memory, without a database
    // round trip each, so a flood of refused requests costs next to nothing. Other instances still
    // count in PostgreSQL; the limit is never raised by this, only answered sooner.
    inMemoryBlockOnConsumed: opts.points + 1,
  });
  // Blocks are taken without the in-memory block: a block refused for being larger than what is
  // left is given back at once, and must not shut the key for the rest of its window.
  const blockTaker = new RateLimiterPostgres(settings);
  const book = createBlockBook();
  const decide = decisions(opts.points);
  const parts: Parts = { limiter, book, decide, limit: opts.points, take: blockTakes(blockTaker, book, decide) };
  const consumeOne = singlePoints(parts);
  const consumeMany = batchPoints(parts);
  return {
    async consume(key, points = 1) {
      return points === 1 ? consumeOne(key) : consumeMany(key, points);
    },
    async refund(key, points = 1) {
      // A point of a live block goes back to the block (it is counted in the store already).
      if (points === 1 && book.giveBack(key, Date.now())) return;
      await limiter.reward(key, points);
    },
  };
}

function decisions(limit: number) {
  return {
    fromStore: (res: RateLimiterRes, allowed: boolean): RateDecision => ({
      allowed,
      limit,
      remaining: Math.max(0, res.remainingPoints),
      resetAt: Math.ceil((Date.now() + res.msBeforeNext) / 1000),
      retryAfter: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
    }),
    /** In one process, what the store has left plus what the block still holds is exact. */
    fromBlock: (block: Block): RateDecision => ({
      allowed: true,
      limit,
      remaining: Math.max(0, block.storeRemaining + block.left),
      resetAt: Math.ceil(block.windowEndsAt / 1000),
      retryAfter: Math.max(1, Math.ceil((block.windowEndsAt - Date.now()) / 1000)),
    }),
  };
}

type Parts = {
  limiter: RateLimiterPostgres;
  book: BlockBook;
  decide: ReturnType<typeof decisions>;
  limit: number;
  take: ReturnType<typeof blockTakes>;
};

/**
 * `size` points in one store write, `points` of them this request's and the rest its key's block
 * (none when size = points); refused: none taken. Taken without the in-memory block: a take refused
 * for being larger than what is left is given back at once and must not shut the key.
 */
function blockTakes(blockTaker: RateLimiterPostgres, book: BlockBook, decide: ReturnType<typeof decisions>) {
  return async (key: string, points: number, size: number): Promise<RateDecision> => {
    try {
      const res = await blockTaker.consume(key, size);
      book.heard(key, res.remainingPoints);
      if (size === points) return decide.fromStore(res, true);
      const windowEndsAt = Date.now() + res.msBeforeNext;
      const block = { left: size - points, windowEndsAt, storeRemaining: res.remainingPoints };
      book.store(key, block);
      return decide.fromBlock(block);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      // A refused consume still counted its points: given back, so a refused take takes none.
      await blockTaker.reward(key, size);
      // What the window had left before this take (its refused points included in consumedPoints).
      book.heard(key, Math.max(0, blockTaker.points - (rejection.consumedPoints - size)));
      return decide.fromStore(rejection, false);
    }
  };
}

/**
 * `points` of the key's live block; else the take of a block in flight for the key (requests
 * arriving meanwhile wait for it and share the block instead of each taking one); else null, and
 * the caller may take one. Synchronous, so that no other request can start a take between this
 * answer and the caller's.
 */
function liveBlock(book: BlockBook, key: string, points: number): Block | Promise<unknown> | null {
  return book.takeMany(key, points, Date.now()) ?? book.inFlight(key) ?? null;
}

const isBlock = (found: Block | Promise<unknown>): found is Block => !(found instanceof Promise);

/** One point per request: from the key's live block, else a new block, else a single point of the store. */
function singlePoints({ limiter, book, decide, take }: Parts): (key: string) => Promise<RateDecision> {
  const single = async (key: string): Promise<RateDecision> => {
    try {
      const res = await limiter.consume(key, 1);
      book.heard(key, res.remainingPoints);
      return decide.fromStore(res, true);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      book.heard(key, 0);
      return decide.fromStore(rejection, false);
    }
  };
  return async (key) => {
    for (let found = liveBlock(book, key, 1); found; found = liveBlock(book, key, 1)) {
      if (isBlock(found)) return decide.fromBlock(found);
      await found.catch(() => {});
    }
    const size = book.nextSize(key);
    if (size <= 1) return single(key);
    const taken = await book.exclusive(key, () => take(key, 1, size));
    return taken.allowed ? taken : single(key);
  };
}

/**
 * Several points at once (a batch of tasks). Far from the limit: from the key's live block, else
 * with a block for the batches after it (one store write for several batches). Near it: refused
 * without taking any when the window has not that many left (a look-up first), so a refused batch
 * leaves the rest of the window to smaller requests.
 */
function batchPoints({ limiter, book, decide, limit, take }: Parts) {
  /** Exactly `points` (no block) after a look-up, or a refusal that takes none. */
  const exact = async (key: string, points: number): Promise<RateDecision> => {
    const current = await limiter.get(key);
    if (current && current.consumedPoints + points > limit) return decide.fromStore(current, false);
    return take(key, points, points);
  };
  return async (key: string, points: number): Promise<RateDecision> => {
    for (let found = liveBlock(book, key, points); found; found = liveBlock(book, key, points)) {
      if (isBlock(found)) return decide.fromBlock(found);
      await found.catch(() => {});
    }
    const heard = book.lastHeard(key);
    // Why × BATCH_HEADROOM: only while the store's last word leaves room for the batch many times
    // over is a refusal all but impossible; nearer the limit, look first.
    if (heard === undefined || heard < points * BATCH_HEADROOM) return exact(key, points);
    const taken = await book.exclusive(key, () => take(key, points, batchBlockSize(heard, points)));
    // Refused with its block: the window has less left than heard; the batch alone, looking first.
    return taken.allowed ? taken : exact(key, points);
  };
}
