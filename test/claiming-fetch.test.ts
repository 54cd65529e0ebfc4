import { randomBytes } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTeamSecrets } from '../server/src/auth/sealed-owners.ts';
import { createSecretBox } from '../server/src/auth/secret-box.ts';
import { createTeam } from '../server/src/auth/teams.ts';
import { poolExecutor } from '../server/src/db/prepared.ts';
import { type ClaimedJob, claimingFetch, claimOf } from '../server/src/jobs/boss-sql.ts';
import { createEnqueue } from '../server/src/jobs/queues.ts';
import { createTask } from '../server/src/tasks/create-task.ts';
import { cancelTask } from '../server/src/tasks/store/cancel-expire.ts';
import { createTaskInputSchema } from '../server/src/tasks/task-input-schema.ts';
import { createDeps, openQueueFixture } from './helpers/queue-fixture.ts';

/**
 * The dispatch pump's fetch claims each fetched job's task in the same statement (one commit).
 * Real PostgreSQL and pg-boss's real fetch statement; no server, no workers.
 */
let fixture: Awaited<ReturnType<typeof openQueueFixture>>;
let orm: MikroORM;
let boss: PgBoss;
let team: { id: string; webhookSecret: string };
const box = createSecretBox(randomBytes(32));

beforeAll(async () => {
  fixture = await openQueueFixture();
  ({ orm, boss } = fixture);
  team = await createTeam(orm.em.fork(), 'claims', box);
});
afterAll(async () => {
  await fixture?.close();
});

const create = async (extra: Record<string, unknown> = {}) => {
  const input = createTaskInputSchema.parse({ targetUrl: 'https://example.com/run', ...extra });
  return (await createTask(orm.em.fork(), createDeps(createEnqueue(boss)), team.id, input, null)).body.task.id;
};
const fetchClaimed = async (batchSize = 16) =>
  (await boss.fetch<{ taskId: string }>('dispatch', {
    batchSize,
    includeMetadata: true,
    db: claimingFetch(poolExecutor(orm.em.fork(), { prepared: false })),
  })) as unknown as ClaimedJob<{ taskId: string }>[];
const taskRow = async (id: string) =>
  (
    await orm.em
      .fork()
      .execute<{ status: string; dispatch_lease: number | null; retry_count: number; attempts: unknown[] }[]>(
        'select status, dispatch_lease, retry_count, attempts from tasks where id = ?',
        [id],
      )
  )[0];
const jobState = async (id: string) =>
  (await orm.em.fork().execute<{ state: string }[]>('select state from pgboss.job where id = ?', [id]))[0]?.state;

describe('claiming fetch', () => {
  it('takes the jobs and claims their tasks in one statement; an unclaimable task comes back unclaimed', async () => {
    const [a, b, cancelled] = [await create(), await create(), await create()];
    expect(await cancelTask(orm.em.fork(), team.id, cancelled)).not.toBeNull();
    const jobs = await fetchClaimed();
    const byTask = new Map(jobs.map((j) => [j.data.taskId, j]));
    expect([...byTask.keys()].sort()).toEqual([a, b, cancelled].sort());
    for (const id of [a, b]) {
      const job = byTask.get(id)!;
      const claim = claimOf(job);
      expect(claim?.task).toMatchObject({ id, status: 'processing', dispatchLease: 0, teamId: team.id });
      expect(claim?.task.createdAt).toBeInstanceOf(Date);
      // Sealed as stored: the handler opens them in memory.
      expect(openTeamSecrets(box, team.id, claim?.signingSecrets ?? [])).toEqual([team.webhookSecret]);
      // The job's own columns are untouched: pg-boss settles it by id and attempt as usual.
      expect(job).toMatchObject({ id: expect.any(String), retryCount: 0, name: 'dispatch' });
      expect(Object.keys(job).some((k) => k.startsWith('aq_'))).toBe(false);
      expect(await taskRow(id)).toMatchObject({ status: 'processing', dispatch_lease: 0 });
      expect(await jobState(job.id)).toBe('active');
    }
    expect(claimOf(byTask.get(cancelled)!)).toBeNull();
    expect(await taskRow(cancelled)).toMatchObject({ status: 'cancelled', dispatch_lease: null });
    // Settling the unclaimed job works like any other (the handler just returns).
    await boss.complete('dispatch', [{ id: byTask.get(cancelled)!.id, retryCount: 0 }]);
    expect(await jobState(byTask.get(cancelled)!.id)).toBe('completed');
  });

  it("a crashed attempt's redelivery claims again with the next lease and records the interrupted attempt", async () => {
    const id = await create();
    const [first] = await fetchClaimed(1);
    expect(claimOf(first!)?.task.dispatchLease).toBe(0);
    // What pg-boss does when the worker's heartbeat lapses: the job goes back for a retry.
    await orm.em.fork().execute(`update pgboss.job set state = 'retry', start_after = now() where id = ?`, [first!.id]);
    const [again] = await fetchClaimed(1);
    expect(again?.id).toBe(first!.id);
    expect(again?.retryCount).toBe(1);
    const claim = claimOf(again!);
    expect(claim?.task).toMatchObject({ id, status: 'processing', dispatchLease: 1, retryCount: 1 });
    expect(claim?.task.attempts).toEqual([
      expect.objectContaining({ number: 1, willRetry: true, error: expect.stringMatching(/^Interrupted/) }),
    ]);
    // A stale delivery of the old attempt can no longer claim: its lease is not above the held one.
    await orm.em
      .fork()
      .execute(`update pgboss.job set state = 'retry', retry_count = 0, start_after = now() where id = ?`, [first!.id]);
    const [stale] = await fetchClaimed(1);
    expect(stale?.retryCount).toBe(1);
    expect(claimOf(stale!)).toBeNull();
    expect(await taskRow(id)).toMatchObject({ dispatch_lease: 1, retry_count: 1 });
  });

  it('refuses the redelivery of a task whose attempts are spent: it ends failed, the interrupted attempt recorded', async () => {
    const redeliver = (jobId: string) =>
      orm.em.fork().execute(`update pgboss.job set state = 'retry', start_after = now() where id = ?`, [jobId]);
    // maxRetries 1: the first redelivery is the one retry left; the second finds nothing left.
    const id = await create({ maxRetries: 1 });
    const [first] = await fetchClaimed(1);
    expect(claimOf(first!)).toMatchObject({ refused: false, task: { id, dispatchLease: 0 } });
    await redeliver(first!.id);
    const [second] = await fetchClaimed(1);
    expect(claimOf(second!)).toMatchObject({ refused: false, task: { id, dispatchLease: 1, retryCount: 1 } });
    await redeliver(first!.id);
    const [third] = await fetchClaimed(1);
    expect(third?.retryCount).toBe(2);
    const refused = claimOf(third!);
    expect(refused?.refused).toBe(true);
    expect(refused?.task).toMatchObject({ id, status: 'failed', dispatchLease: null, retryCount: 1 });
    expect(refused?.task.error).toMatch(/^Failed after 2 attempts: Interrupted/);
    expect(refused?.task.completedAt).toBeInstanceOf(Date);
    expect(refused?.task.attempts).toEqual([
      expect.objectContaining({ number: 1, willRetry: true, error: expect.stringMatching(/^Interrupted/) }),
      expect.objectContaining({ number: 2, willRetry: false, error: expect.stringMatching(/^Interrupted/) }),
    ]);
    expect(await taskRow(id)).toMatchObject({ status: 'failed', dispatch_lease: null, retry_count: 1 });
    // Ended for good: a further redelivery of the same job finds nothing to claim or refuse.
    await redeliver(first!.id);
    const [fourth] = await fetchClaimed(1);
    expect(claimOf(fourth!)).toBeNull();
    expect((await taskRow(id))?.attempts).toHaveLength(2);
  });

  it('with maxRetries 0 a redelivered job never claims again (the target is hit at most once)', async () => {
    const id = await create({ maxRetries: 0 });
    const [first] = await fetchClaimed(1);
    expect(claimOf(first!)?.task).toMatchObject({ id, status: 'processing', dispatchLease: 0 });
    await orm.em.fork().execute(`update pgboss.job set state = 'retry', start_after = now() where id = ?`, [first!.id]);
    const [again] = await fetchClaimed(1);
    expect(claimOf(again!)).toMatchObject({ refused: true, task: { id, status: 'failed', retryCount: 0 } });
    expect(await taskRow(id)).toMatchObject({ status: 'failed', dispatch_lease: null, retry_count: 0 });
  });

  it('two pumps fetching at once claim every task exactly once', async () => {
    const ids = await Promise.all(Array.from({ length: 40 }, () => create()));
    const batches = await Promise.all([fetchClaimed(16), fetchClaimed(16), fetchClaimed(16), fetchClaimed(16)]);
    const claimed = batches.flat().map((job) => claimOf(job)?.task.id);
    expect(claimed.every((id) => id !== undefined)).toBe(true);
    expect(new Set(claimed).size).toBe(claimed.length);
    expect(claimed.sort()).toEqual([...ids].sort());
  });

  it('a malformed dispatch job comes back unclaimed and holds back no other job', async () => {
    const id = await create();
    await boss.send('dispatch', { taskId: 'not-a-uuid' });
    await boss.send('dispatch', {});
    const jobs = await fetchClaimed();
    expect(jobs).toHaveLength(3);
    expect(jobs.filter((j) => claimOf(j) !== null).map((j) => claimOf(j)?.task.id)).toEqual([id]);
  });

  it('refuses a dispatch job fetched without the claim', async () => {
    await create();
    const [plain] = await boss.fetch<{ taskId: string }>('dispatch', { includeMetadata: true });
    expect(() => claimOf(plain!)).toThrow(/without claimingFetch/);
  });
});
