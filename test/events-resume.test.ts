import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { openSse, type SseConnection } from './helpers/sse-client.ts';
import { delayedTask } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

// Resuming GET /v1/events with Last-Event-ID: nothing changed while disconnected is missed, not even
// a change whose transaction started before the last event received and committed after it (the
// cursor's safety margin); a change that sent no NOTIFY at all still reaches open streams (the sweep).

let t: TestApp;
let team: TestTeam;
let direct: pg.Client;
const open: SseConnection[] = [];

beforeAll(async () => {
  t = await startTestApp({ ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000', LOG_LEVEL: 'info' });
  team = await t.newTeam();
  direct = new pg.Client({ connectionString: t.databaseUrl });
  await direct.connect();
});
afterAll(async () => {
  for (const c of open) c.close();
  await direct?.end();
  await t?.stop();
});

const subscribe = async (query = '', headers: Record<string, string> = {}) => {
  const conn = await openSse(t.url, `/v1/events${query}`, { key: team.apiKey, headers });
  expect(conn.status).toBe(200);
  open.push(conn);
  return conn;
};

const createDelayed = async (n: number) => {
  const res = await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body: delayedTask(n) });
  expect(res.status, res.text).toBe(201);
  return res.body.task as { id: string };
};

const cancel = async (id: string) => {
  const res = await api(t.url, 'POST', `/v1/tasks/${id}/cancel`, { key: team.apiKey });
  expect(res.status, res.text).toBe(200);
};

/** The newest state each task reached on a stream. */
const latestStatus = (conn: SseConnection) => {
  const latest = new Map<string, string>();
  for (const e of conn.events) latest.set(e.data.task.id, e.data.task.status);
  return latest;
};

describe('resuming with Last-Event-ID', () => {
  it('replays every change made while the client was away, each task in its newest state', async () => {
    const first = await createDelayed(1);
    const before = await subscribe();
    await cancel(first.id);
    const lastSeen = await before.waitForEvent('the cancel', (e) => e.data.task.status === 'cancelled');
    before.close();

    // While away: two new tasks, one of them cancelled, and a change to one seen before (none of
    // these can reach the closed stream).
    const away = [await createDelayed(2), await createDelayed(3)];
    await cancel((away[0] as { id: string }).id);
    const touched = await direct.query(
      `update tasks set progress = '{"step":1}', updated_at = now() where id = $1 returning id`,
      [first.id],
    );
    expect(touched.rowCount).toBe(1);

    const resumed = await subscribe('', { 'last-event-id': lastSeen.id as string });
    const [cancelledAway, pendingAway] = away as [{ id: string }, { id: string }];
    await resumed.waitForEvent('the away-cancel', (e) => e.data.task.id === cancelledAway.id);
    await resumed.waitForEvent('the away-create', (e) => e.data.task.id === pendingAway.id);
    await resumed.waitForEvent('the progress', (e) => e.data.task.id === first.id && e.data.task.progress !== null);
    const latest = latestStatus(resumed);
    expect(latest.get(cancelledAway.id)).toBe('cancelled');
    expect(latest.get(pendingAway.id)).toBe('delayed');
    // Replayed oldest change first: the ids (cursors) never go down within the replay.
    const ids = resumed.events.map((e) => BigInt(e.id as string));
    expect([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(ids);
  });

  it('accepts the cursor as ?lastEventId= (for EventSource, which cannot set the header on its first request)', async () => {
    const task = await createDelayed(4);
    const live = await subscribe(`?taskId=${task.id}`);
    await cancel(task.id);
    const cancelled = await live.waitForEvent('the cancel', (e) => e.data.task.status === 'cancelled');
    live.close();
    // Resuming from just before the cancel: the margin re-sends the versions around it.
    const resumed = await subscribe(`?taskId=${task.id}&lastEventId=${BigInt(cancelled.id as string) - 1n}`);
    const again = await resumed.waitForEvent('the cancel replayed', (e) => e.data.task.status === 'cancelled');
    expect(again.id).toBe(cancelled.id);
  });

  it('misses no change whose transaction started before the last event received but committed after it', async () => {
    const early = await createDelayed(5);
    const later = await createDelayed(6);
    const conn = await subscribe();
    // Stays connected: once it has the early change (from the sweep: a raw UPDATE sends no NOTIFY),
    // the server will not push that version again, so the resumed stream can only get it by replay.
    const watcher = await subscribe(`?taskId=${early.id}`);
    // The early transaction starts now (updated_at = now() is its start time) and stays open…
    await direct.query('begin');
    await direct.query(`update tasks set progress = '{"late":true}', updated_at = now() where id = $1`, [early.id]);
    await new Promise((r) => setTimeout(r, 50));
    // …while a later one commits and is streamed.
    await cancel(later.id);
    const lastSeen = await conn.waitForEvent(
      'the later change',
      (e) => e.data.task.id === later.id && e.data.task.status === 'cancelled',
    );
    conn.close();
    await direct.query('commit');
    await watcher.waitForEvent('the sweep', (e) => e.data.task.progress?.late === true, 30_000);

    const resumed = await subscribe('', { 'last-event-id': lastSeen.id as string });
    const late = await resumed.waitForEvent(
      'the early-started change, replayed',
      (e) => e.data.task.id === early.id && e.data.task.progress?.late === true,
      5_000,
    );
    // The scenario really happened: its version (cursor) is older than the last event received.
    expect(BigInt(late.id as string)).toBeLessThan(BigInt(lastSeen.id as string));
  });

  it('a new stream gets from the sweep the change made just before it opened, not the older ones', async () => {
    // No stream open: nothing reads the changes below until one opens (sweeps then start over).
    for (const c of open.splice(0)) c.close();
    await new Promise((r) => setTimeout(r, 1_000));
    // Silent changes (a raw UPDATE sends no NOTIFY): only a sweep can send them.
    const older = await createDelayed(8);
    await direct.query(`update tasks set progress = '{"older":true}', updated_at = now() where id = $1`, [older.id]);
    // Past the sweep's grace (2 s) before the stream opens, well inside the window it reads (25 s).
    await new Promise((r) => setTimeout(r, 3_000));
    const recent = await createDelayed(9);
    await direct.query(`update tasks set progress = '{"recent":true}', updated_at = now() where id = $1`, [recent.id]);
    const conn = await subscribe();
    await conn.waitForEvent(
      'the change made just before the stream opened (from the sweep)',
      (e) => e.data.task.id === recent.id && e.data.task.progress?.recent === true,
      30_000,
    );
    // The same sweep read the older change and did not send it: a new stream is not sent the past.
    expect(conn.events.filter((e) => e.data.task.id === older.id)).toEqual([]);
  });

  it('delivers a change that sent no NOTIFY to open streams within the sweep interval', async () => {
    const task = await createDelayed(7);
    const conn = await subscribe(`?taskId=${task.id}`);
    const started = Date.now();
    await direct.query(`update tasks set progress = '{"silent":true}', updated_at = now() where id = $1`, [task.id]);
    const seen = await conn.waitForEvent('the silent change', (e) => e.data.task.progress?.silent === true, 30_000);
    // The sweep runs every 10 s; a loaded machine may add a few seconds, never another interval.
    expect(seen.at - started).toBeLessThan(20_000);
  });
});
