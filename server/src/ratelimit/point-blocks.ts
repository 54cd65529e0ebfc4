/**
 * Points taken from the shared store in blocks and handed out from memory, one per request: with a
 * window far from spent, a team's requests cost one store write per block instead of one each.
 * Points of a block are counted in the store when it is taken, so every instance together never
 * lets more requests through than the limit; a block's unused points die with its window (the
 * limit is then met a little sooner, never exceeded). Near the end of a window requests take
 * single points again, so the last points of a window are counted exactly.
 */

/**
 * Why 1/64 of what is left: the points a block holds back from other instances stay below 2 % of
 * what the window still has, and a window with fewer than 128 points left is taken point by point
 * (so small limits — tests use 5 — are counted exactly, request by request).
 */
const SHARE_OF_REMAINING = 64;
/** Why 50: one store write per 50 requests already makes the limiter's cost negligible; larger blocks only hold more back. */
const MAX_BLOCK = 50;

/**
 * Why 10: a batch far from the limit takes, with its own points, up to ten more batches of its size
 * (whole batches only, never more than 1/64 of what is left, as a single point's block): a tenth of
 * a store write per batch; larger would only hold more back from other instances.
 */
const BATCHES_PER_BLOCK = 10;

/** Why 10,000 keys: far more teams than are active at once; idle teams' entries must not pile up. */
const MAX_KEYS = 10_000;

/** A block's points, valid until its window ends. */
export type Block = { left: number; windowEndsAt: number; storeRemaining: number };

/** How many points the next take should be, from what the store last said was left (1: a single point). */
export function blockSize(lastRemaining: number | undefined): number {
  if (lastRemaining === undefined) return 1;
  return Math.max(1, Math.min(MAX_BLOCK, Math.floor(lastRemaining / SHARE_OF_REMAINING)));
}

/**
 * The points a batch of `points` takes from the store: its own and a block of whole batches of its
 * size for the batches after it (none when 1/64 of what is left is less than one batch). A block
 * left with fewer points than a larger batch needs is replaced, and those last points go unused
 * (the limit is then met a little sooner, never exceeded).
 */
export function batchBlockSize(lastRemaining: number, points: number): number {
  const batches = Math.min(BATCHES_PER_BLOCK, Math.floor(lastRemaining / SHARE_OF_REMAINING / points));
  return points * (1 + batches);
}

/**
 * Per key: the live block, the store's last word on what was left, and the take in flight (requests
 * of a key that arrive while its block is being taken wait for it instead of each taking one).
 */
export function createBlockBook() {
  const blocks = new Map<string, Block>();
  const lastRemaining = new Map<string, number>();
  const taking = new Map<string, Promise<unknown>>();
  return {
    /** Takes `points` of the key's live block when it still holds that many in its window. */
    takeMany(key: string, points: number, now: number): Block | null {
      const block = blocks.get(key);
      if (!block || block.left < points || now >= block.windowEndsAt) return null;
      block.left -= points;
      return block;
    },
    /** Gives a point back to the key's live block; false when there is none (the caller refunds the store). */
    giveBack(key: string, now: number): boolean {
      const block = blocks.get(key);
      if (!block || now >= block.windowEndsAt) return false;
      block.left += 1;
      return true;
    },
    store(key: string, block: Block): void {
      blocks.set(key, block);
    },
    heard(key: string, remaining: number): void {
      lastRemaining.set(key, remaining);
      // A forgotten key starts again with single points.
      if (lastRemaining.size > MAX_KEYS) {
        lastRemaining.clear();
        blocks.clear();
      }
    },
    nextSize: (key: string) => blockSize(lastRemaining.get(key)),
    /** What the store last said the key's window had left (undefined: not heard yet). */
    lastHeard: (key: string) => lastRemaining.get(key),
    inFlight: (key: string) => taking.get(key),
    /** Runs `take` as the key's one take in flight. */
    async exclusive<T>(key: string, take: () => Promise<T>): Promise<T> {
      const running = take();
      taking.set(key, running);
      try {
        return await running;
      } finally {
        taking.delete(key);
      }
    },
  };
}
export type BlockBook = ReturnType<typeof createBlockBook>;
