import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LISTED_BODY_CHARS, LISTED_PROGRESS_CHARS } from '../server/src/tasks/task-queries.ts';
import { type FakeBinaryProviders, startFakeBinaryProviders } from './helpers/fake-binary-providers.ts';
import { api } from './helpers/http.ts';
import { waitForStatus } from './helpers/task-waits.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

// A list must not read every task's whole payloads: three concurrent lists of 30 tasks with big
// bodies exhausted the heap. Lists cap them; GET by id shows them whole.

const MiB = 1024 * 1024;
let t: TestApp;
let team: TestTeam;
let fake: FakeBinaryProviders;

beforeAll(async () => {
  fake = await startFakeBinaryProviders();
  t = await startTestApp({ ASYNCQUEUE_PROVIDER_BASE_URLS: JSON.stringify({ replicate: fake.url('') }) });
  team = await t.newTeam();
});
afterAll(async () => {
  await t?.stop();
  await fake?.stop();
});

async function create(body: Record<string, unknown>) {
  const res = await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body });
  expect(res.status, res.text).toBe(201);
  return res.body as { task: { id: string }; callbackUrl?: string };
}
const getTask = async (id: string) => (await api(t.url, 'GET', `/v1/tasks/${id}`, { key: team.apiKey })).body.task;

describe('GET /v1/tasks payload caps', () => {
  it('lists tasks with 1 MiB bodies with capped bodies (bodyTruncated), while GET by id returns them whole', async () => {
    const requestBody = 'p'.repeat(MiB - 16);
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const { task } = await create({ targetUrl: fake.url(`/bytes?size=${MiB}`), body: requestBody });
      ids.push(task.id);
    }
    for (const id of ids) await waitForStatus(t.url, team.apiKey, id, 'completed', 20_000);

    const list = await api(t.url, 'GET', '/v1/tasks?limit=30', { key: team.apiKey });
    expect(list.status).toBe(200);
    expect(list.text.length).toBeLessThan(100 * 1024);
    for (const listed of list.body.tasks.filter((task: { id: string }) => ids.includes(task.id))) {
      expect(listed.body).toBe(requestBody.slice(0, LISTED_BODY_CHARS));
      expect(listed.result.body).toHaveLength(LISTED_BODY_CHARS);
      expect(listed.result).toMatchObject({ bodyTruncated: true, bodyEncoding: 'utf8', statusCode: 200 });
    }

    const whole = await getTask(ids[0] as string);
    expect(whole.body).toBe(requestBody);
    expect(whole.result.body).toHaveLength(MiB);
    expect(whole.result.bodyTruncated).toBe(false);
  });

  it('leaves a short result body whole and not truncated in the list', async () => {
    const { task } = await create({ targetUrl: fake.url('/bytes?size=100') });
    await waitForStatus(t.url, team.apiKey, task.id, 'completed');
    const list = await api(t.url, 'GET', '/v1/tasks?limit=1', { key: team.apiKey });
    expect(list.body.tasks[0].id).toBe(task.id);
    expect(list.body.tasks[0].result).toMatchObject({ bodyTruncated: false });
    expect(list.body.tasks[0].result.body).toHaveLength(100);
  });

  it('leaves a progress bigger than the list bound out of the list (null), and shows it by id', async () => {
    const { task, callbackUrl } = await create({
      targetUrl: fake.url('/jobs?id=big-progress'),
      provider: 'replicate',
      headers: { Authorization: 'Bearer r8-test' },
      body: '{"webhook":"{asyncqueue_callback_url}"}',
    });
    await waitForStatus(t.url, team.apiKey, task.id, 'polling');
    const payload = { id: 'big-progress', status: 'processing', logs: 'l'.repeat(LISTED_PROGRESS_CHARS) };
    const res = await fetch(callbackUrl as string, { method: 'POST', body: JSON.stringify(payload) });
    expect(res.status).toBe(202);
    const list = await api(t.url, 'GET', '/v1/tasks?limit=1', { key: team.apiKey });
    expect(list.body.tasks[0]).toMatchObject({ id: task.id, progress: null });
    expect((await getTask(task.id)).progress).toEqual(payload);
  });
});
