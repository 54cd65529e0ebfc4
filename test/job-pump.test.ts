import pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBoss } from '../server/src/jobs/boss.ts';
import { type JobPump, startJobPump } from '../server/src/jobs/job-pump.ts';
import { createChangeNotifier, DISPATCH_DUE_CHANNEL } from '../server/src/tasks/change-notifier.ts';
import { startTaskChangeListener, type TaskChangeListener } from '../server/src/tasks/task-change-listener.ts';
import { createTestDatabase } from './helpers/test-database.ts';
import { waitFor } from './helpers/wait-for.ts';

/**
 * The dispatch pump (our own fetch loop over pg-boss's fetch/complete/fail/touch) on a real
 * PostgreSQL and a real pg-boss: what `work()` gave us (completion, retry of failures, NOTIFY
 * wake-ups, heartbeats, shutdown) plus what it could not (no job waits for another's batch).
 */
let url: string;
let boss: PgBoss;
let db: pg.Client;
let listener: TaskChangeListener;
const pumps: JobPump[] = [];
const errors: string[] = [];

type Data = { n: number; hang?: boolean; fail?: boolean };

async function jobStates(): Promise<Record<string, number>> {
  const { rows } = await db.query<{ state: string; n: number }>(
    `select state::text as state, count(*)::int as n from pgboss.job where name = 'dispatch' group by state`,
  );
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

function pump(handler: (data: Data) => Promise<void>, extra: Partial<Parameters<typeof startJobPump>[1]> = {}) {
  const p = startJobPump<Data>(boss, {
    queue: 'dispatch',
    concurrency: 4,
    fetchBatch: 2,
    pollMs: 60_000,
    heartbeatMs: 60_000,
    handler: (job) => handler(job.data),
    onError: (message) => errors.push(message),
    ...extra,
  });
  pumps.push(p);
  return p;
}

beforeAll(async () => {
  url = await createTestDatabase();
  boss = await startBoss({ url, poolSize: 4, takeoverSeconds: 60, onError: (e) => errors.push(e.message) });
  db = new pg.Client({ connectionString: url });
  await db.connect();
  listener = await startTaskChangeListener(url, () => {});
});

afterAll(async () => {
  for (const p of pumps) await p.stop(0);
  await listener?.close();
  await db?.end();
  await boss?.stop({ graceful: false });
});

describe('dispatch job pump', () => {
  it('wakes on the dispatch-due NOTIFY (not the 60 s poll), completes jobs, and a hanging job holds back no other', async () => {
    const notifierPool = new pg.Pool({ connectionString: url, max: 1 });
    const notifier = createChangeNotifier(notifierPool, (m) => errors.push(m));
    let release = () => {};
    const hanging = new Promise<void>((resolve) => {
      release = resolve;
    });
    const done: number[] = [];
    const p = pump(async (data) => {
      if (data.hang) await hanging;
      done.push(data.n);
    });
    await listener.subscribe(DISPATCH_DUE_CHANNEL, () => p.wake());
    // The first poll happens at start; wait until the pump is idle, so that only a NOTIFY can wake it.
    await new Promise((r) => setTimeout(r, 300));
    await boss.send('dispatch', { n: 0, hang: true });
    notifier.dispatchDue();
    await waitFor('the hanging job to start', () => p.running() === 1, 5_000);
    const started = Date.now();
    for (let n = 1; n <= 10; n += 1) {
      await boss.send('dispatch', { n });
      notifier.dispatchDue();
    }
    await waitFor('ten jobs done while one hangs', () => done.length === 10, 10_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(p.running()).toBe(1);
    await waitFor('completions recorded', async () => (await jobStates()).completed === 10, 5_000);
    release();
    await waitFor('the hanging job completed too', async () => (await jobStates()).completed === 11, 5_000);
    await p.stop(0);
    await notifier.flush();
    await notifierPool.end();
  });

  it('never runs more than `concurrency` jobs at once, and fetches again as slots free up', async () => {
    await db.query(`delete from pgboss.job where name = 'dispatch'`);
    let running = 0;
    let peak = 0;
    const p = pump(async () => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 30));
      running -= 1;
    });
    await boss.insert(
      'dispatch',
      Array.from({ length: 40 }, (_, n) => ({ data: { n } })),
    );
    p.wake();
    await waitFor('40 jobs completed', async () => (await jobStates()).completed === 40, 15_000);
    expect(peak).toBe(4);
    await p.stop(0);
  });

  it('fails a throwing job so pg-boss retries it, and refreshes heartbeats of running jobs', async () => {
    await db.query(`delete from pgboss.job where name = 'dispatch'`);
    let release = () => {};
    const slow = new Promise<void>((resolve) => {
      release = resolve;
    });
    const p = pump(
      async (data) => {
        if (data.fail) throw new Error('handler exploded');
        await slow;
      },
      { heartbeatMs: 100 },
    );
    const failing = await boss.send('dispatch', { n: 1, fail: true }, { retryLimit: 1, retryDelay: 60 });
    const slowId = await boss.send('dispatch', { n: 2 });
    p.wake();
    await waitFor('the failing job to be set for a retry', async () => {
      const { rows } = await db.query(`select state::text as state, output from pgboss.job where id = $1`, [failing]);
      return rows[0]?.state === 'retry' && JSON.stringify(rows[0].output).includes('handler exploded');
    });
    expect(errors.some((e) => e.includes('handler exploded'))).toBe(true);
    const beat = async () =>
      (await db.query(`select heartbeat_on from pgboss.job where id = $1`, [slowId])).rows[0]?.heartbeat_on as Date;
    await waitFor('a first heartbeat', beat);
    const first = (await beat()).getTime();
    await waitFor('a later heartbeat', async () => (await beat()).getTime() > first, 5_000);
    release();
    await p.stop(0);
  });

  it('on stop, waits for running jobs up to the grace, then fails the rest for a retry elsewhere', async () => {
    await db.query(`delete from pgboss.job where name = 'dispatch'`);
    const p = pump(() => new Promise<void>(() => {}));
    const id = await boss.send('dispatch', { n: 1 });
    p.wake();
    await waitFor('the job to start', () => p.running() === 1, 5_000);
    const t0 = Date.now();
    await p.stop(300);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    const { rows } = await db.query(`select state::text as state, output from pgboss.job where id = $1`, [id]);
    expect(rows[0]?.state).toBe('retry');
    expect(JSON.stringify(rows[0]?.output)).toContain('shut down');
  });
});
