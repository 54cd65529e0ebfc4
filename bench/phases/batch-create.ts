/**
 * Batch create: tasks/s through `POST /v1/tasks/batch` (100 and 1,000 tasks per request) against
 * the minimal single-row-per-transaction ceiling of the same run (a plain table with a primary key
 * only: BEGIN; INSERT one ~300 B row; COMMIT, from a pool of the server's size). A batch carries
 * many rows in one statement and one commit, so it should beat that ceiling several times over.
 * Nothing may be lost: every task a response reports as created must be in the database.
 *
 * Standalone: `node bench/phases/batch-create.ts [--quick]` (DATABASE_URL, else embedded PostgreSQL).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Pool } from 'undici';
import { SERVER_NODE_FLAGS } from '../../server/src/config/node-flags.ts';
import { killAllChildren, startServer } from '../lib/children.ts';
import { type Ctx, FULL, measured, QUICK, withFreshDatabase } from '../lib/context.ts';
import { openCounter, startBenchPostgres } from '../lib/postgres.ts';
import { type Figure, nowMs } from '../lib/stats.ts';

export type BatchCreateResults = {
  /** Committed single-row transactions per second on a plain table (the ceiling). */
  ceilingTxPerSecond: Figure;
  /** Tasks per second created through POST /v1/tasks/batch, by tasks per request. */
  tasksPerSecond: Record<string, Figure>;
  /** Median tasks/s of each batch size divided by the ceiling's median (target ≥ 3). */
  ratioToCeiling: Record<string, number>;
  /** Tasks answered as created but not found in the database (must be 0). */
  lost: number;
  /** Response statuses of the batch requests, over every run. */
  statuses: Record<string, number>;
};

const BATCH_SIZES = [100, 1000] as const;
/**
 * Why 8 (the comment said 4; every figure of this phase was measured with 8): a batch spends much of
 * its time in PostgreSQL (its statement and its commit), so more requests in flight than the two
 * cores keep the server's thread and PostgreSQL busy at once; 8 stay below the server's pool of 10
 * connections (ctx.poolSize), so no batch waits for one.
 */
const BATCH_CONCURRENCY = 8;
/** Why ~300 B: the size of the typical task row of the create phases (URL, two headers, a JSON prompt). */
const CEILING_PAYLOAD = randomBytes(150).toString('hex');

/** What each batch item is: a typical AI-provider call (as bench/load/client.ts's 'direct' task). */
const taskItem = (providerUrl: string) => ({
  targetUrl: `${providerUrl}/ok`,
  method: 'POST',
  headers: { 'Content-Type': 'application/json', Authorization: 'Bearer sk-bench-0123456789' },
  body: JSON.stringify({ prompt: 'a watercolor fox in the snow', steps: 30, seed: 42 }),
});

export async function runBatchCreate(ctx: Ctx): Promise<BatchCreateResults> {
  const ceilingTxPerSecond = await measureCeiling(ctx);
  const statuses: Record<string, number> = {};
  let lost = 0;
  const tasksPerSecond: Record<string, Figure> = {};
  await withFreshDatabase(ctx, 'batch_create', async (db) => {
    const server = await startServer({
      databaseUrl: db.url,
      poolSize: ctx.poolSize,
      role: 'api',
      logDir: ctx.logDir,
      name: 'batch-create',
      nodeArgs: ctx.serverNodeArgs,
    });
    const counter = await openCounter(db.url);
    const http = new Pool(server.url, { connections: BATCH_CONCURRENCY + 2 });
    try {
      for (const size of BATCH_SIZES) {
        const load = (durationMs: number) => batchLoad(http, server.apiKey, size, durationMs);
        tasksPerSecond[String(size)] = await measured(
          ctx,
          `batch create (${size} per request)`,
          'tasks/s',
          () => load(ctx.sizes.warmupMs),
          async () => {
            const before = await counter.scalar('select count(*) from tasks');
            const r = await load(ctx.sizes.runMs);
            const after = await counter.scalar('select count(*) from tasks');
            lost += Math.max(0, r.created - (after - before));
            for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
            return (after - before) / (r.elapsedMs / 1000);
          },
        );
      }
    } finally {
      await http.close();
      await counter.close();
      await server.stop();
    }
  });
  const ratioToCeiling = Object.fromEntries(
    Object.entries(tasksPerSecond).map(([size, f]) => [size, f.median / ceilingTxPerSecond.median]),
  );
  return { ceilingTxPerSecond, tasksPerSecond, ratioToCeiling, lost, statuses };
}

/** BEGIN; INSERT one ~300 B row; COMMIT, from `poolSize` connections at once, on a fresh plain table. */
function measureCeiling(ctx: Ctx): Promise<Figure> {
  return withFreshDatabase(ctx, 'batch_ceiling', async (db) => {
    const pool = new pg.Pool({ connectionString: db.url, max: ctx.poolSize });
    // pool.end() resolves before its sockets have closed; the database is then dropped WITH (FORCE),
    // which terminates them: that is expected here, not an error to crash the bench on.
    pool.on('error', () => {});
    try {
      await pool.query('create table ceiling_rows (id uuid primary key, payload text not null)');
      const load = async (durationMs: number) => {
        const deadline = nowMs() + durationMs;
        let committed = 0;
        const started = nowMs();
        const worker = async () => {
          const client = await pool.connect();
          try {
            while (nowMs() < deadline) {
              await client.query('begin');
              await client.query('insert into ceiling_rows (id, payload) values ($1, $2)', [
                randomUUID(),
                CEILING_PAYLOAD,
              ]);
              await client.query('commit');
              committed += 1;
            }
          } finally {
            client.release();
          }
        };
        await Promise.all(Array.from({ length: ctx.poolSize }, worker));
        return committed / ((nowMs() - started) / 1000);
      };
      return await measured(
        ctx,
        'ceiling single-row transactions',
        'tx/s',
        () => load(ctx.sizes.warmupMs),
        () => load(ctx.sizes.runMs),
      );
    } finally {
      await pool.end();
    }
  });
}

type LoadResult = { created: number; statuses: Record<string, number>; elapsedMs: number };

/** BATCH_CONCURRENCY clients posting batches of `size` until `durationMs` has passed. */
async function batchLoad(http: Pool, apiKey: string, size: number, durationMs: number): Promise<LoadResult> {
  const body = JSON.stringify({ tasks: Array.from({ length: size }, () => taskItem('http://127.0.0.1:9')) });
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
  const statuses: Record<string, number> = {};
  let created = 0;
  const started = nowMs();
  const deadline = started + durationMs;
  const client = async () => {
    while (nowMs() < deadline) {
      const res = await http.request({ path: '/v1/tasks/batch', method: 'POST', headers, body });
      const text = await res.body.text();
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
      if (res.statusCode !== 200) continue;
      const { results } = JSON.parse(text) as { results: { task?: unknown }[] };
      created += results.filter((r) => r.task).length;
    }
  };
  await Promise.all(Array.from({ length: BATCH_CONCURRENCY }, client));
  return { created, statuses, elapsedMs: nowMs() - started };
}

/** Standalone run of this phase alone (the lead registers it in bench/run.ts). */
async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const started = Date.now();
  const progress = (message: string) =>
    process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${message}\n`);
  const bench = await startBenchPostgres(process.env.DATABASE_URL, progress);
  try {
    const ctx: Ctx = {
      quick,
      sizes: quick ? QUICK : FULL,
      pg: bench,
      poolSize: 10,
      logDir: await mkdtemp(path.join(os.tmpdir(), 'aq-bench-batch-')),
      serverNodeArgs: [...SERVER_NODE_FLAGS],
      progress,
    };
    const results = await runBatchCreate(ctx);
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } finally {
    killAllChildren();
    await bench.stop();
  }
}

if (import.meta.main) await main();
