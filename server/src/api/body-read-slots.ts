/**
 * A process-wide cap on request bodies being read at once on the unauthenticated routes (callbacks,
 * signals). Each body may be several MiB; without a cap, a burst of large bodies is held in memory
 * (and then parsed) all at once. A request waits a bounded time for a slot, then is refused.
 */
export type BodyReadSlots = {
  /** Resolves with a release function, or null when no slot freed up within `waitMs`. */
  acquire(waitMs: number): Promise<(() => void) | null>;
};

export function createBodyReadSlots(max: number): BodyReadSlots {
  let inUse = 0;
  const waiting: ((release: () => void) => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next(once());
    else inUse -= 1;
  };
  const once = () => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
    };
  };
  return {
    acquire(waitMs) {
      if (inUse < max) {
        inUse += 1;
        return Promise.resolve(once());
      }
      return new Promise((resolve) => {
        const grant = (slot: () => void) => {
          clearTimeout(timer);
          resolve(slot);
        };
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(grant), 1);
          resolve(null);
        }, waitMs);
        waiting.push(grant);
      });
    },
  };
}
