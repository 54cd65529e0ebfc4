import { type Ctx, measured } from '../lib/context.ts';
import { type Figure, figure, sleep } from '../lib/stats.ts';
import { withSession } from './aq-session.ts';

export type FlowResults = {
  throughput: Figure;
  /** Server CPU time (user + system) per task, from the first create to the last completion. */
  cpuMsPerTask: Figure;
  created: number;
  finished: number;
  lost: number;
  duplicateWebhooks?: number;
  webhooksReceived?: number;
};

type Batch = { created: number; statuses: Record<string, number>; firstSendAt: number; lastResponseAt: number };
type Webhooks = { received: number; unique: number; duplicates: number; lastAt: number };

const DELIVERED = `select count(*) from tasks where status = 'completed'
  and exists (select 1 from jsonb_array_elements(webhook_deliveries) d where (d->>'statusCode')::int between 200 and 299)`;

/** Why 120 s: far beyond any run's drain time; a task not finished by then counts as lost. */
const DRAIN_TIMEOUT_MS = 120_000;

/**
 * Direct tasks against the loopback provider, created → completed. `concurrency` clients create
 * tasks for `runMs` as fast as they can while the server's workers dispatch them. Throughput =
 * tasks / (last completed_at in the database − first create sent).
 */
export function runDirect(ctx: Ctx): Promise<FlowResults> {
  return withSession(ctx, 'e2e_direct', 'all', async ({ client, counter, server }) => {
    let created = 0;
    let finished = 0;
    const cpu: number[] = [];
    const batch = async (durationMs: number) => {
      const cpuBefore = await server.cpuSeconds();
      const b = await client.rpc.call<Batch>('createBatch', {
        durationMs,
        concurrency: ctx.sizes.httpConcurrency,
        kind: 'direct',
      });
      created += b.created;
      const done = `select count(*) filter (where status = 'completed') as n,
                           extract(epoch from max(completed_at)) * 1000 as last_ms from tasks`;
      const deadline = Date.now() + DRAIN_TIMEOUT_MS;
      let row: { n: string; last_ms: string } | undefined;
      for (;;) {
        row = (await counter.query<{ n: string; last_ms: string }>(done)).rows[0];
        if (Number(row?.n) >= created || Date.now() > deadline) break;
        await sleep(50);
      }
      finished = Number(row?.n ?? 0);
      cpu.push((((await server.cpuSeconds()) - cpuBefore) * 1000) / b.created);
      return { b, lastMs: Number(row?.last_ms) };
    };
    const throughput = await measured(
      ctx,
      'end-to-end direct',
      'tasks/s',
      () => batch(ctx.sizes.warmupMs),
      async () => {
        const { b, lastMs } = await batch(ctx.sizes.runMs);
        return b.created / ((lastMs - b.firstSendAt) / 1000);
      },
    );
    return { throughput, cpuMsPerTask: figure(cpu.slice(1)), created, finished, lost: created - finished };
  });
}

/**
 * Callback mode: created → provider called → provider POSTs the callback → completed → webhook
 * delivered to the receiver. Throughput = tasks / (last webhook received − first create sent);
 * finished = tasks whose webhook the database records as delivered (2xx).
 */
export function runCallbackFlow(ctx: Ctx): Promise<FlowResults> {
  return withSession(ctx, 'e2e_callback', 'all', async ({ client, counter, server }) => {
    let created = 0;
    let finished = 0;
    const cpu: number[] = [];
    const batch = async (durationMs: number) => {
      const cpuBefore = await server.cpuSeconds();
      const b = await client.rpc.call<Batch>('createBatch', {
        durationMs,
        concurrency: ctx.sizes.httpConcurrency,
        kind: 'callback',
      });
      created += b.created;
      const deadline = Date.now() + DRAIN_TIMEOUT_MS;
      let hooks: Webhooks;
      for (;;) {
        hooks = await client.rpc.call<Webhooks>('webhooks');
        // The receiver sees a webhook a moment before the server records the delivery.
        if (hooks.unique >= created) finished = await counter.scalar(DELIVERED);
        if (finished >= created || Date.now() > deadline) break;
        await sleep(50);
      }
      finished = await counter.scalar(DELIVERED);
      cpu.push((((await server.cpuSeconds()) - cpuBefore) * 1000) / b.created);
      return { b, hooks };
    };
    const throughput = await measured(
      ctx,
      'callback flow',
      'tasks/s',
      () => batch(ctx.sizes.warmupMs),
      async () => {
        const { b, hooks } = await batch(ctx.sizes.runMs);
        return b.created / ((hooks.lastAt - b.firstSendAt) / 1000);
      },
    );
    // Late duplicates would arrive after the last first delivery: give them a moment.
    await sleep(ctx.quick ? 500 : 2_000);
    const hooks = await client.rpc.call<Webhooks>('webhooks');
    return {
      throughput,
      cpuMsPerTask: figure(cpu.slice(1)),
      created,
      finished,
      lost: created - finished,
      duplicateWebhooks: hooks.duplicates,
      webhooksReceived: hooks.received,
    };
  });
}
