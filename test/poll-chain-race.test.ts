import { randomBytes, randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../server/src/auth/secret-box.ts';
import { createTeam } from '../server/src/auth/teams.ts';
import { createEnqueue } from '../server/src/jobs/queues.ts';
import { createTask } from '../server/src/tasks/create-task.ts';
import { recordPollProgress } from '../server/src/tasks/store/outside.ts';
import { createTaskInputSchema } from '../server/src/tasks/task-input-schema.ts';
import { createDeps, openQueueFixture } from './helpers/queue-fixture.ts';

/**
 * Two runs of the same poll job at once (its heartbeat lapsed while the first still ran): both
 * polled, both try to hand the chain on. The conditional UPDATE lets exactly one of them, so only
 * one next poll job is enqueued. Real PostgreSQL, 20 trials.
 */
let fixture: Awaited<ReturnType<typeof openQueueFixture>>;
let orm: MikroORM;
let teamId: string;

beforeAll(async () => {
  fixture = await openQueueFixture();
  orm = fixture.orm;
  teamId = (await createTeam(orm.em.fork(), 'poll-race', createSecretBox(randomBytes(32)))).id;
});
afterAll(async () => {
  await fixture?.close();
});

describe('poll chain hand-off', () => {
  it('two runs of the same poll job: exactly one hands the chain on (× 20)', async () => {
    const input = createTaskInputSchema.parse({
      targetUrl: 'https://example.com/run',
      delayUntil: '2099-01-01T00:00:00Z',
    });
    for (let trial = 0; trial < 20; trial++) {
      const { body } = await createTask(orm.em.fork(), createDeps(createEnqueue(fixture.boss)), teamId, input, null);
      const jobId = randomUUID();
      await orm.em
        .fork()
        .execute(`update tasks set status = 'polling', poll_job_id = ? where id = ?`, [jobId, body.task.id]);
      const nexts = [randomUUID(), randomUUID()];
      const results = await Promise.all(
        nexts.map((nextJobId, i) =>
          recordPollProgress(orm.em.fork(), { taskId: body.task.id, jobId, nextJobId }, { run: i }),
        ),
      );
      const winners = results.filter((r) => r !== null);
      expect(winners).toHaveLength(1);
      expect(nexts).toContain(winners[0]?.pollJobId);
      // The loser's statement changed nothing: the row names the winner's next job.
      const [row] = await orm.em
        .fork()
        .execute<{ poll_job_id: string }[]>('select poll_job_id from tasks where id = ?', [body.task.id]);
      expect(row?.poll_job_id).toBe(winners[0]?.pollJobId);
    }
  });
});
