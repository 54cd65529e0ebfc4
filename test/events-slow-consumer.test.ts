import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropFurthestBehind } from '../server/src/events/event-hub.ts';
import { createEventStream, type EventStream, MAX_BUFFERED_BYTES } from '../server/src/events/event-stream.ts';
import { type ChangedTask, findChangedTasks } from '../server/src/tasks/store/changes.ts';
import { api } from './helpers/http.ts';
import { delayedTask } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait-for.ts';

// A stream whose client stops reading is dropped once its unsent bytes pass MAX_BUFFERED_BYTES,
// instead of buffering without bound; a client that reads takes the same bursts and stays. Real
// sockets on loopback, a real task row; the events are that row with a 100 KB body.

let t: TestApp;
let team: TestTeam;
let big: ChangedTask;
let server: http.Server;
let streams: { stream: EventStream; res: http.ServerResponse; gone: boolean; maxBuffered: number }[];

beforeAll(async () => {
  t = await startTestApp({ LOG_LEVEL: 'info' });
  team = await t.newTeam();
  const created = await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body: delayedTask(1) });
  expect(created.status).toBe(201);
  const [row] = await findChangedTasks(t.app.orm.em.fork(), [created.body.task.id], [team.teamId]);
  if (!row) throw new Error('the task row was not found');
  big = { ...row, task: { ...row.task, body: 'x'.repeat(100_000) } };
  streams = [];
  server = http.createServer((_req, res) => {
    const entry = { stream: undefined as unknown as EventStream, res, gone: false, maxBuffered: 0 };
    entry.stream = createEventStream(res, { teamId: team.teamId }, () => {
      entry.gone = true;
    });
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    entry.stream.goLive();
    streams.push(entry);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await t?.stop();
});

/** Connects; `read` false: the client never reads a byte (a stalled consumer). */
const connect = async (read: boolean) => {
  let received = 0;
  let closed = false;
  const index = streams.length;
  const { port } = server.address() as AddressInfo;
  const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
    if (read) res.on('data', (chunk: Buffer) => (received += chunk.length));
    else res.pause();
    res.on('close', () => (closed = true));
    res.on('error', () => {});
  });
  req.on('error', () => (closed = true));
  const entry = await waitFor('the server side of the stream', () => streams[index]);
  return { entry, received: () => received, closed: () => closed, req };
};

/** 40 bursts of 1 MB (10 events of 100 KB), each after the previous one's bytes left Node or 50 ms passed. */
const pushBursts = async (entry: (typeof streams)[number]) => {
  for (let burst = 0; burst < 40 && !entry.gone; burst += 1) {
    for (let i = 0; i < 10; i += 1) {
      entry.stream.deliver(big);
      entry.maxBuffered = Math.max(entry.maxBuffered, entry.res.writableLength);
    }
    await waitFor('a drained burst', () => entry.gone || entry.res.writableLength === 0, 50, 5).catch(() => {});
  }
};

describe('a stream whose client does not read', () => {
  it('is dropped once its unsent bytes pass the cap, and never holds much more', async () => {
    const stalled = await connect(false);
    await pushBursts(stalled.entry);
    expect(stalled.entry.gone).toBe(true);
    expect(stalled.entry.stream.isOpen()).toBe(false);
    // At most the cap plus the one event whose write crossed it (~100 KB).
    expect(stalled.entry.maxBuffered).toBeLessThanOrEqual(MAX_BUFFERED_BYTES + 200_000);
    // The server's side of the connection is gone (the client notices when it reads again).
    expect(stalled.entry.res.destroyed).toBe(true);
    stalled.req.destroy();
  });

  it('is not what happens to a client that reads: it takes 40 MB of bursts and stays open', async () => {
    const reading = await connect(true);
    await pushBursts(reading.entry);
    expect(reading.entry.gone).toBe(false);
    await waitFor('every byte received', () => reading.received() >= 40 * 10 * 100_000, 30_000);
    reading.req.destroy();
  });
});

describe('the unsent bytes of all streams together', () => {
  it('stay within the budget: the streams furthest behind are dropped first, the others stay', async () => {
    const MiB = 1024 * 1024;
    const stalled = [await connect(false), await connect(false), await connect(false)];
    // Fill each stalled stream (past what the kernel's socket buffers absorb) to 3, 2 and 1 MiB unsent.
    const targets = [3 * MiB, 2 * MiB, 1 * MiB];
    for (const [i, c] of stalled.entries()) {
      while (c.entry.stream.unsentBytes() < (targets[i] as number) && !c.entry.gone) {
        c.entry.stream.deliver(big);
        await new Promise((r) => setImmediate(r));
      }
    }
    const [a, b, c] = stalled.map((x) => x.entry.stream) as [EventStream, EventStream, EventStream];
    expect(stalled.every((x) => !x.entry.gone)).toBe(true);
    const dropped = dropFurthestBehind([c, a, b], 2.5 * MiB);
    expect(dropped).toEqual([a, b]);
    expect([a.isOpen(), b.isOpen(), c.isOpen()]).toEqual([false, false, true]);
    expect(c.unsentBytes()).toBeLessThanOrEqual(2.5 * MiB);
    expect(dropFurthestBehind([c], 2.5 * MiB)).toEqual([]);
    for (const x of stalled) x.req.destroy();
  });
});
