import type { ConnectionOptions, JobWithMetadata, PgBoss } from 'pg-boss';

export type PumpOptions<T> = {
  queue: string;
  /** Jobs running at once in this process. */
  concurrency: number;
  /** Most jobs taken by one fetch statement. */
  fetchBatch: number;
  /** Fetch at least this often when nothing woke the pump (delayed jobs become due silently). */
  pollMs: number;
  /** How often the heartbeat of every running job is refreshed (below the queue's heartbeat). */
  heartbeatMs: number;
  handler: (job: JobWithMetadata<T>) => Promise<void>;
  onError: (message: string) => void;
  /** Where pg-boss runs the pump's fetch, and its complete/fail/touch (default: its own pool). */
  db?: { fetch: ConnectionOptions['db']; settle: ConnectionOptions['db'] };
};

export type JobPump = {
  /** A job may be waiting (NOTIFY from pg-boss, a reconnect): fetch now if there is room. */
  wake(): void;
  running(): number;
  /** Stops fetching, waits up to `graceMs` for running jobs, then fails the rest so others retry them. */
  stop(graceMs: number): Promise<void>;
};

/**
 * Runs one pg-boss queue with our own fetch loop instead of `work()`: one fetch at a time (a NOTIFY
 * wakes one query, not one per worker loop), each job settles on its own (a hanging call never
 * holds back the others of its batch), and completions that land together go in one statement.
 * pg-boss still owns the job rows: the fetch, complete, fail and heartbeat (touch) are its own API,
 * so retries, expiry and takeover of a dead instance's jobs work as with `work()`.
 */
export function startJobPump<T>(boss: PgBoss, opts: PumpOptions<T>): JobPump {
  const inFlight = new Map<string, JobWithMetadata<T>>();
  const db = opts.db?.settle;
  let completed: { id: string; retryCount: number }[] = [];
  let flushing: Promise<void> | null = null;
  let stopping = false;
  let woken = true;
  let wakeUp: (() => void) | null = null;

  const wake = () => {
    woken = true;
    wakeUp?.();
  };
  const report = (what: string, error: unknown) =>
    opts.onError(`${opts.queue}: ${what}: ${error instanceof Error ? error.message : String(error)}`);

  /** One statement for every job that finished since the last one (pg-boss checks each attempt). */
  const flush = (): Promise<void> => {
    flushing ??= (async () => {
      await Promise.resolve();
      while (completed.length > 0) {
        const batch = completed;
        completed = [];
        await boss.complete(opts.queue, batch, null, { db }).catch((error: unknown) => report('complete', error));
      }
      flushing = null;
    })();
    return flushing;
  };

  /** A finished job frees a slot; only a full pump was held back by it, so only then fetch again. */
  const release = (job: JobWithMetadata<T>) => {
    const wasFull = inFlight.size >= opts.concurrency;
    inFlight.delete(job.id);
    if (wasFull) wake();
  };

  const run = (job: JobWithMetadata<T>) => {
    inFlight.set(job.id, job);
    opts.handler(job).then(
      () => {
        release(job);
        completed.push({ id: job.id, retryCount: job.retryCount });
        void flush();
      },
      (error: unknown) => {
        release(job);
        report(`job ${job.id} failed; pg-boss will retry it`, error);
        const message = error instanceof Error ? error.message : String(error);
        boss
          .fail(opts.queue, { id: job.id, retryCount: job.retryCount }, { error: message }, { db })
          .catch((e: unknown) => report('fail', e));
      },
    );
  };

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = null;
        resolve();
      }
      wakeUp = done;
    });

  const loop = (async () => {
    while (!stopping) {
      const room = opts.concurrency - inFlight.size;
      if (room > 0 && woken) {
        woken = false;
        const want = Math.min(room, opts.fetchBatch);
        try {
          const jobs = await boss.fetch<T>(opts.queue, { batchSize: want, includeMetadata: true, db: opts.db?.fetch });
          for (const job of jobs) run(job);
          // A full fetch: more may be waiting, fetch again at once.
          if (jobs.length === want) woken = true;
        } catch (error) {
          report('fetch', error);
          await pause(opts.pollMs);
          woken = true;
        }
        continue;
      }
      // Full: a finishing job wakes the loop. Otherwise poll: delayed jobs become due without a NOTIFY.
      await pause(room > 0 ? opts.pollMs : opts.pollMs * 60);
      woken = true;
    }
  })();

  const heartbeat = setInterval(() => {
    const jobs = [...inFlight.values()].map((j) => ({ id: j.id, retryCount: j.retryCount }));
    if (jobs.length > 0) boss.touch(opts.queue, jobs, { db }).catch((error: unknown) => report('heartbeat', error));
  }, opts.heartbeatMs);
  heartbeat.unref();

  return {
    wake,
    running: () => inFlight.size,
    async stop(graceMs) {
      stopping = true;
      wake();
      await loop;
      const deadline = Date.now() + graceMs;
      while (inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      clearInterval(heartbeat);
      await flush();
      const left = [...inFlight.values()].map((j) => ({ id: j.id, retryCount: j.retryCount }));
      if (left.length > 0) {
        await boss
          .fail(opts.queue, left, { error: 'Interrupted: the instance shut down; retried elsewhere' }, { db })
          .catch((error: unknown) => report('fail at shutdown', error));
      }
    },
  };
}
