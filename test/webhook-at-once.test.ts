import { afterAll, describe, expect, it } from 'vitest';
import { type Cluster, createCluster, createTeamOnDatabase } from './helpers/cluster.ts';
import { type FakeProvider, startFakeProvider } from './helpers/fake-provider.ts';
import { startHoldFirstTarget } from './helpers/hold-first-target.ts';
import { api } from './helpers/http.ts';
import { useLifecycleFixture } from './helpers/lifecycle-fixture.ts';
import { openAppDb } from './helpers/pgboss-jobs.ts';
import { pollForStatus } from './helpers/race-tools.ts';
import { createTestDatabase } from './helpers/test-database.ts';
import { waitFor } from './helpers/wait-for.ts';
import { startWebhookSink } from './helpers/webhook-sink.ts';

// A completion webhook is delivered by the process that completed the task, right after the commit
// (server/src/jobs/webhook-at-once.ts). The job sent with the completion is held back for the
// takeover window and settled by the delivery's record; it only runs if that process died first.

const ctx = useLifecycleFixture({ ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000' }, { webhookSink: false });
const closers: (() => Promise<void>)[] = [];
const clusters: Cluster[] = [];
afterAll(async () => {
  for (const close of closers) await close().catch(() => {});
  for (const cluster of clusters) await cluster.stopAll();
}, 60_000);

type JobState = { state: string; startedOn: Date | null; startAfter: Date; data: { attempt: number } };
const webhookJobs = async (taskId: string): Promise<JobState[]> =>
  (
    await ctx.db.client.query(
      `select state::text as state, started_on as "startedOn", start_after as "startAfter", data
       from pgboss.job where name = 'webhook' and data->>'taskId' = $1 order by created_on`,
      [taskId],
    )
  ).rows;

describe('completion webhooks delivered at once', () => {
  it('the held-back job is completed by the delivery, never started by a webhook worker', async () => {
    const sink = await startWebhookSink(() => ctx.team.webhookSecret);
    closers.push(() => sink.stop());
    const { task } = await ctx.create({ targetUrl: ctx.provider.url('/ok'), onCompleteUrl: sink.url });
    const done = await ctx.until(task.id, 'completed');
    await waitFor('one delivery', async () => (sink.deliveries.length === 1 ? true : null));
    const jobs = await waitFor('the held-back job settled', async () => {
      const rows = await webhookJobs(task.id);
      return rows.length === 1 && rows[0]?.state === 'completed' ? rows : null;
    });
    expect(jobs[0]?.startedOn).toBeNull();
    // Held back by the takeover window (60 s by default) from the completion.
    const heldMs = (jobs[0] as JobState).startAfter.getTime() - Date.parse(done.completedAt);
    expect(heldMs).toBeGreaterThan(50_000);
    expect(heldMs).toBeLessThan(70_000);
  });

  it('a failed delivery: its record, the held-back job settled and the retry queued commit together', async () => {
    const sink = await startWebhookSink(() => ctx.team.webhookSecret, { failFirst: 1 });
    closers.push(() => sink.stop());
    const { task } = await ctx.create({ targetUrl: ctx.provider.url('/ok'), onCompleteUrl: sink.url });
    await ctx.until(task.id, 'completed');
    const jobs = await waitFor('the retry queued', async () => {
      const rows = await webhookJobs(task.id);
      return rows.length === 2 ? rows : null;
    });
    expect(jobs.map((j) => [j.state, j.data.attempt])).toEqual([
      ['completed', 1],
      ['created', 2],
    ]);
    const row = await ctx.db.taskRow(task.id);
    expect(row.webhookDeliveries).toHaveLength(1);
    expect(row.webhookDeliveries[0]).toMatchObject({ attempt: 1, statusCode: 500 });
  });
});

describe('an instance killed while it delivers a webhook at once', () => {
  it('another instance delivers the held-back job when the takeover window ends: nothing lost', {
    timeout: 120_000,
  }, async () => {
    const databaseUrl = await createTestDatabase();
    // Takeover window 20 s (cluster.ts): the held-back job is due 20 s after the completion.
    const cluster = createCluster(databaseUrl);
    clusters.push(cluster);
    const a = await cluster.start();
    const team = await createTeamOnDatabase(databaseUrl, cluster.encryptionKey);
    const provider: FakeProvider = await startFakeProvider();
    const receiver = await startHoldFirstTarget();
    closers.push(
      () => provider.stop(),
      () => receiver.stop(),
    );
    const created = await api(a.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      body: { targetUrl: provider.url('/ok'), onCompleteUrl: receiver.url },
    });
    expect(created.status, created.text).toBe(201);
    const id = created.body.task.id as string;
    const done = await pollForStatus(a.url, team.apiKey, id, ['completed'], 20_000);
    // A's delivery reached the receiver, which holds it: A dies before it can record anything.
    await waitFor('the at-once delivery', async () => (receiver.requests.length === 1 ? true : null));
    await cluster.kill(a);
    await cluster.start();
    const db = await openAppDb(databaseUrl);
    closers.push(() => db.close());
    const recorded = await waitFor(
      'the delivery recorded by B',
      async () => {
        const row = await db.taskRow(id);
        return row.webhookDeliveries.length > 0 ? row.webhookDeliveries : null;
      },
      60_000,
    );
    expect(receiver.requests).toHaveLength(2);
    expect(recorded).toEqual([expect.objectContaining({ attempt: 1, statusCode: 200 })]);
    // Not before the lease ended: B did not deliver behind A's back while A could still have.
    const secondAt = (receiver.requests[1] as { at: number }).at;
    expect(secondAt - Date.parse(done.completedAt)).toBeGreaterThanOrEqual(19_000);
  });
});
