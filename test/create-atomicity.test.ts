import { randomBytes, randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../server/src/auth/secret-box.ts';
import { createTeam } from '../server/src/auth/teams.ts';
import { createEnqueue, type Enqueue } from '../server/src/jobs/queues.ts';
import { createTask } from '../server/src/tasks/create-task.ts';
import { createTaskInputSchema } from '../server/src/tasks/task-input-schema.ts';
import { createDeps, openQueueFixture } from './helpers/queue-fixture.ts';

/**
 * A task never exists without its dispatch job: the task row and the job are one
 * statement, and if pg-boss inserts no job (it answers null, here forced by an id that is taken)
 * the committed row is taken back. Real PostgreSQL, real pg-boss.
 */
let fixture: Awaited<ReturnType<typeof openQueueFixture>>;
let orm: MikroORM;
let boss: PgBoss;
let teamId: string;

beforeAll(async () => {
  fixture = await openQueueFixture();
  ({ orm, boss } = fixture);
  teamId = (await createTeam(orm.em.fork(), 'atomic', createSecretBox(randomBytes(32)))).id;
});
afterAll(async () => {
  await fixture?.close();
});

const input = () => createTaskInputSchema.parse({ targetUrl: 'https://example.com/run' });
const count = async (sql: string, params: unknown[] = []) =>
  Number((await orm.em.fork().execute<{ n: string }[]>(sql, params))[0]?.n);

describe('create: task row and dispatch job', () => {
  it('commits both, the job named by the task', async () => {
    const { body } = await createTask(orm.em.fork(), createDeps(createEnqueue(boss)), teamId, input(), null);
    const [row] = await orm.em
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
    await boss.send('dispatch', { taskId: randomUUID() }, { id: taken, startAfter: 3600 });
    const real = createEnqueue(boss);
    // The same real enqueue, made to reuse a taken job id: pg-boss skips the row and answers null.
    const colliding: Enqueue = (em, queue, data, options, alongside) =>
      real(em, queue, data, { ...options, id: taken }, alongside);
    const before = await count('select count(*) as n from tasks');
    await expect(createTask(orm.em.fork(), createDeps(colliding), teamId, input(), null)).rejects.toThrow(
      /refused a job/,
    );
    expect(await count('select count(*) as n from tasks')).toBe(before);
  });
});
