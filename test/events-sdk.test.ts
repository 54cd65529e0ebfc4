import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyncQueue, AuthenticationError, type Task, ValidationError } from '../sdk/src/index.ts';
import { api } from './helpers/http.ts';
import { delayedTask } from './helpers/tasks.ts';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait-for.ts';

// The SDK's `aq.tasks.subscribe()`: an async iterator over GET /v1/events that parses SSE,
// reconnects after the connection is cut (through a TCP proxy), resumes with Last-Event-ID so the
// changes made meanwhile arrive, and yields no version twice.

let t: TestApp;
let team: TestTeam;
let proxy: TcpProxy;

beforeAll(async () => {
  t = await startTestApp({ ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000', LOG_LEVEL: 'info' });
  team = await t.newTeam();
  proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(t.url).port) });
});
afterAll(async () => {
  await proxy?.close();
  await t?.stop();
});

const createDelayed = async (n: number) => {
  const res = await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body: delayedTask(n) });
  expect(res.status, res.text).toBe(201);
  return res.body.task as Task;
};
const cancel = async (id: string) => {
  expect((await api(t.url, 'POST', `/v1/tasks/${id}/cancel`, { key: team.apiKey })).status).toBe(200);
};

/** Runs a subscription in the background, collecting what it yields until `stop()`. */
function collect(aq: AsyncQueue, options: Parameters<AsyncQueue['tasks']['subscribe']>[0] = {}) {
  const controller = new AbortController();
  const tasks: Task[] = [];
  const done = (async () => {
    for await (const task of aq.tasks.subscribe({ ...options, signal: controller.signal })) tasks.push(task);
  })().catch((error: unknown) => error);
  return {
    tasks,
    stop: async () => {
      controller.abort(new Error('test over'));
      return done;
    },
  };
}

describe('aq.tasks.subscribe', () => {
  it('yields the changes of the filtered task', async () => {
    const task = await createDelayed(1);
    const aq = new AsyncQueue({ apiKey: team.apiKey, baseUrl: t.url });
    const sub = collect(aq, { taskId: task.id });
    // Even if the cancel commits before the stream is open, the server's sweep (10 s) sends it.
    await cancel(task.id);
    await waitFor('the cancel', () => sub.tasks.find((x) => x.status === 'cancelled'));
    expect(sub.tasks.every((x) => x.id === task.id)).toBe(true);
    const ended = await sub.stop();
    expect((ended as Error).message).toBe('test over');
  });

  it('reconnects after the connection is cut and resumes: nothing missed, nothing twice', {
    timeout: 60_000,
  }, async () => {
    const aq = new AsyncQueue({ apiKey: team.apiKey, baseUrl: proxy.wrap(t.url).replace(/\/$/, '') });
    const sub = collect(aq);
    const before = await createDelayed(2);
    await waitFor('the first change', () => sub.tasks.find((x) => x.id === before.id));

    await proxy.close();
    const during = [await createDelayed(3), await createDelayed(4)];
    await cancel(before.id);
    await cancel((during[0] as Task).id);
    await proxy.reopen();

    const ids = [before.id, ...during.map((x) => x.id)];
    await waitFor(
      'every change made while cut off',
      () =>
        sub.tasks.find((x) => x.id === before.id && x.status === 'cancelled') &&
        sub.tasks.find((x) => x.id === (during[0] as Task).id && x.status === 'cancelled') &&
        sub.tasks.find((x) => x.id === (during[1] as Task).id),
      30_000,
    );
    // The resume re-sends the last minute's versions; the SDK yields each version once.
    const versions = sub.tasks.filter((x) => ids.includes(x.id)).map((x) => `${x.id}@${x.updatedAt}`);
    expect(new Set(versions).size).toBe(versions.length);
    await sub.stop();
  });

  it('throws AuthenticationError for a wrong key and ValidationError for a bad filter, without retrying', async () => {
    const wrong = new AsyncQueue({ apiKey: `async_${'A1b2C3d4E5'.repeat(4)}Zz9Yy8Xx`, baseUrl: t.url });
    await expect(wrong.tasks.subscribe().next()).rejects.toBeInstanceOf(AuthenticationError);
    const aq = new AsyncQueue({ apiKey: team.apiKey, baseUrl: t.url });
    await expect(aq.tasks.subscribe({ taskId: 'nope' }).next()).rejects.toBeInstanceOf(ValidationError);
  });
});
