import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyncQueue, ConflictError, type CreateTaskResponse } from '../sdk/src/index.ts';
import { type FakeProvider, startFakeProvider } from './helpers/fake-provider.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

// The SDK's batch, replay, bulk and stats methods against a real server (over tRPC).

let t: TestApp;
let provider: FakeProvider;
let aq: AsyncQueue;

beforeAll(async () => {
  t = await startTestApp({ ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000' });
  provider = await startFakeProvider();
  aq = new AsyncQueue({ apiKey: (await t.newTeam()).apiKey, baseUrl: t.url });
});
afterAll(async () => {
  await provider.stop();
  await t.stop();
});

describe('SDK: tasks.createMany, replay, cancelMany, replayMany, stats', () => {
  it('creates a batch with per-item results, replays an ended task, bulk-cancels and counts', async () => {
    const { results } = await aq.tasks.createMany({
      tasks: [
        { targetUrl: provider.url('/status/400'), maxRetries: 0 },
        { targetUrl: 'ftp://nope' },
        { targetUrl: provider.url('/ok'), delayUntil: '2999-01-01T00:00:00.000Z' },
      ],
    });
    expect(results).toHaveLength(3);
    const [failing, invalid, delayed] = results;
    expect(invalid && 'details' in invalid ? invalid.details.map((d) => d.path) : []).toEqual(['tasks.1.targetUrl']);
    const failingId = (failing as CreateTaskResponse).task.id;
    await aq.tasks.wait(failingId, { timeoutMs: 20_000 });

    const copy = await aq.tasks.replay(failingId);
    expect(copy.task.replayOf).toBe(failingId);
    const delayedId = (delayed as CreateTaskResponse).task.id;
    await expect(aq.tasks.replay(delayedId)).rejects.toBeInstanceOf(ConflictError);

    expect(await aq.tasks.cancelMany({ ids: [delayedId] })).toEqual({ matched: 1, changed: 1, hasMore: false });
    await aq.tasks.wait(copy.task.id, { timeoutMs: 20_000 });
    // The original was replayed once already; the copy (failed too) is matched now.
    expect(await aq.tasks.replayMany({ status: 'failed' })).toEqual({ matched: 1, changed: 1, hasMore: false });

    const stats = await aq.tasks.stats();
    expect(stats.total).toBe(4);
    expect(stats.counts.cancelled).toBe(1);
    expect(stats.counts.failed + stats.counts.pending + stats.counts.processing).toBe(3);
    const listed = await aq.tasks.list({ status: 'cancelled', createdAfter: '2000-01-01T00:00:00.000Z' });
    expect(listed.tasks.map((x) => x.id)).toEqual([delayedId]);
  });
});
