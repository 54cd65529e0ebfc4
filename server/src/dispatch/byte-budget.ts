// A per-process budget of bytes that responses in flight may hold (their bytes, their decoded
// string or base64, the database driver's copy while recording). Admission is first come, first
// served: a reservation waits until enough of the budget is free. A single reservation larger than
// the whole budget is clamped to it, so it runs alone instead of waiting forever: no deadlock.

export type Reservation = {
  /** Bytes this reservation holds. */
  readonly bytes: number;
  /** Gives the bytes back; calling it again does nothing. */
  release(): void;
};

export type ByteBudget = {
  readonly total: number;
  /** Bytes held by reservations right now (a gauge). */
  inUse(): number;
  /** How many reservations are waiting for room (a gauge). */
  waiting(): number;
  /** Waits (FIFO) until `bytes` are free, then holds them; rejects with `signal.reason` if aborted. */
  reserve(bytes: number, signal?: AbortSignal): Promise<Reservation>;
};

export const NO_RESERVATION: Reservation = { bytes: 0, release() {} };

type Waiter = { bytes: number; grant: () => void };

export function createByteBudget(total: number): ByteBudget {
  let used = 0;
  const queue: Waiter[] = [];

  const hold = (bytes: number): Reservation => {
    used += bytes;
    let released = false;
    return {
      bytes,
      release() {
        if (released) return;
        released = true;
        used -= bytes;
        admitWaiters();
      },
    };
  };

  const admitWaiters = () => {
    while (queue.length > 0 && (queue[0] as Waiter).bytes <= total - used) (queue.shift() as Waiter).grant();
  };

  return {
    total,
    inUse: () => used,
    waiting: () => queue.length,
    reserve(requested, signal) {
      const bytes = Math.min(Math.max(0, Math.ceil(requested)), total);
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (queue.length === 0 && bytes <= total - used) return Promise.resolve(hold(bytes));
      return new Promise<Reservation>((resolve, reject) => {
        const onAbort = () => {
          const index = queue.indexOf(waiter);
          if (index >= 0) queue.splice(index, 1);
          // The aborted waiter may have blocked smaller ones behind it.
          admitWaiters();
          reject(signal?.reason);
        };
        const waiter: Waiter = {
          bytes,
          grant: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve(hold(bytes));
          },
        };
        queue.push(waiter);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}
