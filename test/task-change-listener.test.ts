import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTaskChangeListener, type TaskChangeListener } from '../server/src/tasks/task-change-listener.ts';
import { LOCAL_ORIGIN, TASK_CHANGED_CHANNEL, taskChangedPayloads } from '../server/src/tasks/task-events.ts';
import { createTestDatabase } from './helpers/test-database.ts';
import { waitFor } from './helpers/wait-for.ts';

/** One task-changed NOTIFY names many tasks: each named task's waiters and every watcher hear of it. */
let client: pg.Client;
let listener: TaskChangeListener;

beforeAll(async () => {
  const url = await createTestDatabase();
  client = new pg.Client({ connectionString: url });
  await client.connect();
  listener = await startTaskChangeListener(url, () => {});
});
afterAll(async () => {
  await listener?.close();
  await client?.end();
});

const notify = (payload: string) => client.query('select pg_notify($1, $2)', [TASK_CHANGED_CHANNEL, payload]);

describe('task change listener', () => {
  it('wakes the waiters of every task a packed notification names, and only those', async () => {
    const ids = Array.from({ length: 450 }, () => randomUUID());
    const seen: (string | null)[] = [];
    const stop = listener.watchAll({ onChange: (id) => seen.push(id), onClose: () => {} });
    const middle = listener.waitForChange(ids[321] as string, 5000);
    const other = listener.waitForChange(randomUUID(), 300);
    const payloads = taskChangedPayloads(ids, 'another-process');
    expect(payloads).toHaveLength(3);
    for (const payload of payloads) await notify(payload);
    expect((await middle.promise).result).toBe('changed');
    expect((await other.promise).result).toBe('timeout');
    await waitFor('every id watched', () => seen.length === ids.length);
    expect(seen).toEqual(ids);
    stop();
  });

  it("leaves this process's own changes to their publish for a grace, then wakes the waiter anyway", async () => {
    const id = randomUUID();
    const wait = listener.waitForChange(id, 5000);
    const sent = Date.now();
    await notify(taskChangedPayloads([randomUUID(), id], LOCAL_ORIGIN)[0] as string);
    expect((await wait.promise).result).toBe('changed');
    expect(Date.now() - sent).toBeGreaterThanOrEqual(40);
  });
});
