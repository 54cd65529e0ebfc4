import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createEnqueue, type Enqueue } from '../server/src/jobs/queues.ts';
import { createTask } from '../server/src/tasks/create-task.ts';
import { createTaskInputSchema } from '../server/src/tasks/task-input-schema.ts';
import { createDeps, useQueueFixture } from './helpers/queue-fixture.ts';

/**
 * A task never exists without its dispatch job: the task row and the job are one
 * statement, and if pg-boss inserts no job (it answers null, here forced by an id that is taken)
 * the committed row is taken back. Real PostgreSQL, real pg-boss.
 */
const fx = useQueueFixture('atomic');

const input = () => createTaskInputSchema.parse({ targetUrl: 'https://example.com/run' });
const count = async (sql: string, params: unknown[] = []) =>
  Number((await fx.orm.em.fork().execute<{ n: string }[]>(sql, params))[0]?.n);

describe('create: task row and dispatch job', () => {
  it('commits both, the job named by the task', async () => {
    const { body } = await createTask(fx.orm.em.fork(), createDeps(createEnqueue(fx.boss)), fx.teamId, input(), null);
    const [row] = await fx.orm.em
      .fork()
      .execute<{ dispatch_job_id: string }[]>('select dispatch_job_id from tasks where id = ?', [body.task.id]);
    expect(
      await count(`select count(*) as n from pgboss.job where id = ? and data->>'taskId' = ?`, [
        row?.dispatch_job_id,
        body.task.id,
      ]),
    ).toBe(1);
  });

  it('leaves no task when pg-boss inserts no job', async () => {
    const taken = randomUUID();
    await fx.boss.send('dispatch', { taskId: randomUUID() }, { id: taken, startAfter: 3600 });
    const real = createEnqueue(fx.boss);
    // The same real enqueue, made to reuse a taken job id: pg-boss skips the row and answers null.
    const colliding: Enqueue = (em, queue, data, options, alongside) =>
      real(em, queue, data, { ...options, id: taken }, alongside);
    const before = await count('select count(*) as n from tasks');
    await expect(createTask(fx.orm.em.fork(), createDeps(colliding), fx.teamId, input(), null)).rejects.toThrow(
      /refused a job/,
    );
    expect(await count('select count(*) as n from tasks')).toBe(before);
  });
});
