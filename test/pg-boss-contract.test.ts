import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poolExecutor } from '../server/src/db/prepared.ts';
import { claimingFetch, withAlongside, withConditionalAlongside } from '../server/src/jobs/boss-sql.ts';
import { createEnqueue, createEnqueueMany, type SqlExecutor } from '../server/src/jobs/queues.ts';
import { openQueueFixture } from './helpers/queue-fixture.ts';

// What our splices into pg-boss's SQL assume about pg-boss (the job INSERT that a task's INSERT
// rides on, its job relation that a batch's derived jobs replace, and the fetch that the claim
// rides on), checked against the installed pg-boss. An
// upgrade that changes any of it fails here first, by name, instead of somewhere in the dispatch
// tests. The pinned version is the one these assumptions were last checked for.

/** The pg-boss version whose SQL these tests were written against (server/package.json pins it). */
const PINNED = '12.38.0';
const ROOT = path.resolve(import.meta.dirname, '..');

/** An executor that records every statement pg-boss sends through it. */
function recording(db: SqlExecutor): SqlExecutor & { statements: string[] } {
  const statements: string[] = [];
  return {
    statements,
    executeSql(text, values) {
      statements.push(text);
      return db.executeSql(text, values);
    },
  };
}

let orm: MikroORM;
let boss: PgBoss;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ orm, boss, close } = await openQueueFixture());
});
afterAll(async () => {
  await close?.();
});

describe('pg-boss contract', () => {
  it(`is the pinned pg-boss ${PINNED}, in node_modules and in server/package.json`, () => {
    const installed = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/pg-boss/package.json'), 'utf8'));
    const server = JSON.parse(readFileSync(path.join(ROOT, 'server/package.json'), 'utf8'));
    expect(installed.version).toBe(PINNED);
    expect(server.dependencies['pg-boss']).toBe(PINNED);
  });

  it('sends a job with one statement: an INSERT, bare (no notify) or behind WITH (notify)', async () => {
    for (const queue of ['dispatch', 'webhook'] as const) {
      const db = recording(poolExecutor(orm.em.fork(), { prepared: false }));
      const id = await boss.send(queue, { taskId: '00000000-0000-0000-0000-000000000000', attempt: 1 }, { db });
      expect(id).toBeTruthy();
      expect(db.statements).toHaveLength(1);
      const text = db.statements[0]?.trimStart() ?? '';
      expect(
        queue === 'dispatch' ? /^insert\s/i.test(text) : /^with\s/i.test(text),
        `${queue}: ${text.slice(0, 60)}`,
      ).toBe(true);
    }
  });

  it('commits a statement riding on the job INSERT with its job, and neither when it fails', async () => {
    const em = orm.em.fork();
    await em.execute('create table if not exists contract_rows (id text primary key)');
    const enqueue = createEnqueue(boss);
    const jobId = await enqueue(em, 'dispatch', { taskId: '00000000-0000-0000-0000-000000000001' }, {}, (first) => ({
      sql: `insert into contract_rows (id) values ($${first})`,
      params: ['a'],
    }));
    expect(await em.execute('select id from contract_rows')).toEqual([{ id: 'a' }]);
    expect(await boss.getJobById('dispatch', jobId)).toBeTruthy();
    const countJobs = () => em.execute(`select count(*)::int as n from pgboss.job where name = 'dispatch'`);
    const before = await countJobs();
    const failing = enqueue(em, 'dispatch', { taskId: '00000000-0000-0000-0000-000000000002' }, {}, (first) => ({
      sql: `insert into contract_rows (id) values ($${first})`,
      params: ['a'],
    }));
    await expect(failing).rejects.toThrow(/duplicate key/);
    expect(await countJobs()).toEqual(before);
  });

  it('completes a job that was never fetched (includeQueued) in one statement behind WITH, carrying ours: both or neither', async () => {
    const em = orm.em.fork();
    await em.execute('create table if not exists contract_records (id text primary key)');
    const held = { startAfter: new Date(Date.now() + 60_000) };
    const complete = async (id: string, row: string) => {
      const db = recording(poolExecutor(orm.em.fork(), { prepared: false }));
      const record = (first: number) => ({
        sql: `insert into contract_records (id) values ($${first})`,
        params: [row],
      });
      await boss.complete('webhook', id, null, { db: withAlongside(db, record), includeQueued: true });
      return db.statements;
    };
    const state = async (id: string) => (await boss.getJobById('webhook', id))?.state;
    const first = (await boss.send(
      'webhook',
      { taskId: '00000000-0000-0000-0000-000000000004', attempt: 1 },
      held,
    )) as string;
    const statements = await complete(first, 'r1');
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatch(/^with aq_alongside as \(/);
    expect(await state(first)).toBe('completed');
    expect(await em.execute('select id from contract_records')).toEqual([{ id: 'r1' }]);
    // A record that fails leaves the job held back, to run when its time comes.
    const second = (await boss.send(
      'webhook',
      { taskId: '00000000-0000-0000-0000-000000000005', attempt: 1 },
      held,
    )) as string;
    await expect(complete(second, 'r1')).rejects.toThrow(/duplicate key/);
    expect(await state(second)).toBe('created');
  });

  it('inserts a job only when the statement it depends on returned a row, in one statement, its rows given back', async () => {
    const em = orm.em.fork();
    await em.execute('create table if not exists contract_gates (id text primary key, open boolean)');
    await em.execute("insert into contract_gates values ('open', true), ('shut', false)");
    const ride = async (gate: string) => {
      const db = recording(poolExecutor(orm.em.fork(), { prepared: false }));
      let rows: Record<string, unknown>[] = [];
      const statement = (first: number) => ({
        sql: `update contract_gates set open = open where id = $${first} and open returning id`,
        params: [gate],
      });
      const conditional = withConditionalAlongside(db, statement, (answered) => {
        rows = answered;
      });
      const taskId = '00000000-0000-0000-0000-000000000006';
      const jobId = await boss.send(
        'webhook',
        { taskId, attempt: 1 },
        { db: conditional, startAfter: new Date(Date.now() + 60_000) },
      );
      return { jobId, rows, statements: db.statements };
    };
    const opened = await ride('open');
    expect(opened.statements).toHaveLength(1);
    expect(opened.rows).toEqual([expect.objectContaining({ id: 'open' })]);
    expect(opened.jobId).toBeTruthy();
    expect((await boss.getJobById('webhook', opened.jobId as string))?.state).toBe('created');
    const countJobs = async () =>
      (await em.execute(`select count(*)::int as n from pgboss.job where name = 'webhook'`))[0];
    const before = await countJobs();
    const shut = await ride('shut');
    expect(shut.rows).toEqual([]);
    expect(shut.jobId).toBeNull();
    expect(await countJobs()).toEqual(before);
  });

  it('fetches with one statement whose rows carry id, data and retryCount; the claiming fetch keeps those columns', async () => {
    await boss.send('dispatch', { taskId: '00000000-0000-0000-0000-000000000003' });
    const plain = recording(poolExecutor(orm.em.fork(), { prepared: false }));
    const claiming = claimingFetch(plain);
    const jobs = await boss.fetch<{ taskId: string }>('dispatch', {
      batchSize: 10,
      includeMetadata: true,
      db: claiming,
    });
    expect(plain.statements).toHaveLength(1);
    expect(plain.statements[0]).toMatch(/^with aq_fetched as \(/);
    expect(jobs.length).toBeGreaterThan(0);
    for (const job of jobs) {
      expect(typeof job.id).toBe('string');
      expect(typeof job.retryCount).toBe('number');
      expect(job.data.taskId).toMatch(/^0{8}-/);
      // No task row: the job comes back unclaimed, its own columns intact.
      expect((job as unknown as { aqClaim: unknown }).aqClaim).toBeNull();
      expect(Object.keys(job).filter((k) => k.startsWith('aq_task_'))).toEqual([]);
    }
  });

  it("derives a batch's jobs in SQL as the same job rows pg-boss's own insert makes of a JSON array", async () => {
    const em = orm.em.fork();
    const enqueueMany = createEnqueueMany(boss);
    const later = new Date(Date.now() + 3_600_000);
    const ids = Array.from({ length: 4 }, () => randomUUID());
    const tasks = Array.from({ length: 4 }, () => randomUUID());
    await em.transactional(async (tem) => {
      await enqueueMany(tem, 'dispatch', [
        {
          id: ids[0] as string,
          data: { taskId: tasks[0] as string },
          priority: 7,
          group: { id: 'team/key' },
          startAfter: later,
        },
        { id: ids[1] as string, data: { taskId: tasks[1] as string }, priority: 5, group: { id: 'team' } },
      ]);
      // The rows a batch's task INSERT returns (job_id, task_id, priority, start_after, group_id).
      await enqueueMany(tem, 'dispatch', { derivedFromRows: 2 }, (first) => ({
        sql: `select * from (values ($${first}::uuid, $${first + 1}::uuid, 7, $${first + 2}::timestamptz, 'team/key'),
          ($${first + 3}::uuid, $${first + 4}::uuid, 5, null::timestamptz, 'team')) as r(job_id, task_id, priority, start_after, group_id)`,
        params: [ids[2], tasks[2], later.toISOString(), ids[3], tasks[3]],
      }));
    });
    const rows = await em.execute<Record<string, unknown>[]>(
      `select *, keep_until - start_after as kept from pgboss.job where id = any(?::uuid[]) order by array_position(?::uuid[], id)`,
      [`{${ids.join(',')}}`, `{${ids.join(',')}}`],
    );
    expect(rows).toHaveLength(4);
    const [a, b, c, d] = rows.map(({ id: _id, created_on: _c, data, start_after, keep_until, ...rest }) => ({
      ...rest,
      taskId: (data as { taskId: string }).taskId,
      startAfter: start_after,
      keepUntil: keep_until,
    }));
    expect({ ...c, taskId: tasks[0] }).toEqual(a);
    // Due at once: start_after is the insert's now (a few ms apart), the retention after it the same.
    const timeless = (row: typeof b) => ({ ...row, startAfter: null, keepUntil: null });
    expect({ ...timeless(d as typeof b), taskId: tasks[1] }).toEqual(timeless(b));
    const at = (row: typeof b) => new Date(row?.startAfter as string).getTime();
    expect(Math.abs(at(d) - at(b))).toBeLessThan(60_000);
  });

  it('is known only to the adapter: nothing in server/src/tasks names pg-boss, its schema or its job columns', () => {
    const dir = path.join(ROOT, 'server/src/tasks');
    const files = readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.test.ts'))
      .map((e) => path.join(e.parentPath, e.name));
    expect(files.length).toBeGreaterThan(20);
    const offenders = files.filter((f) => /pgboss\.|"retryCount"|from 'pg-boss'/.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => path.relative(ROOT, f))).toEqual([]);
  });
});
