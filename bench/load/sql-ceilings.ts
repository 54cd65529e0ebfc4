/**
 * Load generator of the SQL ceilings (the schema ones here; the plain ones and the breakdown in
 * plain-sql.ts). Raw SQL from Node through a `pg.Pool` of the server's pool size, on a database the server has migrated (so the tables, indexes and pg-boss queues are the
 * real ones). The statements are the ones the server sends: the task INSERT with MikroORM's column
 * list, and pg-boss's own INSERT / fetch / complete SQL (from pg-boss's plans module).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import * as plans from 'pg-boss/dist/plans.js';
import { serveRpc } from '../lib/rpc.ts';
import { nowMs } from '../lib/stats.ts';
import { plainSqlCommands } from './plain-sql.ts';
import {
  columnType,
  cpuMsSince,
  INSERT_TASK,
  jobPayload,
  QUEUE,
  SCHEMA,
  TASK_COLUMNS,
  type TaskShape,
  taskValues,
} from './task-row.ts';

type Setup = { pool: pg.Pool; teamId: string; table: string; policy: string | undefined };

async function setup(url: string, poolSize: number): Promise<Setup> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, application_name: 'asyncqueue-bench-sql' });
  // A connection terminated when the phase drops its database (WITH FORCE) after pool.end() is expected.
  pool.on('error', () => {});
  pool.on('error', () => {});
  const team = await pool.query<{ id: string }>('select id from teams limit 1');
  const queue = await pool.query<{ table_name: string; policy: string }>(
    `select table_name, policy from ${SCHEMA}.queue where name = $1`,
    [QUEUE],
  );
  const teamId = team.rows[0]?.id;
  const table = queue.rows[0]?.table_name;
  if (!teamId || !table) throw new Error('database not migrated (no team or no dispatch queue)');
  return { pool, teamId, table, policy: queue.rows[0]?.policy };
}

/** Closed loop: `concurrency` workers each run BEGIN; insert task; insert job (+NOTIFY); COMMIT. */
async function createSql(args: {
  url: string;
  poolSize: number;
  concurrency: number;
  durationMs: number;
  task: TaskShape;
}) {
  const s = await setup(args.url, args.poolSize);
  const insertJob = plans.insertJobs(SCHEMA, { table: s.table, name: QUEUE, returnId: true, notify: true });
  let done = 0;
  let errors = 0;
  const cpu = process.cpuUsage();
  const started = nowMs();
  const deadline = started + args.durationMs;
  const worker = async () => {
    while (nowMs() < deadline) {
      const client = await s.pool.connect();
      try {
        const taskId = randomUUID();
        const jobId = randomUUID();
        await client.query('begin');
        await client.query(INSERT_TASK, taskValues(taskId, jobId, s.teamId, args.task));
        await client.query(insertJob, [JSON.stringify([jobPayload(jobId, taskId)])]);
        await client.query('commit');
        done += 1;
      } catch {
        errors += 1;
        await client.query('rollback').catch(() => {});
      } finally {
        client.release();
      }
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, worker));
  const elapsedMs = nowMs() - started;
  const cpuMs = cpuMsSince(cpu);
  await s.pool.end();
  return { done, errors, elapsedMs, cpuMs };
}

/** Inserts `count` pending tasks and their dispatch jobs in bulk (not timed). */
async function seed(s: Setup, count: number, task: TaskShape): Promise<void> {
  const insertJob = plans.insertJobs(SCHEMA, { table: s.table, name: QUEUE, returnId: false, notify: false });
  const CHUNK = 1000;
  for (let offset = 0; offset < count; offset += CHUNK) {
    const n = Math.min(CHUNK, count - offset);
    const ids = Array.from({ length: n }, () => ({ task: randomUUID(), job: randomUUID() }));
    const client = await s.pool.connect();
    try {
      await client.query('begin');
      await client.query(
        `insert into tasks (${TASK_COLUMNS.join(', ')})
         select ${TASK_COLUMNS.map((c) => (c === 'id' ? 't.id' : c === 'dispatch_job_id' ? 't.job' : `v.${c}`)).join(', ')}
         from unnest($1::uuid[], $2::uuid[]) as t(id, job),
              (select ${TASK_COLUMNS.map((c, i) => `$${i + 3}::${columnType(c)} as ${c}`).join(', ')}) v`,
        [ids.map((i) => i.task), ids.map((i) => i.job), ...taskValues(randomUUID(), randomUUID(), s.teamId, task)],
      );
      await client.query(insertJob, [JSON.stringify(ids.map((i) => jobPayload(i.job, i.task)))]);
      await client.query('commit');
    } finally {
      client.release();
    }
  }
}

/**
 * Drains `seedCount` jobs the way a pg-boss worker loop does, with the least work per task: fetch a
 * batch with pg-boss's SKIP LOCKED fetch, complete each task with one conditional UPDATE, complete
 * the batch with pg-boss's complete statement. `loops` loops share the pool.
 */
async function claimCycle(args: {
  url: string;
  poolSize: number;
  loops: number;
  batch: number;
  seedCount: number;
  task: TaskShape;
}) {
  const s = await setup(args.url, args.poolSize);
  await seed(s, args.seedCount, args.task);
  const fetch = plans.fetchNextJob({
    schema: SCHEMA,
    table: s.table,
    name: QUEUE,
    policy: s.policy,
    limit: args.batch,
    includeMetadata: true,
  });
  const complete = plans.completeJobs(SCHEMA, s.table, false, false);
  let done = 0;
  const cpu = process.cpuUsage();
  const started = nowMs();
  const loop = async () => {
    for (;;) {
      const { rows } = await s.pool.query<{ id: string; data: { taskId: string } }>(fetch.text, fetch.values);
      if (rows.length === 0) return;
      await Promise.all(
        rows.map((job) =>
          s.pool.query(
            `update tasks set status = 'completed', result = $2, completed_at = now(), updated_at = now()
             where id = $1 and status in ('pending', 'processing')`,
            [job.data.taskId, '{"statusCode":200,"body":"{\\"ok\\":true}"}'],
          ),
        ),
      );
      await s.pool.query(complete, [QUEUE, rows.map((r) => r.id), null]);
      done += rows.length;
    }
  };
  await Promise.all(Array.from({ length: args.loops }, loop));
  const elapsedMs = nowMs() - started;
  const cpuMs = cpuMsSince(cpu);
  await s.pool.end();
  return { done, elapsedMs, cpuMs };
}

serveRpc({ createSql, claimCycle, ...plainSqlCommands });
