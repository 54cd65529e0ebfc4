import type { ConnectionOptions, JobWithMetadata, PgBoss } from 'pg-boss';

export type PumpOptions<T> = {
  queue: string;
  /** Jobs running at once in this process. */
  concurrency: number;
  /**
   * Jobs a full pump may still take beyond `concurrency`, only from fairness groups (pg-boss's job
   * `group`) below their fair share of the pump: a newcomer never waits behind a backlog's slow
   * calls. 0 turns it off.
   */
  fairReserve?: number;
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

/** The running jobs as pg-boss addresses them (each attempt by its retry count). */
type JobKey = { id: string; retryCount: number };
const keyOf = (job: JobKey): JobKey => ({ id: job.id, retryCount: job.retryCount });

/** What the parts of one pump share. */
type Pump<T> = {
  boss: PgBoss;
  opts: PumpOptions<T>;
  /** Where pg-boss runs complete/fail/touch. */
  db: ConnectionOptions['db'] | undefined;
  inFlight: Map<string, JobWithMetadata<T>>;
  waker: Waker;
  completions: Completions;
  report: (what: string, error: unknown) => void;
  stopping: boolean;
};

/**
 * Runs one pg-boss queue with our own fetch loop instead of `work()`: one fetch at a time (a NOTIFY
 * wakes one query, not one per worker loop), each job settles on its own (a hanging call never
 * holds back the others of its batch), and completions that land together go in one statement.
 * pg-boss still owns the job rows: the fetch, complete, fail and heartbeat (touch) are its own API,
 * so retries, expiry and takeover of a dead instance's jobs work as with `work()`.
 */
export function startJobPump<T>(boss: PgBoss, opts: PumpOptions<T>): JobPump {
  const db = opts.db?.settle;
  const report = (what: string, error: unknown) =>
    opts.onError(`${opts.queue}: ${what}: ${error instanceof Error ? error.message : String(error)}`);
  const pump: Pump<T> = {
    boss,
    opts,
    db,
    inFlight: new Map(),
    waker: createWaker(),
    completions: createCompletions(boss, opts.queue, db, report),
    report,
    stopping: false,
  };
  const loop = fetchLoop(pump);
  const heartbeat = startHeartbeat(pump);
  return {
    wake: pump.waker.wake,
    running: () => pump.inFlight.size,
    async stop(graceMs) {
      pump.stopping = true;
      pump.waker.wake();
      await loop;
      await drain(pump, heartbeat, graceMs);
    },
  };
}

type Waker = {
  /** A fetch may find work: set by a wake, a full fetch, or the end of a pause. */
  woken: boolean;
  wake(): void;
  /** Waits `ms`, or less if woken meanwhile. */
  pause(ms: number): Promise<void>;
};

function createWaker(): Waker {
  let wakeUp: (() => void) | null = null;
  const waker: Waker = {
    woken: true,
    wake() {
      waker.woken = true;
      wakeUp?.();
    },
    pause: (ms) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wakeUp = null;
          resolve();
        }
        wakeUp = done;
      }),
  };
  return waker;
}

type Completions = {
  /** A job finished: it is completed with the others that finish before the statement runs. */
  add(job: JobKey): void;
  /** Completes every job added so far. */
  flush(): Promise<void>;
};

/** One statement for every job that finished since the last one (pg-boss checks each attempt). */
function createCompletions(
  boss: PgBoss,
  queue: string,
  db: ConnectionOptions['db'] | undefined,
  report: Pump<unknown>['report'],
): Completions {
  let completed: JobKey[] = [];
  let flushing: Promise<void> | null = null;
  const flush = (): Promise<void> => {
    flushing ??= (async () => {
      await Promise.resolve();
      while (completed.length > 0) {
        const batch = completed;
        completed = [];
        await boss.complete(queue, batch, null, { db }).catch((error: unknown) => report('complete', error));
      }
      flushing = null;
    })();
    return flushing;
  };
  return {
    add(job) {
      completed.push(keyOf(job));
      void flush();
    },
    flush,
  };
}

/** Fetches while there is room and something may be waiting; otherwise waits for a wake or the poll. */
async function fetchLoop<T>(pump: Pump<T>): Promise<void> {
  const { boss, opts, waker } = pump;
  while (!pump.stopping) {
    const full = pump.inFlight.size >= opts.concurrency;
    const room = opts.concurrency + (full ? (opts.fairReserve ?? 0) : 0) - pump.inFlight.size;
    if (room > 0 && waker.woken) {
      waker.woken = false;
      const want = Math.min(room, opts.fetchBatch);
      // Full: only groups below their fair share may take the reserve.
      const ignoreGroups = full ? groupsAtFairShare(pump) : null;
      try {
        const db = opts.db?.fetch;
        const jobs = await boss.fetch<T>(opts.queue, { batchSize: want, includeMetadata: true, db, ignoreGroups });
        for (const job of jobs) runJob(pump, job);
        // A full fetch: more may be waiting, fetch again at once.
        if (jobs.length === want) waker.woken = true;
      } catch (error) {
        pump.report('fetch', error);
        await waker.pause(opts.pollMs);
        waker.woken = true;
      }
      continue;
    }
    // Full: a finishing job wakes the loop. Otherwise poll: delayed jobs become due without a NOTIFY.
    await waker.pause(room > 0 ? opts.pollMs : opts.pollMs * 60);
    waker.woken = true;
  }
}

/**
 * The fairness groups that have their share of this pump or more: the pump's concurrency split
 * evenly between the groups running here plus one newcomer. A full pump ignores them, so the
 * next job it takes (from its reserve) belongs to a team or key that is running less.
 */
function groupsAtFairShare<T>(pump: Pump<T>): string[] {
  const running = new Map<string, number>();
  for (const job of pump.inFlight.values()) {
    const group = job.groupId ?? '';
    running.set(group, (running.get(group) ?? 0) + 1);
  }
  const share = Math.max(1, Math.floor(pump.opts.concurrency / (running.size + 1)));
  return [...running].filter(([group, n]) => group !== '' && n >= share).map(([group]) => group);
}

/** Runs one job on its own; it completes with the next batch, or fails for pg-boss to retry it. */
function runJob<T>(pump: Pump<T>, job: JobWithMetadata<T>): void {
  pump.inFlight.set(job.id, job);
  pump.opts.handler(job).then(
    () => {
      release(pump, job);
      pump.completions.add(job);
    },
    (error: unknown) => {
      release(pump, job);
      pump.report(`job ${job.id} failed; pg-boss will retry it`, error);
      const message = error instanceof Error ? error.message : String(error);
      pump.boss
        .fail(pump.opts.queue, keyOf(job), { error: message }, { db: pump.db })
        .catch((e: unknown) => pump.report('fail', e));
    },
  );
}

/** A finished job frees a slot; only a full pump was held back by it, so only then fetch again. */
function release<T>(pump: Pump<T>, job: JobWithMetadata<T>): void {
  const wasFull = pump.inFlight.size >= pump.opts.concurrency;
  pump.inFlight.delete(job.id);
  if (wasFull) pump.waker.wake();
}

/** Refreshes the heartbeat of every running job, so pg-boss does not hand it to another instance. */
function startHeartbeat<T>(pump: Pump<T>): NodeJS.Timeout {
  const heartbeat = setInterval(() => {
    const jobs = [...pump.inFlight.values()].map(keyOf);
    if (jobs.length > 0)
      pump.boss
        .touch(pump.opts.queue, jobs, { db: pump.db })
        .catch((error: unknown) => pump.report('heartbeat', error));
  }, pump.opts.heartbeatMs);
  heartbeat.unref();
  return heartbeat;
}

/** After the loop stopped: waits up to `graceMs` for running jobs, completes, fails the rest. */
async function drain<T>(pump: Pump<T>, heartbeat: NodeJS.Timeout, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (pump.inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  clearInterval(heartbeat);
  await pump.completions.flush();
  const left = [...pump.inFlight.values()].map(keyOf);
  if (left.length > 0) {
    await pump.boss
      .fail(pump.opts.queue, left, { error: 'Interrupted: the instance shut down; retried elsewhere' }, { db: pump.db })
      .catch((error: unknown) => pump.report('fail at shutdown', error));
  }
}
