import { describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { useLifecycleFixture } from './helpers/lifecycle-fixture.ts';
import { waitForStatus } from './helpers/task-waits.ts';
import { expectErrorBody } from './helpers/tasks.ts';

// POST /v1/tasks/replay: copies of the matching ended tasks not replayed yet, made in PostgreSQL a
// chunk per transaction; each original claimed by a conditional UPDATE, so racing calls copy it once.

const ctx = useLifecycleFixture({ ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '1000000' }, { webhookSink: false });

const bulkReplay = (body: unknown, key = ctx.team.apiKey) => api(ctx.t.url, 'POST', '/v1/tasks/replay', { key, body });

async function createEnded(targetPath: string, status: string, key = ctx.team.apiKey): Promise<string> {
  const res = await api(ctx.t.url, 'POST', '/v1/tasks', {
    key,
    body: { targetUrl: ctx.provider.url(targetPath), maxRetries: 0, body: '{"k":1}' },
  });
  expect(res.status, res.text).toBe(201);
  await waitForStatus(ctx.t.url, key, res.body.task.id, status);
  return res.body.task.id;
}

async function copiesOf(ids: readonly string[]): Promise<{ id: string; replay_of: string; body: string }[]> {
  const { rows } = await ctx.db.client.query(
    'select id, replay_of, body from tasks where replay_of = any($1::uuid[]) order by replay_of',
    [ids],
  );
  return rows;
}

describe('POST /v1/tasks/replay', () => {
  it('replays exactly the failed tasks created after the given instant', async () => {
    const before = await createEnded('/status/400?when=before', 'failed');
    const since = new Date().toISOString();
    const failed = [
      await createEnded('/status/400?n=1', 'failed'),
      await createEnded('/status/422?n=2', 'failed'),
      await createEnded('/status/400?n=3', 'failed'),
    ];
    const completed = await createEnded('/ok?n=4', 'completed');
    const other = await ctx.t.newTeam();
    const othersFailed = await createEnded('/status/400?other=1', 'failed', other.apiKey);

    const res = await bulkReplay({ status: 'failed', createdAfter: since });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ matched: 3, changed: 3, hasMore: false });
    const copies = await copiesOf([before, ...failed, completed, othersFailed]);
    expect(copies.map((c) => c.replay_of).sort()).toEqual([...failed].sort());
    for (const copy of copies) expect(copy.body).toBe('{"k":1}');
    // Each copy is a new task of the team that runs again (and fails again here).
    for (const copy of copies) {
      const task = await waitForStatus(ctx.t.url, ctx.team.apiKey, copy.id, 'failed');
      expect(task).toMatchObject({ replayOf: copy.replay_of, retryCount: 0 });
      expect(task.attempts).toHaveLength(1);
    }
    // An original already replayed is not matched again.
    const again = await bulkReplay({ ids: failed });
    expect(again.body).toEqual({ matched: 0, changed: 0, hasMore: false });
  });

  it('two bulk replays racing over the same tasks copy each task once', async () => {
    const ids = await Promise.all(Array.from({ length: 12 }, (_, i) => createEnded(`/ok?race=${i}`, 'completed')));
    const [a, b] = await Promise.all([bulkReplay({ ids }), bulkReplay({ ids })]);
    expect(a.status, a.text).toBe(200);
    expect(b.status, b.text).toBe(200);
    expect(a.body.changed + b.body.changed).toBe(12);
    const copies = await copiesOf(ids);
    expect(copies).toHaveLength(12);
    expect(new Set(copies.map((c) => c.replay_of)).size).toBe(12);
  });

  it('leaves tasks that have not ended alone and refuses an empty filter', async () => {
    const res = await api(ctx.t.url, 'POST', '/v1/tasks', {
      key: ctx.team.apiKey,
      body: { targetUrl: ctx.provider.url('/ok'), delayUntil: '2999-01-01T00:00:00.000Z' },
    });
    const replayed = await bulkReplay({ ids: [res.body.task.id] });
    expect(replayed.body).toEqual({ matched: 0, changed: 0, hasMore: false });
    expectErrorBody(await bulkReplay({}), 400, 'validation_failed');
    expectErrorBody(await bulkReplay({ createdAfter: 'yesterday' }), 400, 'validation_failed');
  });
});
