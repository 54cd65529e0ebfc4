import type { Ctx, Part } from '../lib/context.ts';
import { type CreateResults, runCreate } from './aq-create.ts';
import { type FlowResults, runCallbackFlow, runDirect } from './aq-flows.ts';
import { type FootprintResults, runFootprint } from './aq-footprint.ts';
import { type LatencyResults, runLatency } from './aq-latency.ts';

export type AsyncQueueResults = {
  createRest?: CreateResults;
  createTrpc?: CreateResults;
  direct?: FlowResults;
  callback?: FlowResults;
  latency?: LatencyResults;
  footprint?: FootprintResults;
};

/** Phase 3: each measurement on its own fresh database and server process. */
export async function runAsyncQueue(ctx: Ctx, parts: Set<Part>): Promise<AsyncQueueResults> {
  const r: AsyncQueueResults = {};
  if (parts.has('create')) {
    r.createRest = await runCreate(ctx, 'rest');
    r.createTrpc = await runCreate(ctx, 'trpc');
  }
  if (parts.has('e2e')) r.direct = await runDirect(ctx);
  if (parts.has('callback')) r.callback = await runCallbackFlow(ctx);
  if (parts.has('latency')) r.latency = await runLatency(ctx);
  if (parts.has('footprint')) r.footprint = await runFootprint(ctx);
  return r;
}
