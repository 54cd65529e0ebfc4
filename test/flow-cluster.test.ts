import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, createCluster, createTeamOnDatabase } from './helpers/cluster.ts';
import { type FlowProvider, startFlowProvider } from './helpers/flow-provider.ts';
import { api } from './helpers/http.ts';
import type { ServerProcess } from './helpers/server-process.ts';
import type { TestTeam } from './helpers/test-app.ts';
import { createTestDatabase } from './helpers/test-database.ts';
import { waitFor } from './helpers/wait-for.ts';

// Flow control across two real server processes on one PostgreSQL: limits hold across instances,
// and a killed instance's slots come back. Figures are printed at the end.

let databaseUrl: string;
let cluster: Cluster;
let instances: ServerProcess[];
let team: TestTeam;
let provider: FlowProvider;
let db: pg.Client;
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  databaseUrl = await createTestDatabase();
  cluster = createCluster(databaseUrl);
  provider = await startFlowProvider();
  instances = [await cluster.start(), await cluster.start()];
  team = await createTeamOnDatabase(databaseUrl, cluster.encryptionKey);
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
}, 150_000);

afterAll(async () => {
  await db?.end().catch(() => {});
  await cluster?.stopAll();
  await provider?.stop();
  process.stderr.write(`flow-cluster.test figures: ${JSON.stringify(figures)}\n`);
}, 60_000);

const on = (n: number) => instances[n % instances.length] as ServerProcess;
const call = (n: number, method: string, path: string, body?: unknown, key = team.apiKey) =>
  api(on(n).url, method, path, { key, body });

/** Creates `count` tasks spread over both instances, `concurrency` requests at a time; returns their ids. */
async function createMany(count: number, body: (n: number) => unknown, concurrency = 20, key = team.apiKey) {
  const ids: string[] = new Array(count);
  let next = 0;
  const creator = async () => {
    while (next < count) {
      const n = next;
      next += 1;
      const res = await call(n, 'POST', '/v1/tasks', body(n), key);
      expect(res.status, res.text).toBe(201);
      ids[n] = res.body.task.id;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, creator));
  return ids;
}

async function statusCounts(ids: string[]): Promise<Record<string, number>> {
  const { rows } = await db.query<{ status: string; n: number }>(
    'select status, count(*)::int as n from tasks where id = any($1::uuid[]) group by status',
    [ids],
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

async function allCompleted(ids: string[], timeoutMs: number) {
  let last: Record<string, number> = {};
  await waitFor(
    `all ${ids.length} completed`,
    async () => {
      last = await statusCounts(ids);
      return last.completed === ids.length;
    },
    timeoutMs,
    200,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; statuses ${JSON.stringify(last)}`);
  });
}

describe('flow control on two instances', () => {
  it('scope task: 500 tasks on one key never exceed the limit at the provider; all complete, each dispatched once', {
    timeout: 240_000,
  }, async () => {
    const LIMIT = 5;
    expect((await call(0, 'PUT', '/v1/flow-keys/jobs', { concurrency: LIMIT })).status).toBe(200);
    provider.resetMax();
    const started = Date.now();
    const ids = await createMany(500, () => ({
      targetUrl: provider.url('/job?ms=20'),
      body: '{"callback":"{asyncqueue_callback_url}"}',
      flowKey: 'jobs',
    }));
    const figuresMid = (await call(1, 'GET', '/v1/flow-keys/jobs')).body.flowKey;
    expect(figuresMid.inFlight).toBeLessThanOrEqual(LIMIT);
    await allCompleted(ids, 200_000);
    figures.scopeTask500 = { ms: Date.now() - started, maxRunning: provider.maxRunning() };
    expect(provider.maxRunning()).toBeLessThanOrEqual(LIMIT);
    expect(provider.maxRunning()).toBe(LIMIT);
    const submits = provider.submits.filter((s) => s.path === '/job' && ids.includes(s.taskId));
    const perTask = new Map<string, number>();
    for (const s of submits) perTask.set(s.taskId, (perTask.get(s.taskId) ?? 0) + 1);
    expect([...perTask.values()].filter((n) => n !== 1)).toEqual([]);
    expect(perTask.size).toBe(500);
    const after = (await call(0, 'GET', '/v1/flow-keys/jobs')).body.flowKey;
    expect(after).toMatchObject({ inFlight: 0, queued: 0 });
  });

  it('ratePerMinute holds within one request over any 60 s window', { timeout: 150_000 }, async () => {
    const RATE = 10;
    expect((await call(1, 'PUT', '/v1/flow-keys/rated', { ratePerMinute: RATE })).status).toBe(200);
    const ids = await createMany(RATE + 3, () => ({ targetUrl: provider.url('/call?ms=1'), flowKey: 'rated' }));
    const queue = await waitFor('a task held by the rate', async () => {
      for (const id of ids) {
        const q = (await call(0, 'GET', `/v1/tasks/${id}/queue`)).body;
        if (q.held && q.reason === 'rate') return q;
      }
      return null;
    });
    expect(new Date(queue.retryAt).getTime()).toBeGreaterThan(Date.now());
    await allCompleted(ids, 100_000);
    const times = provider.submits
      .filter((s) => ids.includes(s.taskId))
      .map((s) => s.at)
      .sort((a, b) => a - b);
    let worst = 0;
    for (const start of times) worst = Math.max(worst, times.filter((t) => t >= start && t < start + 60_000).length);
    figures.rate = { rate: RATE, worstSixtySecondWindow: worst, spanMs: (times.at(-1) ?? 0) - (times[0] ?? 0) };
    expect(worst).toBeLessThanOrEqual(RATE + 1);
    expect(times).toHaveLength(ids.length);
  });

  it('a SIGKILLed instance holding slots gives them back within the lease; nothing is stuck', {
    timeout: 150_000,
  }, async () => {
    const LIMIT = 4;
    expect((await call(0, 'PUT', '/v1/flow-keys/crash', { concurrency: LIMIT })).status).toBe(200);
    const ids = await createMany(12, () => ({ targetUrl: provider.url('/call?ms=4000'), flowKey: 'crash' }), 4);
    // Wait until the victim runs at least one of them, then kill it mid-call.
    const victim = on(1);
    await waitFor('slots taken', async () => (await statusCounts(ids)).processing === LIMIT);
    cluster.kill(victim);
    const killedAt = Date.now();
    await allCompleted(ids, 120_000);
    figures.crash = { recoveredMs: Date.now() - killedAt };
    const after = (await call(0, 'GET', '/v1/flow-keys/crash')).body.flowKey;
    expect(after).toMatchObject({ inFlight: 0, queued: 0 });
    instances = [on(0), await cluster.start()];
  });

  it("fairness: another team's single task starts within 1 s behind 5,000 queued slow tasks", {
    timeout: 240_000,
  }, async () => {
    const teamB = await createTeamOnDatabase(databaseUrl, cluster.encryptionKey);
    const started = Date.now();
    await createMany(5000, () => ({ targetUrl: provider.url('/call?ms=30000'), timeout: 60 }), 40);
    figures.fairnessCreate5000Ms = Date.now() - started;
    // Both pumps are full of team A's slow calls by now.
    await waitFor('pumps full', () => provider.running() >= 100, 30_000);
    const created = await call(0, 'POST', '/v1/tasks', { targetUrl: provider.url('/call?ms=1') }, teamB.apiKey);
    const createdAt = Date.now();
    const taskB = created.body.task.id as string;
    const submit = await waitFor('team B dispatched', () => provider.submits.find((s) => s.taskId === taskB), 10_000);
    const pickupMs = submit.at - createdAt;
    figures.fairnessPickupMs = pickupMs;
    expect(pickupMs).toBeLessThan(1000);
  });
});
