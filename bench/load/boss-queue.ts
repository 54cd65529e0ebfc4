/**
 * Phase `queue`: pg-boss alone, as a user would run it for low latency: `work()` woken by pg-boss's own
 * LISTEN/NOTIFY. Forked twice: once as the worker (the system under test, with a no-op handler) and
 * once as the sender (the load generator). Each job carries its send time; the handler records
 * send → handler latency on the same clock.
 */
import { type Job, PgBoss } from 'pg-boss';
import { BOSS_SCHEMA, startBoss } from '../../server/src/jobs/boss.ts';
import { queueOptions } from '../../server/src/jobs/queues.ts';
import { RAW_QUEUE } from '../lib/raw-queue.ts';
import { serveRpc } from '../lib/rpc.ts';
import { latency, nowMs, sleep } from '../lib/stats.ts';

const QUEUE = RAW_QUEUE;
type Payload = { sentAt: number; run: string };

let boss: PgBoss | undefined;
let latencies: number[] = [];
let handled = 0;
const waiters: { count: number; resolve: () => void }[] = [];

/**
 * `work()` at 8 loops × batch 8, 1 s polls (the shape the server's dispatch worker had before its
 * pump). BENCH_BOSS_LOOPS / BENCH_BOSS_BATCH try another shape (an experiment, not a default).
 */
const LOOPS = Number(process.env.BENCH_BOSS_LOOPS ?? 8);
const BATCH = Number(process.env.BENCH_BOSS_BATCH ?? 8);
const WORK_OPTIONS = {
  includeMetadata: true,
  perJobResults: true,
  localConcurrency: LOOPS,
  batchSize: BATCH,
  burstWhenBatchFull: BATCH > 1,
  pollingIntervalSeconds: 1,
  notifyPollingIntervalSeconds: 1,
} as const;

async function startWorker(args: { url: string; poolSize: number }) {
  // The server's own constructor options and queue definitions (LISTEN/NOTIFY, notify queues).
  boss = await startBoss({ url: args.url, poolSize: args.poolSize, takeoverSeconds: 60, onError: () => {} });
  if (!(await boss.getQueue(QUEUE))) await boss.createQueue(QUEUE, { ...queueOptions('dispatch'), notify: true });
  await boss.work(QUEUE, WORK_OPTIONS, async (jobs: Job<object>[]) => {
    const at = nowMs();
    for (const job of jobs) latencies.push(at - (job.data as Payload).sentAt);
    handled += jobs.length;
    for (const w of [...waiters]) {
      if (handled >= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
    return jobs.map((job) => ({ id: job.id, status: 'completed' as const, output: undefined }));
  });
  return null;
}

async function startSender(args: { url: string; poolSize: number }) {
  boss = new PgBoss({
    connectionString: args.url,
    schema: BOSS_SCHEMA,
    max: args.poolSize,
    application_name: 'asyncqueue-bench-sender',
    supervise: false,
    schedule: false,
    migrate: false,
  });
  boss.on('error', () => {});
  await boss.start();
  return null;
}

/** Sends jobs for `durationMs` with `concurrency` concurrent send() calls (each its own INSERT + NOTIFY). */
async function sendBatch(args: { durationMs: number; concurrency: number; run: string }) {
  const b = boss as PgBoss;
  let sent = 0;
  const firstSendAt = nowMs();
  const deadline = firstSendAt + args.durationMs;
  const sender = async () => {
    while (nowMs() < deadline) {
      if (await b.send(QUEUE, { sentAt: nowMs(), run: args.run } satisfies Payload)) sent += 1;
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, sender));
  return { sent, firstSendAt, lastSendAt: nowMs() };
}

/** One job at a time, `gapMs` apart; the worker reports the latencies. */
async function sendOneByOne(args: { count: number; gapMs: number; run: string }) {
  const b = boss as PgBoss;
  for (let i = 0; i < args.count; i += 1) {
    await b.send(QUEUE, { sentAt: nowMs(), run: args.run } satisfies Payload);
    await sleep(args.gapMs);
  }
  return null;
}

/** Worker side: waits until `count` jobs were handled in total, then hands over the latencies. */
async function drain(args: { count: number; timeoutMs: number }) {
  if (handled < args.count) {
    await Promise.race([
      new Promise<void>((resolve) => waiters.push({ count: args.count, resolve })),
      sleep(args.timeoutMs),
    ]);
  }
  const samples = latencies;
  latencies = [];
  const cpu = process.cpuUsage();
  return { handled, latencyMs: latency(samples), cpuMs: (cpu.user + cpu.system) / 1000 };
}

serveRpc({
  startWorker,
  startSender,
  sendBatch,
  sendOneByOne,
  drain,
  stop: async () => {
    await boss?.stop({ graceful: true, timeout: 5_000 });
    return null;
  },
});
