import { describe, expect, it } from 'vitest';
import { createEnqueue } from '../server/src/jobs/queues.ts';
import { recordsWrittenTogether } from '../server/src/jobs/webhook-records.ts';
import { createTask } from '../server/src/tasks/create-task.ts';
import { uuidArray } from '../server/src/tasks/store/filters.ts';
import { appendWebhookDelivery } from '../server/src/tasks/store/webhook-deliveries.ts';
import { createTaskInputSchema } from '../server/src/tasks/task-input-schema.ts';
import { createDeps, useQueueFixture } from './helpers/queue-fixture.ts';

/**
 * The records of at-once webhook deliveries (server/src/jobs/webhook-records.ts) are written like a
 * group commit: what finishes while one statement is in flight goes in the next one, with the
 * held-back jobs completed by the same statement. Real PostgreSQL and pg-boss; no server.
 */
const fx = useQueueFixture('records');

const createTaskId = async () => {
  const input = createTaskInputSchema.parse({ targetUrl: 'https://example.com/run' });
  return (await createTask(fx.orm.em.fork(), createDeps(createEnqueue(fx.boss)), fx.teamId, input, null)).body.task.id;
};
/** A webhook job held back as a completion's is (due in a minute). */
const heldBackJob = async (taskId: string) =>
  (await fx.boss.send('webhook', { taskId, attempt: 1 }, { startAfter: new Date(Date.now() + 60_000) })) as string;
const delivery = (n: number) => ({ attempt: 1, webhookId: `msg_${n}`, statusCode: 200, durationMs: n, error: null });

/** The transaction that last wrote each row (rows written by one statement share it). */
const rows = async (taskIds: string[], jobIds: string[]) => {
  const tasks = await fx.orm.em
    .fork()
    .execute<{ id: string; xmin: string; webhook_deliveries: { webhookId: string }[] }[]>(
      'select id, xmin::text as xmin, webhook_deliveries from tasks where id = any(?::uuid[])',
      [uuidArray(taskIds)],
    );
  const jobs = await fx.orm.em
    .fork()
    .execute<{ id: string; xmin: string; state: string; started_on: Date | null }[]>(
      'select id, xmin::text as xmin, state::text as state, started_on from pgboss.job where id = any(?::uuid[])',
      [uuidArray(jobIds)],
    );
  return { tasks, jobs };
};

describe('records of at-once deliveries written together', () => {
  it('records that arrive while one is written go in the next statement, each job completed with its record', async () => {
    const taskIds = await Promise.all(Array.from({ length: 20 }, createTaskId));
    const jobIds = await Promise.all(taskIds.map(heldBackJob));
    const record = recordsWrittenTogether(fx.boss);
    // All twenty arrive before the first write ends: the first goes alone, the other 19 together.
    await Promise.all(
      taskIds.map((taskId, i) => record(fx.orm.em.fork(), jobIds[i] as string, { taskId, delivery: delivery(i) })),
    );
    const { tasks, jobs } = await rows(taskIds, jobIds);
    expect(tasks).toHaveLength(20);
    for (const task of tasks) {
      expect(task.webhook_deliveries.map((d) => d.webhookId)).toEqual([`msg_${taskIds.indexOf(task.id)}`]);
    }
    expect(jobs.map((j) => [j.state, j.started_on])).toEqual(Array(20).fill(['completed', null]));
    const commits = new Set(tasks.map((t) => t.xmin));
    expect(commits.size).toBe(2);
    // A task's record and its job's completion are one statement: the same transaction.
    for (const [i, taskId] of taskIds.entries()) {
      expect(jobs.find((j) => j.id === jobIds[i])?.xmin).toBe(tasks.find((t) => t.id === taskId)?.xmin);
    }
  });

  it('a group with two deliveries of one task appends both, in order, after what the task already had', async () => {
    const taskId = await createTaskId();
    await appendWebhookDelivery(fx.orm.em.fork(), taskId, delivery(0));
    const [first, second] = [await heldBackJob(taskId), await heldBackJob(taskId)];
    const record = recordsWrittenTogether(fx.boss);
    const other = await createTaskId();
    await Promise.all([
      record(fx.orm.em.fork(), await heldBackJob(other), { taskId: other, delivery: delivery(9) }),
      record(fx.orm.em.fork(), first, { taskId, delivery: delivery(1) }),
      record(fx.orm.em.fork(), second, { taskId, delivery: delivery(2) }),
    ]);
    const { tasks, jobs } = await rows([taskId], [first, second]);
    expect(tasks[0]?.webhook_deliveries.map((d) => d.webhookId)).toEqual(['msg_0', 'msg_1', 'msg_2']);
    expect(jobs.map((j) => j.state)).toEqual(['completed', 'completed']);
  });

  it('a failed write rejects every record of its group and completes none of their jobs', async () => {
    const [alone, grouped] = [await createTaskId(), await createTaskId()];
    const [aloneJob, groupedJob] = [await heldBackJob(alone), await heldBackJob(grouped)];
    const record = recordsWrittenTogether(fx.boss);
    const first = record(fx.orm.em.fork(), aloneJob, { taskId: alone, delivery: delivery(1) });
    // These two wait for the first write and go together; a job id that is not a UUID fails the
    // whole statement (as a database gone away would).
    const second = record(fx.orm.em.fork(), groupedJob, { taskId: grouped, delivery: delivery(2) });
    const bad = record(fx.orm.em.fork(), 'not-a-job-id', { taskId: grouped, delivery: delivery(3) });
    await expect(first).resolves.toBeUndefined();
    await expect(second).rejects.toThrow();
    await expect(bad).rejects.toThrow();
    const { tasks, jobs } = await rows([alone, grouped], [aloneJob, groupedJob]);
    const deliveriesOf = (id: string) => tasks.find((t) => t.id === id)?.webhook_deliveries.map((d) => d.webhookId);
    expect(deliveriesOf(alone)).toEqual(['msg_1']);
    expect(deliveriesOf(grouped)).toEqual([]);
    expect(jobs.find((j) => j.id === groupedJob)?.state).toBe('created');
    // The held-back job is still there for a webhook worker; the next group is written as usual.
    await record(fx.orm.em.fork(), groupedJob, { taskId: grouped, delivery: delivery(4) });
    expect((await rows([grouped], [groupedJob])).jobs[0]?.state).toBe('completed');
  });
});
