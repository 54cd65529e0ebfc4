import { forkLoad } from '../lib/children.ts';
import { type Ctx, measured, withFreshDatabase } from '../lib/context.ts';
import { openCounter } from '../lib/postgres.ts';
import { RAW_QUEUE } from '../lib/raw-queue.ts';
import { type Figure, figure, type Latency } from '../lib/stats.ts';

export type RawQueueResults = {
  /** Jobs per second from the first send to the last completion (completions from pgboss.job). */
  throughput: Figure;
  /** send() call → handler, under the throughput load (all runs' jobs). */
  loadedLatencyMs: Latency[];
  /** send() call → handler, one job at a time. */
  latencyMs: Latency;
  /** CPU of the worker process per job (fetch, handler call, complete), per run. */
  workerCpuMsPerJob: Figure;
  lost: number;
};

type Drain = { handled: number; latencyMs: Latency; cpuMs: number };

export async function runRawQueue(ctx: Ctx): Promise<RawQueueResults> {
  const { sizes, poolSize } = ctx;
  return withFreshDatabase(ctx, 'raw_queue', async (db) => {
    const worker = forkLoad('boss-queue.ts');
    const sender = forkLoad('boss-queue.ts');
    const counter = await openCounter(db.url);
    try {
      await worker.rpc.call('startWorker', { url: db.url, poolSize });
      await sender.rpc.call('startSender', { url: db.url, poolSize });
      let total = 0;
      let lost = 0;
      const loadedLatencyMs: Latency[] = [];
      const workerCpu: number[] = [];
      let cpuBefore = 0;
      const batch = async (durationMs: number, run: string) => {
        const sent = await sender.rpc.call<{ sent: number; firstSendAt: number }>('sendBatch', {
          durationMs,
          concurrency: sizes.httpConcurrency,
          run,
        });
        total += sent.sent;
        const drained = await worker.rpc.call<Drain>('drain', { count: total, timeoutMs: 60_000 });
        // Completions as the database has them: pg-boss settles a batch after its handler returns.
        const deadline = Date.now() + 30_000;
        let row: { n: string; last_ms: string | null } | undefined;
        for (;;) {
          row = (
            await counter.query<{ n: string; last_ms: string | null }>(
              `select count(*) as n, extract(epoch from max(completed_on)) * 1000 as last_ms
               from pgboss.job where name = '${RAW_QUEUE}' and state = 'completed' and data->>'run' = $1`,
              [run],
            )
          ).rows[0];
          if (Number(row?.n) >= sent.sent || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        lost += sent.sent - Number(row?.n ?? 0);
        workerCpu.push((drained.cpuMs - cpuBefore) / sent.sent);
        cpuBefore = drained.cpuMs;
        return { completed: Number(row?.n ?? 0), lastMs: Number(row?.last_ms), sent, drained };
      };
      const throughput = await measured(
        ctx,
        'pg-boss throughput',
        'jobs/s',
        () => batch(sizes.warmupMs, 'warmup'),
        async (i) => {
          const r = await batch(sizes.runMs, `run${i}`);
          loadedLatencyMs.push(r.drained.latencyMs);
          return r.completed / ((r.lastMs - r.sent.firstSendAt) / 1000);
        },
      );
      await sender.rpc.call('sendOneByOne', { count: sizes.latencyWarmup, gapMs: 20, run: 'lat-warm' });
      total += sizes.latencyWarmup;
      await worker.rpc.call<Drain>('drain', { count: total, timeoutMs: 30_000 });
      await sender.rpc.call('sendOneByOne', { count: sizes.latencySamples, gapMs: 20, run: 'lat' });
      total += sizes.latencySamples;
      const { latencyMs } = await worker.rpc.call<Drain>('drain', { count: total, timeoutMs: 30_000 });
      ctx.progress(`pg-boss send→handler latency (one at a time): p50 ${latencyMs.p50.toFixed(2)} ms`);
      return { throughput, loadedLatencyMs, latencyMs, workerCpuMsPerJob: figure(workerCpu.slice(1)), lost };
    } finally {
      await counter.close();
      await sender.rpc.call('stop').catch(() => {});
      await worker.rpc.call('stop').catch(() => {});
      await sender.stop();
      await worker.stop();
    }
  });
}
