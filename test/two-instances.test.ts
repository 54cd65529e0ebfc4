import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, createCluster, createTeamOnDatabase } from './helpers/cluster.ts';
import { type FakeProvider, startFakeProvider } from './helpers/fake-provider.ts';
import { api } from './helpers/http.ts';
import type { ServerProcess } from './helpers/server-process.ts';
import type { TestTeam } from './helpers/test-app.ts';
import { createTestDatabase } from './helpers/test-database.ts';
import { waitFor } from './helpers/wait-for.ts';

// Scale-out: any number of instances on one PostgreSQL, and no task is dispatched twice.
// Two real `node server/src/main.ts` processes share one fresh database; both create and dispatch.

const TASKS = 200;
// Why 20: enough creates in flight to keep both instances' workers busy at once.
const CREATE_CONCURRENCY = 20;

let databaseUrl: string;
let cluster: Cluster;
let instances: ServerProcess[];
let team: TestTeam;
let provider: FakeProvider;
let db: pg.Client;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  cluster = createCluster(databaseUrl);
  provider = await startFakeProvider();
  // One after the other: the first migrates the fresh database (and bootstraps its default team).
  const a = await cluster.start();
  const b = await cluster.start();
  figures.readyMs = [a.readyMs, b.readyMs];
  instances = [a, b];
  team = await createTeamOnDatabase(databaseUrl, cluster.encryptionKey);
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
}, 150_000);

afterAll(async () => {
  await db?.end().catch(() => {});
  await cluster?.stopAll();
  await provider?.stop();
  process.stderr.write(`two-instances.test figures: ${JSON.stringify(figures)}\n`);
}, 60_000);

/** Sum of asyncqueue_dispatch_duration_seconds_count over all outcomes, from one instance's /metrics. */
async function dispatchCount(baseUrl: string): Promise<number> {
  const res = await fetch(`${baseUrl}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  let total = 0;
  for (const match of text.matchAll(/^asyncqueue_dispatch_duration_seconds_count(?:\{[^}]*\})? (\d+)$/gm)) {
    total += Number(match[1]);
  }
  return total;
}

describe('two server processes on one database', () => {
  it(`dispatches each of ${TASKS} tasks exactly once, none lost, one attempt each`, { timeout: 150_000 }, async () => {
    const ids: string[] = new Array(TASKS);
    const createdOn: Record<string, number> = {};
    const started = Date.now();
    let next = 0;
    const creator = async () => {
      while (next < TASKS) {
        const n = next;
        next += 1;
        const instance = instances[n % instances.length] as ServerProcess;
        const res = await api(instance.url, 'POST', '/v1/tasks', {
          key: team.apiKey,
          body: { targetUrl: provider.url(`/ok?n=${n}`), body: JSON.stringify({ n }) },
        });
        if (res.status !== 201) expect.fail(`create #${n} on ${instance.url}: ${res.text}\n${instance.describe()}`);
        ids[n] = res.body.task.id;
        createdOn[instance.url] = (createdOn[instance.url] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, creator));
    const createdMs = Date.now() - started;

    const counts = async () => {
      const { rows } = await db.query<{ status: string; n: number }>(
        'select status, count(*)::int as n from tasks where team_id = $1 group by status',
        [team.teamId],
      );
      return Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>;
    };
    let last: Record<string, number> = {};
    await waitFor(
      `all ${TASKS} tasks completed (last seen ${JSON.stringify(last)})`,
      async () => {
        last = await counts();
        return last.completed === TASKS;
      },
      90_000,
      100,
    ).catch((error: Error) => {
      throw new Error(
        `${error.message}; statuses ${JSON.stringify(last)}\n${instances.map((i) => i.describe()).join('\n')}`,
      );
    });
    const allDoneMs = Date.now() - started;
    expect(last).toEqual({ completed: TASKS });

    // Exactly one request per task at the provider: none twice, none lost, each to its own URL.
    const perTask = new Map<string, string[]>();
    for (const request of provider.requestsTo('/ok?n=')) {
      const id = String(request.headers['x-asyncqueue-task-id']);
      perTask.set(id, [...(perTask.get(id) ?? []), request.path]);
    }
    const duplicated = [...perTask].filter(([, paths]) => paths.length !== 1);
    expect(duplicated, 'tasks the provider saw more than once').toEqual([]);
    expect(perTask.size).toBe(TASKS);
    ids.forEach((id, n) => {
      expect(perTask.get(id), `task #${n} (${id})`).toEqual([`/ok?n=${n}`]);
    });
    expect(provider.requestsTo('/ok?n=')).toHaveLength(TASKS);

    // And the product's own view: every task completed with exactly one attempt (read through A and B).
    const seen = new Set<string>();
    let cursor: string | null = null;
    let page = 0;
    do {
      const instance = instances[page % instances.length] as ServerProcess;
      const query: string = `/v1/tasks?status=completed&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await api(instance.url, 'GET', query, { key: team.apiKey });
      expect(res.status, res.text).toBe(200);
      for (const task of res.body.tasks) {
        expect(task.attempts, `attempts of ${task.id}`).toHaveLength(1);
        expect(task.attempts[0]).toMatchObject({ number: 1, statusCode: 200, willRetry: false });
        expect(task.retryCount).toBe(0);
        expect(JSON.parse(task.result.body)).toEqual({ ok: true, id: 'gen_1' });
        seen.add(task.id);
      }
      cursor = res.body.pagination.nextCursor;
      page += 1;
    } while (cursor);
    expect(seen.size).toBe(TASKS);
    expect([...seen].sort()).toEqual([...ids].sort());

    // Each instance counts the calls it made (/metrics): together exactly one per task.
    const dispatchedBy: Record<string, number> = {};
    for (const instance of instances) dispatchedBy[instance.url] = await dispatchCount(instance.url);
    expect(
      Object.values(dispatchedBy).reduce((a, b) => a + b, 0),
      JSON.stringify(dispatchedBy),
    ).toBe(TASKS);
    // Scale-out means both share the work, not one idling while the other dispatches everything.
    for (const [url, n] of Object.entries(dispatchedBy)) expect(n, `calls made by ${url}`).toBeGreaterThan(0);

    Object.assign(figures, {
      tasks: TASKS,
      createdOn,
      dispatchedBy,
      createMs: createdMs,
      allCompletedMs: allDoneMs,
      createPerSecond: Math.round((TASKS / createdMs) * 1000),
      // From the provider's side: first to last call (bounded by how fast the creates came in).
      providerCallWindowMs: (provider.received.at(-1)?.at ?? 0) - (provider.received[0]?.at ?? 0),
      throughputTasksPerSecond: Math.round((TASKS / allDoneMs) * 10_000) / 10,
    });
  });

  it('a long-poll on one instance wakes when the signal reaches the other (NOTIFY across processes)', async () => {
    const [a, b] = instances as [ServerProcess, ServerProcess];
    for (let trial = 0; trial < 5; trial += 1) {
      const created = await api(a.url, 'POST', '/v1/tasks', {
        key: team.apiKey,
        body: { targetUrl: provider.url(`/ok?signal=${trial}`), waitForSignal: true },
      });
      expect(created.status).toBe(201);
      const id = created.body.task.id as string;
      await waitFor('the task to wait', async () => {
        const res = await api(a.url, 'GET', `/v1/tasks/${id}`, { key: team.apiKey });
        return res.body.task.status === 'waiting';
      });
      const poll = api(a.url, 'GET', `/v1/tasks/${id}?wait=20`, { key: team.apiKey });
      await new Promise((r) => setTimeout(r, 100));
      const sent = Date.now();
      const signal = await api(b.url, 'POST', `/v1/signals/${created.body.signalToken}`, {
        body: { status: 'completed', result: { trial } },
      });
      expect(signal.status).toBe(200);
      const answered = await poll;
      expect(answered.body.task.status).toBe('completed');
      // Far below the 20 s wait: the answer came from the NOTIFY, not the timeout.
      expect(Date.now() - sent).toBeLessThan(5_000);
    }
  });
});
