import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { api } from './helpers/http.ts';
import { openSse, type SseConnection } from './helpers/sse-client.ts';
import { delayedTask } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait-for.ts';

// 1,000 open GET /v1/events streams hold no database connection: the server stays within the same
// fixed bound as with 1,000 long-polls (test/long-poll.test.ts), and one change reaches them all.

const STREAMS = 1_000;
const POOL_SIZE = 5;
/**
 * The most connections this app may hold on its database, as in long-poll.test.ts: ORM pool (5) +
 * pg-boss pool (5) + the side pool (6) + the task-change LISTEN client (1) + pg-boss's LISTEN (1).
 */
const CONNECTION_BOUND = POOL_SIZE + POOL_SIZE + 6 + 1 + 1;

let t: TestApp;
let team: TestTeam;
let monitor: pg.Client;
let appDatabase: string;
const streams: SseConnection[] = [];

beforeAll(async () => {
  t = await startTestApp({
    ASYNCQUEUE_DB_POOL_SIZE: String(POOL_SIZE),
    ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000',
    ASYNCQUEUE_EVENTS_MAX_STREAMS_PER_TEAM: String(STREAMS),
    LOG_LEVEL: 'warn',
  });
  team = await t.newTeam();
  appDatabase = decodeURIComponent(new URL(t.databaseUrl).pathname.slice(1));
  // On the admin database, so the monitor is not among the connections it counts.
  monitor = new pg.Client({ connectionString: inject('adminDatabaseUrl'), application_name: 'aq-test-monitor' });
  await monitor.connect();
});
afterAll(async () => {
  for (const s of streams) s.close();
  await monitor?.end();
  await t?.stop();
});

const connectionCount = async () => {
  const { rows } = await monitor.query<{ n: number }>(
    'select count(*)::int as n from pg_stat_activity where datname = $1',
    [appDatabase],
  );
  return rows[0]?.n ?? 0;
};

describe('1,000 event streams', () => {
  it('hold no database connection beyond the fixed bound, and one change reaches every stream', {
    timeout: 120_000,
  }, async () => {
    // Opened in waves of 100: the test process is also the server.
    for (let wave = 0; wave < STREAMS / 100; wave += 1) {
      const opened = await Promise.all(
        Array.from({ length: 100 }, () => openSse(t.url, '/v1/events', { key: team.apiKey })),
      );
      streams.push(...opened);
    }
    expect(streams.filter((s) => s.status === 200)).toHaveLength(STREAMS);
    const held = await connectionCount();
    expect(held).toBeLessThanOrEqual(CONNECTION_BOUND);

    const created = await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body: delayedTask(1) });
    expect(created.status).toBe(201);
    const id = created.body.task.id as string;
    const sentAt = Date.now();
    expect((await api(t.url, 'POST', `/v1/tasks/${id}/cancel`, { key: team.apiKey })).status).toBe(200);
    await waitFor(
      'the cancel on every stream',
      () => streams.every((s) => s.events.some((e) => e.data.task.id === id && e.data.task.status === 'cancelled')),
      30_000,
    );
    const lastArrival = Math.max(
      ...streams.map((s) => s.events.find((e) => e.data.task.id === id && e.data.task.status === 'cancelled')?.at ?? 0),
    );
    process.stderr.write(
      `events-scale figures: ${JSON.stringify({ streams: STREAMS, connections: held, bound: CONNECTION_BOUND, fanOutMs: lastArrival - sentAt })}\n`,
    );
    expect(await connectionCount()).toBeLessThanOrEqual(CONNECTION_BOUND);
  });
});
