import { forkLoad } from '../lib/children.ts';
import { type Ctx, format, measured, withFreshDatabase } from '../lib/context.ts';
import { type Figure, figure } from '../lib/stats.ts';
import { prepareSchema, TASK_SHAPE } from './ceilings.ts';

export type PlainCeilingResults = {
  /** BEGIN; INSERT task-like row; INSERT job-like row; COMMIT at pool-size connections: tx/s. */
  create: Figure;
  /** Claim (SKIP LOCKED) + complete on plain tables: tasks/s. */
  claimComplete: Figure;
  createCpuMsPerTx: Figure;
  claimCpuMsPerTask: Figure;
};

export type BreakdownRow = {
  label: string;
  txPerSecond: number;
  /** The plain step's tx/s measured around this step (a quarter before, a quarter after). */
  plainTxPerSecond: number;
  /** txPerSecond / plainTxPerSecond: the step's cost, with the machine's drift taken out. */
  shareOfPlain: number;
  errors: number;
};

type LoopResult = { done: number; errors: number; lastError: string; elapsedMs: number; cpuMs: number };

/** The plain ceilings: two plain tables (primary keys only) on a fresh database, no server schema. */
export async function runPlainCeilings(ctx: Ctx): Promise<PlainCeilingResults> {
  const { sizes, poolSize } = ctx;
  const createCpu: number[] = [];
  const claimCpu: number[] = [];
  const create = await withFreshDatabase(ctx, 'plain_create', async (db) => {
    const load = forkLoad('sql-ceilings.ts');
    try {
      const args = { url: db.url, poolSize, task: TASK_SHAPE };
      return await measured(
        ctx,
        'plain create ceiling',
        'tx/s',
        () => load.rpc.call('plainCreate', { ...args, durationMs: sizes.warmupMs }),
        async () => {
          const r = await load.rpc.call<LoopResult>('plainCreate', { ...args, durationMs: sizes.runMs });
          if (r.errors > 0) throw new Error(`plain create: ${r.errors} errors (${r.lastError})`);
          createCpu.push(r.cpuMs / r.done);
          return r.done / (r.elapsedMs / 1000);
        },
      );
    } finally {
      await load.stop();
    }
  });
  const claimComplete = await withFreshDatabase(ctx, 'plain_claim', async (db) => {
    const load = forkLoad('sql-ceilings.ts');
    try {
      // The same loops × batch as the schema ceiling (8 × 8), on a pool of the server's size.
      const args = { url: db.url, poolSize, loops: 8, batch: 8, task: TASK_SHAPE };
      return await measured(
        ctx,
        'plain claim+complete ceiling',
        'tasks/s',
        () => load.rpc.call('plainClaim', { ...args, seedCount: Math.ceil(sizes.claimSeed / 5) }),
        async () => {
          const r = await load.rpc.call<LoopResult>('plainClaim', { ...args, seedCount: sizes.claimSeed });
          claimCpu.push(r.cpuMs / r.done);
          return r.done / (r.elapsedMs / 1000);
        },
      );
    } finally {
      await load.stop();
    }
  });
  return { create, claimComplete, createCpuMsPerTx: figure(createCpu), claimCpuMsPerTask: figure(claimCpu) };
}

/**
 * From plain tables to the server's create path, one addition per step, each step's create run
 * at pool-size connections on one migrated database (the DDL accumulates, so one run per step,
 * between two runs of the plain step).
 */
export function runBreakdown(ctx: Ctx): Promise<BreakdownRow[]> {
  return withFreshDatabase(ctx, 'breakdown', async (db) => {
    await prepareSchema(ctx, db, 'breakdown');
    const load = forkLoad('sql-ceilings.ts');
    try {
      const steps = await load.rpc.call<{ label: string }[]>('breakdownSteps', { url: db.url });
      const args = { url: db.url, poolSize: ctx.poolSize, task: TASK_SHAPE };
      await load.rpc.call('breakdownRun', { ...args, index: 0, durationMs: ctx.sizes.warmupMs });
      const rows: BreakdownRow[] = [];
      const d = ctx.sizes.breakdownStepMs;
      const run = (index: number, durationMs: number) =>
        load.rpc.call<LoopResult & { label: string }>('breakdownRun', { ...args, index, durationMs });
      const rate = (r: LoopResult) => r.done / (r.elapsedMs / 1000);
      for (let index = 0; index < steps.length; index += 1) {
        // Plain, the step, plain again: the step is compared with plain measured around it, so a
        // neighbour's burst on the shared machine moves both, not the step's share.
        const before = await run(0, d / 4);
        const r = await run(index, d / 2);
        const after = await run(0, d / 4);
        const plainTxPerSecond = (before.done + after.done) / ((before.elapsedMs + after.elapsedMs) / 1000);
        const txPerSecond = rate(r);
        rows.push({
          label: r.label,
          txPerSecond,
          plainTxPerSecond,
          shareOfPlain: txPerSecond / plainTxPerSecond,
          errors: r.errors,
        });
        ctx.progress(
          `breakdown ${index + 1}/${steps.length} ${r.label}: ${format(txPerSecond)} tx/s (plain around it ${format(plainTxPerSecond)})`,
        );
        if (r.errors > 0) ctx.progress(`breakdown ${r.label}: ${r.errors} errors, e.g. ${r.lastError}`);
      }
      return rows;
    } finally {
      await load.stop();
    }
  });
}
