import type { Ctx } from '../lib/context.ts';
import type { Latency } from '../lib/stats.ts';
import { withSession } from './aq-session.ts';

export type LatencyResults = {
  /** Create request sent → the provider receives the dispatch, one task at a time. */
  pickupMs: Latency;
  /** Callback sent → the open long-poll on that task answers, one task at a time. */
  wakeMs: Latency;
};

type Measured = { samplesMs: number[]; latencyMs: Latency };

/**
 * Why these: a running service has compiled its hot paths; a fresh process runs them in V8's
 * interpreter for the first few hundred requests. Not measured; then the server settles.
 */
const JIT_WARMUP = { direct: 500, callback: 200, concurrency: 8, settleMs: 5_000 };
/** The smoke run (--quick) only proves the path works: a fifth of it. */
const QUICK_JIT_WARMUP = { direct: 100, callback: 40, concurrency: 8, settleMs: 1_000 };

/** Runs the warm-up load through a load-generator client, then lets the server settle. */
export async function warmUpServer(
  client: { rpc: { call(name: string, args: object): Promise<unknown> } },
  quick = false,
) {
  const warmup = quick ? QUICK_JIT_WARMUP : JIT_WARMUP;
  const { concurrency } = warmup;
  await client.rpc.call('createBatch', { count: warmup.direct, concurrency, kind: 'direct' });
  await client.rpc.call('createBatch', { count: warmup.callback, concurrency, kind: 'callback' });
  await new Promise((resolve) => setTimeout(resolve, warmup.settleMs));
  return `${warmup.direct} direct + ${warmup.callback} callback tasks`;
}

/** Both at low load (one task at a time) on one idle, warmed-up server. */
export function runLatency(ctx: Ctx): Promise<LatencyResults> {
  return withSession(ctx, 'latency', 'all', async ({ client }) => {
    const { latencySamples: samples, latencyWarmup: warmup } = ctx.sizes;
    ctx.progress(`latency: server warmed up (${await warmUpServer(client, ctx.quick)})`);
    const pickup = await client.rpc.call<Measured>('pickup', { samples, warmup, gapMs: 50 });
    ctx.progress(
      `pickup latency: p50 ${pickup.latencyMs.p50.toFixed(2)} ms, p99 ${pickup.latencyMs.p99.toFixed(2)} ms`,
    );
    const wake = await client.rpc.call<Measured>('wake', { samples, warmup, settleMs: 50 });
    ctx.progress(
      `callback→wake latency: p50 ${wake.latencyMs.p50.toFixed(2)} ms, p99 ${wake.latencyMs.p99.toFixed(2)} ms`,
    );
    return { pickupMs: pickup.latencyMs, wakeMs: wake.latencyMs };
  });
}
