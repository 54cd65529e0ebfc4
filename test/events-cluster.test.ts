import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, createCluster, createTeamOnDatabase } from './helpers/cluster.ts';
import { api } from './helpers/http.ts';
import type { ServerProcess } from './helpers/server-process.ts';
import { openSse, type SseConnection } from './helpers/sse-client.ts';
import { delayedTask } from './helpers/tasks.ts';
import type { TestTeam } from './helpers/test-app.ts';
import { createTestDatabase } from './helpers/test-database.ts';

// Live events across instances: a change made through one server process reaches a subscriber of
// another (LISTEN/NOTIFY on the shared database), within a second.

let cluster: Cluster;
let a: ServerProcess;
let b: ServerProcess;
let team: TestTeam;
const open: SseConnection[] = [];

beforeAll(async () => {
  const databaseUrl = await createTestDatabase();
  cluster = createCluster(databaseUrl);
  // One after the other: the first migrates the fresh database.
  a = await cluster.start();
  b = await cluster.start();
  team = await createTeamOnDatabase(databaseUrl, cluster.encryptionKey);
}, 150_000);

afterAll(async () => {
  for (const c of open) c.close();
  await cluster?.stopAll();
}, 60_000);

describe('live events on two server processes', () => {
  it('streams a change made through the other instance', { timeout: 60_000 }, async () => {
    const conn = await openSse(a.url, '/v1/events', { key: team.apiKey });
    open.push(conn);
    expect(conn.status).toBe(200);

    const created = await api(b.url, 'POST', '/v1/tasks', { key: team.apiKey, body: delayedTask(1) });
    expect(created.status, created.text).toBe(201);
    const id = created.body.task.id as string;
    await conn.waitForEvent('the create made on the other instance', (e) => e.data.task.id === id);

    const cancelledAt = Date.now();
    const cancelled = await api(b.url, 'POST', `/v1/tasks/${id}/cancel`, { key: team.apiKey });
    expect(cancelled.status).toBe(200);
    const event = await conn.waitForEvent(
      'the cancel made on the other instance',
      (e) => e.data.task.status === 'cancelled',
    );
    expect(event.data.task.id).toBe(id);
    // Pushed by NOTIFY, not found by the 10 s sweep: well under a second, with slack for a loaded machine.
    expect(event.at - cancelledAt).toBeLessThan(3_000);
  });
});
