/**
 * The plain ceilings and the create breakdown (run inside the sql-ceilings.ts load process).
 * Plain = the least SQL that does the job: two tables with a primary key only, no ORM, no pg-boss.
 * The breakdown adds what the server's create path has, one thing at a time, on the same database,
 * so that each cost gets its own number.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import * as plans from 'pg-boss/dist/plans.js';
import { nowMs } from '../lib/stats.ts';
import { cpuMsSince, insertTaskInto, jobPayload, QUEUE, SCHEMA, type TaskShape, taskValues } from './task-row.ts';

const PLAIN_DDL = [
  `create table if not exists plain_task (id uuid primary key, team_id uuid not null, status text not null,
     target_url text not null, request jsonb not null, result jsonb, created_at timestamptz not null default now(),
     completed_at timestamptz)`,
  `create table if not exists plain_job (id bigint generated always as identity primary key, task_id uuid not null,
     state text not null default 'created', created_on timestamptz not null default now(), started_on timestamptz)`,
];
const PLAIN_INSERT_TASK = `insert into plain_task (id, team_id, status, target_url, request) values ($1, $2, 'pending', $3, $4)`;
const PLAIN_INSERT_JOB = 'insert into plain_job (task_id) values ($1)';
/** Claims a batch: SKIP LOCKED on the primary key's order, no other index. */
const PLAIN_CLAIM = `update plain_job set state = 'active', started_on = now()
  where id in (select id from plain_job where state = 'created' order by id limit $1 for update skip locked)
  returning id, task_id`;
/** Completes a batch in one statement: the job rows go, the task rows keep the outcome. */
const PLAIN_COMPLETE = `with done as (delete from plain_job where id = any($1::bigint[]) returning task_id)
  update plain_task t set status = 'completed', result = $2, completed_at = now() from done where t.id = done.task_id`;
const RESULT = '{"statusCode":200,"body":"{\\"ok\\":true}"}';

/** What the create of a step does; each breakdown step adds one of these to the one before. */
type TxShape = {
  taskTable: 'plain_task' | 'bd_tasks';
  job: 'plain' | 'boss';
  notify: boolean;
  rateLimit: boolean;
  keyCheck: boolean;
};
export type BreakdownStep = { label: string; ddl: string[]; tx: TxShape };

const pools = (url: string, max: number) => {
  const pool = new pg.Pool({ connectionString: url, max, application_name: 'asyncqueue-bench-sql' });
  // A connection terminated when the phase drops its database (WITH FORCE) after pool.end() is expected.
  pool.on('error', () => {});
  pool.on('error', () => {});
  return pool;
};

const request = (shape: TaskShape) => JSON.stringify({ method: 'POST', headers: shape.headers, body: shape.body });

/** `concurrency` loops, each running `tx` one after another for `durationMs`. */
async function closedLoop(concurrency: number, durationMs: number, tx: () => Promise<void>) {
  let done = 0;
  let errors = 0;
  let lastError = '';
  const cpu = process.cpuUsage();
  const started = nowMs();
  const deadline = started + durationMs;
  const loop = async () => {
    while (nowMs() < deadline) {
      try {
        await tx();
        done += 1;
      } catch (error) {
        errors += 1;
        lastError = String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { done, errors, lastError, elapsedMs: nowMs() - started, cpuMs: cpuMsSince(cpu) };
}

async function inTransaction(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<void>) {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await work(client);
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** Plain create ceiling: BEGIN; INSERT a ~300 B task-like row; INSERT a job-like row; COMMIT. */
async function plainCreate(args: { url: string; poolSize: number; durationMs: number; task: TaskShape }) {
  const pool = pools(args.url, args.poolSize);
  await pool.query(PLAIN_DDL.join(';'));
  const teamId = randomUUID();
  const body = request(args.task);
  const r = await closedLoop(args.poolSize, args.durationMs, () =>
    inTransaction(pool, async (c) => {
      const id = randomUUID();
      await c.query(PLAIN_INSERT_TASK, [id, teamId, args.task.targetUrl, body]);
      await c.query(PLAIN_INSERT_JOB, [id]);
    }),
  );
  await pool.end();
  return r;
}

/**
 * Plain claim + complete ceiling: `seedCount` pending tasks and jobs (not timed), then `loops`
 * loops claim `batch` jobs by SKIP LOCKED and complete them, until none is left.
 */
async function plainClaim(args: {
  url: string;
  poolSize: number;
  loops: number;
  batch: number;
  seedCount: number;
  task: TaskShape;
}) {
  const pool = pools(args.url, args.poolSize);
  await pool.query(PLAIN_DDL.join(';'));
  await pool.query(
    `with t as (insert into plain_task (id, team_id, status, target_url, request)
       select gen_random_uuid(), $2, 'pending', $3, $4 from generate_series(1, $1) returning id)
     insert into plain_job (task_id) select id from t`,
    [args.seedCount, randomUUID(), args.task.targetUrl, request(args.task)],
  );
  await pool.query('vacuum analyze plain_job');
  let done = 0;
  const cpu = process.cpuUsage();
  const started = nowMs();
  const loop = async () => {
    for (;;) {
      const { rows } = await pool.query<{ id: string; task_id: string }>(PLAIN_CLAIM, [args.batch]);
      if (rows.length === 0) return;
      await pool.query(PLAIN_COMPLETE, [rows.map((r) => r.id), RESULT]);
      done += rows.length;
    }
  };
  await Promise.all(Array.from({ length: args.loops }, loop));
  const elapsedMs = nowMs() - started;
  const cpuMs = cpuMsSince(cpu);
  await pool.end();
  return { done, elapsedMs, cpuMs };
}

/** The steps from plain tables to the server's create path, read from the migrated schema. */
async function breakdownSteps(args: { url: string }): Promise<BreakdownStep[]> {
  const pool = pools(args.url, 1);
  const { rows } = await pool.query<{ indexname: string; indexdef: string }>(
    `select indexname, indexdef from pg_indexes where schemaname = 'public' and tablename = 'tasks'
     and indexname <> 'tasks_pkey' order by indexname`,
  );
  await pool.end();
  const tx: TxShape = { taskTable: 'plain_task', job: 'plain', notify: false, rateLimit: false, keyCheck: false };
  const steps: BreakdownStep[] = [{ label: 'plain tables (primary keys only)', ddl: PLAIN_DDL, tx }];
  const add = (label: string, change: Partial<TxShape>, ddl: string[] = []) =>
    steps.push({ label, ddl, tx: { ...steps.at(-1)!.tx, ...change } });
  add('+ our task columns (the tasks row, primary key only)', { taskTable: 'bd_tasks' }, [
    'create table bd_tasks (like tasks including defaults including constraints)',
    'alter table bd_tasks add primary key (id)',
  ]);
  add('+ foreign key team_id → teams', {}, [
    'alter table bd_tasks add foreign key (team_id) references teams (id) on delete cascade',
  ]);
  for (const index of rows) {
    const ddl = index.indexdef
      .replace(/ INDEX (\S+) ON /, ' INDEX bd_$1 ON ')
      .replace(/ ON (public\.)?tasks /, ' ON public.bd_tasks ');
    add(`+ index ${index.indexname}`, {}, [ddl]);
  }
  add("+ pg-boss's job insert (instead of the plain job row)", { job: 'boss' });
  add('+ NOTIFY after the commit (dispatch wake-up)', { notify: true });
  add('+ the rate-limit write (side pool, synchronous_commit=off)', { rateLimit: true });
  add('+ the API key check (in parallel with the rate-limit write)', { keyCheck: true });
  return steps;
}

/** Side pool size of the server (rate limiters, NOTIFY). */
const SIDE_POOL = 6;

/** Applies the DDL of steps up to `index` (once) and runs the create of step `index`. */
async function breakdownRun(args: {
  url: string;
  poolSize: number;
  durationMs: number;
  index: number;
  task: TaskShape;
}) {
  const steps = await breakdownSteps({ url: args.url });
  const step = steps[args.index];
  if (!step) throw new Error(`no breakdown step ${args.index}`);
  const pool = pools(args.url, args.poolSize);
  const side = new pg.Pool({ connectionString: args.url, max: SIDE_POOL, options: '-c synchronous_commit=off' });
  side.on('error', () => {});
  side.on('error', () => {});
  for (const ddl of step.ddl) await pool.query(ddl).catch(() => {}); // idempotent: "already exists" on a rerun
  // Every connection opened before the clock starts (a step's run is short).
  const open = (p: pg.Pool, n: number) => Promise.all(Array.from({ length: n }, () => p.connect()));
  for (const clients of [await open(pool, args.poolSize), await open(side, SIDE_POOL)])
    for (const c of clients) c.release();
  const ctx = await pool.query<{ team: string; key_hash: string; table_name: string }>(
    `select (select id from teams limit 1) as team, (select key_hash from api_keys limit 1) as key_hash,
            (select table_name from ${SCHEMA}.queue where name = $1) as table_name`,
    [QUEUE],
  );
  const { team, key_hash: keyHash, table_name: bossTable } = ctx.rows[0]!;
  const insertTask = insertTaskInto('bd_tasks');
  const insertJob = plans.insertJobs(SCHEMA, { table: bossTable, name: QUEUE, returnId: true, notify: false });
  const body = request(args.task);
  const { tx } = step;
  const rateLimit = () => {
    const now = Date.now();
    return side.query(
      `insert into rate_limits (key, points, expire) values ($1, 1, $2) on conflict (key) do update set
         points = case when rate_limits.expire <= $3 then 1 else rate_limits.points + 1 end,
         expire = case when rate_limits.expire <= $3 then $2 else rate_limits.expire end returning points, expire`,
      [`team:${team}`, now + 60_000, now],
    );
  };
  const keyCheck = () =>
    pool.query('select id, team_id from api_keys where key_hash = $1 and revoked_at is null', [keyHash]);
  const r = await closedLoop(args.poolSize, args.durationMs, async () => {
    if (tx.rateLimit || tx.keyCheck) await Promise.all([tx.rateLimit && rateLimit(), tx.keyCheck && keyCheck()]);
    await inTransaction(pool, async (c) => {
      const id = randomUUID();
      const jobId = randomUUID();
      if (tx.taskTable === 'plain_task') await c.query(PLAIN_INSERT_TASK, [id, team, args.task.targetUrl, body]);
      else await c.query(insertTask, taskValues(id, jobId, team, args.task));
      if (tx.job === 'plain') await c.query(PLAIN_INSERT_JOB, [id]);
      else await c.query(insertJob, [JSON.stringify([jobPayload(jobId, id)])]);
    });
    if (tx.notify) await side.query("select pg_notify('asyncqueue_dispatch_due', 'bench')");
  });
  await Promise.all([pool.end(), side.end()]);
  return { ...r, label: step.label };
}

export const plainSqlCommands = { plainCreate, plainClaim, breakdownSteps, breakdownRun };
