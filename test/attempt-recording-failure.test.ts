import { afterEach, describe, expect, it } from 'vitest';
import { useLifecycleFixture } from './helpers/lifecycle-fixture.ts';
import { waitFor } from './helpers/wait-for.ts';

// A target is hit at most maxRetries + 1 times per task, whatever fails after a call went out: an
// attempt whose recording fails ends through the task's own policy (a retry counted against
// maxRetries, or `failed` naming the cause), never by pg-boss redelivering the job behind its back.
// The failure is real: a PostgreSQL trigger on `tasks` refuses the UPDATE that records the attempt.

const ctx = useLifecycleFixture({
  // Why: waits below poll the API; the limits are tested in rate-limit.test.ts.
  ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000',
  ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: '100000',
});
const { create, requestsFor } = ctx;

const INJECTED = 'injected: the attempt cannot be recorded';

/**
 * Refuses every UPDATE of `tasks` that `when` (a condition on OLD and NEW) matches, with INJECTED.
 * Installed by the test, dropped after it.
 */
async function refuseUpdates(when: string): Promise<void> {
  await ctx.db.client.query(`
    create or replace function aq_test_refuse() returns trigger language plpgsql as $$
    begin
      if ${when} then raise exception '${INJECTED}'; end if;
      return new;
    end $$`);
  await ctx.db.client.query(
    'create trigger aq_test_refuse before update on tasks for each row execute function aq_test_refuse()',
  );
}
afterEach(async () => {
  await ctx.db.client.query('drop trigger if exists aq_test_refuse on tasks');
});

/** The normal recording of a successful call (status completed) fails; the minimal fallback passes. */
const COMPLETING = `old.status = 'processing' and new.status = 'completed'`;

const settled = async (id: string) => {
  const task = await waitFor(`task ${id} to end`, async () => {
    const row = await ctx.db.taskRow(id);
    return ['completed', 'failed', 'timeout', 'cancelled'].includes(row.status) ? row : null;
  });
  return { ...task, ...(await ctx.getTask(id)) };
};

describe('an attempt whose recording fails', () => {
  it('with maxRetries 0: the target is hit once and the task fails naming the recording failure', async () => {
    await refuseUpdates(COMPLETING);
    const { task } = await create({
      targetUrl: ctx.provider.url('/ok?rec=0'),
      maxRetries: 0,
      onCompleteUrl: ctx.sink.url,
    });
    const done = await settled(task.id);
    expect(done.status).toBe('failed');
    expect(done.error).toBe(`Failed after 1 attempt: Recording the attempt failed: ${INJECTED}`);
    expect(done.attempts).toEqual([
      expect.objectContaining({
        number: 1,
        statusCode: 200,
        willRetry: false,
        error: `Recording the attempt failed: ${INJECTED}`,
      }),
    ]);
    expect(done.result).toBeNull();
    // The job was not failed for pg-boss to redeliver: one dispatch job, completed, one call.
    await waitFor('the dispatch job to complete', async () => {
      const jobs = await ctx.db.jobs('dispatch', task.id);
      return jobs.length === 1 && jobs[0]!.state === 'completed';
    });
    expect(requestsFor(task.id)).toHaveLength(1);
    // A failure like any other: the completion webhook goes out.
    await waitFor('the failed webhook', () => ctx.sink.forTask(task.id).length === 1);
    expect(ctx.sink.forTask(task.id)[0]).toMatchObject({ status: 'failed' });
  });

  it('with maxRetries 2: each failed recording is a counted retry; the target is hit 3 times, then failed', async () => {
    await refuseUpdates(COMPLETING);
    const { task } = await create({
      targetUrl: ctx.provider.url('/ok?rec=2'),
      maxRetries: 2,
      retryBackoff: 'linear',
    });
    const done = await settled(task.id);
    expect(done.status).toBe('failed');
    expect(done.retryCount).toBe(2);
    expect(done.error).toBe(`Failed after 3 attempts: Recording the attempt failed: ${INJECTED}`);
    expect(done.attempts.map((a: { number: number; willRetry: boolean }) => [a.number, a.willRetry])).toEqual([
      [1, true],
      [2, true],
      [3, false],
    ]);
    for (const attempt of done.attempts) expect(attempt.error).toBe(`Recording the attempt failed: ${INJECTED}`);
    expect(requestsFor(task.id).map((r) => r.headers['x-asyncqueue-attempt'])).toEqual(['1', '2', '3']);
    // The pump completes its jobs in batches just after the task settles: wait for the last one.
    await waitFor('the three dispatch jobs to complete', async () => {
      const jobs = await ctx.db.jobs('dispatch', task.id);
      return jobs.length === 3 && jobs.every((j) => j.state === 'completed');
    });
  });

  it('a retry after a failed recording that then records fine completes the task', async () => {
    // Only the first attempt's recording fails (retry_count is still 0 then).
    await refuseUpdates(`${COMPLETING} and old.retry_count = 0`);
    const { task } = await create({ targetUrl: ctx.provider.url('/ok?rec=once'), maxRetries: 1 });
    const done = await settled(task.id);
    expect(done.status).toBe('completed');
    expect(done.attempts.map((a: { number: number }) => a.number)).toEqual([1, 2]);
    expect(done.attempts[0]).toMatchObject({
      willRetry: true,
      statusCode: 200,
      error: `Recording the attempt failed: ${INJECTED}`,
    });
    expect(done.attempts[1]).toMatchObject({ willRetry: false, statusCode: 200, error: null });
    expect(requestsFor(task.id)).toHaveLength(2);
  });

  it('when the fallback fails too (database refusing): the redelivered job is refused by the claim; one call', async () => {
    // Every ending of the held attempt fails (normal and fallback); the claim's refusal passes.
    await refuseUpdates(
      `old.status = 'processing' and old.dispatch_lease is not null and new.dispatch_lease is null
       and coalesce(new.error, '') not like '%Interrupted%'`,
    );
    const { task } = await create({
      targetUrl: ctx.provider.url('/ok?rec=down'),
      maxRetries: 0,
      onCompleteUrl: ctx.sink.url,
    });
    const done = await settled(task.id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/^Failed after 1 attempt: Interrupted/);
    expect(done.attempts).toEqual([expect.objectContaining({ number: 1, willRetry: false, statusCode: null })]);
    expect(requestsFor(task.id)).toHaveLength(1);
    // pg-boss did redeliver the failed job once: that delivery ended the task instead of calling.
    const jobs = await ctx.db.jobs('dispatch', task.id);
    expect(jobs).toHaveLength(1);
    await waitFor(
      'the redelivered job to complete',
      async () => (await ctx.db.jobs('dispatch', task.id))[0]?.state === 'completed',
    );
    // The refusal ended the task like any failure: its completion webhook goes out, once.
    await waitFor('the failed webhook', () => ctx.sink.forTask(task.id).length === 1);
    expect(ctx.sink.forTask(task.id)[0]).toMatchObject({ status: 'failed' });
  });
});
