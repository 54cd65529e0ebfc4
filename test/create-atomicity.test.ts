import { randomBytes, randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../server/src/auth/secret-box.ts';
import { createTeam } from '../server/src/auth/teams.ts';
import { openOrm, runMigrations } from '../server/src/db/database.ts';
import { startBoss } from '../server/src/jobs/boss.ts';
import { createEnqueue, type Enqueue } from '../server/src/jobs/queues.ts';
import { type CreateDeps, createTask } from '../server/src/tasks/create-task.ts';
import { createTaskInputSchema } from '../server/src/tasks/task-input-schema.ts';
import { createTestDatabase } from './helpers/test-database.ts';

/**
 * A task never exists without its dispatch job (SPEC §4): the task row and the job are one
 * statement, and if pg-boss inserts no job (it answers null, here forced by an id that is taken)
 * the committed row is taken back. Real PostgreSQL, real pg-boss.
 */
let orm: MikroORM;
let boss: PgBoss;
let teamId: string;

beforeAll(async () => {
  const url = await createTestDatabase();
  orm = await openOrm(url, 2);
  await runMigrations(orm, url);
  boss = await startBoss({ url, poolSize: 2, takeoverSeconds: 60, onError: () => {} });
  teamId = (await createTeam(orm.em.fork(), 'atomic')).id;
});
afterAll(async () => {
  await boss?.stop({ graceful: false });
  await orm?.close(true);
});

function deps(enqueue: Enqueue): CreateDeps {
  return {
    enqueue,
    secretBox: createSecretBox(randomBytes(32)),
    publicUrl: 'http://127.0.0.1:1',
    maxBodyBytes: 1024 * 1024,
    maxWaitTime: 86_400,
    providerBaseUrls: {},
    checkUrl: () => null,
    missingVaultReferences: async () => [],
  };
}

const input = () => createTaskInputSchema.parse({ targetUrl: 'https://example.com/run' });
const count = async (sql: string, params: unknown[] = []) =>
  Number((await orm.em.fork().execute<{ n: string }[]>(sql, params))[0]?.n);

describe('create: task row and dispatch job', () => {
  it('commits both, the job named by the task', async () => {
    const { body } = await createTask(orm.em.fork(), deps(createEnqueue(boss)), teamId, input(), null);
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
    await expect(createTask(orm.em.fork(), deps(colliding), teamId, input(), null)).rejects.toThrow(/refused a job/);
    expect(await count('select count(*) as n from tasks')).toBe(before);
  });
});
