import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { delayedTask, expectErrorBody } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

// GET /v1/tasks/stats (the team's counts by status) and the list's provider / created filters.

let t: TestApp;
let team: TestTeam;
const get = (path: string, key = team.apiKey) => api(t.url, 'GET', path, { key });

beforeAll(async () => {
  t = await startTestApp({ ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000' });
  team = await t.newTeam();
});
afterAll(() => t.stop());

describe('GET /v1/tasks/stats', () => {
  it("counts the team's tasks in every status, other teams' not at all", async () => {
    const empty = await get('/v1/tasks/stats');
    expect(empty.status, empty.text).toBe(200);
    expect(empty.body).toEqual({
      counts: {
        pending: 0,
        delayed: 0,
        processing: 0,
        waiting: 0,
        polling: 0,
        completed: 0,
        failed: 0,
        timeout: 0,
        cancelled: 0,
      },
      total: 0,
    });
    const created = await api(t.url, 'POST', '/v1/tasks/batch', {
      key: team.apiKey,
      body: { tasks: Array.from({ length: 4 }, (_, i) => delayedTask(i)) },
    });
    const [first] = created.body.results;
    await api(t.url, 'POST', `/v1/tasks/${first.task.id}/cancel`, { key: team.apiKey });
    const other = await t.newTeam();
    await api(t.url, 'POST', '/v1/tasks', { key: other.apiKey, body: delayedTask(9) });

    const stats = await get('/v1/tasks/stats');
    expect(stats.body.counts).toMatchObject({ delayed: 3, cancelled: 1, pending: 0 });
    expect(stats.body.total).toBe(4);
    expect((await get('/v1/tasks/stats', other.apiKey)).body.total).toBe(1);
  });
});

describe('GET /v1/tasks filters', () => {
  it('filters by provider and by creation time, with the cursor', async () => {
    const own = await t.newTeam();
    const create = (body: Record<string, unknown>) =>
      api(t.url, 'POST', '/v1/tasks', { key: own.apiKey, body: { ...delayedTask(), ...body } });
    const early = await create({});
    const since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    const fal = [
      await create({ provider: 'fal' }),
      await create({ provider: 'fal' }),
      await create({ provider: 'fal' }),
    ];
    const replicate = await create({ provider: 'replicate' });
    const until = new Date(Date.now() + 1).toISOString();
    const list = (query: string) => get(`/v1/tasks?${query}`, own.apiKey);

    const byProvider = await list('provider=fal&limit=2');
    expect(byProvider.status, byProvider.text).toBe(200);
    expect(byProvider.body.tasks.map((x: any) => x.id)).toEqual([fal[2]?.body.task.id, fal[1]?.body.task.id]);
    const next = await list(`provider=fal&limit=2&cursor=${byProvider.body.pagination.nextCursor}`);
    expect(next.body.tasks.map((x: any) => x.id)).toEqual([fal[0]?.body.task.id]);

    const after = await list(`createdAfter=${encodeURIComponent(since)}&limit=100`);
    expect(after.body.tasks).toHaveLength(4);
    const before = await list(`createdBefore=${encodeURIComponent(since)}&limit=100`);
    expect(before.body.tasks.map((x: any) => x.id)).toEqual([early.body.task.id]);
    const window = await list(
      `provider=replicate&createdAfter=${encodeURIComponent(since)}&createdBefore=${encodeURIComponent(until)}`,
    );
    expect(window.body.tasks.map((x: any) => x.id)).toEqual([replicate.body.task.id]);

    expectErrorBody(await list('provider=nope'), 400, 'validation_failed');
    expectErrorBody(await list('createdAfter=yesterday'), 400, 'validation_failed');
  });
});

describe('route labels', () => {
  it('labels the new routes by their own templates, never as /v1/tasks/:id', async () => {
    await get('/v1/tasks/stats');
    await api(t.url, 'POST', '/v1/tasks/cancel', { key: team.apiKey, body: { status: 'delayed' } });
    await api(t.url, 'POST', `/v1/tasks/${crypto.randomUUID()}/replay`, { key: team.apiKey });
    const text = await (await fetch(`${t.url}/metrics`)).text();
    const labels = new Set([...text.matchAll(/route="([^"]*)"/g)].map((m) => m[1]));
    for (const route of ['/v1/tasks/stats', '/v1/tasks/cancel', '/v1/tasks/:id/replay']) {
      expect(labels.has(route), route).toBe(true);
    }
  });
});

describe('the flowKey filter', () => {
  it('lists, bulk-cancels and bulk-replays only the tasks of that key', async () => {
    const other = await t.newTeam();
    const create = (key: string, flowKey: string, n: number) =>
      api(t.url, 'POST', '/v1/tasks/batch', {
        key,
        body: { tasks: Array.from({ length: n }, (_, i) => ({ ...delayedTask(i), flowKey })) },
      });
    await create(other.apiKey, 'fk-one', 2);
    const one = await create(team.apiKey, 'fk-one', 3);
    const two = await create(team.apiKey, 'fk-two', 2);
    const ids = (r: typeof one) => r.body.results.map((x: { task: { id: string } }) => x.task.id).sort();

    const listed = await get('/v1/tasks?flowKey=fk-one&limit=100');
    expect(listed.status, listed.text).toBe(200);
    expect(listed.body.tasks.map((x: { id: string }) => x.id).sort()).toEqual(ids(one));

    const cancelled = await api(t.url, 'POST', '/v1/tasks/cancel', { key: team.apiKey, body: { flowKey: 'fk-one' } });
    expect(cancelled.status, cancelled.text).toBe(200);
    expect(cancelled.body).toEqual({ matched: 3, changed: 3, hasMore: false });
    for (const id of ids(two)) expect((await get(`/v1/tasks/${id}`)).body.task.status).toBe('delayed');
    const otherTeam = await get('/v1/tasks?flowKey=fk-one&limit=100', other.apiKey);
    expect(otherTeam.body.tasks.map((x: { status: string }) => x.status)).toEqual(['delayed', 'delayed']);

    const replayed = await api(t.url, 'POST', '/v1/tasks/replay', { key: team.apiKey, body: { flowKey: 'fk-two' } });
    expect(replayed.body).toEqual({ matched: 0, changed: 0, hasMore: false });
  });
});
