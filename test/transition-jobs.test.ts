import { describe, expect, it } from 'vitest';
import { useLifecycleFixture } from './helpers/lifecycle-fixture.ts';
import { waitFor } from './helpers/wait-for.ts';

// A transition whose one job is known before it runs carries that job in its own statement
// (task-lifecycle.ts JobAhead): a wait's expiry is inserted by the UPDATE that writes the deadline,
// due at exactly that deadline (both from the statement's now()).

const ctx = useLifecycleFixture({ ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000' }, { webhookSink: false });

describe('a wait carries its expiry', () => {
  it('the expiry job is due exactly at the deadline the wait wrote, and only once', async () => {
    const { task } = await ctx.create({ targetUrl: ctx.provider.url('/ok'), waitForSignal: true, maxWaitTime: 600 });
    await ctx.until(task.id, 'waiting');
    const { rows } = await ctx.db.client.query(
      `select j.start_after as "startAfter", t.deadline_at as "deadlineAt", j.state::text as state
       from pgboss.job j join tasks t on t.id = (j.data->>'taskId')::uuid
       where j.name = 'expire' and j.data->>'taskId' = $1`,
      [task.id],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].state).toBe('created');
    expect((rows[0].startAfter as Date).getTime()).toBe((rows[0].deadlineAt as Date).getTime());
  });

  it('a wait that lost its fence (a cancel requested during the attempt) inserts no expiry', async () => {
    const { task } = await ctx.create({
      targetUrl: ctx.provider.url('/slow?ms=600'),
      waitForSignal: true,
      maxWaitTime: 600,
    });
    await waitFor('the call in flight', () => (ctx.requestsFor(task.id).length > 0 ? true : null));
    const cancel = await fetch(`${ctx.t.url}/v1/tasks/${task.id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ctx.team.apiKey}` },
    });
    expect(cancel.status).toBeLessThan(300);
    await ctx.until(task.id, 'cancelled');
    expect(await ctx.db.jobs('expire', task.id)).toEqual([]);
  });
});
