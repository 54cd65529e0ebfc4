import { describe, expect, it } from 'vitest';
import { LISTED_BODY_CHARS, LISTED_PROGRESS_CHARS } from '../server/src/tasks/store/read.ts';
import { useBinaryProvidersFixture } from './helpers/binary-providers-fixture.ts';
import { api } from './helpers/http.ts';

// A list must not read every task's whole payloads: three concurrent lists of 30 tasks with big
// bodies exhausted the heap. Lists cap them; GET by id shows them whole.

const MiB = 1024 * 1024;
const fx = useBinaryProvidersFixture();
const { create } = fx;
const getTask = async (id: string) =>
  (await api(fx.t.url, 'GET', `/v1/tasks/${id}`, { key: fx.team.apiKey })).body.task;

describe('GET /v1/tasks payload caps', () => {
  it('lists tasks with 1 MiB bodies with capped bodies (bodyTruncated), while GET by id returns them whole', async () => {
    const requestBody = 'p'.repeat(MiB - 16);
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const { task } = await create({ targetUrl: fx.fake.url(`/bytes?size=${MiB}`), body: requestBody });
      ids.push(task.id);
    }
    for (const id of ids) await fx.until(id, 'completed', 20_000);

    const list = await api(fx.t.url, 'GET', '/v1/tasks?limit=30', { key: fx.team.apiKey });
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
    const { task } = await create({ targetUrl: fx.fake.url('/bytes?size=100') });
    await fx.until(task.id, 'completed');
    const list = await api(fx.t.url, 'GET', '/v1/tasks?limit=1', { key: fx.team.apiKey });
    expect(list.body.tasks[0].id).toBe(task.id);
    expect(list.body.tasks[0].result).toMatchObject({ bodyTruncated: false });
    expect(list.body.tasks[0].result.body).toHaveLength(100);
  });

  it('leaves a progress bigger than the list bound out of the list (null), and shows it by id', async () => {
    const { taskId, callbackUrl } = await fx.pollingReplicateTask('big-progress');
    const payload = { id: 'big-progress', status: 'processing', logs: 'l'.repeat(LISTED_PROGRESS_CHARS) };
    const res = await fetch(callbackUrl, { method: 'POST', body: JSON.stringify(payload) });
    expect(res.status).toBe(202);
    const list = await api(fx.t.url, 'GET', '/v1/tasks?limit=1', { key: fx.team.apiKey });
    expect(list.body.tasks[0]).toMatchObject({ id: taskId, progress: null });
    expect((await getTask(taskId)).progress).toEqual(payload);
  });
});
