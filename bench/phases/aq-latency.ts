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

/** Both at low load (one task at a time) on one idle server. */
export function runLatency(ctx: Ctx): Promise<LatencyResults> {
  return withSession(ctx, 'latency', 'all', async ({ client }) => {
    const { latencySamples: samples, latencyWarmup: warmup } = ctx.sizes;
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
