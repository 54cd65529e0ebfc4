import { type Ctx, measured } from '../lib/context.ts';
import { type Figure, figure, type Latency } from '../lib/stats.ts';
import { withSession } from './aq-session.ts';

export type CreateResults = {
  throughput: Figure;
  /** Server CPU time (user + system) per created task, per run: less sensitive to busy neighbours. */
  cpuMsPerTask: Figure;
  latencyMs: Latency[];
  statuses: Record<string, number>;
};

type LoadResult = { ok: number; statuses: Record<string, number>; elapsedMs: number; latencyMs: Latency };

/**
 * Create throughput over one API surface. The server runs with ASYNCQUEUE_ROLE=api (no workers),
 * so the figure is the create path alone, like its ceiling; tasks counted from the database.
 */
export function runCreate(ctx: Ctx, surface: 'rest' | 'trpc'): Promise<CreateResults> {
  const path = surface === 'rest' ? '/v1/tasks' : '/trpc/tasks.create';
  return withSession(ctx, `create_${surface}`, 'api', async ({ client, counter, server }) => {
    const latencyMs: Latency[] = [];
    const cpu: number[] = [];
    const statuses: Record<string, number> = {};
    const load = (durationMs: number) =>
      client.rpc.call<LoadResult>('createLoad', { path, concurrency: ctx.sizes.httpConcurrency, durationMs });
    const throughput = await measured(
      ctx,
      `create over ${surface === 'rest' ? 'REST' : 'tRPC'}`,
      'tasks/s',
      () => load(ctx.sizes.warmupMs),
      async () => {
        const before = await counter.scalar('select count(*) from tasks');
        const cpuBefore = await server.cpuSeconds();
        const r = await load(ctx.sizes.runMs);
        const after = await counter.scalar('select count(*) from tasks');
        cpu.push((((await server.cpuSeconds()) - cpuBefore) * 1000) / (after - before));
        latencyMs.push(r.latencyMs);
        for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
        return (after - before) / (r.elapsedMs / 1000);
      },
    );
    return { throughput, cpuMsPerTask: figure(cpu), latencyMs, statuses };
  });
}
