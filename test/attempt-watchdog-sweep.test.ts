import { describe, expect, it } from 'vitest';
import { poolExecutor } from '../server/src/db/prepared.ts';
import { sweepStuckAttempts } from '../server/src/jobs/attempt-watchdog.ts';
import { type ClaimedJob, claimingFetch, claimOf } from '../server/src/jobs/boss-sql.ts';
import { createEnqueue } from '../server/src/jobs/queues.ts';
import { createTask } from '../server/src/tasks/create-task.ts';
import { STUCK_MARGIN_SECONDS } from '../server/src/tasks/stuck-attempts.ts';
import { createTaskInputSchema } from '../server/src/tasks/task-input-schema.ts';
import { createTaskLifecycle } from '../server/src/tasks/task-lifecycle.ts';
import { createDeps, useQueueFixture } from './helpers/queue-fixture.ts';

/**
 * The watchdog's sweep on real PostgreSQL and pg-boss, without a server: several instances sweep at
 * once, and each stuck attempt is moved on exactly once (the UPDATE is fenced on the lease found).
 */
const fx = useQueueFixture('sweeps');

const deps = () => ({ lifecycle: createTaskLifecycle(fx.orm, { enqueue: createEnqueue(fx.boss) }) });

/** Creates tasks, claims them as the dispatch pump does, and backdates their attempts past timeout + margin. */
async function stuckTasks(count: number, extra: Record<string, unknown>): Promise<string[]> {
  const input = createTaskInputSchema.parse({ targetUrl: 'https://example.com/run', timeout: 30, ...extra });
  const ids: string[] = [];
  for (let n = 0; n < count; n += 1) {
    ids.push(
      (await createTask(fx.orm.em.fork(), createDeps(createEnqueue(fx.boss)), fx.teamId, input, null)).body.task.id,
    );
  }
  // The earlier test's retry jobs fall due meanwhile (a loaded machine is slow): fetch until these
  // tasks' own jobs are claimed; the others are claimed too, fresh, so never stuck.
  const claimed = new Map<string, string | undefined>();
  for (let round = 0; round < 5 && claimed.size < count; round += 1) {
    const jobs = (await fx.boss.fetch<{ taskId: string }>('dispatch', {
      batchSize: 100,
      includeMetadata: true,
      db: claimingFetch(poolExecutor(fx.orm.em.fork(), { prepared: false })),
    })) as unknown as ClaimedJob<{ taskId: string }>[];
    for (const job of jobs) if (ids.includes(job.data.taskId)) claimed.set(job.data.taskId, claimOf(job)?.task.status);
  }
  expect(ids.map((id) => claimed.get(id))).toEqual(ids.map(() => 'processing'));
  await fx.orm.em
    .fork()
    .execute(`update tasks set updated_at = now() - make_interval(secs => timeout + ? + 1) where id in (?)`, [
      STUCK_MARGIN_SECONDS,
      ids,
    ]);
  return ids;
}

const rows = (ids: string[]) =>
  fx.orm.em
    .fork()
    .execute<{ id: string; status: string; retry_count: number; dispatch_lease: number | null; attempts: unknown[] }[]>(
      'select id, status, retry_count, dispatch_lease, attempts from tasks where id in (?) order by id',
      [ids],
    );
const dispatchJobs = async (ids: string[]) =>
  (
    await fx.orm.em
      .fork()
      .execute<{ n: number }[]>(
        `select count(*)::int as n from pgboss.job where name = 'dispatch' and data->>'taskId' in (?)`,
        [ids],
      )
  )[0]?.n;

describe('attempt watchdog sweep', () => {
  it('three instances sweeping at once move each stuck attempt once: one retry job, one attempt recorded', async () => {
    const ids = await stuckTasks(10, { maxRetries: 2 });
    const moved = await Promise.all([
      sweepStuckAttempts(deps()),
      sweepStuckAttempts(deps()),
      sweepStuckAttempts(deps()),
    ]);
    expect(moved.reduce((a, b) => a + b, 0)).toBe(ids.length);
    for (const row of await rows(ids)) {
      expect(row).toMatchObject({ status: 'processing', retry_count: 1, dispatch_lease: null });
      expect(row.attempts).toEqual([expect.objectContaining({ number: 1, willRetry: true })]);
    }
    // The first job of each task plus exactly one retry job.
    expect(await dispatchJobs(ids)).toBe(2 * ids.length);
    // Nothing is stuck any more: a later sweep moves nothing.
    expect(await sweepStuckAttempts(deps())).toBe(0);
  });

  it('fails a stuck attempt with no retry left, and leaves an attempt within its timeout alone', async () => {
    const [spent] = await stuckTasks(1, { maxRetries: 0 });
    const [fresh] = await stuckTasks(1, { maxRetries: 0 });
    await fx.orm.em.fork().execute('update tasks set updated_at = now() where id = ?', [fresh]);
    expect(await sweepStuckAttempts(deps())).toBe(1);
    const [row] = await rows([spent!]);
    expect(row).toMatchObject({ status: 'failed', retry_count: 0, dispatch_lease: null });
    expect((await rows([fresh!]))[0]).toMatchObject({ status: 'processing', dispatch_lease: 0, attempts: [] });
  });
});
