import { describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { useLifecycleFixture } from './helpers/lifecycle-fixture.ts';
import { expectErrorBody } from './helpers/tasks.ts';
import { waitFor } from './helpers/wait-for.ts';

// POST /v1/tasks/cancel: chunks of conditional UPDATEs racing the dispatch workers. Whatever the
// interleaving, a task is cancelled at once only if no attempt ran, and every call the provider
// received is an attempt on its task (nothing dispatched behind a cancel).

const ctx = useLifecycleFixture(
  {
    // Why: 5,000 tasks count 5,000 points; the limit is tested in batch-create.test.ts.
    ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '1000000',
    // Why: the callback race posts 150 callbacks at once from one IP.
    ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: '1000000',
  },
  { webhookSink: false },
);

const bulkCancel = (body: unknown, key = ctx.team.apiKey) => api(ctx.t.url, 'POST', '/v1/tasks/cancel', { key, body });

async function createMany(count: number, item: (i: number) => Record<string, unknown>, key = ctx.team.apiKey) {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 1000) {
    const tasks = Array.from({ length: Math.min(1000, count - start) }, (_, i) => item(start + i));
    const res = await api(ctx.t.url, 'POST', '/v1/tasks/batch', { key, body: { tasks } });
    expect(res.status, res.text).toBe(200);
    for (const r of res.body.results) ids.push(r.task.id);
  }
  return ids;
}

describe('POST /v1/tasks/cancel', () => {
  it('cancels 5,000 tasks while workers dispatch them: no task both cancelled and dispatched behind it', async () => {
    const since = new Date(Date.now() - 1).toISOString();
    // A slow target keeps attempts in flight while the cancel runs.
    const ids = await createMany(5000, (i) => ({ targetUrl: ctx.provider.url(`/slow?ms=40&n=${i}`), maxRetries: 0 }));
    await waitFor('workers to start dispatching', () => ctx.provider.received.length > 0);

    const res = await bulkCancel({ createdAfter: since });
    expect(res.status, res.text).toBe(200);
    const { matched, changed, hasMore } = res.body;
    expect(hasMore).toBe(false);
    expect(matched).toBeLessThanOrEqual(5000);
    expect(changed).toBeGreaterThan(4000);
    expect(changed).toBeLessThanOrEqual(matched);

    // Flagged tasks end when their attempt ends; then nothing is active any more.
    const rows = await waitFor(
      'every task to end',
      async () => {
        const { rows } = await ctx.db.client.query(
          `select id, status, jsonb_array_length(attempts) as attempts, cancel_requested from tasks where id = any($1::uuid[])`,
          [ids],
        );
        return rows.every((r) => ['completed', 'failed', 'cancelled'].includes(r.status)) ? rows : null;
      },
      60_000,
      200,
    );
    const calls = new Map<string, number>();
    for (const req of ctx.provider.received) {
      const id = req.headers['x-asyncqueue-task-id'] as string;
      calls.set(id, (calls.get(id) ?? 0) + 1);
    }
    let cancelledAtOnce = 0;
    for (const row of rows) {
      // Every call the provider saw is recorded as an attempt of its task, and none went unrecorded.
      expect(calls.get(row.id) ?? 0, row.id).toBe(row.attempts);
      if (row.status === 'cancelled') {
        // At most the one attempt that was already in flight when the cancel came.
        expect(row.attempts).toBeLessThanOrEqual(1);
        if (row.attempts === 0) cancelledAtOnce += 1;
        else expect(row.cancel_requested).toBe(true);
      }
    }
    expect(rows.filter((r) => r.status === 'cancelled').length).toBe(changed);
    expect(cancelledAtOnce).toBeGreaterThan(0);
    // Cancelled-at-once tasks never reached the provider, later either (their jobs ran and found them ended).
    await new Promise((r) => setTimeout(r, 300));
    for (const row of rows)
      if (row.status === 'cancelled' && row.attempts === 0) expect(calls.get(row.id)).toBeUndefined();
  }, 120_000);

  it('races callbacks on waiting tasks: each task ends once, as the side that won says', async () => {
    const since = new Date().toISOString();
    const count = 150;
    const created: { id: string; callbackUrl: string }[] = [];
    for (let start = 0; start < count; start += 50) {
      const tasks = Array.from({ length: 50 }, (_, i) => ({
        targetUrl: ctx.provider.url(`/ok?race=${start + i}&cb={asyncqueue_callback_url}`),
      }));
      const res = await api(ctx.t.url, 'POST', '/v1/tasks/batch', { key: ctx.team.apiKey, body: { tasks } });
      expect(res.status, res.text).toBe(200);
      for (const r of res.body.results) created.push({ id: r.task.id, callbackUrl: r.callbackUrl });
    }
    const ids = created.map((c) => c.id);
    await waitFor(
      'every task to wait for its callback',
      async () => {
        const { rows } = await ctx.db.client.query(
          `select count(*)::int as n from tasks where id = any($1::uuid[]) and status = 'waiting'`,
          [ids],
        );
        return rows[0].n === count;
      },
      60_000,
      100,
    );
    const [cancel, ...callbacks] = await Promise.all([
      bulkCancel({ ids, createdAfter: since }),
      ...created.map((c) => api(c.callbackUrl, 'POST', '', { body: { status: 'done' } })),
    ]);
    expect(cancel?.status, cancel?.text).toBe(200);
    const { rows } = await ctx.db.client.query('select id, status from tasks where id = any($1::uuid[])', [ids]);
    const statusOf = new Map(rows.map((r) => [r.id, r.status]));
    created.forEach((c, i) => {
      const answer = callbacks[i]?.status;
      // The callback won (200, completed) or found the task cancelled (409), never both.
      expect(statusOf.get(c.id), `${c.id} callback ${answer}`).toBe(answer === 200 ? 'completed' : 'cancelled');
      if (answer !== 200) expect(answer).toBe(409);
    });
    const cancelledCount = rows.filter((r) => r.status === 'cancelled').length;
    expect(cancelledCount).toBe(cancel?.body.changed);
    console.log('bulk cancel vs callbacks:', { cancelled: cancelledCount, completed: count - cancelledCount });
  }, 120_000);

  it('acts on the given ids only, of this team only; a second call changes nothing', async () => {
    const mine = await createMany(5, (i) => ({
      targetUrl: ctx.provider.url(`/ok?i=${i}`),
      delayUntil: '2999-01-01T00:00:00.000Z',
    }));
    const other = await ctx.t.newTeam();
    const theirs = await createMany(
      2,
      (i) => ({ targetUrl: ctx.provider.url(`/ok?t=${i}`), delayUntil: '2999-01-01T00:00:00.000Z' }),
      other.apiKey,
    );
    const res = await bulkCancel({ ids: [mine[0], mine[1], theirs[0]] });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ matched: 2, changed: 2, hasMore: false });
    const again = await bulkCancel({ ids: [mine[0], mine[1]] });
    expect(again.body).toEqual({ matched: 0, changed: 0, hasMore: false });
    const { rows } = await ctx.db.client.query('select id, status from tasks where id = any($1::uuid[]) order by id', [
      [...mine, ...theirs],
    ]);
    const statusOf = new Map(rows.map((r) => [r.id, r.status]));
    expect([mine[0], mine[1]].map((id) => statusOf.get(id))).toEqual(['cancelled', 'cancelled']);
    expect(mine.slice(2).map((id) => statusOf.get(id))).toEqual(['delayed', 'delayed', 'delayed']);
    expect(theirs.map((id) => statusOf.get(id))).toEqual(['delayed', 'delayed']);
  });

  it('covers at most 10,000 tasks a call and says hasMore; the next call goes on', async () => {
    const own = await ctx.t.newTeam();
    const total = 10_050;
    const ids = await createMany(
      total,
      (i) => ({ targetUrl: ctx.provider.url(`/ok?many=${i}`), delayUntil: '2999-01-01T00:00:00.000Z' }),
      own.apiKey,
    );
    expect(ids).toHaveLength(total);
    const first = await bulkCancel({ status: 'delayed' }, own.apiKey);
    expect(first.status, first.text).toBe(200);
    expect(first.body).toEqual({ matched: 10_000, changed: 10_000, hasMore: true });
    const second = await bulkCancel({ status: 'delayed' }, own.apiKey);
    expect(second.body).toEqual({ matched: 50, changed: 50, hasMore: false });
    const { rows } = await ctx.db.client.query(
      `select status, count(*)::int as n from tasks where id = any($1::uuid[]) group by status`,
      [ids],
    );
    expect(rows).toEqual([{ status: 'cancelled', n: total }]);
  }, 120_000);

  it('wakes a long-poll on a task it cancels', async () => {
    const [id] = await createMany(1, () => ({
      targetUrl: ctx.provider.url('/ok'),
      delayUntil: '2999-01-01T00:00:00.000Z',
    }));
    const started = Date.now();
    const poll = api(ctx.t.url, 'GET', `/v1/tasks/${id}?wait=20`, { key: ctx.team.apiKey });
    await new Promise((r) => setTimeout(r, 200));
    expect((await bulkCancel({ ids: [id] })).body.changed).toBe(1);
    const res = await poll;
    expect(res.body.task.status).toBe('cancelled');
    // Answered by the change, well before the 20 s wait (slack for a loaded machine).
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('refuses an empty filter, unknown fields and too many ids (400), changing nothing', async () => {
    expectErrorBody(await bulkCancel({}), 400, 'validation_failed');
    expectErrorBody(await bulkCancel({ colour: 'red' }), 400, 'validation_failed');
    expectErrorBody(await bulkCancel({ status: 'nope' }), 400, 'validation_failed');
    const ids = Array.from({ length: 1001 }, () => crypto.randomUUID());
    expectErrorBody(await bulkCancel({ ids }), 400, 'validation_failed');
  });
});
