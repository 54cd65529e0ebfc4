import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handOver } from '../server/src/flow/hand-over.ts';
import { createEnqueueMany } from '../server/src/jobs/queues.ts';
import { type FlowProvider, startFlowProvider } from './helpers/flow-provider.ts';
import { api } from './helpers/http.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait-for.ts';

// The races of flow control, run for real: each is settled by PostgreSQL (the key's advisory lock,
// and the grant's UPDATE re-checking that the task is still held and pending).

let t: TestApp;
let team: TestTeam;
let provider: FlowProvider;

beforeAll(async () => {
  t = await startTestApp({ LOG_LEVEL: 'info', ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000' });
  team = await t.newTeam();
  provider = await startFlowProvider();
}, 60_000);

afterAll(async () => {
  await provider?.stop();
  await t?.stop();
});

const call = (method: string, path: string, body?: unknown) => api(t.url, method, path, { key: team.apiKey, body });
const getTask = async (id: string) => (await call('GET', `/v1/tasks/${id}`)).body.task;

/** `count` tasks held by a paused key (long provider jobs, so their slots stay taken). */
async function heldTasks(key: string, count: number, limits: Record<string, unknown>) {
  await call('PUT', `/v1/flow-keys/${key}`, limits);
  await call('POST', `/v1/flow-keys/${key}/pause`);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await call('POST', '/v1/tasks', {
      targetUrl: provider.url('/job?ms=3000'),
      body: '{"callback":"{asyncqueue_callback_url}"}',
      flowKey: key,
    });
    ids.push(res.body.task.id);
  }
  await waitFor('all held', async () => (await call('GET', `/v1/flow-keys/${key}`)).body.flowKey.queued === count);
  // Unpaused in the database only, so that no hand-over runs before the race starts.
  await t.app.orm.em
    .fork()
    .execute('update flow_keys set paused = false where team_id = ? and key = ?', [team.teamId, key]);
  return ids;
}

describe('flow control races', () => {
  it('concurrent hand-overs of one key never grant more than its free slots', async () => {
    const ids = await heldTasks('race-grant', 20, { concurrency: 3 });
    const enqueue = createEnqueueMany(t.app.boss);
    const results = await Promise.all(
      Array.from({ length: 8 }, () => handOver(t.app.orm.em.fork(), enqueue, team.teamId, 'race-grant')),
    );
    // The app's own 1 s sweep may join the race (it hands over any unpaused key with held tasks),
    // so the grants are counted where they land: exactly three calls, never a fourth.
    expect(results.reduce((n, r) => n + r.granted, 0)).toBeLessThanOrEqual(3);
    await waitFor('three running', () => provider.submits.filter((s) => ids.includes(s.taskId)).length === 3);
    await new Promise((r) => setTimeout(r, 300));
    expect(provider.submits.filter((s) => ids.includes(s.taskId))).toHaveLength(3);
    const figures = (await call('GET', '/v1/flow-keys/race-grant')).body.flowKey;
    expect(figures).toMatchObject({ inFlight: 3, queued: 17 });
  });

  it('a cancel racing the grant of a held task: either cancelled and never called, or run', async () => {
    const ids = await heldTasks('race-cancel', 12, { concurrency: 12 });
    const enqueue = createEnqueueMany(t.app.boss);
    const cancels = ids.map((id) => call('POST', `/v1/tasks/${id}/cancel`));
    const grant = handOver(t.app.orm.em.fork(), enqueue, team.teamId, 'race-cancel');
    const [granted] = await Promise.all([grant, ...cancels]);
    const settled = await waitFor('all settled', async () => {
      const tasks = await Promise.all(ids.map(getTask));
      return tasks.every((task) => ['cancelled', 'waiting', 'completed'].includes(task.status)) ? tasks : null;
    });
    await new Promise((r) => setTimeout(r, 500));
    for (const task of settled) {
      const called = provider.submits.some((s) => s.taskId === task.id);
      // Cancelled at once (held or granted, not yet claimed): never called. Claimed before the
      // cancel arrived: flagged, its call goes out and the task ends cancelled when it returns.
      // Called and answered before the cancel arrived: the attempt was recorded (only a task still
      // claimed records one) and the cancel ended the task from `waiting`.
      if (task.status === 'cancelled' && called) {
        const answeredFirst = task.attempts.length === 1 && task.attempts[0].statusCode !== null;
        expect(
          task.cancelRequested || answeredFirst,
          `cancelled task ${task.id} was called without its cancel being flagged or its attempt recorded first`,
        ).toBe(true);
      } else if (task.status !== 'cancelled') expect(task.cancelRequested || called).toBe(true);
    }
    expect((granted as { granted: number }).granted).toBeLessThanOrEqual(12);
  });
});
