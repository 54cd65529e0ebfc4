import type { BenchPostgres, FreshDatabase } from './postgres.ts';
import { type Figure, figure } from './stats.ts';

/** A part of the run (`--only=`): a row of the phase table in bench/run.ts. */
export type Part = string;

/** Counts and durations of one mode: the full run (~8 min) or --quick (< 2 min, CI smoke). */
export type Sizes = {
  runs: number;
  warmupMs: number;
  /** Length of one measured run of every throughput figure (creates or sends for this long, then drains). */
  runMs: number;
  /** Concurrent HTTP clients of the create and end-to-end loads. */
  httpConcurrency: number;
  claimSeed: number;
  latencySamples: number;
  latencyWarmup: number;
  waitingTasks: number;
  longPolls: number;
  /** Length of the create run of each breakdown step (one run per step: the DDL accumulates). */
  breakdownStepMs: number;
  /** Length of one measured run of the end-to-end-with-webhook workload (AsyncQueue and each peer). */
  peerRunMs: number;
  /** Measured runs of that workload per system (quick: one, so that CI proves the peers work). */
  peerRuns: number;
};

export const FULL: Sizes = {
  runs: 3,
  warmupMs: 4_000,
  runMs: 15_000,
  httpConcurrency: 32,
  claimSeed: 10_000,
  latencySamples: 50,
  latencyWarmup: 5,
  waitingTasks: 10_000,
  longPolls: 1_000,
  breakdownStepMs: 6_000,
  peerRunMs: 8_000,
  peerRuns: 3,
};

export const QUICK: Sizes = {
  runs: 3,
  warmupMs: 500,
  runMs: 1_500,
  httpConcurrency: 32,
  claimSeed: 2_000,
  latencySamples: 10,
  latencyWarmup: 2,
  waitingTasks: 500,
  longPolls: 100,
  breakdownStepMs: 600,
  peerRunMs: 1_000,
  peerRuns: 1,
};

export type Ctx = {
  quick: boolean;
  sizes: Sizes;
  pg: BenchPostgres;
  /** ASYNCQUEUE_DB_POOL_SIZE of every server, and the pool size of the raw SQL ceilings. */
  poolSize: number;
  logDir: string;
  /** Node flags for server processes (e.g. --cpu-prof). */
  serverNodeArgs: string[];
  progress(message: string): void;
};

/** Runs `work` on a fresh database, dropped afterwards whatever happens. */
export async function withFreshDatabase<T>(ctx: Ctx, name: string, work: (db: FreshDatabase) => Promise<T>) {
  const db = await ctx.pg.createDatabase(name);
  try {
    return await work(db);
  } finally {
    await db.drop().catch((error: unknown) => ctx.progress(`could not drop ${db.name}: ${String(error)}`));
  }
}

/** A warm-up (not kept), then `ctx.sizes.runs` measured runs with one progress line each. */
export async function measured(
  ctx: Ctx,
  label: string,
  unit: string,
  warmup: (() => Promise<unknown>) | null,
  run: (index: number) => Promise<number>,
  runs = ctx.sizes.runs,
): Promise<Figure> {
  if (warmup) {
    await warmup();
    ctx.progress(`${label}: warm-up done`);
  }
  const values: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const value = await run(i);
    values.push(value);
    ctx.progress(`${label}: run ${i + 1}/${runs}: ${format(value)} ${unit}`);
  }
  return figure(values);
}

export function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}
