import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBoss } from '../server/src/jobs/boss.ts';
import { createChangeNotifier, DISPATCH_DUE_CHANNEL } from '../server/src/tasks/change-notifier.ts';
import { LOCAL_ORIGIN, parseTaskChanged, TASK_CHANGED_CHANNEL } from '../server/src/tasks/task-events.ts';
import { createTestDatabase } from './helpers/test-database.ts';
import { waitFor } from './helpers/wait-for.ts';

/**
 * NOTIFYs go out after the commit, batched on the side pool (tasks/change-notifier.ts), and the
 * dispatch queue no longer NOTIFYs inside the creating transaction.
 */
let url: string;
let pool: pg.Pool;
let listen: pg.Client;
const received: { channel: string; payload: string }[] = [];
let statements = 0;

beforeAll(async () => {
  url = await createTestDatabase();
  pool = new pg.Pool({ connectionString: url, max: 1 });
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  pool.query = ((...args: unknown[]) => {
    statements += 1;
    return query(...args);
  }) as typeof pool.query;
  listen = new pg.Client({ connectionString: url });
  await listen.connect();
  listen.on('notification', (msg) => received.push({ channel: msg.channel, payload: msg.payload ?? '' }));
  await listen.query(`listen ${TASK_CHANGED_CHANNEL}`);
  await listen.query(`listen ${DISPATCH_DUE_CHANNEL}`);
});
afterAll(async () => {
  await listen?.end();
  await pool?.end();
});

describe('change notifier', () => {
  it('sends what was queued in one tick as one statement, names this process, and wakes pumps once', async () => {
    const notifier = createChangeNotifier(pool, () => {});
    for (let i = 0; i < 20; i += 1) notifier.taskChanged(`task-${i}`);
    for (let i = 0; i < 5; i += 1) notifier.dispatchDue();
    await notifier.flush();
    expect(statements).toBe(1);
    await waitFor('2 notifications', () => received.length === 2);
    expect(received.filter((r) => r.channel === DISPATCH_DUE_CHANNEL).map((r) => r.payload)).toEqual([LOCAL_ORIGIN]);
    // The 20 ids share one notification.
    expect(received.filter((r) => r.channel === TASK_CHANGED_CHANNEL).map((r) => r.payload)).toEqual([
      `${Array.from({ length: 20 }, (_, i) => `task-${i}`).join(',')}:${LOCAL_ORIGIN}`,
    ]);
  });

  it('names 1,000 changed tasks in 5 notifications, each under PostgreSQL’s 8,000-byte payload limit', async () => {
    received.length = 0;
    const notifier = createChangeNotifier(pool, (message) => {
      throw new Error(message);
    });
    const ids = Array.from({ length: 1000 }, () => randomUUID());
    for (const id of ids) notifier.taskChanged(id);
    await notifier.flush();
    await waitFor('5 notifications', () => received.length === 5);
    const parsed = received.map((r) => parseTaskChanged(r.payload));
    expect(parsed.flatMap((p) => p.taskIds)).toEqual(ids);
    expect(new Set(parsed.map((p) => p.origin))).toEqual(new Set([LOCAL_ORIGIN]));
    for (const r of received) expect(Buffer.byteLength(r.payload)).toBeLessThan(8000);
  });

  it('turns off pg-boss NOTIFY on the dispatch queue of a database created before, and only there', async () => {
    const first = await startBoss({ url, poolSize: 2, takeoverSeconds: 60, onError: () => {} });
    await first.updateQueue('dispatch', { notify: true });
    await first.stop({ graceful: false });
    const again = await startBoss({ url, poolSize: 2, takeoverSeconds: 60, onError: () => {} });
    try {
      const queues = new Map((await again.getQueues()).map((q) => [q.name, q.notify]));
      expect(queues.get('dispatch')).toBe(false);
      expect(queues.get('webhook')).toBe(true);
    } finally {
      await again.stop({ graceful: false });
    }
  });
});
