import { forkLoad, startServer } from '../lib/children.ts';
import { type Ctx, measured, withFreshDatabase } from '../lib/context.ts';
import type { FreshDatabase } from '../lib/postgres.ts';
import { openCounter } from '../lib/postgres.ts';
import { type Figure, figure } from '../lib/stats.ts';

export type CeilingResults = {
  /** Committed create transactions (task row + job row) per second. */
  createSql: Figure;
  /** Tasks claimed and completed per second (SKIP LOCKED fetch, task UPDATE, job complete). */
  claimComplete: Figure;
  /** CPU of the Node process issuing the SQL, per transaction / per task (the server's counterpart). */
  createSqlCpuMsPerTx: Figure;
  claimCpuMsPerTask: Figure;
};

/** What the AsyncQueue phases create (bench/load/client.ts taskBody 'direct'), as stored. */
export const TASK_SHAPE = {
  targetUrl: 'http://127.0.0.1:9/ok',
  headers: { 'Content-Type': 'application/json', Authorization: 'Bearer sk-bench-0123456789' },
  body: JSON.stringify({ prompt: 'a watercolor fox in the snow', steps: 30, seed: 42 }),
};

/** The real schema: the server migrates, creates its queues and its team, and stops. */
export async function prepareSchema(ctx: Ctx, db: FreshDatabase, name: string): Promise<void> {
  const server = await startServer({
    databaseUrl: db.url,
    poolSize: ctx.poolSize,
    role: 'api',
    logDir: ctx.logDir,
    name: `${name}-migrate`,
  });
  await server.stop();
}

export async function runCeilings(ctx: Ctx): Promise<CeilingResults> {
  const { sizes, poolSize } = ctx;
  const createCpu: number[] = [];
  const claimCpu: number[] = [];
  const createSql = await withFreshDatabase(ctx, 'ceiling_create', async (db) => {
    await prepareSchema(ctx, db, 'ceiling-create');
    const load = forkLoad('sql-ceilings.ts');
    const counter = await openCounter(db.url);
    try {
      const args = { url: db.url, poolSize, concurrency: poolSize, task: TASK_SHAPE };
      return await measured(
        ctx,
        'ceiling create-SQL',
        'tx/s',
        () => load.rpc.call('createSql', { ...args, durationMs: sizes.warmupMs }),
        async () => {
          const before = await counter.scalar('select count(*) from tasks');
          const r = await load.rpc.call<{ elapsedMs: number; cpuMs: number }>('createSql', {
            ...args,
            durationMs: sizes.runMs,
          });
          const after = await counter.scalar('select count(*) from tasks');
          createCpu.push(r.cpuMs / (after - before));
          return (after - before) / (r.elapsedMs / 1000);
        },
      );
    } finally {
      await counter.close();
      await load.stop();
    }
  });

  const claimComplete = await withFreshDatabase(ctx, 'ceiling_claim', async (db) => {
    await prepareSchema(ctx, db, 'ceiling-claim');
    const load = forkLoad('sql-ceilings.ts');
    const counter = await openCounter(db.url);
    try {
      // Loops × batch as the server's dispatch worker (8 × 8), on a pool of the server's size.
      const args = { url: db.url, poolSize, loops: 8, batch: 8, task: TASK_SHAPE };
      return await measured(
        ctx,
        'ceiling claim-and-complete',
        'tasks/s',
        () => load.rpc.call('claimCycle', { ...args, seedCount: Math.ceil(sizes.claimSeed / 5) }),
        async () => {
          const before = await counter.scalar(`select count(*) from tasks where status = 'completed'`);
          const r = await load.rpc.call<{ elapsedMs: number; cpuMs: number }>('claimCycle', {
            ...args,
            seedCount: sizes.claimSeed,
          });
          const after = await counter.scalar(`select count(*) from tasks where status = 'completed'`);
          claimCpu.push(r.cpuMs / (after - before));
          return (after - before) / (r.elapsedMs / 1000);
        },
      );
    } finally {
      await counter.close();
      await load.stop();
    }
  });
  return {
    createSql,
    claimComplete,
    createSqlCpuMsPerTx: figure(createCpu),
    claimCpuMsPerTask: figure(claimCpu),
  };
}
