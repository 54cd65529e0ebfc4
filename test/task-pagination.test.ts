import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { createTask, delayedTask, detailPaths, expectErrorBody } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

type Page = { ids: string[]; createdAt: string[]; statuses: string[]; hasMore: boolean; nextCursor: string | null };

let t: TestApp;
let team: TestTeam;
/** The 25 task ids of `team`, oldest first. */
let ids: string[];

/** Creates `n` delayed tasks one after the other (workers leave them alone); ids oldest first. */
async function createTasks(key: string, n: number, from = 0): Promise<string[]> {
  const created: string[] = [];
  for (let i = 0; i < n; i += 1) created.push((await createTask(t.url, key, delayedTask(from + i))).body.task.id);
  return created;
}

async function page(key: string, query: string): Promise<Page> {
  const res = await api(t.url, 'GET', `/v1/tasks?${query}`, { key });
  expect(res.status, res.text).toBe(200);
  expect(Object.keys(res.body).sort()).toEqual(['pagination', 'tasks']);
  expect(Object.keys(res.body.pagination).sort()).toEqual(['hasMore', 'limit', 'nextCursor']);
  const tasks = res.body.tasks as { id: string; createdAt: string; status: string }[];
  return {
    ids: tasks.map((x) => x.id),
    createdAt: tasks.map((x) => x.createdAt),
    statuses: tasks.map((x) => x.status),
    hasMore: res.body.pagination.hasMore,
    nextCursor: res.body.pagination.nextCursor,
  };
}

const cursorParam = (p: Page) => `cursor=${encodeURIComponent(p.nextCursor as string)}`;
const newestFirst = (list: string[]) => [...list].reverse();

function expectNewestFirst(p: Page): void {
  expect(p.ids).toEqual([...p.ids].sort().reverse());
  for (let i = 1; i < p.createdAt.length; i += 1) {
    expect(Date.parse(p.createdAt[i] as string)).toBeLessThanOrEqual(Date.parse(p.createdAt[i - 1] as string));
  }
}

beforeAll(async () => {
  t = await startTestApp();
  team = await t.newTeam();
  ids = await createTasks(team.apiKey, 25);
});
afterAll(() => t.stop());

describe('GET /v1/tasks pagination', () => {
  it('pages 25 tasks by 10: three pages, newest first, no duplicates or gaps', async () => {
    const p1 = await page(team.apiKey, 'limit=10');
    const p2 = await page(team.apiKey, `limit=10&${cursorParam(p1)}`);
    const p3 = await page(team.apiKey, `limit=10&${cursorParam(p2)}`);
    expect([p1.ids.length, p2.ids.length, p3.ids.length]).toEqual([10, 10, 5]);
    expect([p1.hasMore, p2.hasMore, p3.hasMore]).toEqual([true, true, false]);
    expect(typeof p1.nextCursor).toBe('string');
    expect(typeof p2.nextCursor).toBe('string');
    expect(p1.nextCursor).not.toBe(p2.nextCursor);
    expect(p3.nextCursor).toBeNull();
    const all = [...p1.ids, ...p2.ids, ...p3.ids];
    expect(new Set(all).size).toBe(25);
    expect(all).toEqual(newestFirst(ids));
    for (const p of [p1, p2, p3]) expectNewestFirst(p);
    expectNewestFirst({ ...p1, ids: all, createdAt: [...p1.createdAt, ...p2.createdAt, ...p3.createdAt] });
  });

  it('reports the limit it used and defaults it to 20', async () => {
    const res = await api(t.url, 'GET', '/v1/tasks', { key: team.apiKey });
    expect(res.status).toBe(200);
    expect(res.body.tasks).toHaveLength(20);
    expect(res.body.pagination.limit).toBe(20);
    expect(res.body.pagination.hasMore).toBe(true);
    expect(res.body.tasks.map((x: { id: string }) => x.id)).toEqual(newestFirst(ids).slice(0, 20));
    const ten = await api(t.url, 'GET', '/v1/tasks?limit=10', { key: team.apiKey });
    expect(ten.body.pagination.limit).toBe(10);
  });

  it('ends with hasMore false and nextCursor null when the last page is exactly full', async () => {
    const p1 = await page(team.apiKey, 'limit=25');
    expect(p1.ids).toHaveLength(25);
    expect(p1.hasMore).toBe(false);
    expect(p1.nextCursor).toBeNull();
    const p = await page(team.apiKey, 'limit=100');
    expect(p.ids).toEqual(newestFirst(ids));
    expect(p.hasMore).toBe(false);
  });

  it('stays stable when new tasks are inserted between pages', async () => {
    const other = await t.newTeam();
    const original = await createTasks(other.apiKey, 25);
    const p1 = await page(other.apiKey, 'limit=10');
    expect(p1.ids).toEqual(newestFirst(original).slice(0, 10));
    const added = await createTasks(other.apiKey, 5, 100);
    const p2 = await page(other.apiKey, `limit=10&${cursorParam(p1)}`);
    const p3 = await page(other.apiKey, `limit=10&${cursorParam(p2)}`);
    expect([...p2.ids, ...p3.ids]).toEqual(newestFirst(original).slice(10));
    expect(p3.hasMore).toBe(false);
    expect(p3.nextCursor).toBeNull();
    for (const id of added) expect([...p1.ids, ...p2.ids, ...p3.ids]).not.toContain(id);
    const fresh = await page(other.apiKey, 'limit=10');
    expect(fresh.ids.slice(0, 5)).toEqual(newestFirst(added));
  });

  it('filters by status, also across pages', async () => {
    const other = await t.newTeam();
    const own = await createTasks(other.apiKey, 8);
    const toCancel = [own[1], own[3], own[4], own[6]] as string[];
    for (const id of toCancel) {
      const res = await api(t.url, 'POST', `/v1/tasks/${id}/cancel`, { key: other.apiKey });
      expect(res.status, res.text).toBe(200);
      expect(res.body.task.status).toBe('cancelled');
    }
    const cancelled = await page(other.apiKey, 'status=cancelled');
    expect(cancelled.ids).toEqual(newestFirst(toCancel));
    expect(cancelled.statuses).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);
    expect(cancelled.hasMore).toBe(false);

    const first = await page(other.apiKey, 'status=cancelled&limit=3');
    const second = await page(other.apiKey, `status=cancelled&limit=3&${cursorParam(first)}`);
    expect(first.hasMore).toBe(true);
    expect([...first.ids, ...second.ids]).toEqual(newestFirst(toCancel));
    expect(second.hasMore).toBe(false);

    const delayed = await page(other.apiKey, 'status=delayed');
    expect(delayed.ids).toEqual(newestFirst(own.filter((id) => !toCancel.includes(id))));
    expect(new Set(delayed.statuses)).toEqual(new Set(['delayed']));
    expect((await page(other.apiKey, 'status=completed')).ids).toEqual([]);
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=2.5', 'limit'],
    ['status=bogus', 'status'],
    ['cursor=garbage', 'cursor'],
    [`cursor=${Buffer.from('t:not-a-uuid').toString('base64url')}`, 'cursor'],
  ])('rejects %s with 400 naming %s', async (query, param) => {
    const res = await api(t.url, 'GET', `/v1/tasks?${query}`, { key: team.apiKey });
    expectErrorBody(res, 400, 'validation_failed');
    expect(detailPaths(res)).toContain(param);
  });
});
